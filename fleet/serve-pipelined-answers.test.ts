/**
 * startServe keeps track of the answers in progress, so that shutdown can mark them `connection: close`
 * (fleet/serve.ts, apiCloser). What it holds must go once the connection has closed: an answer to a pipelined request,
 * still queued behind the one before it when its connection closes, never emits 'close' (node never hands it the
 * socket). Anyone who reaches the port can send such requests, no token needed (the 401 closes the connection), and a
 * long-running serve must not keep one answer per request for ever.
 */
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { createLogger } from '../src/log.js';
import { MemoryStream } from '../test/fleet/serve-fixtures.js';
import { startServe, type RunningServe } from './serve.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOKEN = 'serve-pipelined-token-0123456789abcdef';
const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'serve-pipelined-'));
const running: RunningServe[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every answer the HTTP server starts, weakly: whatever still holds one after a full GC keeps it alive. */
const answers: WeakRef<ServerResponse>[] = [];
const onRequestStart = (message: unknown) => answers.push(new WeakRef((message as { response: ServerResponse }).response));
diagnostics.subscribe('http.server.request.start', onRequestStart);
afterAll(() => diagnostics.unsubscribe('http.server.request.start', onRequestStart));

async function start(name: string): Promise<RunningServe> {
  const s = await startServe({
    loaded: parseConfig({
      fleet: { store: path.join(dir, `${name}.db`), ingest: { quarantine_file: '' }, http: { host: '127.0.0.1', port: 0, token: TOKEN }, sinks: [], scheduler: { enabled: false } },
    }),
    log: createLogger({ destination: new MemoryStream(), level: 'info' }),
    stdout: new MemoryStream(),
  });
  running.push(s);
  return s;
}

/** Sends `requests` in one write on one connection and waits until the server has closed it. */
async function pipeline(port: number, requests: string[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let answer = '';
  socket.on('data', (d) => (answer += d));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(requests.join(''));
  await closed;
  return answer;
}

/** How many of the answers started so far are still reachable after a full GC. */
async function stillHeld(): Promise<number> {
  // the answers' own 'close' and the sockets' are emitted on later ticks
  await sleep(200);
  gc();
  await sleep(0);
  gc();
  return answers.filter((a) => a.deref() !== undefined).length;
}

it('answers to pipelined requests are not held once their connection has closed', async () => {
  const s = await start('pipelined');
  const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  answers.length = 0;
  // one request on its own connection, answered and closed (401 says connection: close): nothing stays
  expect(await pipeline(s.port!, [get('/v1/detections')])).toMatch(/^HTTP\/1\.1 401 /);
  expect(answers).toHaveLength(1);
  expect(await stillHeld()).toBe(0);

  // a client that pipelines without a token: the first 401 closes the connection, the rest are never answered
  answers.length = 0;
  for (let i = 0; i < 20; i++) {
    const answer = await pipeline(s.port!, [get('/v1/detections'), get('/v1/hosts'), get('/v1/detections')]);
    expect(answer.match(/^HTTP\/1\.1 /gm)).toHaveLength(1);
  }
  expect(answers).toHaveLength(60);
  expect(await stillHeld()).toBe(0);
}, 30_000);
