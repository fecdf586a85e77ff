/**
 * Shared pieces for the fleet pipeline tests: a fresh store, line builders for hand-made fleets, and
 * "ingest these files, finalize, return the detections".
 */
import Database from 'better-sqlite3';
import { defaultAnalyticsConfig, type AnalyticsConfig } from '../../src/config/analytics.js';
import type { Detection } from '../../src/schemas/detection.js';
import { createIngestService, type IngestResult } from '../../fleet/ingest/ingest-service.js';
import { finalizePending, type FinalizeResult } from '../../fleet/rules/finalize.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import type { Store } from '../../fleet/store/store.js';
import { APPS, appColumns, candidateColumns, destinationColumns, eventLine, snapshotLine, type AppDef, type CandidateSpec, type HostInfo } from '../../scripts/simulate-fleet.js';

export const T0 = 1_772_409_600; // 2026-03-02T00:00:00Z
export const DAY = 86_400;
export const HOUR = 3600;
export const MiB = 1024 * 1024;

export function memoryStore(): Promise<Store> {
  return openSqliteStore(':memory:');
}

/**
 * Every row of an SQLite store file's state tables, as sorted JSON per table: what ingest and finalize
 * built. Bookkeeping that a re-delivery may legitimately touch is left out: source checkpoints, the
 * quarantine, dedupe keys and migration records.
 */
export function sqliteStateDump(file: string): Record<string, string[]> {
  const bookkeeping = new Set(['checkpoints', 'quarantine', 'result_key_log', 'results_seen', 'schema_migrations', 'sqlite_sequence']);
  const db = new Database(file, { readonly: true });
  try {
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[])
      .map((t) => t.name)
      .filter((t) => !bookkeeping.has(t));
    const out: Record<string, string[]> = {};
    for (const t of tables) out[t] = (db.prepare(`SELECT * FROM "${t}"`).all() as unknown[]).map((r) => JSON.stringify(r)).sort();
    return out;
  } finally {
    db.close();
  }
}

export function hostsOf(n: number, prefix = 'H'): HostInfo[] {
  return Array.from({ length: n }, (_, i) => ({ uuid: `${prefix}-${String(i).padStart(4, '0')}`, hostname: `${prefix.toLowerCase()}-${i}.local` }));
}

/** One status snapshot per host at t: makes every host active and sets the baseline start. */
export function statusLines(hosts: HostInfo[], t: number): string[] {
  return hosts.map((h) => snapshotLine(h, 'outflow_status', t, [{ component: 'flows', platform: 'darwin', state: 'running', detail: '', events: 1, dropped: 0, last_event: t, version: '0.1.0' }]));
}

/**
 * Every host's status lines on each day from `fromDay` to `toDay` (days after T0), and with `share`, each host's use
 * of that server (VS Code) an hour into each day: a fleet reporting daily.
 */
export function dailyLines(hosts: HostInfo[], fromDay: number, toDay: number, share?: string): string[] {
  const lines: string[] = [];
  for (let d = fromDay; d <= toDay; d++) {
    lines.push(...statusLines(hosts, T0 + d * DAY));
    if (share) lines.push(...hosts.map((h) => destinationLine(h, T0 + d * DAY + HOUR, share, APPS.vscode)));
  }
  return lines;
}

export function destinationLine(host: HostInfo, t: number, serverName: string, app: AppDef = APPS.chrome, counter = 5, bytes = { out: 5000, in: 90_000 }): string {
  return eventLine(host, 'outflow_destinations', t, counter, destinationColumns({ app, pid: 10, remote_address: '198.51.100.80', remote_port: 443, server_name: serverName, service: 'tls', bytes_out: bytes.out, bytes_in: bytes.in, first_seen: t - 60, duration: 50 }));
}

export function appLine(host: HostInfo, t: number, app: AppDef, counter = 3): string {
  return eventLine(host, 'outflow_apps', t, counter, appColumns(app));
}

export function candidateLine(spec: Omit<CandidateSpec, 'pid' | 'remote_port' | 'service' | 'bytes_in' | 'duration'> & Partial<CandidateSpec>, t: number, counter = 7): string {
  return eventLine(spec.host, 'outflow_candidates', t, counter, candidateColumns({ pid: 4242, remote_port: 443, service: 'tls', bytes_in: 20_000, duration: 120, ...spec }));
}

export interface PipelineRun {
  ingested: IngestResult[];
  finalized: FinalizeResult;
  detections: Detection[];
}

/** Ingest each file (in the given order, batches of `batch` lines), then finalize once. */
export async function runPipeline(store: Store, files: readonly (readonly string[])[], opts: { analytics?: AnalyticsConfig; flush?: boolean; batch?: number } = {}): Promise<PipelineRun> {
  const analytics = opts.analytics ?? defaultAnalyticsConfig();
  const ingest = createIngestService({ store, analytics, quarantineFile: null, clock: { now: () => new Date(), unix: () => 4_000_000_000, ms: () => Date.now() } });
  const batch = opts.batch ?? 2000;
  const ingested: IngestResult[] = [];
  for (const [i, lines] of files.entries()) {
    for (let k = 0; k < lines.length; k += batch) ingested.push(await ingest.ingestLines(lines.slice(k, k + batch), { kind: 'test', id: `file-${i}` }));
  }
  const finalized = await finalizePending(store, { analytics, flush: opts.flush ?? true });
  const detections = await store.detections.list({ limit: 100_000 });
  return { ingested, finalized, detections };
}

/** Detections in a canonical order, for equality across runs. */
export function canonical(dets: readonly Detection[]): Detection[] {
  return [...dets].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
