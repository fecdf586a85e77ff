/**
 * Shared by the multi-instance e2e files: the lines, the SQLite reference run, `outflow fleet serve`
 * child processes and the comparison snapshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { stringify as yaml } from 'yaml';
import { openStore } from '../../fleet/store/open.js';
import { createDestinationKeyer } from '../../src/classify/destination.js';
import type { Detection, Store } from '../../fleet/store/store.js';
import { cliArgs, REPO_ROOT, runOutflow } from '../helpers/cli.js';
import Database from 'better-sqlite3';
import { simulateFleet } from '../../scripts/simulate-fleet.js';
import { NATS_TEST_URL, type TestStream } from '../helpers/nats.js';
import { pgQuery, type TestDatabase } from '../helpers/pg.js';

/**
 * The project's fleet simulator, small: 10 Macs over 9 days with one injected attack per analytic, sanctioned
 * uploads, hard negatives and ~1 % duplicate deliveries. Duplicates and multi-row snapshot lines mean rows
 * ≠ lines: "exactly once" is checked on stored row keys against the SQLite reference run.
 */
const FLEET = simulateFleet({ hosts: 10, days: 9, seed: 11, files: 1 });
export const LINES = FLEET.files.flat();
/** Distinct result rows the reference run stored (set by referenceRun). */
let expectedRows = -1;
export const root = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'multi-'));
export const logFile = path.join(root, 'results.log');
writeFileSync(logFile, LINES.join('\n') + '\n');

export interface Snapshot {
  detections: Detection[];
  hosts: unknown;
  destinations: unknown;
  apps: unknown;
  pending: number;
}

export const WINDOW = { from: 0, to: 4_000_000_000 };

/** What a run leaves behind, through the Store interface so SQLite and PostgreSQL compare directly. */
export async function snapshot(store: Store, keys: { dest: string[]; apps: string[]; hosts: string[] }): Promise<Snapshot> {
  const detections = (await store.detections.list({ limit: 100_000 })).sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    detections,
    hosts: Object.fromEntries([...(await store.hosts.get(keys.hosts))].sort()),
    destinations: Object.fromEntries([...(await store.prevalence.destinations(keys.dest, WINDOW))].sort()),
    apps: Object.fromEntries([...(await store.prevalence.apps(keys.apps, WINDOW))].sort()),
    pending: await store.candidates.countPending(),
  };
}

let keys: { dest: string[]; apps: string[]; hosts: string[] } = { dest: [], apps: [], hosts: [] };

export function subjectFor(line: string, prefix: string): string {
  const hostname = (JSON.parse(line) as { decorations: { hostname: string } }).decorations.hostname;
  return `${prefix}.results.${hostname}`;
}

export async function publishAll(ts: TestStream, lines: string[]): Promise<void> {
  const bySubject = new Map<string, string[]>();
  for (const l of lines) {
    const s = subjectFor(l, ts.prefix);
    bySubject.set(s, [...(bySubject.get(s) ?? []), l]);
  }
  let i = 0;
  // half the subjects gzip-compressed, like Fleet with nats.compression: gzip
  for (const [subject, ls] of bySubject) await ts.publish(subject, ls, { gzip: i++ % 2 === 0 });
}

export interface Instance {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once the aggregator logged that it runs (store open, NATS consumer attached). */
  ready: Promise<void>;
  /** Messages this instance committed and acked, from its shutdown log (null if it never logged one). */
  messagesAcked(): number | null;
}

