/**
 * The NATS source against changes to its consumer and stream (reviews' cases): subjects widened to the whole stream,
 * the durable consumer deleted while serving (under one instance and under two), the stream deleted and created
 * again, a subject added to the stream, a fetch that waits longer than the ack wait or keeps failing, stop(), and a consumer an earlier version made
 * without a filter.
 */
import { expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy, nanos } from 'nats';
import { startNatsSource, type NatsBatch } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, natsTestRuns, type TestStream } from '../helpers/nats.js';

const log = silentLogger();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nats = natsTestRuns();
const { sources } = nats;
let ts: TestStream | undefined;

const cfg = (over: Record<string, unknown>) => NatsInputConfigSchema.parse({ servers: NATS_TEST_URL, stream: ts!.stream, durable: 'agg', batch: 50, ack_wait_s: 2, ...over });

async function run(over: Record<string, unknown>, batches: NatsBatch['messages'][]) {
  const s = await startNatsSource({ config: cfg(over), log, handler: async (b) => void batches.push(b.messages) });
  sources.push(s);
  return s;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

it('clears the old subject filter when the subjects widen to the whole stream', async () => {
  ts = await nats.stream('nconsumer');
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
  ts = await nats.stream('nconsumer', { create: true });
  const batches: NatsBatch['messages'][] = [];
  await run({ subjects: [`${ts.prefix}.>`] }, batches);
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}']);
  await until('the first message', () => batches.flat().length >= 1);
  await ts.jsm.consumers.delete(ts.stream, 'agg');
  await ts.publish(`${ts.prefix}.r`, ['{"x":2}']);
  await until('the message published after the deletion', () => batches.flat().some((m) => m.seq === 2), 20_000);
  // created again, the consumer delivers the stream from its start: 1 again (a re-delivery changes nothing), then 2
  expect(batches.flat().map((m) => m.seq)).toEqual([1, 1, 2]);
}, 30_000);

it('keeps the messages of a fetch that waits longer than ack_wait_s from being redelivered into it', async () => {
  ts = await nats.stream('nconsumer', { create: true });
  const batches: NatsBatch['messages'][] = [];
  await run({ subjects: [`${ts.prefix}.>`], ack_wait_s: 1, fetch_wait_ms: 4000 }, batches);
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}']);
  await until('the batch', () => batches.length >= 1);
  await sleep(1500);
  expect(batches.map((b) => b.map((m) => m.seq))).toEqual([[1]]);
}, 30_000);

