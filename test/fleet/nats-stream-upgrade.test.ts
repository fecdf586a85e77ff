/**
 * An earlier version turned `<p>.{log.decorations.hostname}.results` into the filter `<p>.*.results`, and with
 * create_stream it created the stream with that subject. The filter is now `<p>.>`: the stream must be widened by
 * replacing the subject the new filter covers (nats-server refuses overlapping subjects), so the source still starts.
 */
import { AckPolicy } from 'nats';
import { expect, it } from 'vitest';
import { startNatsSource, type NatsBatch } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, natsTestRuns, type TestStream } from '../helpers/nats.js';

const nats = natsTestRuns(1000);
const { sources } = nats;
let ts: TestStream | undefined;

it('starts on a stream and consumer the previous version created for a mid-subject template, and takes dotted hostnames', async () => {
  ts = await nats.stream('nupg');
  // what the previous version created (create_stream: true) for this template
  await ts.jsm.streams.add({ name: ts.stream, subjects: [`${ts.prefix}.*.results`] });
  await ts.jsm.consumers.add(ts.stream, { durable_name: 'agg', ack_policy: AckPolicy.Explicit, filter_subject: `${ts.prefix}.*.results` });
  const config = NatsInputConfigSchema.parse({
    servers: NATS_TEST_URL,
    stream: ts.stream,
    subjects: [`${ts.prefix}.{log.decorations.hostname}.results`],
    durable: 'agg',
    create_stream: true,
    batch: 10,
    fetch_wait_ms: 1000,
    ack_wait_s: 2,
  });
  const got: NatsBatch['messages'] = [];
  const s = await startNatsSource({ config, log: silentLogger(), handler: async (b) => void got.push(...b.messages) });
  sources.push(s);
  await ts.publish(`${ts.prefix}.studio-14.local.results`, ['{"x":1}']);
  const deadline = Date.now() + 6000;
  while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(got.map((m) => m.subject)).toEqual([`${ts.prefix}.studio-14.local.results`]);
}, 30_000);
