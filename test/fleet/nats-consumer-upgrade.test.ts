/** The NATS source on a durable consumer an earlier version made without a filter (a review's case). */
import { afterEach, expect, it } from 'vitest';
import { AckPolicy, DeliverPolicy, nanos } from 'nats';
import { startNatsSource, type NatsSource } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, testStream, type TestStream } from '../helpers/nats.js';

let ts: TestStream | undefined;
const sources: NatsSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  await ts?.cleanup();
});

it('starts on an existing durable consumer that the previous version created without a filter (stream of exactly the configured subject)', async () => {
  ts = await testStream('nupgrade', { create: true });
  const subj = `${ts.prefix}.>`;
  const config = NatsInputConfigSchema.parse({ servers: NATS_TEST_URL, stream: ts.stream, durable: 'agg', batch: 50, ack_wait_s: 2, subjects: [subj] });
  // what ensureConsumer before caffe54 created for a whole-stream subject list: no filter
  await ts.jsm.consumers.add(ts.stream, {
    durable_name: 'agg',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(config.ack_wait_s * 1000),
    max_ack_pending: Math.max(config.batch * 8, 1000),
  });
  const got: number[] = [];
  const s = await startNatsSource({ config, log: silentLogger(), handler: async (b) => void got.push(...b.messages.map((m) => m.seq)) });
  sources.push(s);
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}']);
  const deadline = Date.now() + 10_000;
  while (!got.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  console.log(JSON.stringify((await ts.jsm.consumers.info(ts.stream, "agg")).config), JSON.stringify(s.stats()));
  expect(got).toEqual([1]);
}, 30_000);
