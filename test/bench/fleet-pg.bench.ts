/**
 * PostgreSQL store throughput (issue 8, point 6):
 *  - SQLite vs PostgreSQL, single instance, in-process ingest (batches of 500 lines, one transaction each);
 *  - 1 vs 2 aggregator instances (child processes) pulling one JetStream stream into one PostgreSQL
 *    database through the shared durable consumer, timed from "go" until the consumer has nothing pending;
 *  - finalize 10 000 pending candidates on PostgreSQL (the SQLite figure is in fleet-ingest), one window each.
 * The machine has 2 cores shared with PostgreSQL and nats-server, so the 2-instance ratio is bounded by CPU,
 * not by the design; the numbers are reported as measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from './run.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { openStore } from '../../fleet/store/open.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fixedClock } from '../../src/clock.js';
import { createTestDatabase, pgQuery } from '../helpers/pg.js';
import { NATS_TEST_URL, testStream } from '../helpers/nats.js';
import { generateFleetLines, pendingCandidateLines } from '../helpers/fleet-lines.js';
import { finalizePending } from '../../fleet/rules/finalize.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// a receive time after every simulated line, so none is refused as too far in the future
const FAR_FUTURE = fixedClock(4e9);

async function inProcess(url: string, lines: string[]): Promise<number> {
  const store = await openStore(url);
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock: FAR_FUTURE });
  const t0 = performance.now();
  for (let i = 0; i < lines.length; i += 500) await ingest.ingestLines(lines.slice(i, i + 500), { kind: 'bench', id: 'lines' });
  const s = (performance.now() - t0) / 1000;
  const accepted = ingest.totals().accepted;
  await store.close();
  if (accepted !== lines.length) throw new Error(`accepted ${accepted} of ${lines.length}`);
  return lines.length / s;
}

function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fleet-pg-worker.ts')], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => l === 'ready' && resolve(child));
    child.on('exit', (code) => reject(new Error(`worker exited ${code} before ready`)));
  });
}

async function viaNats(instances: number, lines: string[]): Promise<{ linesPerS: number; seconds: number }> {
  const db = await createTestDatabase(`bench${instances}`);
  const ts = await testStream('bench', { create: true });
  const workers: ChildProcess[] = [];
  try {
    const subject = `${ts.prefix}.results.host`;
    await ts.publish(subject, lines);
    // the first worker migrates; start the others after it so they do not just wait on the lock
    const env = { PG_URL: db.url, NATS_URL: NATS_TEST_URL, STREAM: ts.stream, SUBJECT: `${ts.prefix}.results.>`, DURABLE: 'bench', BATCH: '1000' };
    for (let i = 0; i < instances; i++) workers.push(await startWorker(env));
    const t0 = performance.now();
    for (const w of workers) w.stdin!.write('go\n');
    const deadline = Date.now() + 300_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const p = await ts.pending('bench').catch(() => ({ pending: 1, ackPending: 1 }));
      if (p.pending === 0 && p.ackPending === 0) break;
      if (Date.now() > deadline) throw new Error('bench did not drain in 300 s');
    }
    const seconds = (performance.now() - t0) / 1000;
    // Every line was taken: each candidate row's dedupe key, and every host, is stored.
    const candidateRows = lines.filter((l) => l.includes('outflow_candidates')).length;
    const n = (await pgQuery<{ n: string }>(db.url, 'SELECT count(*) AS n FROM results_seen'))[0]?.n;
    if (Number(n) !== candidateRows) throw new Error(`stored ${n} of ${candidateRows} candidate row keys`);
    const hosts = new Set(lines.map((l) => (JSON.parse(l) as { hostIdentifier: string }).hostIdentifier)).size;
    const h = (await pgQuery<{ n: string }>(db.url, 'SELECT count(*) AS n FROM hosts'))[0]?.n;
    if (Number(h) !== hosts) throw new Error(`stored ${h} of ${hosts} hosts`);
    return { linesPerS: lines.length / seconds, seconds };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.on('exit', r)))));
    await ts.cleanup();
    await db.drop();
  }
}

async function finalizeOnPostgres(b: BenchContext, pending: number): Promise<void> {
  const db = await createTestDatabase('benchfin');
  try {
    const store = await openStore(db.url);
    const analytics = defaultAnalyticsConfig();
    const ingest = createIngestService({ store, analytics, quarantineFile: null });
    const lines = pendingCandidateLines(pending);
    for (let i = 0; i < lines.length; i += 5000) await ingest.ingestLines(lines.slice(i, i + 5000), { kind: 'bench', id: 'finalize' });
    const t0 = performance.now();
    const r = await finalizePending(store, { analytics, flush: true });
    const seconds = (performance.now() - t0) / 1000;
    await store.close();
    b.report(`finalize ${pending} pending candidates (PostgreSQL)`, { examined: r.examined, fired: r.fired, detections: r.created.length, seconds: Number(seconds.toFixed(3)) });
  } finally {
    await db.drop();
  }
}

export default async function (b: BenchContext): Promise<void> {
  await finalizeOnPostgres(b, b.quick ? 2000 : 10_000);

  const n = b.quick ? 4000 : 30_000;
  const lines = generateFleetLines({ lines: n, hosts: 400, days: 10 });

  const sqliteRate = await inProcess(':memory:', lines);
  const db = await createTestDatabase('bench1p');
  let pgRate: number;
  try {
    pgRate = await inProcess(db.url, lines);
  } finally {
    await db.drop();
  }
  b.report(`single instance, in-process, ${n} lines`, { sqlite_lines_per_s: Math.round(sqliteRate), postgres_lines_per_s: Math.round(pgRate), postgres_vs_sqlite: Number((pgRate / sqliteRate).toFixed(2)) });

  const one = await viaNats(1, lines);
  const two = await viaNats(2, lines);
  b.report(`NATS → PostgreSQL, ${n} lines`, {
    one_instance_lines_per_s: Math.round(one.linesPerS),
    two_instances_lines_per_s: Math.round(two.linesPerS),
    ratio_2_vs_1: Number((two.linesPerS / one.linesPerS).toFixed(2)),
  });
}
