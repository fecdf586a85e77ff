/**
 * startServe's stop(): closing the API must not hold the orderly shutdown past runServe's SHUTDOWN_LIMIT_MS (30 s,
 * below systemd's TimeoutStopSec=45 in deploy/outflow-fleet.service) with the default fleet.http settings, whatever the
 * connections still open: a keep-alive connection whose request was answered during shutdown, a body that never
 * completes (request_timeout_ms defaults to 60 s), a TLS connection whose handshake never completes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { createLogger } from '../src/log.js';
import { MemoryStream } from '../test/fleet/serve-fixtures.js';
import { generateFleetLines } from '../test/helpers/fleet-lines.js';
import { SHUTDOWN_LIMIT_MS, startServe, type RunningServe } from './serve.js';

const TOKEN = 'serve-shutdown-token-0123456789abcdef';
const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'serve-shutdown-conn-'));
const sockets: net.Socket[] = [];
const running: RunningServe[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of running.splice(0)) await r.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(name: string, http: Record<string, unknown> = {}): Promise<RunningServe> {
  const logs = new MemoryStream();
  const s = await startServe({
    loaded: parseConfig({
      fleet: { store: path.join(dir, `${name}.db`), ingest: { quarantine_file: '' }, http: { host: '127.0.0.1', port: 0, token: TOKEN, ...http }, sinks: [], scheduler: { enabled: false } },
    }),
    log: createLogger({ destination: logs, level: 'info' }),
    stdout: new MemoryStream(),
  });
  running.push(s);
  return s;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/** How long `p` took, or null when it took longer than `limitMs`. */
async function within(p: Promise<unknown>, limitMs: number): Promise<number | null> {
  const started = Date.now();
  const done = await Promise.race([p.then(() => true), sleep(limitMs).then(() => false)]);
  return done ? Date.now() - started : null;
}

it('a keep-alive request answered during shutdown does not hold stop() until the keep-alive timeout; its batch commits', async () => {
  const s = await start('keepalive');
  const body = `${generateFleetLines({ lines: 4, hosts: 2, days: 1, seed: 3 }).join('\n')}\n`;
  const socket = await connect(s.port!);
  let answer = '';
  socket.on('data', (d) => (answer += d));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // a request in flight when the shutdown begins: its body is still on the way (HTTP/1.1, so keep-alive)
  socket.write(`POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`);
  await sleep(200);
  const stopping = s.stop('test');
  await sleep(200);
  socket.write(body.slice(10));
  // answered, and then the client keeps its connection, as a pooling client does
  const took = await within(stopping, 10_000);
  expect(took, 'stop() still waiting 10 s after the last request was answered').not.toBeNull();
  await closed;
  expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
  // answered after its batch committed
  expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ lines: 4 });
}, 30_000);

it('with the default request_timeout_ms, a body that never completes is cut well within the shutdown limit', async () => {
  const s = await start('stalled-default');
  const socket = await connect(s.port!);
  const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n{"a":1`);
  await sleep(200);
  // the rest of the shutdown (sources, jobs, sinks, store) needs time of its own before the limit
  const took = await within(s.stop('test'), SHUTDOWN_LIMIT_MS - 10_000);
  expect(took, 'stop() still waiting for the stalled body').not.toBeNull();
  await cut;
}, 60_000);

it('over TLS, a connection whose handshake never completes does not hold stop()', async () => {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  expect(readFileSync(cert, 'utf8')).toContain('BEGIN CERTIFICATE');
  const s = await start('tls', { request_timeout_ms: 1500, tls: { cert, key } });
  // TCP connected, not one byte of a ClientHello: node's TLS server holds it for its 120 s handshake timeout
  const socket = await connect(s.port!);
  const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await sleep(200);
  const took = await within(s.stop('test'), 10_000);
  expect(took, 'stop() still waiting for the TLS handshake').not.toBeNull();
  await cut;
}, 60_000);
