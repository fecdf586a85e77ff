/**
 * The NATS source against changes to its consumer (a review's cases): subjects widened to the whole stream, the
 * durable consumer deleted while serving, and a fetch that waits longer than the ack wait.
 */
import { afterEach, expect, it } from 'vitest';
import { startNatsSource, type NatsBatch, type NatsSource } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, testStream, type TestStream } from '../helpers/nats.js';

const log = silentLogger();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let ts: TestStream | undefined;
const sources: NatsSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  await ts?.cleanup();
  ts = undefined;
});

const cfg = (over: Record<string, unknown>) => NatsInputConfigSchema.parse({ servers: NATS_TEST_URL, stream: ts!.stream, durable: 'agg', batch: 50, ack_wait_s: 2, ...over });

async function run(over: Record<string, unknown>, batches: NatsBatch['messages'][]) {
  const s = await startNatsSource({ config: cfg(over), log, handler: async (b) => void batches.push(b.messages) });
  sources.push(s);
  return s;
}

async function until(what: string, ok: () => boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

it('clears the old subject filter when the subjects widen to the whole stream', async () => {
  ts = await testStream('nconsumer');
  const [a, b] = [`${ts.prefix}.a`, `${ts.prefix}.b`];
  await ts.jsm.streams.add({ name: ts.stream, subjects: [a, b] });
  await (await startNatsSource({ config: cfg({ subjects: [a] }), log, handler: async () => undefined })).stop();
  const batches: NatsBatch['messages'][] = [];
  await run({ subjects: [a, b] }, batches);
  await ts.publish(a, ['{"x":1}']);
  await ts.publish(b, ['{"x":2}']);
  await until('both subjects', () => batches.flat().length >= 2);
  expect(batches.flat().map((m) => m.subject).sort()).toEqual([a, b]);
  expect((await ts.jsm.consumers.info(ts.stream, 'agg')).config.filter_subject ?? '').toBe('');
}, 30_000);

it('sets the durable consumer up again when it is deleted while serving', async () => {
  ts = await testStream('nconsumer', { create: true });
  const batches: NatsBatch['messages'][] = [];
  await run({ subjects: [`${ts.prefix}.>`] }, batches);
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}']);
  await until('the first message', () => batches.flat().length >= 1);
  await ts.jsm.consumers.delete(ts.stream, 'agg');
  await ts.publish(`${ts.prefix}.r`, ['{"x":2}']);
  await until('the message published after the deletion', () => batches.flat().some((m) => m.seq === 2), 20_000);
  expect(batches.flat().map((m) => m.seq)).toEqual([1, 2]);
}, 30_000);

it('keeps the messages of a fetch that waits longer than ack_wait_s from being redelivered into it', async () => {
  ts = await testStream('nconsumer', { create: true });
  const batches: NatsBatch['messages'][] = [];
  await run({ subjects: [`${ts.prefix}.>`], ack_wait_s: 1, fetch_wait_ms: 4000 }, batches);
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}']);
  await until('the batch', () => batches.length >= 1);
  await sleep(1500);
  expect(batches.map((b) => b.map((m) => m.seq))).toEqual([[1]]);
}, 30_000);
