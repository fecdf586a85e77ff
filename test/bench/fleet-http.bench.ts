/**
 * POST /v1/ingest throughput through real HTTP on 127.0.0.1 into the SQLite store (the whole serve
 * wiring: auth, body decode, ingest service, metrics), with one client and with four concurrent ones,
 * plus webhook sink delivery rate to a local receiver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { startServe } from '../../fleet/serve.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { generateFleetLines } from '../helpers/fleet-lines.js';
import type { BenchContext } from './run.js';

const TOKEN = 'bench-token-0123456789abcdef';

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] ?? 0;
}

async function ingestRun(b: BenchContext, name: string, lines: string[], batch: number, clients: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-http-'));
  const server = await startServe({
    loaded: parseConfig({
      fleet: {
        store: path.join(dir, 'bench.db'),
        ingest: { quarantine_file: '' },
        http: { host: '127.0.0.1', port: 0, token: TOKEN, body_limit: 64 * 1024 * 1024 },
        sinks: [],
        scheduler: { enabled: false },
      },
    }),
    log: silentLogger(),
  });
  try {
    const bodies: string[] = [];
    for (let i = 0; i < lines.length; i += batch) bodies.push(lines.slice(i, i + batch).join('\n'));
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const t = performance.now();
          const res = await fetch(`${server.url}/v1/ingest`, { method: 'POST', body, headers: { authorization: `Bearer ${TOKEN}` } });
          if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    b.report(name, {
      lines: lines.length,
      batch_lines: batch,
      clients,
      lines_per_s: Math.round(lines.length / seconds),
      p95_request_ms: Math.round(p95(latencies)),
      rss_mb: Math.round(process.memoryUsage().rss / 1024 / 1024),
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function webhookRun(b: BenchContext, detections: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-webhook-'));
  let received = 0;
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;
  const { sampleDetection } = await import('../fleet/serve-fixtures.js');
  const sink = new WebhookSink({
    name: 'bench',
    url: `http://127.0.0.1:${port}/`,
    secret: 'bench-secret-0123456789',
    format: 'json',
    spoolDir: path.join(dir, 'spool'),
    timeoutMs: 5000,
    backoff: { initialMs: 10, maxMs: 100, factor: 2 },
    batchSize: 100,
    maxSpoolBytes: 1 << 30,
    headers: {},
    render: (d) => d,
    log: silentLogger(),
  });
  try {
    const ds = Array.from({ length: detections }, (_, i) => sampleDetection({ id: `bench-${i}` }));
    const started = performance.now();
    await sink.write(ds);
    const spooled = performance.now();
    while (sink.pending > 0) await new Promise((r) => setTimeout(r, 5));
    await sink.idle();
    const seconds = (performance.now() - started) / 1000;
    b.report('webhook spool+deliver (batch 100)', {
      detections,
      posts: received,
      spool_ms: Math.round(spooled - started),
      detections_per_s: Math.round(detections / seconds),
    });
  } finally {
    await sink.close();
    await new Promise<void>((r) => receiver.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function (b: BenchContext): Promise<void> {
  const n = b.quick ? 20_000 : 100_000;
  const lines = generateFleetLines({ lines: n, hosts: 500, days: 7, seed: 3 });
  await ingestRun(b, 'POST /v1/ingest NDJSON, 1 client', lines, 5000, 1);
  await ingestRun(b, 'POST /v1/ingest NDJSON, 4 clients', lines, 5000, 4);
  await webhookRun(b, b.quick ? 2000 : 10_000);
}
