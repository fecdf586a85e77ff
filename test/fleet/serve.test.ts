/**
 * `outflow fleet serve --config` as a real child process: sources (HTTP, a tailed file), the cron
 * finalize job, sinks (file + webhook to a real local receiver), then SIGTERM → exit 0 with
 * everything committed. Only 127.0.0.1 and ephemeral ports.
 */
import { type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify as yaml } from 'yaml';
import { openStore } from '../../fleet/store/open.js';
import { verifySignature } from '../../fleet/sinks/signature.js';
import type { WebhookBody } from '../../fleet/sinks/webhook.js';
import { parseConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { DetectionSchema } from '../../src/schemas/detection.js';
import { startServe } from '../../fleet/serve.js';
import { runOutflow, spawnOutflow } from '../helpers/cli.js';
import { generateFleetLines } from '../helpers/fleet-lines.js';
import { MemoryStream, TestReceiver, waitFor } from './serve-fixtures.js';

const TOKEN = 'serve-test-token-0123456789abcdef';
const SECRET = 'serve-webhook-secret-0123456789';
const FLEET = generateFleetLines({ lines: 2400, hosts: 60, days: 10, seed: 8 });

let dir: string;
const children: ChildProcess[] = [];
const receivers: TestReceiver[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'serve-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of receivers.splice(0)) await r.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function serve(config: Record<string, unknown>): Promise<Served> {
  const file = path.join(dir, 'outflow.yaml');
  writeFileSync(file, yaml(config));
  const child = spawnOutflow(['fleet', 'serve', '--config', file]);
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let url = '';
  await waitFor(
    () => {
      for (const line of err.split('\n')) {
        if (!line.includes('fleet aggregator started')) continue;
        url = (JSON.parse(line) as { http: string }).http;
      }
      return url !== '' || child.exitCode !== null;
    },
    'the aggregator to start',
    30_000,
  );
  expect(url, err.slice(-3000)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return { child, url, stderr: () => err, exited };
}

const auth = { authorization: `Bearer ${TOKEN}` };

async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: auth })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('outflow fleet serve', () => {
  it('ingests over HTTP and from a tailed file, finalizes on cron, delivers to sinks, and exits 0 on SIGTERM with all of it committed', async () => {
    const receiver = new TestReceiver();
    receivers.push(receiver);
    await receiver.start();
    const db = path.join(dir, 'fleet.db');
    const results = path.join(dir, 'osqueryd.results.log');
    const detectionsFile = path.join(dir, 'detections.jsonl');
    writeFileSync(results, FLEET.slice(0, 300).join('\n') + '\n');

    const s = await serve({
      fleet: {
        store: db,
        ingest: { files: [results], poll_interval_ms: 100, quarantine_file: path.join(dir, 'q.ndjson') },
        http: { host: '127.0.0.1', port: 0, token: TOKEN },
        sinks: [
          { type: 'file', path: detectionsFile },
          { type: 'webhook', url: receiver.url, secret: SECRET, spool_dir: path.join(dir, 'spool'), backoff: { initial_ms: 50, max_ms: 500 } },
        ],
        scheduler: { finalize: { cron: '* * * * * *' } },
      },
    });

    // the tail picks up lines appended while running
    appendFileSync(results, FLEET.slice(300, 600).join('\n') + '\n');
    for (const part of [FLEET.slice(600, 1500), FLEET.slice(1500)]) {
      const res = await fetch(`${s.url}/v1/ingest`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body: part.join('\n') });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { accepted: number }).accepted).toBe(part.length);
    }
    await waitFor(async () => (await metric(s.url, 'outflow_lines_ingested_total{source="file"}')) === 600, 'the tailed file to be ingested', 20_000);

    // one whole finalize run after the last line, then every detection reaches the webhook
    const runsAfterIngest = (await metric(s.url, 'outflow_job_runs_total{job="finalize",outcome="ok"}')) + 2;
    await waitFor(async () => (await metric(s.url, 'outflow_job_runs_total{job="finalize",outcome="ok"}')) >= runsAfterIngest, 'finalize to run after ingest', 20_000);
    const listed = (await (await fetch(`${s.url}/v1/detections?limit=10000`, { headers: auth })).json()) as { count: number; detections: { id: string }[] };
    expect(listed.count).toBeGreaterThan(0);
    const ids = new Set(listed.detections.map((d) => d.id));
    const deliveredIds = () => new Set(receiver.delivered.flatMap((r) => (JSON.parse(r.body.toString()) as WebhookBody).detections.map((d) => (d as { id: string }).id)));
    await waitFor(() => [...ids].every((id) => deliveredIds().has(id)), 'every detection at the webhook', 20_000);
    for (const r of receiver.requests) expect(verifySignature(SECRET, r.body, r.headers['x-outflow-signature'] as string)).toBe(true);

    s.child.kill('SIGTERM');
    expect(await s.exited, s.stderr().slice(-3000)).toBe(0);
    expect(s.stderr()).toContain('shutdown complete');

    const store = await openStore(db);
    try {
      const stored = await store.detections.list({ limit: 10_000 });
      expect(new Set(stored.map((d) => d.id))).toEqual(ids);
      const fileIds = new Set(readFileSync(detectionsFile, 'utf8').trimEnd().split('\n').map((l) => DetectionSchema.parse(JSON.parse(l)).id));
      expect(fileIds).toEqual(ids);
      // the file offset was committed with the state it produced
      const cp = await store.checkpoints.get(`file:${path.resolve(results)}`);
      expect(Number(cp?.offset)).toBe(statSync(results).size);
      const hosts = [...new Set(FLEET.map((l) => (JSON.parse(l) as { hostIdentifier: string }).hostIdentifier))];
      expect((await store.hosts.get(hosts)).size).toBe(hosts.length);
    } finally {
      await store.close();
    }
  }, 90_000);

  it('on SIGTERM finishes a request whose body is still arriving, commits it, then exits 0', async () => {
    const db = path.join(dir, 'inflight.db');
    const s = await serve({
      fleet: { store: db, ingest: { quarantine_file: '' }, http: { host: '127.0.0.1', port: 0, token: TOKEN }, sinks: [], scheduler: { enabled: false } },
    });
    const lines = FLEET.slice(0, 400);
    const { port } = new URL(s.url);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: Number(port), path: '/v1/ingest', method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write(lines.slice(0, 200).join('\n') + '\n');
      // the rest arrives after the signal
      setTimeout(() => {
        s.child.kill('SIGTERM');
        setTimeout(() => req.end(lines.slice(200).join('\n') + '\n'), 300);
      }, 300);
    });
    const r = await response;
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ lines: 400, accepted: 400 });
    expect(await s.exited, s.stderr().slice(-3000)).toBe(0);
    // new connections are refused once it is gone
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    const store = await openStore(db);
    try {
      const hosts = [...new Set(lines.map((l) => (JSON.parse(l) as { hostIdentifier: string }).hostIdentifier))];
      expect((await store.hosts.get(hosts)).size).toBe(hosts.length);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('on SIGTERM cuts a request whose body never completes once request_timeout_ms has passed, and exits 0', async () => {
    const s = await serve({
      fleet: { store: path.join(dir, 'stalled.db'), ingest: { quarantine_file: '' }, http: { host: '127.0.0.1', port: 0, token: TOKEN, request_timeout_ms: 1500 }, sinks: [], scheduler: { enabled: false } },
    });
    const { port } = new URL(s.url);
    // a body announced at 100 000 bytes of which 6 ever come (a stalled or hostile client)
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('error', () => undefined);
    const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(`POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n{"a":1`);
    await sleep(300);
    const signalled = Date.now();
    s.child.kill('SIGTERM');
    expect(await s.exited, s.stderr().slice(-3000)).toBe(0);
    await cut;
    // cut after the request timeout, long before the 30 s shutdown limit
    expect(Date.now() - signalled).toBeLessThan(20_000);
    expect(s.stderr()).toContain('cutting HTTP connections still open');
  }, 60_000);

  it('refuses to start with the API enabled and no token (exit 2, names the key, creates no store)', async () => {
    const db = path.join(dir, 'never.db');
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, yaml({ fleet: { store: db, http: { port: 0 } } }));
    const r = await runOutflow(['fleet', 'serve', '--config', file], { timeoutMs: 30_000, env: { ...process.env, OUTFLOW_HTTP_TOKEN: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('fleet.http');
    expect(() => statSync(db)).toThrow();
  });
});

describe('fleet serve without any input', () => {
  it('says at start that it ingests nothing, and runs (a jobs-only instance is legitimate)', async () => {
    const logs = new MemoryStream();
    const loaded = (http: Record<string, unknown>, files: string[]) =>
      parseConfig({ fleet: { store: path.join(dir, 'jobs.db'), http, ingest: { files, quarantine_file: path.join(dir, 'q.ndjson') }, sinks: [{ type: 'stdout', format: 'json' }] } });
    const warned = () => logs.text.split('\n').filter((l) => l.includes('"level":40') && l.includes('no input'));

    const idle = await startServe({ loaded: loaded({ enabled: false }, []), log: createLogger({ destination: logs, level: 'info' }), stdout: new MemoryStream() });
    await idle.stop();
    expect(warned()).toHaveLength(1);
    expect(logs.text).toContain('fleet aggregator started');

    // one input is enough
    const tailing = await startServe({ loaded: loaded({ enabled: false }, [path.join(dir, 'results.log')]), log: createLogger({ destination: logs, level: 'info' }), stdout: new MemoryStream() });
    await tailing.stop();
    expect(warned()).toHaveLength(1);
  });
});
