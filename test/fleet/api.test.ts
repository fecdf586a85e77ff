/**
 * The HTTP API through real HTTP on 127.0.0.1 (ephemeral port), wired by startServe exactly as
 * `outflow fleet serve` wires it, against a real SQLite store.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type OutflowConfig } from '../../src/config/index.js';
import { createLogger, silentLogger, type Logger } from '../../src/log.js';
import { DetectionSchema, type Detection } from '../../src/schemas/detection.js';
import { startServe, type RunningServe } from '../../fleet/serve.js';
import { generateFleetLines } from '../helpers/fleet-lines.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import pg from 'pg';
import { useTestDatabase } from '../helpers/pg.js';
import { MemoryStream, sampleDetection } from './serve-fixtures.js';

// held shared for the file (test/helpers/pg.ts): the restart test cannot take the server away while it is used
const stallDatabase = useTestDatabase('api_stall');

const TOKEN = 'api-test-token-0123456789abcdef';
const LIMIT = 256 * 1024;
const MAX_LINES = 1000;

let dir: string;
let server: RunningServe;
let base: string;
const sinkOut = new MemoryStream();

function config(over: Record<string, unknown> = {}): OutflowConfig {
  return parseConfig({
    fleet: {
      store: path.join(dir, 'api.db'),
      ingest: { quarantine_file: path.join(dir, 'quarantine.ndjson') },
      http: { host: '127.0.0.1', port: 0, token: TOKEN, body_limit: LIMIT, max_lines: MAX_LINES },
      sinks: [{ type: 'stdout', format: 'json' }],
      // jobs run through runNow in these tests; the crons never fire during them
      scheduler: { finalize: { cron: '0 0 1 1 *' }, rollup: { cron: '0 0 1 1 *' }, retention: { cron: '0 0 1 1 *' } },
      ...over,
    },
  });
}

const auth = { authorization: `Bearer ${TOKEN}` };

async function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/v1/ingest`, { method: 'POST', body, headers: { ...auth, 'content-type': 'application/json', ...headers } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function get(route: string, headers: Record<string, string> = auth): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${route}`, { headers });
  const text = await res.text();
  return { status: res.status, json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

function hostLines(hostPrefix: string, n: number, seed: number): string[] {
  // one generated fleet per shape, with host ids renamed so each shape's hosts are its own
  return generateFleetLines({ lines: n, hosts: 4, days: 1, seed }).map((l) => l.replaceAll('HOST-', `${hostPrefix}-`));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'api-'));
  server = await startServe({ loaded: config(), log: silentLogger(), stdout: sinkOut });
  base = server.url!;
  expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

afterAll(async () => {
  await server?.stop('test');
  rmSync(dir, { recursive: true, force: true });
});

describe('authentication', () => {
  it.each([
    ['POST', '/v1/ingest'],
    ['GET', '/v1/detections'],
    ['GET', '/v1/prevalence/destinations/example.com'],
    ['GET', '/v1/prevalence/apps/team%3AABC%2Fcom.example'],
    ['GET', '/metrics'],
    ['GET', '/no/such/route'],
  ])('%s %s answers 401 without a token and with a wrong one', async (method, route) => {
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${TOKEN.replace('0', '1')}` }, { authorization: 'Bearer short' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await fetch(`${base}${route}`, { method, headers, ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="outflow"');
      expect(((await res.json()) as { code: string }).code).toBe('AUTH_REQUIRED');
    }
  });

  it('takes the auth scheme in any letter case, as HTTP defines it (RFC 9110 §11.1)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const res = await fetch(`${base}/v1/detections`, { headers: { authorization: `${scheme} ${TOKEN}` } });
      expect(res.status, scheme).toBe(200);
    }
  });

  it('lets /healthz through without a token', async () => {
    const r = await get('/healthz', {});
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok', store: 'sqlite' });
  });

  it('answers 401, not 413, to an oversized unauthenticated body (the body is never read)', async () => {
    const res = await fetch(`${base}/v1/ingest`, { method: 'POST', body: 'x'.repeat(LIMIT * 2) });
    expect(res.status).toBe(401);
  });

  it('closes the connection after a 401, so a client without the token cannot hold it by trickling the body it declared', async () => {
    const { port, hostname } = new URL(base);
    const socket = net.connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('POST /v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{"name"');
    // a byte now and then, as a slow-loris client would send; the server must not wait for the rest
    const drip = setInterval(() => socket.writable && socket.write('x'), 200);
    try {
      await closed;
    } finally {
      clearInterval(drip);
    }
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('connection: close');
  }, 10_000);
});

describe('POST /v1/ingest', () => {
  it('rejects a body over the cap with 413 and stores nothing of it', async () => {
    const before = (await server.store.hosts.get(['BIG-00000'])).size;
    const lines = hostLines('BIG', 2000, 5).join('\n');
    expect(lines.length).toBeGreaterThan(LIMIT);
    const r = await post(lines);
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ code: 'BODY_TOO_LARGE' });
    expect((await server.store.hosts.get(['BIG-00000'])).size).toBe(before);
  });

  it('rejects more than max_lines result lines per request with 413, in every shape, and ingests none of them', async () => {
    const n = MAX_LINES + 1;
    const lines = Array.from({ length: n }, () => 'x');
    for (const body of [lines.join('\n'), JSON.stringify(lines), JSON.stringify({ details: lines }), JSON.stringify({ records: lines.map((value) => ({ value })) })]) {
      const before = await server.store.quarantine.count();
      const r = await post(body);
      expect(r.status, body.slice(0, 20)).toBe(413);
      expect(r.json).toMatchObject({ code: 'TOO_MANY_LINES', error: `request holds more than ${MAX_LINES} result lines` });
      expect(await server.store.quarantine.count()).toBe(before);
    }
    // blank lines do not count, and max_lines lines pass
    const ok = await post([...Array.from({ length: MAX_LINES }, () => 'x'), '', ' ', ''].join('\r\n'));
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ lines: MAX_LINES, quarantined: MAX_LINES });
  });

  it('rejects a chunked body (no content-length) that grows past the cap with 413', async () => {
    const chunk = new TextEncoder().encode(`${hostLines('CHK', 1, 6)[0]}\n`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMIT * 2) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${base}/v1/ingest`, { method: 'POST', body: stream, headers: auth, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect((await server.store.hosts.get(['CHK-00000'])).size).toBe(0);
  });

  it('ingests NDJSON, quarantining a malformed line without failing the batch', async () => {
    const lines = hostLines('ND', 40, 11);
    const r = await post([...lines.slice(0, 20), '{"name":"pack/Global/outflow_apps", truncated', ...lines.slice(20)].join('\r\n') + '\n', { 'content-type': 'application/x-ndjson' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ shape: 'ndjson', lines: 41, quarantined: 1, accepted: 40 });
    const hosts = [...new Set(lines.map((l) => (JSON.parse(l) as { hostIdentifier: string }).hostIdentifier))];
    expect([...(await server.store.hosts.get(hosts)).keys()].sort()).toEqual(hosts.sort());
    const q = await server.store.quarantine.list(10);
    expect(q.some((row) => row.source.startsWith('http:ndjson@') && row.line.includes('truncated'))).toBe(true);
  });

  it("ingests Fleet's webhook body, with lines as objects or as JSON strings", async () => {
    const lines = hostLines('WH', 30, 12);
    const details = lines.map((l, i) => (i % 2 ? JSON.parse(l) : l));
    const r = await post(JSON.stringify({ timestamp: '2026-03-03T09:53:00Z', details }));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ shape: 'webhook', lines: 30, accepted: 30, quarantined: 0 });
    const hosts = [...new Set(lines.map((l) => (JSON.parse(l) as { hostIdentifier: string }).hostIdentifier))];
    expect((await server.store.hosts.get(hosts)).size).toBe(hosts.length);
  });

  it('ingests a Kafka REST body and counts re-delivered candidate rows as duplicates', async () => {
    const lines = hostLines('KR', 30, 13);
    const candidateRows = lines.filter((l) => l.includes('outflow_candidates')).length;
    expect(candidateRows).toBeGreaterThan(0);
    const body = JSON.stringify({ records: lines.map((l) => ({ value: JSON.parse(l) })) });
    const first = await post(body, { 'content-type': 'application/vnd.kafka.json.v1+json' });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ shape: 'kafka', lines: 30, accepted: 30, duplicates: 0 });
    // Candidate rows are recognized; the other rows are applied again, which changes nothing (pipeline.test.ts).
    const again = await post(body, { 'content-type': 'application/vnd.kafka.json.v1+json' });
    expect(again.json).toMatchObject({ shape: 'kafka', lines: 30, accepted: 30 - candidateRows, duplicates: candidateRows, candidates: 0 });
    const hosts = [...new Set(lines.map((l) => (JSON.parse(l) as { hostIdentifier: string }).hostIdentifier))];
    expect((await server.store.hosts.get(hosts)).size).toBe(hosts.length);
  });

  it('answers how many rows were ignored and under which query names; /metrics counts them by reason, not by name', async () => {
    // reports renamed in Fleet: nothing of it is Outflow's, every row is only host activity
    const lines = hostLines('RN', 30, 15).map((l) => l.replaceAll('"pack/Global/outflow_', '"pack/Global/Outflow '));
    const named = new Map<string, number>();
    for (const l of lines) {
      const j = JSON.parse(l) as { name: string; snapshot?: unknown[]; diffResults?: { added: unknown[]; removed: unknown[] } };
      const rows = j.snapshot ? j.snapshot.length : j.diffResults ? j.diffResults.added.length + j.diffResults.removed.length : 1;
      named.set(j.name, (named.get(j.name) ?? 0) + (rows || 1));
    }
    const rows = [...named.values()].reduce((a, b) => a + b, 0);
    const before = server.metrics.rowsIgnored.get({ source: 'http', reason: 'other_query' });
    const r = await post(lines.join('\n'));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ lines: 30, accepted: rows, ignored: rows, ignored_by_reason: { other_query: rows, removed: 0, no_rows: 0, no_identity: 0 }, quarantined: 0 });
    expect(Object.fromEntries((r.json.ignored_queries as { name: string; rows: number }[]).map((q) => [q.name, q.rows]))).toEqual(Object.fromEntries(named));
    expect(server.metrics.rowsIgnored.get({ source: 'http', reason: 'other_query' })).toBe(before + rows);
    const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    expect(metrics).toMatch(/^outflow_rows_ignored_total\{source="http",reason="other_query"\} \d+$/m);
    expect(metrics).not.toContain('Outflow ');
  });

  it('accepts a gzip body and caps its inflated size (413 for a decompression bomb)', async () => {
    const lines = hostLines('GZ', 20, 14);
    const r = await post(gzipSync(lines.join('\n')), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ shape: 'ndjson', lines: 20, accepted: 20 });
    const bomb = gzipSync(Buffer.alloc(LIMIT * 4, 0x20));
    expect(bomb.length).toBeLessThan(LIMIT);
    const b = await post(bomb, { 'content-encoding': 'gzip' });
    expect(b.status).toBe(413);
    expect(b.json).toMatchObject({ code: 'BODY_TOO_LARGE' });
  });

  it('answers 400 with issues for a wrapper of the wrong shape and for an empty body', async () => {
    const bad = await post(JSON.stringify({ timestamp: 'x', details: 7 }));
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'INPUT_INVALID' });
    expect((bad.json.issues as { path: string }[])[0]!.path).toBe('details');
    const badKafka = await post(JSON.stringify({ records: [1, 2] }));
    expect(badKafka.status).toBe(400);
    expect((badKafka.json.issues as { path: string }[])[0]!.path).toBe('records.0');
    expect((await post('   \n')).status).toBe(400);
    expect((await post('{}', { 'content-encoding': 'br' })).status).toBe(415);
    expect((await post('not gzip at all', { 'content-encoding': 'gzip' })).status).toBe(400);
  });
});

describe('ingest requests in flight', () => {
  it('past max_ingest_bytes_in_flight, a stalled store gets 503 BUSY before the body is read; many small requests fit', async () => {
    // PostgreSQL: a stalled store waits without blocking the event loop (SQLite's busy wait is synchronous)
    const db = stallDatabase();
    const stalled = await startServe({
      loaded: config({ store: db.url, http: { host: '127.0.0.1', port: 0, token: TOKEN, body_limit: LIMIT, max_lines: MAX_LINES, max_ingest_bytes_in_flight: 512 * 1024 } }),
      log: silentLogger(),
      stdout: new MemoryStream(),
    });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      const body = hostLines('STALL', 300, 41).join('\n');
      expect(body.length).toBeGreaterThan(150_000);
      expect(body.length).toBeLessThan(250_000);
      const send = (b: string) => fetch(`${stalled.url}/v1/ingest`, { method: 'POST', body: b, headers: auth });
      // "a forgotten psql transaction": every admitted body waits for the store
      await locker.query('BEGIN; LOCK TABLE hosts IN SHARE MODE');
      const answered: { status: number; code?: string; retryAfter: string | null }[] = [];
      const posts = Array.from({ length: 8 }, () =>
        send(body).then(async (r) => {
          answered.push({ status: r.status, code: ((await r.json()) as { code?: string }).code, retryAfter: r.headers.get('retry-after') });
        }),
      );
      await new Promise((r) => setTimeout(r, 3000));
      // two bodies fit in 512 KiB; the other six were refused at once, without waiting for the store
      expect(answered.map((a) => [a.status, a.code, a.retryAfter])).toEqual(Array.from({ length: 6 }, () => [503, 'BUSY', '1']));
      await locker.query('ROLLBACK');
      await Promise.all(posts);
      expect(answered.filter((a) => a.status === 200)).toHaveLength(2);

      // Fleet's webhook sends one small request per osquery batch, many at once (and does not retry a refused one)
      const small = hostLines('SMALL', 40, 42);
      const statuses = await Promise.all(small.map((l) => send(l).then((r) => r.status)));
      expect(statuses.every((st) => st === 200)).toBe(true);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await stalled.stop('test');
    }
  }, 60_000);
});

describe('the size of what a host can make a detection carry', () => {
  it('cuts long candidate text at ingest (paths, chains), so detections stay small in JSON and OCSF', async () => {
    const own = await startServe({ loaded: config({ store: path.join(dir, 'fat.db'), http: { host: '127.0.0.1', port: 0, token: TOKEN, body_limit: 64 * 1024 * 1024 } }), log: silentLogger(), stdout: new MemoryStream() });
    try {
      const pad = 'A'.repeat(200_000);
      const lines = generateFleetLines({ lines: 1500, hosts: 30, days: 10, seed: 21 }).map((l) => {
        const o = JSON.parse(l) as { name: string; columns: Record<string, string> };
        if (!o.name.endsWith('outflow_candidates')) return l;
        const p = `${o.columns.path}/${pad}`;
        o.columns.path = p;
        o.columns.group_root_path = p;
        const chain = (JSON.parse(o.columns.process_chain!) as object[]).map((k) => ({ ...k, path: p }));
        o.columns.process_chain = JSON.stringify([...chain, ...Array.from({ length: 100 }, (_, i) => ({ pid: 9000 + i, path: '/bin/sh', identity: '', signature_class: 'apple_platform' }))]);
        return JSON.stringify(o);
      });
      const r = await fetch(`${own.url}/v1/ingest`, { method: 'POST', body: lines.join('\n'), headers: auth });
      expect(r.status).toBe(200);
      // cut, not refused: every candidate is still judged
      expect(((await r.json()) as { quarantined: number }).quarantined).toBe(0);
      expect((await own.scheduler!.runNow('finalize')).status).toBe('ok');
      for (const format of ['json', 'ocsf']) {
        const { detections } = (await (await fetch(`${own.url}/v1/detections?format=${format}`, { headers: auth })).json()) as { detections: Detection[] };
        expect(detections.length).toBeGreaterThan(0);
        expect(Math.max(...detections.map((d) => JSON.stringify(d).length))).toBeLessThan(1024 * 1024);
      }
      const { detections } = (await (await fetch(`${own.url}/v1/detections`, { headers: auth })).json()) as { detections: Detection[] };
      expect(detections[0]!.process.path).toHaveLength(4096);
      expect(detections[0]!.process.path.endsWith('…')).toBe(true);
      expect(detections[0]!.process_chain.length).toBeLessThanOrEqual(33); // 32 links, and the group root the chain was cut from
    } finally {
      await own.stop('test');
    }
  }, 120_000);

  it.each([
    ['ASCII', 'B'.repeat(1_000_000)],
    ['3-byte characters (bytes, not characters, are counted)', '€'.repeat(400_000)],
  ])('answers at most 32 MiB of detections, the newest, and says the rest was left out (%s)', async (kind, pad) => {
    const file = path.join(dir, `big-answers-${kind.length}.db`);
    const store = await openSqliteStore(file);
    // detections stored by an older version, before text was cut: 1–1.2 MB each
    const big = (i: number) => sampleDetection({ id: `big-${String(i).padStart(2, '0')}`, suppression_key: `k-${i}`, last_seen: sampleDetection().last_seen + i });
    await store.detections.upsert(Array.from({ length: 40 }, (_, i) => ({ ...big(i), process: { ...big(i).process, path: `/x/${pad}` } })));
    await store.close();
    const own = await startServe({ loaded: config({ store: file }), log: silentLogger(), stdout: new MemoryStream() });
    try {
      const res = await fetch(`${own.url}/v1/detections?limit=100`, { headers: auth });
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBeLessThan(32 * 1024 * 1024 + 64 * 1024);
      const answer = JSON.parse(body.toString('utf8')) as { count: number; truncated: boolean; detections: Detection[] };
      expect(answer.truncated).toBe(true);
      expect(answer.count).toBeGreaterThan(20);
      expect(answer.count).toBeLessThan(40);
      expect(answer.detections.at(-1)!.id).toBe('big-39');
    } finally {
      await own.stop('test');
    }
  }, 120_000);
});

describe('GET /v1/detections?since= with a duration', () => {
  // detections 1 h, 10 h and 30 h before `anchor`; the store's newest event time is `newest`
  it.each([
    ['a replay of old logs: back from its newest event', -30 * 86_400, -30 * 86_400],
    ['a host clock 20 h ahead: back from now, not from that host', 20 * 3600, 0],
  ])('%s', async (label, newestFromNow, anchorFromNow) => {
    const now = Math.floor(Date.now() / 1000);
    const [newest, anchor] = [now + newestFromNow, now + anchorFromNow];
    const file = path.join(dir, `since-anchor-${newestFromNow}.db`);
    const store = await openSqliteStore(file);
    await store.clock.observe(anchor - 5 * 86_400, newest);
    await store.detections.upsert([1, 10, 30].map((h) => sampleDetection({ id: `det-${h}h`, suppression_key: `k-${h}`, first_seen: anchor - h * 3600 - 30, last_seen: anchor - h * 3600 })));
    await store.close();
    const own = await startServe({ loaded: config({ store: file }), log: silentLogger(), stdout: new MemoryStream() });
    try {
      const res = await fetch(`${own.url}/v1/detections?since=24h`, { headers: auth });
      const answer = (await res.json()) as { detections: Detection[] };
      expect(answer.detections.map((d) => d.id), label).toEqual(['det-10h', 'det-1h']);
    } finally {
      await own.stop('test');
    }
  });
});

describe('queries after a simulated fleet was ingested and finalized', () => {
  let all: Detection[];
  const FLEET = generateFleetLines({ lines: 1500, hosts: 30, days: 10, seed: 21 });

  beforeAll(async () => {
    for (let i = 0; i < FLEET.length; i += 150) {
      const r = await post(FLEET.slice(i, i + 150).join('\n'));
      expect(r.status).toBe(200);
    }
    const fin = await server.scheduler!.runNow('finalize');
    expect(fin.status).toBe('ok');
    all = await server.store.detections.list({ limit: 10_000 });
    expect(all.length).toBeGreaterThan(0);
  });

  it('sent every new detection to the sinks once finalize committed them', () => {
    const emitted = sinkOut.lines().map((l) => DetectionSchema.parse(l));
    expect(new Set(emitted.map((d) => d.id))).toEqual(new Set(all.map((d) => d.id)));
  });

  it('GET /v1/detections lists them, filtered by analytic, host and since', async () => {
    const r = await get('/v1/detections?limit=10000');
    expect(r.status).toBe(200);
    expect(r.json.count).toBe(all.length);
    expect(r.json.detections.map((d: Detection) => d.id)).toEqual(all.map((d) => d.id));
    for (const d of r.json.detections) DetectionSchema.parse(d);

    const host = all[0]!.host_id;
    const byHost = await get(`/v1/detections?host=${encodeURIComponent(host)}`);
    expect(byHost.json.detections.length).toBe(all.filter((d) => d.host_id === host).length);
    expect(byHost.json.detections.every((d: Detection) => d.host_id === host)).toBe(true);

    const analytic = all[0]!.analytic;
    const byAnalytic = await get(`/v1/detections?analytic=${analytic.toLowerCase()}`);
    expect(byAnalytic.json.count).toBe(all.filter((d) => d.analytic === analytic).length);
    const other = await get(`/v1/detections?analytic=${analytic === 'AN0990' ? 'AN0082' : 'AN0990'}`);
    expect(other.json.count).toBe(all.filter((d) => d.analytic !== analytic && d.analytic === (analytic === 'AN0990' ? 'AN0082' : 'AN0990')).length);

    const sorted = [...all].sort((a, b) => a.last_seen - b.last_seen);
    const cut = sorted[Math.floor(sorted.length / 2)]!.last_seen;
    const since = await get(`/v1/detections?since=${cut}&limit=10000`);
    expect(since.json.count).toBe(all.filter((d) => d.last_seen >= cut).length);
    expect(since.json.count).toBeLessThan(all.length);
    const iso = await get(`/v1/detections?since=${new Date(cut * 1000).toISOString()}&limit=10000`);
    expect(iso.json.count).toBe(since.json.count);

    const limited = await get('/v1/detections?limit=2');
    expect(limited.json.count).toBe(Math.min(2, all.length));
    // the newest two (by last_seen, then id), oldest first, and a flag saying older ones were left out
    const newest = [...all].sort((a, b) => a.last_seen - b.last_seen || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(-2);
    expect(limited.json.detections.map((d: Detection) => d.id)).toEqual(newest.map((d) => d.id));
    expect(limited.json.truncated).toBe(all.length > 2);
    expect(r.json.truncated).toBe(false);
  });

  it('renders OCSF on request', async () => {
    const r = await get('/v1/detections?format=ocsf&limit=3');
    expect(r.json.format).toBe('ocsf');
    expect(r.json.detections.every((f: { class_uid: number }) => f.class_uid === 2004)).toBe(true);
  });

  it('answers 400 with the offending parameter for bad queries', async () => {
    for (const [q, p] of [
      ['analytic=AN9999', 'analytic'],
      ['since=yesterday-ish', 'since'],
      ['since=7', 'since'],
      ['since=March%209', 'since'],
      ['since=foo%202026', 'since'],
      ['since=1773064700000', 'since'],
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['hostid=x', ''],
      ['format=xml', 'format'],
    ] as const) {
      const r = await get(`/v1/detections?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.code).toBe('INPUT_INVALID');
      expect(r.json.issues.map((i: { path: string }) => i.path), q).toContain(p);
    }
    const ms = await get('/v1/detections?since=1773064700000');
    expect(ms.json.issues[0].message).toMatch(/^1773064700000 looks like milliseconds \(13 digits\) \(divide by 1000: 1773064700 is unix seconds; accepted: a duration/);
  });

  it('answers a malformed URL and an over-long path parameter in the documented error shape, without echoing the URL', async () => {
    for (const route of ['/v1/prevalence/destinations/%ZZ', `/v1/prevalence/destinations/${'a'.repeat(2000)}`, `/v1/prevalence/apps/team:X/${'a'.repeat(2000)}`, '/v1/prevalence/apps/a/%ZZ']) {
      const r = await get(route);
      expect(r.status, route.slice(0, 40)).toBe(route.includes('%ZZ') ? 400 : 414);
      expect(Object.keys(r.json).sort()).toEqual(['code', 'error']);
      expect(String(r.json.error).length).toBeLessThan(100);
    }
  });

  it('answers 400, not a store error, to a NUL in a host, key or identity (PostgreSQL text cannot hold one)', async () => {
    for (const route of ['/v1/detections?host=a%00b', '/v1/prevalence/destinations/a%00b', '/v1/prevalence/apps/a%00b']) {
      const r = await get(route);
      expect(r.status, route).toBe(400);
      expect(JSON.stringify(r.json.issues), route).toContain('must not contain a NUL character');
    }
  });

  it('answers a URL pasted unencoded into a prevalence path, its query split off as this request query, with a 400 naming the parameter and saying to encode it', async () => {
    const pasted = 'https://www.figma.com/files?x=1';
    const r = await get(`/v1/prevalence/destinations/${pasted}`);
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('INPUT_INVALID');
    expect(r.json.issues).toEqual([{ path: 'x', message: 'unknown query parameter (this route takes only hosts)' }]);
    expect(r.json.error).toMatch(/^invalid query \(a destination holding "\?" or "#", such as a pasted URL, must be URL-encoded in the path with encodeURIComponent: [^)]*\): x: unknown query parameter/);
    expect(r.json.hint).toBe('send GET /v1/prevalence/destinations/<encodeURIComponent(key or URL)>?hosts=N');
    // sent as it says: answered, the URL's query dropped with its path
    const encoded = await get(`/v1/prevalence/destinations/${encodeURIComponent(pasted)}?hosts=0`);
    expect(encoded.status).toBe(200);
    expect(encoded.json).toMatchObject({ key: 'figma.com', normalized_from: pasted, host_sample: [] });
    // an identity alike; at most five names, the rest counted, and a bad hosts still said
    const many = await get(`/v1/prevalence/apps/team:X/com.x?a=1&b&c&d&e&${'f'.repeat(100)}&g&hosts=-1`);
    expect(many.status).toBe(400);
    expect(many.json.error).toMatch(/^invalid query \(an app identity holding "\?" or "#"/);
    expect(many.json.issues.map((i: { path: string }) => i.path)).toEqual(['hosts', 'a', 'b', 'c', 'd', 'e', '']);
    expect(many.json.issues.at(-1).message).toBe('and 2 more unknown query parameters');
    // other routes still refuse an unknown parameter, and say nothing of encoding a path
    const other = await get('/v1/detections?x=1');
    expect(other.status).toBe(400);
    expect(other.json.error).not.toMatch(/encodeURIComponent/);
  });

  it('GET /v1/prevalence/destinations/:key reports hosts, window and thresholds from the store', async () => {
    const key = all[0]!.destination_key;
    const r = await get(`/v1/prevalence/destinations/${encodeURIComponent(key)}?hosts=50`);
    expect(r.status).toBe(200);
    const { newest } = await server.store.clock.get();
    const window = { from: newest! - 30 * 86_400, to: newest! };
    const stats = (await server.store.prevalence.destinations([key], window)).get(key)!;
    expect(r.json).toMatchObject({ key, window, hosts: stats.hosts, first_seen: stats.firstSeen, last_seen: stats.lastSeen, saturated: stats.saturated, rare_threshold: 3 });
    expect(r.json.active_hosts).toBe(await server.store.hosts.activeCount(window));
    expect(r.json.host_sample.length).toBe(Math.min(50, stats.hosts));
    expect(r.json.in_store).toBe(true);
    const unknown = await get('/v1/prevalence/destinations/never-seen.example');
    expect(unknown.json).toMatchObject({ hosts: 0, first_seen: null, rare: true, in_store: false });
    // a pasted URL or a trailing slash is looked up by its host's key, not as a key no host has
    for (const asked of [`https://${key}/files?x=1`, `${key}/`, `${key.toUpperCase()}.`]) {
      const byUrl = await get(`/v1/prevalence/destinations/${encodeURIComponent(asked)}?hosts=50`);
      expect(byUrl.status, asked).toBe(200);
      expect(byUrl.json, asked).toEqual({ ...r.json, normalized_from: asked });
    }
    // and with its slashes not encoded
    for (const asked of [`https://${key}/files`, `${key}/`]) {
      const plain = await get(`/v1/prevalence/destinations/${asked}?hosts=50`);
      expect(plain.status, asked).toBe(200);
      expect(plain.json, asked).toEqual({ ...r.json, normalized_from: asked });
    }
  });

  it('GET /v1/prevalence/apps/:identity takes an identity with its slash encoded or not', async () => {
    const identity = 'team:TEAM0000/com.vendor0.app';
    const r = await get(`/v1/prevalence/apps/${encodeURIComponent(identity)}`);
    expect(r.status).toBe(200);
    const plain = await get(`/v1/prevalence/apps/${identity}`);
    expect(plain.status).toBe(200);
    expect(plain.json).toEqual(r.json);
    expect((await get('/v1/prevalence/apps/team:TEAM0000%2Fcom.vendor0.app')).json).toEqual(r.json);
    expect(r.json.identity).toBe(identity);
    expect(r.json.hosts).toBeGreaterThan(1);
    expect(r.json).toMatchObject({ signature_class: 'developer_id', team_id: 'TEAM0000', signing_id: 'com.vendor0.app' });
    expect(r.json).toMatchObject({ in_store: true, previously_unseen: false });
    // an identity the store never saw is said to be so, not judged "previously unseen"
    const never = await get(`/v1/prevalence/apps/${encodeURIComponent('team:NOPE000000/com.nobody.app')}`);
    expect(never.json).toMatchObject({ hosts: 0, first_seen: null, in_store: false, previously_unseen: null });
    const rare = all.find((d) => d.process.identity.startsWith('cdhash:'));
    if (rare) {
      const rr = await get(`/v1/prevalence/apps/${encodeURIComponent(rare.process.identity)}`);
      expect(rr.json.hosts).toBeGreaterThanOrEqual(1);
    }
  });

  it('GET /metrics is Prometheus text with ingest, detection and job series', async () => {
    const res = await fetch(`${base}/metrics`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    const samples = new Map<string, number>();
    const typed = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('# HELP ')) continue;
      const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (t) {
        typed.add(t[1]!);
        continue;
      }
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|NaN|\+Inf|-Inf)$/.exec(line);
      expect(m, `unparseable metrics line: ${line}`).not.toBeNull();
      const family = m![1]!.replace(/_(bucket|sum|count)$/, '');
      expect(typed.has(m![1]!) || typed.has(family), `sample before its TYPE: ${line}`).toBe(true);
      samples.set(`${m![1]}${m![2] ?? ''}`, Number(m![3]));
    }
    expect(samples.get('outflow_lines_ingested_total{source="http"}')).toBeGreaterThanOrEqual(FLEET.length + 41 + 30 + 60);
    expect(samples.get('outflow_lines_quarantined_total{source="http"}')).toBeGreaterThanOrEqual(1);
    const stored = all.filter((d) => d.analytic === all[0]!.analytic).length;
    expect(samples.get(`outflow_detections_stored{analytic="${all[0]!.analytic}"}`)).toBe(stored);
    expect(samples.get(`outflow_detections_total{analytic="${all[0]!.analytic}",kind="new"}`)).toBe(stored);
    expect(samples.get('outflow_job_runs_total{job="finalize",outcome="ok"}')).toBe(1);
    expect(samples.get('outflow_job_duration_seconds_count{job="finalize"}')).toBe(1);
    expect(samples.get('outflow_http_ingest_requests_total{shape="webhook",status="200"}')).toBe(1);
    expect(samples.get('outflow_http_ingest_requests_total{shape="unknown",status="413"}')).toBeGreaterThanOrEqual(2);
    // the host counts the thresholds use, and the last hour's, for spotting made-up host ids
    const { newest } = await server.store.clock.get();
    expect(samples.get('outflow_active_hosts{window="prevalence"}')).toBe(await server.store.hosts.activeCount({ from: newest! - 30 * 86_400, to: newest! }));
    expect(samples.get('outflow_active_hosts{window="prevalence"}')).toBeGreaterThan(0);
    expect(samples.get('outflow_active_hosts{window="1h"}')).toBe(await server.store.hosts.activeCount({ from: newest! - 3600, to: newest! }));
  });
});

describe('maintenance jobs on the served store', () => {
  it('rollup and retention run through the scheduler and report what they did', async () => {
    const rollup = await server.scheduler!.runNow('rollup');
    expect(rollup).toMatchObject({ status: 'ok', result: { active_hosts: expect.any(Number), common_threshold: expect.any(Number) } });
    const retention = await server.scheduler!.runNow('retention');
    expect(retention).toMatchObject({ status: 'ok', result: { detections_deleted: 0, candidates_deleted: expect.any(Number) } });
    expect(server.metrics.jobDuration.count({ job: 'rollup' })).toBe(1);
  });
});

describe('TLS and metrics without a token', () => {
  it('serves HTTPS with the configured certificate and still requires the token', async () => {
    const tlsDir = mkdtempSync(path.join(dir, 'tls-'));
    const cert = path.join(tlsDir, 'cert.pem');
    const key = path.join(tlsDir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tlsServer = await startServe({
      loaded: config({ store: path.join(tlsDir, 'tls.db'), http: { host: '127.0.0.1', port: 0, token: TOKEN, tls: { cert, key }, metrics_require_token: false }, sinks: [], scheduler: { enabled: false } }),
      log: silentLogger(),
    });
    try {
      expect(tlsServer.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = (await import('node:fs')).readFileSync(cert);
      const request = (route: string, headers: Record<string, string> = {}) =>
        new Promise<number>((resolve, reject) => {
          https.get(`${tlsServer.url}${route}`, { ca, headers }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on('error', reject);
        });
      expect(await request('/healthz')).toBe(200);
      expect(await request('/v1/detections')).toBe(401);
      expect(await request('/v1/detections', auth)).toBe(200);
      // metrics_require_token: false opens /metrics only
      expect(await request('/metrics')).toBe(200);
    } finally {
      await tlsServer.stop();
    }
  });
});

describe('TLS files that cannot be read', () => {
  it('refuse to start with a config error naming the key, before the store or any source is opened', async () => {
    const tlsDir = mkdtempSync(path.join(dir, 'tls-missing-'));
    const store = path.join(tlsDir, 'never.db');
    const start = startServe({
      loaded: config({ store, http: { host: '127.0.0.1', port: 0, token: TOKEN, tls: { cert: path.join(tlsDir, 'cert.pem'), key: path.join(tlsDir, 'key.pem') } }, sinks: [], scheduler: { enabled: false } }),
      log: silentLogger(),
    });
    await expect(start).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `cannot read fleet.http.tls.cert ${path.join(tlsDir, 'cert.pem')}`, hint: expect.stringMatching(/check the path/) });
    expect(existsSync(store)).toBe(false);
  });
});

/** A serve of its own: a new directory and store, no API unless asked, no sinks, jobs only through runNow. */
async function ownServe(label: string, fleet: (dir: string) => Record<string, unknown>, opts: { log?: Logger; env?: NodeJS.ProcessEnv } = {}) {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), `${label}-`));
  const never = { cron: '0 0 1 1 *' };
  const serve = await startServe({
    loaded: parseConfig({
      fleet: {
        store: path.join(dir, 'serve.db'),
        ingest: { quarantine_file: '' },
        http: { enabled: false },
        sinks: [],
        scheduler: { finalize: never, rollup: never, retention: never },
        ...fleet(dir),
      },
    }),
    log: opts.log ?? silentLogger(),
    ...(opts.env ? { env: opts.env } : {}),
  });
  return {
    serve,
    dir,
    async stop() {
      await serve.stop('test');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A logger whose JSON lines land in `into`. */
function capturingLogger(into: { level: number; msg: string; [k: string]: unknown }[]): Logger {
  return createLogger({ level: 'debug', destination: { write: (l: string) => void into.push(JSON.parse(l) as { level: number; msg: string }) } });
}

describe('sink cursors at serve start', () => {
  it('a new sink gets the detections another process finalizes before serve\'s first finalize run', async () => {
    const own = await ownServe('serve-sinks', (dir) => ({ sinks: [{ type: 'file', path: path.join(dir, 'detections.jsonl'), format: 'json' }] }));
    try {
      // `outflow fleet ingest` on the same store, between serve's start and its first finalize tick
      const cli = await openSqliteStore(path.join(own.dir, 'serve.db'));
      await cli.detections.upsert([sampleDetection({ id: 'det-from-cli', suppression_key: 'k-cli' })]);
      await cli.close();
      const run = await own.serve.scheduler!.runNow('finalize');
      expect(run.status).toBe('ok');
      const written = readFileSync(path.join(own.dir, 'detections.jsonl'), 'utf8').trim().split('\n');
      expect(written.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['det-from-cli']);
    } finally {
      await own.stop();
    }
  });
});

describe('a tailed file that is not there yet', () => {
  it('is waited for with one warning (no error, no stack), then read once osquery creates it', async () => {
    const logged: { level: number; msg: string }[] = [];
    const own = await ownServe('serve-wait', (dir) => ({ ingest: { quarantine_file: '', files: [path.join(dir, 'osqueryd.results.log')], poll_interval_ms: 20 } }), {
      log: capturingLogger(logged),
    });
    try {
      await new Promise((r) => setTimeout(r, 200));
      writeFileSync(path.join(own.dir, 'osqueryd.results.log'), `${generateFleetLines({ lines: 5, hosts: 2, days: 1, seed: 9 }).join('\n')}\n`);
      await expect.poll(async () => (await own.serve.store.hosts.activeCount({ from: 0, to: 4_000_000_000 })) > 0, { timeout: 10_000 }).toBe(true);
      expect(logged.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual(['tailed file is not there yet; waiting for it to appear']);
      expect(logged.some((l) => l.msg === 'tailed file appeared')).toBe(true);
    } finally {
      await own.stop();
    }
  });
});

describe('a tailed file that cannot be reached', () => {
  it('is reported with the cause (here ENOTDIR; EACCES alike), not waited for as if osquery had not created it yet', async () => {
    const logged: { level: number; msg: string; err?: { message?: string } }[] = [];
    const own = await ownServe(
      'serve-unreachable',
      (dir) => {
        writeFileSync(path.join(dir, 'plain-file'), '');
        return { ingest: { quarantine_file: '', files: [path.join(dir, 'plain-file', 'osqueryd.results.log')], poll_interval_ms: 20 } };
      },
      { log: capturingLogger(logged) },
    );
    try {
      await expect.poll(() => logged.some((l) => l.msg === 'file source failed; will retry'), { timeout: 10_000 }).toBe(true);
      expect(logged.find((l) => l.msg === 'file source failed; will retry')?.err?.message).toMatch(/ENOTDIR/);
      expect(logged.some((l) => l.msg.startsWith('tailed file is not there yet'))).toBe(false);
    } finally {
      await own.stop();
    }
  });
});

describe('the API token source', () => {
  it('is named at start, with a warning when OUTFLOW_HTTP_TOKEN overrides a configured token file', async () => {
    const logged: { level: number; msg: string; api_token_from?: unknown }[] = [];
    const own = await ownServe(
      'serve-token',
      (dir) => {
        writeFileSync(path.join(dir, 'api.token'), 'file-token-0123456789abcdef\n');
        return { http: { host: '127.0.0.1', port: 0, token_file: path.join(dir, 'api.token') } };
      },
      { log: capturingLogger(logged), env: { OUTFLOW_HTTP_TOKEN: TOKEN } },
    );
    try {
      expect(logged.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['the API token comes from OUTFLOW_HTTP_TOKEN; the configured one is ignored']);
      expect(logged.find((l) => l.msg === 'fleet aggregator started')?.api_token_from).toBe('OUTFLOW_HTTP_TOKEN');
      expect((await fetch(`${own.serve.url}/v1/detections`, { headers: { authorization: 'Bearer file-token-0123456789abcdef' } })).status).toBe(401);
      expect((await fetch(`${own.serve.url}/v1/detections`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await own.stop();
    }
  });
});

describe('GET /v1/hosts/status and the outflow_host_status gauge', () => {
  const T = 1_772_413_200;
  const row = (component: string, state: string, detail = '') => ({ component, detail, dropped: '0', events: '10', last_event: String(T), platform: 'darwin', state, version: '0.1.0' });
  const snapshot = (host: string, time: number, rows: Record<string, string>[]) =>
    JSON.stringify({
      name: 'pack/Global/outflow_status',
      hostIdentifier: host,
      calendarTime: new Date(time * 1000).toUTCString(),
      unixTime: time,
      epoch: 0,
      counter: 0,
      numerics: false,
      decorations: { host_uuid: host, hostname: `${host.toLowerCase()}.local` },
      snapshot: rows,
      action: 'snapshot',
    });
  let own: RunningServe;

  beforeAll(async () => {
    own = await startServe({ loaded: config({ store: path.join(dir, 'host-status.db') }), log: silentLogger(), stdout: new MemoryStream() });
    const lines = [
      snapshot('HS-1', T, [row('flows', 'running'), row('eslogger', 'permission_denied', 'grant Full Disk Access to osqueryd')]),
      snapshot('HS-2', T, [row('flows', 'degraded', 'nettop exited; restarting'), row('eslogger', 'running')]),
      // an old report: not in the gauge's last 2 hours, still listed without `since`
      snapshot('HS-3', T - 5 * 3600, [row('eslogger', 'unavailable', 'eslogger missing')]),
      // names a host made up: one "other" series each, never a label of their own
      snapshot('HS-4', T, [row('Evil"\\ncomponent', 'running'), row('flows', 'weird_state')]),
    ];
    const res = await fetch(`${own.url}/v1/ingest`, { method: 'POST', body: lines.join('\n'), headers: { ...auth, 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
  });

  afterAll(async () => {
    await own?.stop('test');
  });

  async function ask(query: string): Promise<{ status: number; json: any }> {
    const res = await fetch(`${own.url}/v1/hosts/status${query}`, { headers: auth });
    return { status: res.status, json: await res.json() };
  }

  it('lists the hosts whose collectors need an operator, worst first, with what to do', async () => {
    const r = await ask('?problems=true');
    expect(r.status).toBe(200);
    expect(r.json.truncated).toBe(false);
    expect(r.json.statuses.map((s: any) => [s.host_id, s.component, s.state])).toEqual([
      ['HS-4', 'flows', 'weird_state'],
      ['HS-1', 'eslogger', 'permission_denied'],
      ['HS-3', 'eslogger', 'unavailable'],
      ['HS-2', 'flows', 'degraded'],
    ]);
    expect(r.json.statuses[1]).toEqual({ host_id: 'HS-1', hostname: 'hs-1.local', component: 'eslogger', platform: 'darwin', state: 'permission_denied', detail: 'grant Full Disk Access to osqueryd', version: '0.1.0', time: T });
    expect((await ask('?problems=true&since=2h')).json.statuses.map((s: any) => s.host_id)).toEqual(['HS-4', 'HS-1', 'HS-2']);
    expect((await ask('?component=eslogger&state=running')).json.statuses.map((s: any) => s.host_id)).toEqual(['HS-2']);
    const two = await ask('?limit=2');
    expect([two.json.count, two.json.truncated]).toEqual([2, true]);
  });

  it('answers 400 for a bad filter and 401 without the token', async () => {
    expect((await ask('?problems=yes')).status).toBe(400);
    // a component as long as ingest keeps one can be asked for; a longer one is a 400
    expect((await ask(`?component=${'c'.repeat(256)}`)).status).toBe(200);
    expect((await ask(`?component=${'c'.repeat(257)}`)).status).toBe(400);
    expect((await ask('?host=HS-1')).status).toBe(400);
    expect((await ask('?since=yesterday')).status).toBe(400);
    expect((await fetch(`${own.url}/v1/hosts/status`)).status).toBe(401);
  });

  it('counts hosts per component and state reported in the last 2 hours; names hosts made up are "other"', async () => {
    const text = await (await fetch(`${own.url}/metrics`, { headers: auth })).text();
    const series = text.split('\n').filter((l) => l.startsWith('outflow_host_status{'));
    expect(series.sort()).toEqual(
      [
        'outflow_host_status{component="eslogger",state="permission_denied"} 1',
        'outflow_host_status{component="eslogger",state="running"} 1',
        'outflow_host_status{component="flows",state="degraded"} 1',
        'outflow_host_status{component="flows",state="other"} 1',
        'outflow_host_status{component="flows",state="running"} 1',
        'outflow_host_status{component="other",state="running"} 1',
      ].sort(),
    );
    // a scan of every status row: the next scrape within the minute reuses the counts
    const fixed = await fetch(`${own.url}/v1/ingest`, { method: 'POST', body: snapshot('HS-2', T + 3600, [row('flows', 'running'), row('eslogger', 'running')]), headers: { ...auth, 'content-type': 'application/json' } });
    expect(fixed.status).toBe(200);
    const again = (await (await fetch(`${own.url}/metrics`, { headers: auth })).text()).split('\n').filter((l) => l.startsWith('outflow_host_status{'));
    expect(again.sort()).toEqual(series.sort());
  });
});
