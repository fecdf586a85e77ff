/**
 * A webhook receiver's answer is read only to let the connection be reused: a receiver (or whoever sits on a plain
 * http:// path to it) answering with a body of gigabytes must not make the aggregator hold it all in memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { sampleDetection, waitFor } from './serve-fixtures.js';

const ANSWER_BYTES = 256 * 1024 * 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('stops reading a huge 2xx answer instead of buffering all of it', async () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'webhook-answer-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  let sent = 0;
  let ended = false;
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(ANSWER_BYTES) });
      const pump = () => {
        while (sent < ANSWER_BYTES && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (sent >= ANSWER_BYTES) res.end();
      };
      res.on('close', () => (ended = true));
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const sink = new WebhookSink({
    name: 'webhook#0',
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    secret: 'test-webhook-secret-0123456789',
    format: 'json',
    spoolDir: path.join(dir, 'spool'),
    timeoutMs: 60_000,
    backoff: { initialMs: 20, maxMs: 150, factor: 2 },
    batchSize: 1,
    maxSpoolBytes: 1 << 20,
    headers: {},
    render: (d) => d,
    log: silentLogger(),
  });
  cleanups.push(() => sink.close());
  await sink.write([sampleDetection({ id: 'd1' })]);
  await waitFor(() => sink.pending === 0 && ended, 'delivery', 60_000);
  // what the sink took of the answer (the rest never left the receiver); loopback buffers hold a few MiB at most
  expect(sent).toBeLessThan(32 * 1024 * 1024);
}, 90_000);
