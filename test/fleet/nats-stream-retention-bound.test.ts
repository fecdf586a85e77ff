/**
 * The stream `--nats-create-stream` / `create_stream: true` makes must not keep every result line forever: the
 * aggregator acks each batch once committed, and nothing else reads that stream. With limits retention and no
 * limit (max_age, max_bytes, max_msgs all unset) every acked message stays on the NATS server's disk for as long as
 * the fleet runs, and a durable consumer created again (nats-source.ts recovery) replays all of it.
 */
import { expect, it } from 'vitest';
import { RetentionPolicy } from 'nats';
import { startNatsSource, type NatsBatch } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, natsTestRuns } from '../helpers/nats.js';

const nats = natsTestRuns(1000);

it('a stream created by the aggregator drops what it acked (or ages it out): its messages stay bounded', async () => {
  const ts = await nats.stream('nret');
  const config = NatsInputConfigSchema.parse({
    servers: NATS_TEST_URL,
    stream: ts.stream,
    subjects: [`${ts.prefix}.results`],
    durable: 'agg',
    create_stream: true,
    batch: 100,
    fetch_wait_ms: 500,
    ack_wait_s: 5,
  });
  let got = 0;
  const s = await startNatsSource({ config, log: silentLogger(), handler: async (b: NatsBatch) => void (got += b.messages.length) });
  nats.sources.push(s);
  const N = 300;
  await ts.publish(`${ts.prefix}.results`, Array.from({ length: N }, (_, i) => `{"i":${i}}`));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const p = await ts.pending('agg');
    if (got >= N && p.pending === 0 && p.ackPending === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(got).toBe(N);
  expect(await ts.pending('agg')).toMatchObject({ pending: 0, ackPending: 0 });
  const info = await ts.jsm.streams.info(ts.stream);
  const limited = info.config.retention !== RetentionPolicy.Limits || info.config.max_age > 0 || info.config.max_bytes > 0 || info.config.max_msgs > 0;
  // every message was acked: a bounded stream has dropped them (work queue) or will age them out (max_age)
  const shown = { retention: info.config.retention, max_age: info.config.max_age, max_bytes: info.config.max_bytes, max_msgs: info.config.max_msgs, messages_kept: info.state.messages };
  expect(limited, `stream keeps ${N} acked messages with no limit: ${JSON.stringify(shown)}`).toBe(true);
}, 40_000);
