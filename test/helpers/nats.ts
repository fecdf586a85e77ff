/**
 * JetStream helpers for tests, on the local nats-server (127.0.0.1:4222, -js) that scripts/services.sh
 * starts. Each test uses its own stream and subject prefix so parallel runs never collide; streams are
 * deleted afterwards. An unreachable server is an error, never a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { connect, headers as natsHeaders, type JetStreamManager, type NatsConnection } from 'nats';
import { afterEach } from 'vitest';
import type { NatsSource } from '../../fleet/ingest/nats-source.js';

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

/** The nats-server binary scripts/services.sh installs (Debian puts it in /usr/sbin, which a PATH may lack). */
function natsServerBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean).concat(['/usr/sbin', '/usr/bin', '/usr/local/bin'])) {
    const candidate = `${dir}/nats-server`;
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('nats-server not found; install it with: bash scripts/services.sh');
}

export interface PrivateNatsServer {
  readonly url: string;
  /** Start it again with another password (a rotation); the store directory stays. */
  restart(pass: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A nats-server of a test's own (JetStream, user `agg`), on `port` with its store in a fresh directory: for what the
 * shared server must not see (credentials, a restart). Resolves once it accepts `agg`/`pass`.
 */
export async function startPrivateNatsServer(port: number, pass: string): Promise<PrivateNatsServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-nats-'));
  const bin = natsServerBinary();
  let server: ChildProcess | undefined;
  const stopServer = async () => {
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGKILL');
    await exited;
  };
  const start = async (p: string) => {
    await stopServer();
    server = spawn(bin, ['-js', '-p', String(port), '-a', '127.0.0.1', '-sd', dir, '--user', 'agg', '--pass', p], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      try {
        await (await connect({ servers: `127.0.0.1:${port}`, user: 'agg', pass: p, timeout: 500 })).close();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`nats-server on port ${port} did not start`);
  };
  await start(pass);
  return {
    url: `nats://127.0.0.1:${port}`,
    restart: start,
    async stop() {
      await stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A test file's NATS runs: the sources its tests start (push them on `sources`) are stopped after each test
 * (`graceMs`, else stop()'s default), then the test streams and private servers made through it are cleaned up.
 */
export function natsTestRuns(graceMs?: number): {
  sources: NatsSource[];
  stream(label?: string, opts?: { create?: boolean }): Promise<TestStream>;
  server(port: number, pass: string): Promise<PrivateNatsServer>;
} {
  const sources: NatsSource[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.stop(graceMs)));
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  return {
    sources,
    async stream(label, opts) {
      const ts = await testStream(label, opts);
      cleanups.push(() => ts.cleanup());
      return ts;
    },
    async server(port, pass) {
      const server = await startPrivateNatsServer(port, pass);
      cleanups.push(() => server.stop());
      return server;
    },
  };
}
