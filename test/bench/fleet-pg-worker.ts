/**
 * One aggregator ingest worker for test/bench/fleet-pg.bench.ts: PostgreSQL store + ingest service + the
 * NATS JetStream input, nothing else (no HTTP, no scheduler), so the bench measures the ingest path.
 * Prints "ready" once the store is open, starts pulling when it reads "go" on stdin, stops on SIGTERM.
 * Env: PG_URL, NATS_URL, STREAM, SUBJECT, DURABLE, BATCH.
 */
import { createInterface } from 'node:readline';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { startNatsIngest, type NatsSource } from '../../fleet/ingest/nats-source.js';
import { openStore } from '../../fleet/store/open.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';

async function main(): Promise<void> {
  const env = process.env;
  const store = await openStore(env.PG_URL!);
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock: { now: () => new Date(4e12), unix: () => 4e9, ms: () => 4e12 } });
  const config = NatsInputConfigSchema.parse({
    servers: env.NATS_URL,
    stream: env.STREAM,
    subjects: [env.SUBJECT],
    durable: env.DURABLE,
    batch: Number(env.BATCH ?? 500),
    fetch_wait_ms: 1000,
    ack_wait_s: 30,
  });
  let source: NatsSource | undefined;
  const stop = async () => {
    await source?.stop();
    await store.close();
    process.stdout.write(`stats ${JSON.stringify(source?.stats() ?? {})}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.stdout.write('ready\n');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() === 'go' && !source) {
      source = await startNatsIngest({ config, ingest, log: silentLogger(), name: `bench-${process.pid}` });
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