export function serve(configFile: string, extra: string[] = []): Instance {
  const child = spawn(process.execPath, cliArgs(['fleet', 'serve', '--config', configFile, ...extra]), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stderr!.on('data', (d) => {
    err += d;
    if (err.includes('fleet aggregator started')) onReady();
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  const messagesAcked = () => {
    const line = err.split('\n').find((l) => l.includes('"nats source stopped"'));
    return line ? (JSON.parse(line) as { messages: number }).messages : null;
  };
  return { child, stderr: () => err, exited, ready, messagesAcked };
}

export function writeConfig(db: TestDatabase, ts: TestStream, name: string): string {
  const file = path.join(root, `${name}.yaml`);
  writeFileSync(
    file,
    yaml({
      fleet: {
        store: db.url,
        postgres: { pool_size: 4 },
        nats: {
          servers: NATS_TEST_URL,
          stream: ts.stream,
          // Fleet's templated subject, verbatim: becomes the filter <prefix>.results.>
          subjects: [`${ts.prefix}.results.{log.decorations.hostname}`],
          durable: 'aggregators',
          batch: 150,
          fetch_wait_ms: 1000,
          ack_wait_s: 3,
        },
        http: { enabled: false },
        sinks: [],
        // finalization is compared after the fact (one flush), so the live jobs stay off
        scheduler: { enabled: false },
      },
    }),
  );
  return file;
}

export function referenceRows(): number {
  return expectedRows;
}

export async function rowsStored(db: TestDatabase): Promise<number> {
  const r = await pgQuery<{ n: string }>(db.url, 'SELECT count(*) AS n FROM results_seen').catch(() => [{ n: '-1' }]);
  return Number(r[0]?.n ?? -1);
}

export async function waitUntil(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

export async function drained(ts: TestStream, db: TestDatabase): Promise<boolean> {
  const p = await ts.pending('aggregators').catch(() => null);
  return p !== null && p.pending === 0 && p.ackPending === 0 && (await rowsStored(db)) === expectedRows;
}

export async function stopAll(instances: Instance[]): Promise<void> {
  for (const i of instances) if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGTERM');
  await Promise.race([Promise.all(instances.map((i) => i.exited)), new Promise((r) => setTimeout(r, 10_000))]);
  for (const i of instances) if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
}

/** Finalize everything on the shared database (as the scheduler would), then compare with SQLite. */
export async function finalizeAndSnapshot(db: TestDatabase): Promise<Snapshot> {
  const fin = await runOutflow(['fleet', 'finalize', '--flush', '--store', db.url], { timeoutMs: 60_000 });
  expect(fin.code, fin.stderr).toBe(0);
  const store = await openStore(db.url);
  try {
    return await snapshot(store, keys);
  } finally {
    await store.close();
  }
}

/** The reference: one process, SQLite, same lines (`outflow fleet ingest --flush`). */
export async function referenceRun(): Promise<Snapshot> {
  // the reference: one process, SQLite, same lines
  const dbFile = path.join(root, 'single.db');
  const r = await runOutflow(['fleet', 'ingest', logFile, '--store', dbFile, '--flush', '--json', '--progress', 'never'], { timeoutMs: 90_000 });
  expect(r.code, r.stderr).toBe(0);
  const sqlite = new Database(dbFile, { readonly: true });
  // SQLite keeps dedupe keys as 16-byte records in result_key_log blobs (one blob per batch).
  expectedRows = (sqlite.prepare('SELECT coalesce(sum(length(keys)), 0) / 16 AS n FROM result_key_log').get() as { n: number }).n;
  sqlite.close();
  const store = await openStore(dbFile);
  try {
    const hosts = [
      ...new Set(LINES.map((l) => (JSON.parse(l) as { hostIdentifier: string; decorations?: { host_uuid?: string } })).map((l) => l.decorations?.host_uuid ?? l.hostIdentifier)),
    ];
    // every destination key and identity the lines name, keyed the way the ingest service keys them
    const keyOf = createDestinationKeyer();
    const all = await store.detections.list({ limit: 100_000 });
    const dest = new Set<string>(all.map((d) => d.destination_key));
    const apps = new Set<string>();
    for (const l of LINES) {
      const c = (JSON.parse(l) as { columns?: Record<string, string> }).columns ?? {};
      if (c.identity) apps.add(c.identity);
      if (c.remote_address) dest.add(keyOf(c.server_name, c.remote_address));
    }
    keys = { dest: [...dest].sort(), apps: [...apps].sort(), hosts: hosts.sort() };
    // the reference itself must be worth comparing against: every injected attack fired
    for (const sc of FLEET.scenarios.filter((x) => x.fires)) {
      expect(
        all.some((d) => d.analytic === sc.analytic && d.hostname === sc.hostname && d.destination_key === sc.destination_key),
        `reference run misses ${sc.name}`,
      ).toBe(true);
    }
    return await snapshot(store, keys);
  } finally {
    await store.close();
  }
}
