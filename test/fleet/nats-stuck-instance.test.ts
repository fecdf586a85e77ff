/**
 * Several instances share one durable consumer. An instance whose commits keep failing (its own store
 * connection is broken, or a batch its store refuses) must hand its batch back (nak with a delay, as the module's
 * contract at startNatsSource says) so a healthy instance commits it; it must not hold the messages forever by
 * sending in-progress acks (working()) while it retries in place.
 */
import { expect, it } from 'vitest';
import { startNatsSource } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, natsTestRuns, type TestStream } from '../helpers/nats.js';

const nats = natsTestRuns(1000);
const { sources } = nats;
let ts: TestStream | undefined;

it('a batch held by an instance whose commits keep failing reaches a healthy instance', async () => {
  ts = await nats.stream('nstuck', { create: true });
  const config = NatsInputConfigSchema.parse({ servers: NATS_TEST_URL, stream: ts.stream, subjects: [`${ts.prefix}.>`], durable: 'agg', batch: 10, fetch_wait_ms: 1000, ack_wait_s: 2 });
  let aHolds = false;
  const a = await startNatsSource({
    config,
    log: silentLogger(),
    name: 'a',
    handler: async () => {
      aHolds = true;
      throw new Error('connection to the store refused');
    },
  });
  sources.push(a);
  await ts.publish(`${ts.prefix}.r`, ['{"x":1}', '{"x":2}', '{"x":3}']);
  const deadline0 = Date.now() + 10_000;
  while (!aHolds && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 50));
  expect(aHolds).toBe(true);
  const committed = new Set<number>();
  const b = await startNatsSource({ config, log: silentLogger(), name: 'b', handler: async (batch) => batch.messages.forEach((m) => committed.add(m.seq)) });
  sources.push(b);
  const deadline = Date.now() + 20_000;
  while (committed.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect({ committedByHealthyInstance: [...committed].sort(), failedCommitsOfA: a.stats().failedBatches > 0 }).toEqual({ committedByHealthyInstance: [1, 2, 3], failedCommitsOfA: true });
}, 60_000);