it('delivers every message of a stream deleted and created again while serving', async () => {
  ts = await nats.stream('nconsumer', { create: true });
  const subj = `${ts.prefix}.r`;
  const got: NatsBatch['messages'] = [];
  const s = await startNatsSource({ config: cfg({ subjects: [`${ts.prefix}.>`] }), log, handler: async (b) => void got.push(...b.messages) });
  sources.push(s);
  await ts.publish(subj, ['{"old":1}', '{"old":2}', '{"old":3}']);
  await until('the old messages', () => got.length >= 3);
  await sleep(200); // acks out
  // the operator deletes the stream and creates it again; Fleet keeps publishing
  await ts.jsm.streams.delete(ts.stream);
  await ts.jsm.streams.add({ name: ts.stream, subjects: [`${ts.prefix}.>`] });
  await ts.publish(subj, ['{"new":1}', '{"new":2}', '{"new":3}', '{"new":4}', '{"new":5}']);
  await until('the new stream messages', () => got.filter((m) => m.lines[0]!.includes('new')).length >= 5, 12_000).catch(() => undefined);
  expect(got.filter((m) => m.lines[0]!.includes('new')).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
}, 30_000);

it('redelivers what another instance held uncommitted when the consumer is deleted and created again', async () => {
  ts = await nats.stream('nconsumer', { create: true });
  const subj = `${ts.prefix}.r`;
  const committed: number[] = [];
  // instance A: takes seq 1..3, its store fails (the commit is retried), then it is stopped: hands them back
  let failA = false;
  let aHolds = false;
  const a = await startNatsSource({
    config: cfg({ subjects: [`${ts.prefix}.>`] }),
    log,
    handler: async (b) => {
      aHolds = true;
      await until('A to fail', () => failA, 25_000);
      throw new Error('store down');
    },
  });
  await ts.publish(subj, ['{"x":1}', '{"x":2}', '{"x":3}']);
  await until('A to hold its batch', () => aHolds);
  // instance B: commits everything it gets
  const b = await startNatsSource({ config: cfg({ subjects: [`${ts.prefix}.>`] }), log, handler: async (bt) => void committed.push(...bt.messages.map((m) => m.seq)) });
  sources.push(b);
  await ts.publish(subj, ['{"x":4}', '{"x":5}', '{"x":6}']);
  await until('B to commit 4..6', () => committed.length >= 3);
  await sleep(200);
  await ts.jsm.consumers.delete(ts.stream, 'agg');
  await until('the consumer created again', async () => {
    try {
      await ts!.jsm.consumers.info(ts!.stream, 'agg');
      return true;
    } catch {
      return false;
    }
  });
  failA = true;
  await a.stop(); // A's commit failed while stopping: nak, nothing committed
  // 1..3 were never committed anywhere: a crash before the ack means redelivery (module doc)
  await until('1..3 redelivered to B', () => [1, 2, 3].every((q) => committed.includes(q)), 8_000).catch(() => undefined);
  // at least once each (B may get them twice: from the consumer's start and from A's nak; dedupe drops the second)
  expect([...new Set(committed.filter((q) => q <= 3))].sort()).toEqual([1, 2, 3]);
}, 40_000);

it('does not deliver a subject added to the stream after start that the config does not ask for', async () => {
  ts = await nats.stream('nconsumer');
  const [a, other] = [`${ts.prefix}.a`, `${ts.prefix}.other`];
  await ts.jsm.streams.add({ name: ts.stream, subjects: [a] });
  const got: NatsBatch['messages'] = [];
  const s = await startNatsSource({ config: cfg({ subjects: [a] }), log, handler: async (b) => void got.push(...b.messages) });
  sources.push(s);
  // someone else adds a subject to the stream for another consumer
  await ts.jsm.streams.update(ts.stream, { subjects: [a, other] });
  await ts.publish(other, ['not an osquery line']);
  await ts.publish(a, ['{"x":1}']);
  await until('the wanted message', () => got.some((m) => m.subject === a));
  await sleep(500);
  expect(got.map((m) => m.subject)).toEqual([a]);
}, 30_000);

it('reports a fetch that keeps failing: stats (failedFetches, lastError) and onFailure (the metrics counter)', async () => {
  ts = await nats.stream('nconsumer', { create: true });
  const failures: string[] = [];
  const s = await startNatsSource({ config: cfg({ subjects: [`${ts.prefix}.>`] }), log, handler: async () => undefined, onFailure: (kind) => void failures.push(kind) });
  sources.push(s);
  await ts.jsm.streams.delete(ts.stream); // not created again (create_stream false): every fetch and ensure fails
  // a fetch fails once its long poll ends: waited for, not slept for (a loaded CI machine took longer than 3 s once)
  await until('a failed fetch', () => s.stats().failedFetches > 0 && s.stats().lastError !== undefined, 20_000);
  expect(s.stats().lastError).toMatch(/^fetch: /);
  expect(s.stats().failedFetches).toBeGreaterThan(0);
  expect(failures.length).toBe(s.stats().failedFetches);
  expect(new Set(failures)).toEqual(new Set(['fetch']));
}, 30_000);

it('stop() returns promptly from an idle long fetch, right after start and after a batch', async () => {
  ts = await nats.stream('nconsumer', { create: true });
  const got: number[] = [];
  const s1 = await startNatsSource({ config: cfg({ subjects: [`${ts.prefix}.>`], fetch_wait_ms: 20_000 }), log, handler: async (b) => void got.push(...b.messages.map((m) => m.seq)) });
  let t = Date.now();
  await s1.stop();
  const immediate = Date.now() - t;
  const s2 = await startNatsSource({ config: cfg({ subjects: [`${ts.prefix}.>`], fetch_wait_ms: 20_000, batch: 1 }), log, handler: async (b) => void got.push(...b.messages.map((m) => m.seq)) });
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}']);
  await until('the message', () => got.length >= 1);
  await sleep(300);
  t = Date.now();
  await s2.stop();
  const afterBatch = Date.now() - t;
  expect({ immediate: immediate < 2000, afterBatch: afterBatch < 2000 }).toEqual({ immediate: true, afterBatch: true });
  expect((await ts.pending('agg')).ackPending).toBe(0);
}, 60_000);

it('starts on an existing durable consumer that the previous version created without a filter (stream of exactly the configured subject)', async () => {
  ts = await nats.stream('nconsumer', { create: true });
  const config = cfg({ subjects: [`${ts.prefix}.>`] });
  // what ensureConsumer before caffe54 created for a whole-stream subject list: no filter
  await ts.jsm.consumers.add(ts.stream, {
    durable_name: 'agg',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.ack_wait_s * 1000),
    max_ack_pending: Math.max(config.batch * 8, 1000),
  });
  const got: number[] = [];
  const s = await startNatsSource({ config, log, handler: async (b) => void got.push(...b.messages.map((m) => m.seq)) });
  sources.push(s);
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}']);
  await until('the message', () => got.length > 0, 10_000).catch(() => undefined);
  expect(got).toEqual([1]);
}, 30_000);
