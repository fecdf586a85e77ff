/**
 * JetStream helpers for tests, on the local nats-server (127.0.0.1:4222, -js) that scripts/services.sh
 * starts. Each test uses its own stream and subject prefix so parallel runs never collide; streams are
 * deleted afterwards. An unreachable server is an error, never a skip.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { connect, headers as natsHeaders, type JetStreamManager, type NatsConnection } from 'nats';

export const NATS_TEST_URL = process.env.OUTFLOW_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface TestStream {
  /** Stream name (unique per call). */
  stream: string;
  /** Subject prefix owned by this test, e.g. `t_ab12cd.results`. */
  prefix: string;
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Publish lines (one per message) through JetStream and wait for every ack. */
  publish(subject: string, lines: string[], opts?: { gzip?: boolean; header?: Record<string, string> }): Promise<void>;
  /** Messages still waiting (not acked) on a durable consumer. */
  pending(durable: string): Promise<{ pending: number; ackPending: number; redelivered: number }>;
  cleanup(): Promise<void>;
}

export async function connectTestNats(): Promise<NatsConnection> {
  try {
    return await connect({ servers: NATS_TEST_URL, timeout: 3000 });
  } catch (err) {
    throw new Error(`NATS test server unreachable at ${NATS_TEST_URL} (${(err as Error).message}); start it with: bash scripts/services.sh`, {
      cause: err,
    });
  }
}

export function uniqueToken(label = 't'): string {
  return `${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/**
 * A fresh, not-yet-created stream name and subject prefix. With `create: true` the stream is created here
 * (subjects `<prefix>.>`); otherwise the code under test is expected to create it (--nats-create-stream).
 */
export async function testStream(label = 'outflow', opts: { create?: boolean } = {}): Promise<TestStream> {
  const token = uniqueToken(label);
  const stream = token.toUpperCase();
  const prefix = token.toLowerCase();
  const nc = await connectTestNats();
  const jsm = await nc.jetstreamManager();
  if (opts.create) await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
  const js = nc.jetstream();
  return {
    stream,
    prefix,
    nc,
    jsm,
    async publish(subject, lines, popts = {}) {
      const pubs: Promise<unknown>[] = [];
      for (const line of lines) {
        const data = popts.gzip ? gzipSync(Buffer.from(line)) : Buffer.from(line);
        let h;
        if (popts.header) {
          h = natsHeaders();
          for (const [k, v] of Object.entries(popts.header)) h.set(k, v);
        }
        pubs.push(js.publish(subject, data, h ? { headers: h } : undefined));
        // bounded in-flight publishes: the server's ack queue is small on a shared machine
        if (pubs.length >= 256) await Promise.all(pubs.splice(0));
      }
      await Promise.all(pubs);
    },
    async pending(durable) {
      const info = await jsm.consumers.info(stream, durable);
      return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
    },
    async cleanup() {
      await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close().catch(() => undefined);
    },
  };
}
