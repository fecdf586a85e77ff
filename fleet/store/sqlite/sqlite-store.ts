/**
 * SQLite backend of the Store (embedded default, `./outflow.db`): better-sqlite3, WAL, numbered
 * migrations. better-sqlite3 is synchronous, so every repository call is a few prepared statements
 * run to completion; the async surface exists for the interface's sake.
 *
 * Concurrency: one connection per store. `transaction(fn)` holds an in-process mutex from BEGIN to
 * COMMIT across `fn`'s awaits; calls made directly on the store (outside a transaction) take the
 * same mutex, so they never run inside someone else's open transaction. Other processes (the CLI
 * reading while `fleet serve` writes) see committed data thanks to WAL. Scheduler jobs exclude each other
 * across processes through lease rows (`withJobLock`, migration 0007).
 */
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { OutflowError, StoreError, coerceError } from '../../../src/errors.js';
import { silentLogger, type Logger } from '../../../src/log.js';
import { DetectionSchema, type Detection } from '../../../src/schemas/detection.js';
import type { EgressCandidate } from '../../../src/schemas/egress-candidate.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../file-modes.js';
import { DaySketches, SketchUpdates, addPoints, emptySketch, saturatedHostCount, sketchDay, sketchDays, sketchDaysOf, sketchFromBlob } from '../host-sketch.js';
import { assertNoUnknownMigrations, loadMigrations } from '../migrations.js';
import { sortedSpans, spansIn, type SortedSpans } from '../sorted-spans.js';
import { encodeKeyRecord, fingerprint, forEachKeyRecord, KEY_RECORD_BYTES, SeenKeys, type Fingerprint } from './seen-keys.js';
import {
  KEPT_FROM_META,
  detectionFromBody,
  changeSeqWithin,
  candidateBodyDigest,
  candidateId,
  hostnameTimeOf,
  mergeAppAttributes,
  pairKey,
  statusStateRankSql,
  PROBLEM_STATE_RANK,
  type HostStatusRow,
  type StatusQuery,
  type AppSighting,
  type AppStats,
  type CandidateInput,
  type CandidateOutcome,
  type CandidatesRepo,
  type Checkpoint,
  type CheckpointsRepo,
  type CompactionResult,
  type DestinationSighting,
  type DetectionQuery,
  type DetectionsRepo,
  type EventClockRepo,
  type EventClockState,
  type HostComponentStatus,
  type HostRecord,
  type HostSighting,
  type HostSpan,
  type HostsRepo,
  type JobLockResult,
  type PairSighting,
  type PrevalenceAnswer,
  type PrevalenceKeyRef,
  type PrevalenceRepo,
  type PrevalenceRequest,
  type PrevalenceStats,
  type QuarantineRepo,
  type QuarantineRow,
  type ResultKey,
  type ResultsRepo,
  type Store,
  type ObserveOptions,
  type StoreRepos,
  type TransactionOptions,
  type StoredCandidate,
  type TimeWindow,
  compactionFloor,
  keyRefsByFamily,
  emptyStats,
  type LatestChange,
} from '../store.js';

export interface SqliteStoreOptions {
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /**
   * With `migrate: false`: refuse a store with pending migrations (default true). false leaves them to the caller's
   * `store.migrate()` (`outflow fleet migrate`, which reports what it applied).
   */
  checkMigrated?: boolean;
  /** Open read-only (CLI queries against a running aggregator's file). */
  readonly?: boolean;
  /** Store warnings (job leases); silent by default. */
  log?: Logger;
  /** How long a job lease lasts unless renewed (default JOB_LEASE_MS). */
  jobLeaseMs?: number;
}

/** A job lease lasts this long unless renewed (withJobLock renews it every quarter while the job runs). */
export const JOB_LEASE_MS = 60_000;

type Row = Record<string, unknown>;

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

function wrap<T>(what: string, code: 'STORE_READ' | 'STORE_WRITE', fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(code, `sqlite: ${what} failed: ${coerceError(err).message}`, 'check disk space and file permissions of the store', { cause: err });
  }
}

/**
 * Per-key prevalence tables share one shape: a key table (integer `id`, the key's text columns UNIQUE), a
 * host table keyed by (`idCol`, host_ref), host_ref being the host's row in host_refs (migration 0005), and
 * the day sketches of saturated keys keyed by (`idCol`, day) (migration 0010).
 */
interface PrevalenceTables {
  keyTable: string;
  hostTable: string;
  sketchTable: string;
  keyCols: string[];
  idCol: string;
}

/** Rows per multi-row statement (at most 7 parameters a row here: far below SQLite's 32 766 per statement). */
const UPSERT_CHUNK = 128;

/**
 * Host rows in host-ref order, so consecutive rows of a statement land on the same B-tree pages: in a time-ordered
 * log a batch holds nearly every host, in random order (-2 % CPU on the bench's time-ordered file, 2026-11-28).
 */
function byRef<T extends { hostId: string }>(rows: readonly T[], refs: Map<string, number>): T[] {
  const n = rows.length;
  const refOf = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    refOf[i] = refs.get(rows[i]!.hostId)!;
    order[i] = i;
  }
  order.sort((x, y) => refOf[x]! - refOf[y]! || x - y);
  const out = new Array<T>(n);
  for (let i = 0; i < n; i++) out[i] = rows[order[i]!]!;
  return out;
}

/**
 * When a version dated `t` is due: at its report, or, after a judgement (the version dated `judged`) that folded the
 * flow into a detection (`detection`), no earlier than that judged version plus the hold (earliestReportDue in JS).
 */
const dueAfterJudged = (t: string, judged: string, detection: string, hold: string) =>
  `CASE WHEN ${judged} IS NULL OR ${detection} IS NULL THEN ${t} ELSE max(${t}, ${judged} + ${hold}) END`;

/** When a version reported to a row is due (upsertPending's ON CONFLICT). */
const REPORT_DUE = dueAfterJudged('excluded.event_time', 'candidates.judged_time', 'candidates.detection_id', 'excluded.rejudge_hold');

/** The earliest due time among a batch's versions of one row newer than the version last judged (Infinity: none). */
function earliestReportDue(versions: readonly { t: number; hold: number }[], judged: number | null, fired: boolean): number {
  let due = Infinity;
  for (const v of versions) {
    if (judged !== null && v.t <= judged) continue;
    const at = judged !== null && fired ? Math.max(v.t, judged + v.hold) : v.t;
    if (at < due) due = at;
  }
  return due;
}

function componentStatusOf(r: Row): HostComponentStatus {
  return {
    hostId: r.host_id as string,
    component: r.component as string,
    platform: r.platform as string,
    state: r.state as string,
    detail: r.detail as string,
    version: r.version as string,
    time: r.time as number,
  };
}

function statusRowOf(r: Row): HostStatusRow {
  return { ...componentStatusOf(r), hostname: r.hostname as string };
}

const DEST: PrevalenceTables = { keyTable: 'destinations', hostTable: 'destination_hosts', sketchTable: 'destination_sketches', keyCols: ['key'], idCol: 'dest_id' };
const PAIR: PrevalenceTables = { keyTable: 'pairs', hostTable: 'pair_hosts', sketchTable: 'pair_sketches', keyCols: ['identity', 'key'], idCol: 'pair_id' };
const APP: PrevalenceTables = { keyTable: 'apps', hostTable: 'app_hosts', sketchTable: 'app_sketches', keyCols: ['identity'], idCol: 'app_id' };

/** A row of `t`'s key columns and `rows` as a PrevalenceKeyRef. */
function keyRefOf(t: PrevalenceTables, r: Row): PrevalenceKeyRef {
  const rows = r.rows as number;
  if (t === DEST) return { family: 'destinations', key: r.key as string, rows };
  if (t === PAIR) return { family: 'pairs', identity: r.identity as string, key: r.key as string, rows };
  return { family: 'apps', identity: r.identity as string, rows };
}

class SqliteRepos implements StoreRepos {
  readonly results: ResultsRepo;
  readonly hosts: HostsRepo;
  readonly clock: EventClockRepo;
  readonly prevalence: PrevalenceRepo;
  readonly candidates: CandidatesRepo;
  readonly detections: DetectionsRepo;
  readonly quarantine: QuarantineRepo;
  readonly checkpoints: CheckpointsRepo;

  private readonly stmts = new Map<string, Statement>();
  /** Dedupe set (null: rebuild from result_key_log on next use) and the last log row it holds. */
  private seen: SeenKeys | null = null;
  private seenLogId = 0;
  /** The open transaction appended dedupe keys to `seen` (undone by rebuilding on rollback). */
  private seenUncommitted = false;
  private readonly fp: Fingerprint = { hi: 0, lo: 0 };
  /** host_id → host_refs.ref, valid while store_meta.host_refs_generation equals refGeneration. */
  private readonly refCache = new Map<string, number>();
  private refGeneration = -1;

  constructor(private readonly db: Db) {
    const self = this;
    this.results = {
      async markSeen(keys: readonly ResultKey[]) {
        return wrap('results.markSeen', 'STORE_WRITE', () => {
          // Inside Store.transaction the write lock is already held; a direct call takes it here, so no
          // other process can append to the log between reading its tail and appending this batch.
          return self.underWriteLock(() => self.markSeen(keys));
        });
      },
      async expire(before: number) {
        return wrap('results.expire', 'STORE_WRITE', () => {
          let expired = 0;
          for (const [bytes] of self.st('DELETE FROM result_key_log WHERE max_time < ? RETURNING length(keys)').raw(true).all(before) as [number][]) {
            expired += Math.floor(bytes / KEY_RECORD_BYTES);
          }
          // Batches straddling the horizon keep only their keys at or after it.
          let trimmed = 0;
          const rewrite = self.st('UPDATE result_key_log SET min_time = ?, keys = ? WHERE id = ?');
          for (const [id, blob] of self.st('SELECT id, keys FROM result_key_log WHERE min_time < ?').raw(true).all(before) as [number, Buffer][]) {
            const kept = Buffer.allocUnsafe(blob.length);
            let n = 0;
            let min = Infinity;
            forEachKeyRecord(blob, (hi, lo, t) => {
              if (t < before) return;
              encodeKeyRecord(kept, n++, hi, lo, t);
              if (t < min) min = t;
            });
            trimmed += Math.floor(blob.length / KEY_RECORD_BYTES) - n;
            rewrite.run(min, kept.subarray(0, n * KEY_RECORD_BYTES), id);
          }
          // Rebuilt from the log on next use, without the expired keys.
          self.seen = null;
          return expired + trimmed;
        });
      },
    };

    this.hosts = {
      async touch(rows: readonly HostSighting[]) {
        // rows keyed by host ref (migration 0013; the host id is host_refs'): a new host takes the ref its prevalence rows use
        wrap('hosts.touch', 'STORE_WRITE', () =>
          self.underWriteLock(() => {
            // hostnameReplaces, in SQL (SET expressions read the row as it was)
            const newer = `excluded.hostname <> '' AND (hosts.hostname = '' OR excluded.hostname_time > hosts.hostname_time
              OR (excluded.hostname_time = hosts.hostname_time AND excluded.hostname > hosts.hostname))`;
            const refs = self.hostRefs(rows.map((r) => r.hostId));
            self.chunked(
              byRef(rows, refs),
              5,
              (values) => `INSERT INTO hosts (host_ref, hostname, hostname_time, first_seen, last_seen) VALUES ${values}
                ON CONFLICT (host_ref) DO UPDATE SET
                  hostname = CASE WHEN ${newer} THEN excluded.hostname ELSE hosts.hostname END,
                  hostname_time = CASE WHEN ${newer} THEN excluded.hostname_time ELSE hosts.hostname_time END,
                  first_seen = min(hosts.first_seen, excluded.first_seen),
                  last_seen = max(hosts.last_seen, excluded.last_seen)`,
              (r, args) => void args.push(refs.get(r.hostId)!, r.hostname, hostnameTimeOf(r), r.firstSeen, r.lastSeen),
            );
          }),
        );
      },
      async activeCount(window: TimeWindow) {
        return wrap('hosts.activeCount', 'STORE_READ', () => {
          const r = self.st('SELECT count(*) AS n FROM hosts WHERE last_seen >= ? AND first_seen <= ?').get(window.from, window.to) as { n: number };
          return r.n;
        });
      },
      async get(hostIds: readonly string[]) {
        return wrap('hosts.get', 'STORE_READ', () => {
          const q = self.st('SELECT h.hostname, h.first_seen, h.last_seen FROM host_refs r JOIN hosts h ON h.host_ref = r.ref WHERE r.host_id = ?');
          const out = new Map<string, HostRecord>();
          for (const id of new Set(hostIds)) {
            const r = q.get(id) as Row | undefined;
            if (r) out.set(id, { hostId: id, hostname: r.hostname as string, firstSeen: r.first_seen as number, lastSeen: r.last_seen as number });
          }
          return out;
        });
      },
      async recordStatus(rows: readonly HostComponentStatus[]) {
        wrap('hosts.recordStatus', 'STORE_WRITE', () =>
          self.underWriteLock(() => {
            const refs = self.hostRefs(rows.map((r) => r.hostId));
            self.chunked(
              byRef(rows, refs),
              7,
              (values) => `INSERT INTO host_status (host_ref, component, platform, state, detail, version, time) VALUES ${values}
                ON CONFLICT (host_ref, component) DO UPDATE SET platform = excluded.platform, state = excluded.state, detail = excluded.detail,
                  version = excluded.version, time = excluded.time
                WHERE excluded.time > host_status.time OR (excluded.time = host_status.time
                  AND (${statusStateRankSql('excluded.state')}, excluded.state, excluded.detail, excluded.platform, excluded.version)
                    > (${statusStateRankSql('host_status.state')}, host_status.state, host_status.detail, host_status.platform, host_status.version))`,
              (r, args) => void args.push(refs.get(r.hostId)!, r.component, r.platform, r.state, r.detail, r.version, r.time),
            );
          }),
        );
      },
      async listStatus(hostId?: string) {
        return wrap('hosts.listStatus', 'STORE_READ', () => {
          const rows = (
            hostId === undefined
              ? self.st(`SELECT r.host_id, s.* FROM host_status s JOIN host_refs r ON r.ref = s.host_ref ORDER BY r.host_id, s.component`).all()
              : self.st(`SELECT r.host_id, s.* FROM host_status s JOIN host_refs r ON r.ref = s.host_ref WHERE r.host_id = ? ORDER BY s.component`).all(hostId)
          ) as Row[];
          return rows.map(componentStatusOf);
        });
      },
      async findStatus(q: StatusQuery) {
        return wrap('hosts.findStatus', 'STORE_READ', () => {
          const rank = statusStateRankSql('s.state');
          const rows = self
            .st(
              `SELECT r.host_id, coalesce(h.hostname, '') AS hostname, s.component, s.platform, s.state, s.detail, s.version, s.time
               FROM host_status s JOIN host_refs r ON r.ref = s.host_ref LEFT JOIN hosts h ON h.host_ref = s.host_ref
               WHERE (@state IS NULL OR s.state = @state) AND (@component IS NULL OR s.component = @component)
                 AND (@since IS NULL OR s.time >= @since) AND (@problems = 0 OR ${rank} >= ${PROBLEM_STATE_RANK})
               ORDER BY ${rank} DESC, r.host_id, s.component LIMIT @limit`,
            )
            .all({ state: q.state ?? null, component: q.component ?? null, since: q.since ?? null, problems: q.problems ? 1 : 0, limit: q.limit + 1 }) as Row[];
          const truncated = rows.length > q.limit;
          return { rows: rows.slice(0, q.limit).map(statusRowOf), truncated };
        });
      },
      async statusCounts(since: number, known: { components: readonly string[]; states: readonly string[] }) {
        return wrap('hosts.statusCounts', 'STORE_READ', () => {
          const fold = (col: string) => `CASE WHEN ${col} IN (SELECT value FROM json_each(?)) THEN ${col} ELSE 'other' END`;
          return (
            self
              .st(
                `SELECT ${fold('component')} AS c, ${fold('state')} AS s, count(DISTINCT host_ref) AS hosts
                 FROM host_status WHERE time >= ? GROUP BY c, s ORDER BY c, s`,
              )
              .all(JSON.stringify(known.components), JSON.stringify(known.states), since) as { c: string; s: string; hosts: number }[]
          ).map((r) => ({ component: r.c, state: r.s, hosts: r.hosts }));
        });
      },
      async expire(before: number) {
        // one transaction: another process must not write under a ref deleted here before the generation moves
        return wrap('hosts.expire', 'STORE_WRITE', () =>
          self.underWriteLock(() => {
            self.st('DELETE FROM host_status WHERE host_ref IN (SELECT host_ref FROM hosts WHERE last_seen < ?)').run(before);
            // a live host's components it stopped reporting (or made up once) go with the window too
            self.st('DELETE FROM host_status WHERE time < ?').run(before);
            const n = self.st('DELETE FROM hosts WHERE last_seen < ?').run(before).changes;
            // Here rather than in prevalence.expire: rollup expires prevalence first, then hosts, so only now
            // are the refs of this rollup's expired hosts free.
            self.expireHostRefs();
            return n;
          }),
        );
      },
    };

    this.clock = {
      async get(): Promise<EventClockState> {
        return wrap('clock.get', 'STORE_READ', () => {
          const r = self.st('SELECT earliest, newest FROM event_clock WHERE id = 1').get() as Row | undefined;
          return r ? { earliest: r.earliest as number, newest: r.newest as number } : { earliest: null, newest: null };
        });
      },
      async observe(earliest: number, newest: number) {
        wrap('clock.observe', 'STORE_WRITE', () => {
          self
            .st(`INSERT INTO event_clock (id, earliest, newest) VALUES (1, ?, ?)
              ON CONFLICT (id) DO UPDATE SET earliest = min(event_clock.earliest, excluded.earliest), newest = max(event_clock.newest, excluded.newest)`)
            .run(earliest, newest);
        });
      },
      async observeDays(days: readonly number[]) {
        if (!days.length) return;
        wrap('clock.observeDays', 'STORE_WRITE', () => {
          const insert = self.st('INSERT INTO data_days (day) VALUES (?) ON CONFLICT (day) DO NOTHING');
          for (const day of [...new Set(days)].sort((a, b) => a - b)) insert.run(day);
        });
      },
      async dataDaysFrom(day: number) {
        return wrap('clock.dataDaysFrom', 'STORE_READ', () => (self.st('SELECT day FROM data_days WHERE day >= ? ORDER BY day').all(day) as { day: number }[]).map((r) => r.day));
      },
      async expireDays(before: number) {
        return wrap('clock.expireDays', 'STORE_WRITE', () => self.st('DELETE FROM data_days WHERE day < ?').run(before).changes);
      },
    };

    this.prevalence = {
      async observeDestinations(rows: readonly DestinationSighting[], opts?: ObserveOptions) {
        wrap('prevalence.observeDestinations', 'STORE_WRITE', () => self.observe(DEST, rows.map((r) => ({ keys: [r.key], hostId: r.hostId, firstSeen: r.firstSeen, lastSeen: r.lastSeen })), opts));
      },
      async observePairs(rows: readonly PairSighting[], opts?: ObserveOptions) {
        wrap('prevalence.observePairs', 'STORE_WRITE', () =>
          self.observe(PAIR, rows.map((r) => ({ keys: [r.identity, r.key], hostId: r.hostId, firstSeen: r.firstSeen, lastSeen: r.lastSeen })), opts),
        );
      },
      async observeApps(rows: readonly AppSighting[], opts?: ObserveOptions) {
        wrap('prevalence.observeApps', 'STORE_WRITE', () => {
          self.observe(APP, rows.map((r) => ({ keys: [r.identity], hostId: r.hostId, firstSeen: r.firstSeen, lastSeen: r.lastSeen })), opts);
          // Attributes follow event time, not arrival, each on its own (foldAppAttributes): a non-empty value
          // replaces the stored one when its row is newer than the one that set it, or equally new with a greater
          // value (byte order; a deterministic tie-break shared with PostgreSQL). SET sees the row as it was, so a
          // value and its time are decided by the same comparison.
          const wins = (col: string, param: string) => `(@${param} <> '' AND (@${param}_t > ${col}_time OR (@${param}_t = ${col}_time AND @${param} > ${col})))`;
          const pick = (col: string, param: string) =>
            `${col} = CASE WHEN ${wins(col, param)} THEN @${param} ELSE ${col} END, ${col}_time = CASE WHEN ${wins(col, param)} THEN @${param}_t ELSE ${col}_time END`;
          const attrs = self.st(`UPDATE apps SET
              ${pick('path', 'path')}, ${pick('signature_class', 'sc')}, ${pick('team_id', 'team')}, ${pick('signing_id', 'sid')}, ${pick('cdhash', 'cd')},
              attrs_time = max(attrs_time, @path_t, @sc_t, @team_t, @sid_t, @cd_t)
            WHERE identity = @identity`);
          for (const [identity, a] of mergeAppAttributes(rows)) {
            const t = a.times;
            attrs.run({
              path: a.path, path_t: t.path, sc: a.signatureClass, sc_t: t.signatureClass, team: a.teamId, team_t: t.teamId,
              sid: a.signingId, sid_t: t.signingId, cd: a.cdhash, cd_t: t.cdhash, identity,
            });
          }
        });
      },
      async destinations(keys: readonly string[], window: TimeWindow, countCap?: number) {
        return wrap('prevalence.destinations', 'STORE_READ', () => {
          const out = new Map<string, PrevalenceStats>();
          for (const k of new Set(keys)) out.set(k, self.stats(DEST, [k], window, countCap));
          return out;
        });
      },
      async pairs(pairs: readonly { identity: string; key: string }[], window: TimeWindow, countCap?: number) {
        return wrap('prevalence.pairs', 'STORE_READ', () => {
          const out = new Map<string, PrevalenceStats>();
          for (const p of pairs) {
            const k = pairKey(p.identity, p.key);
            if (!out.has(k)) out.set(k, self.stats(PAIR, [p.identity, p.key], window, countCap));
          }
          return out;
        });
      },
      async apps(identities: readonly string[], window: TimeWindow, countCap?: number) {
        return wrap('prevalence.apps', 'STORE_READ', () => {
          const out = new Map<string, AppStats>();
          const attrs = self.st('SELECT path, signature_class, team_id, signing_id, cdhash FROM apps WHERE identity = ?');
          for (const id of new Set(identities)) {
            const s = self.stats(APP, [id], window, countCap);
            const a = attrs.get(id) as Row | undefined;
            out.set(id, {
              ...s,
              path: (a?.path as string) ?? '',
              signatureClass: (a?.signature_class as string) ?? '',
              teamId: (a?.team_id as string) ?? '',
              signingId: (a?.signing_id as string) ?? '',
              cdhash: (a?.cdhash as string) ?? '',
            });
          }
          return out;
        });
      },
      async statsMany(requests: readonly PrevalenceRequest[]) {
        return wrap('prevalence.statsMany', 'STORE_READ', () => {
          // Each key's row and host spans are read once for the whole call; every window is then judged
          // in memory with the same rules as stats(). Finalization asks two windows per candidate of the
          // same few hot keys, which would cost one scan of their host rows per window.
          const days = sketchDaysOf(requests.map((r) => r.window));
          const dest = new KeySpans(self, DEST, days);
          const pair = new KeySpans(self, PAIR, days);
          const app = new KeySpans(self, APP, days);
          const attrs = self.st('SELECT path, signature_class, team_id, signing_id, cdhash FROM apps WHERE identity = ?');
          const attrCache = new Map<string, Omit<AppStats, keyof PrevalenceStats>>();
          const attributesOf = (id: string) => {
            let a = attrCache.get(id);
            if (!a) {
              const r = attrs.get(id) as Row | undefined;
              a = {
                path: (r?.path as string) ?? '',
                signatureClass: (r?.signature_class as string) ?? '',
                teamId: (r?.team_id as string) ?? '',
                signingId: (r?.signing_id as string) ?? '',
                cdhash: (r?.cdhash as string) ?? '',
              };
              attrCache.set(id, a);
            }
            return a;
          };
          return requests.map((r): PrevalenceAnswer => {
            const destinations = new Map<string, PrevalenceStats>();
            for (const k of r.destinations) if (!destinations.has(k)) destinations.set(k, dest.stats([k], k, r.window, r.countCap));
            const pairs = new Map<string, PrevalenceStats>();
            for (const p of r.pairs) {
              const k = pairKey(p.identity, p.key);
              if (!pairs.has(k)) pairs.set(k, pair.stats([p.identity, p.key], k, r.window, r.countCap));
            }
            const apps = new Map<string, AppStats>();
            for (const id of r.apps) {
              if (apps.has(id)) continue;
              const st = app.stats([id], id, r.window, r.countCap);
              const a = attributesOf(id);
              apps.set(id, { hosts: st.hosts, firstSeen: st.firstSeen, lastSeen: st.lastSeen, saturated: st.saturated, path: a.path, signatureClass: a.signatureClass, teamId: a.teamId, signingId: a.signingId, cdhash: a.cdhash });
            }
            return { destinations, pairs, apps };
          });
        });
      },
      async destinationHosts(key: string, window: TimeWindow, limit: number) {
        return wrap('prevalence.destinationHosts', 'STORE_READ', () => self.hostSpans(DEST, [key], window, limit));
      },
      async appHosts(identity: string, window: TimeWindow, limit: number) {
        return wrap('prevalence.appHosts', 'STORE_READ', () => self.hostSpans(APP, [identity], window, limit));
      },
      async compact(threshold: number, window: TimeWindow, opts?: { keptFrom?: number; keys?: readonly PrevalenceKeyRef[] }): Promise<CompactionResult> {
        const floor = compactionFloor(window, opts);
        const ids = (t: PrevalenceTables) => (opts?.keys ? self.keyIds(t, opts.keys) : undefined);
        return wrap('prevalence.compact', 'STORE_WRITE', () => ({
          destinations: self.compactTables(DEST, threshold, window, floor, ids(DEST)),
          pairs: self.compactTables(PAIR, threshold, window, floor, ids(PAIR)),
          apps: self.compactTables(APP, threshold, window, floor, ids(APP)),
        }));
      },
      async expire(before: number, opts?: { sketchesBefore?: number; keys?: readonly PrevalenceKeyRef[] }): Promise<CompactionResult> {
        const sketchesBefore = opts?.sketchesBefore ?? before;
        const ids = (t: PrevalenceTables) => (opts?.keys ? self.keyIds(t, opts.keys) : undefined);
        return wrap('prevalence.expire', 'STORE_WRITE', () => {
          self
            .st(`INSERT INTO store_meta (name, value) VALUES ('${KEPT_FROM_META}', ?) ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)`)
            .run(before);
          return {
            destinations: self.expireTables(DEST, before, sketchesBefore, ids(DEST)),
            pairs: self.expireTables(PAIR, before, sketchesBefore, ids(PAIR)),
            apps: self.expireTables(APP, before, sketchesBefore, ids(APP)),
          };
        });
      },
      async commonKeys(threshold: number, window: TimeWindow) {
        return wrap('prevalence.commonKeys', 'STORE_READ', () => [DEST, PAIR, APP].flatMap((t) => self.commonKeys(t, threshold, window)));
      },
      async expirableKeys(before: number, opts?: { sketchesBefore?: number }) {
        const sketchesBefore = opts?.sketchesBefore ?? before;
        return wrap('prevalence.expirableKeys', 'STORE_READ', () => [DEST, PAIR, APP].flatMap((t) => self.expirableKeys(t, before, sketchesBefore)));
      },
      async keptFrom() {
        return wrap('prevalence.keptFrom', 'STORE_READ', () => (self.st(`SELECT value FROM store_meta WHERE name = '${KEPT_FROM_META}'`).pluck().get() as number | undefined) ?? null);
      },
    };

    this.candidates = {
      async upsertPending(rows: readonly CandidateInput[]) {
        return wrap('candidates.upsertPending', 'STORE_WRITE', () => {
          // A flow's later version (newer line, or same line time with more bytes) replaces the
          // stored one; ties break on the body text so arrival order never matters. The body lives in
          // candidate_bodies (migration 0012): the new one is the last parameter, the stored one is read
          // only for a tie.
          // due_time: the earliest version reported since the row was last judged (a still-pending row keeps its
          // due time when a newer version replaces it; an older version reported late brings it forward), so a flow
          // reported on every pack run while it stays open is judged finalize_delay after its first report. After a
          // judgement that folded the flow into a detection, a version is due no earlier than that version plus its hold
          // (rejudgeHold): a firing open flow is updated at most every open_flow_update_interval.
          const up = self.st(`INSERT INTO candidates (id, host_id, event_time, analytic, destination_key, bytes_out, body_md5, status, due_time, rejudge_hold)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
            ON CONFLICT (id) DO UPDATE SET event_time = excluded.event_time, destination_key = excluded.destination_key,
              bytes_out = excluded.bytes_out, body_md5 = excluded.body_md5, status = 'pending', rejudge_hold = excluded.rejudge_hold,
              due_time = CASE WHEN candidates.status = 'pending' THEN min(candidates.due_time, ${REPORT_DUE}) ELSE ${REPORT_DUE} END
            WHERE excluded.event_time > candidates.event_time
              OR (excluded.event_time = candidates.event_time AND excluded.bytes_out > candidates.bytes_out)
              OR (excluded.event_time = candidates.event_time AND excluded.bytes_out = candidates.bytes_out
                AND ? > (SELECT body FROM candidate_bodies WHERE seq = candidates.seq))
            RETURNING seq`);
          const body = self.st(`INSERT INTO candidate_bodies (seq, body) VALUES (?, ?) ON CONFLICT (seq) DO UPDATE SET body = excluded.body`);
          // an older version brings the due time forward only when it is newer than the version last judged (a late copy
          // of one already judged, from another source or a re-read file, is not a report of the flow's pending state)
          const earlier = self.st(`UPDATE candidates SET due_time = ? WHERE id = ? AND status = 'pending' AND due_time > ?`);
          // rows, not versions: a batch bringing a flow's versions oldest first replaces its row once per version,
          // and counts it once, as PostgreSQL (which keeps the newest version per row first) does in any order
          const became = new Set<string>();
          /**
           * Per candidate, the times of its versions in this batch: an older version reported late still dates when a pending
           * row is due, the earliest of them newer than the version last judged (a late copy of a judged one does not).
           */
          const reports = new Map<string, { t: number; hold: number }[]>();
          /** Candidates with more than one version in the batch, or a version the upsert did not store. */
          const revisit = new Set<string>();
          for (const r of rows) {
            const text = JSON.stringify(r.candidate);
            const id = candidateId(r);
            const hold = r.rejudgeHold ?? 0;
            const times = reports.get(id);
            if (times === undefined) reports.set(id, [{ t: r.eventTime, hold }]);
            else times.push({ t: r.eventTime, hold });
            const stored = up.get(id, r.hostId, r.eventTime, r.candidate.analytic, r.destinationKey, r.candidate.bytes_out, candidateBodyDigest(text), r.eventTime, hold, text) as { seq: number } | undefined;
            if (times !== undefined) revisit.add(id);
            if (!stored) {
              revisit.add(id);
              continue;
            }
            body.run(stored.seq, text);
            became.add(id);
          }
          // the earliest one newer than the version last judged sets it (ingest leaves judged_time as it was): one read
          // and one write per candidate, a pass over its versions in between. A candidate whose one version of the batch
          // was stored has the due time the upsert gave it already (the common case: no statement more).
          const judgedAt = self.st(`SELECT judged_time, detection_id FROM candidates WHERE id = ?`);
          for (const id of revisit) {
            const judged = judgedAt.get(id) as { judged_time: number | null; detection_id: string | null } | undefined;
            const due = earliestReportDue(reports.get(id)!, judged?.judged_time ?? null, (judged?.detection_id ?? null) !== null);
            if (due !== Infinity) earlier.run(due, id, due);
          }
          return became.size;
        });
      },
      async pendingUpTo(cutoff: number, limit: number, opts?: { reportedUpTo?: number }) {
        return wrap('candidates.pendingUpTo', 'STORE_READ', () => {
          const rows = self
            .st(
              `SELECT c.id, c.host_id, c.event_time, c.destination_key, c.bytes_out, c.body_md5, c.status, c.detection_id, c.counted_bytes_out, c.counted_bytes_in, c.due_time, b.body
              FROM candidates c JOIN candidate_bodies b ON b.seq = c.seq
              WHERE c.status = 'pending' AND (c.due_time <= ? OR c.event_time <= ?) ORDER BY c.event_time, c.id LIMIT ?`,
            )
            // (no reportedUpTo: event_time <= NULL is never true)
            .all(cutoff, opts?.reportedUpTo ?? null, limit) as Row[];
          return rows.map(
            (r): StoredCandidate => ({
              id: r.id as string,
              hostId: r.host_id as string,
              eventTime: r.event_time as number,
              destinationKey: r.destination_key as string,
              candidate: JSON.parse(r.body as string) as EgressCandidate,
              status: r.status as 'pending',
              detectionId: (r.detection_id as string | null) ?? null,
              countedBytesOut: r.counted_bytes_out as number,
              countedBytesIn: r.counted_bytes_in as number,
              version: { eventTime: r.event_time as number, bytesOut: r.bytes_out as number, digest: r.body_md5 as string },
              dueTime: Math.min(r.event_time as number, (r.due_time as number | null) ?? (r.event_time as number)),
            }),
          );
        });
      },
      async countPending() {
        return wrap('candidates.countPending', 'STORE_READ', () => (self.st(`SELECT count(*) AS n FROM candidates WHERE status = 'pending'`).get() as { n: number }).n);
      },
      async markFinalized(outcomes: readonly CandidateOutcome[]) {
        wrap('candidates.markFinalized', 'STORE_WRITE', () => {
          // judged_time: the event time of the version judged, which a late copy of an older version must not make due again
          const up = self.st(`UPDATE candidates SET status = 'finalized', detection_id = ?, counted_bytes_out = ?, counted_bytes_in = ?, branch = ?, judged_time = event_time WHERE id = ?`);
          const current = self.st(`SELECT event_time, bytes_out, body_md5 FROM candidates WHERE id = ?`);
          // A newer version ingested after the judged one was read stays pending (nobody judged it), but
          // takes over where the judged version was folded: the detection this batch commits already holds
          // the judged version's bytes, so the newer version must add only its delta, not count again.
          // Its due time was the judged version's (or older): it is due at its own report now, as when it arrives after
          // (no earlier than its hold past the judged version when that one fired).
          const fold = self.st(`UPDATE candidates SET detection_id = @detection, counted_bytes_out = @out, counted_bytes_in = @inn, judged_time = @judged,
            due_time = ${dueAfterJudged('event_time', '@judged', '@detection', 'rejudge_hold')} WHERE id = @id AND status = 'pending'`);
          for (const o of outcomes) {
            if (!o.version) {
              up.run(o.detectionId, o.countedBytesOut, o.countedBytesIn, o.branch, o.id);
              continue;
            }
            const row = current.get(o.id) as { event_time: number; bytes_out: number; body_md5: string } | undefined;
            if (!row) continue;
            const judged = row.event_time === o.version.eventTime && row.bytes_out === o.version.bytesOut && row.body_md5 === o.version.digest;
            if (judged) up.run(o.detectionId, o.countedBytesOut, o.countedBytesIn, o.branch, o.id);
            else fold.run({ detection: o.detectionId, out: o.countedBytesOut, inn: o.countedBytesIn, judged: o.version.eventTime, id: o.id });
          }
        });
      },
      async expire(before: number) {
        return wrap('candidates.expire', 'STORE_WRITE', () =>
          self
            .st(`DELETE FROM candidates WHERE status = 'finalized' AND event_time < ? AND (detection_id IS NULL OR NOT EXISTS (SELECT 1 FROM detections d WHERE d.id = candidates.detection_id))`)
            .run(before).changes,
        );
      },
    };

    this.detections = {
      async openBySuppressionKey(keys: readonly string[], since: number) {
        return wrap('detections.openBySuppressionKey', 'STORE_READ', () => {
          const q = self.st('SELECT body FROM detections WHERE suppression_key = ? AND created_at >= ? ORDER BY created_at, id');
          const out = new Map<string, Detection[]>();
          for (const k of new Set(keys)) {
            const rows = q.all(k, since) as Row[];
            if (rows.length) out.set(k, rows.map((r) => detectionFromBody(r.body as string)));
          }
          return out;
        });
      },
      async upsert(rows: readonly Detection[]) {
        wrap('detections.upsert', 'STORE_WRITE', () => {
          if (!rows.length) return;
          const valid = rows.map((d) => DetectionSchema.parse(d));
          const up = self.st(`INSERT INTO detections (id, suppression_key, analytic, host_id, created_at, first_seen, last_seen, body, change_seq, first_change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET suppression_key = excluded.suppression_key, analytic = excluded.analytic, host_id = excluded.host_id,
              created_at = excluded.created_at, first_seen = excluded.first_seen, last_seen = excluded.last_seen, body = excluded.body,
              change_seq = excluded.change_seq,
              -- a row the previous release wrote (rolling upgrade) has none: its stored change is the best bound, as in 0011
              first_change_seq = coalesce(detections.first_change_seq, detections.change_seq)`);
          // One write statement for the counter and the rows: a direct call (no open transaction) stays atomic.
          self.db.transaction(() => {
            const { value: last } = self
              .st(`UPDATE store_meta SET value = value + ? WHERE name = 'detection_change_seq' RETURNING value`)
              .get(valid.length) as { value: number };
            let seq = last - valid.length;
            for (const v of valid) {
              ++seq;
              up.run(v.id, v.suppression_key, v.analytic, v.host_id, v.created_at, v.first_seen, v.last_seen, JSON.stringify(v), seq, seq);
            }
          })();
        });
      },
      async changedSince(after: string, limit: number) {
        return wrap('detections.changedSince', 'STORE_READ', () => {
          const from = self.changeFrom(after);
          const rows = self.st('SELECT change_seq, first_change_seq, body FROM detections WHERE change_seq > ? ORDER BY change_seq LIMIT ?').raw(true).all(from, limit) as [number, number | null, string][];
          return rows.map(([seq, first, body]) => ({ cursor: String(seq), firstCursor: String(first ?? seq), detection: detectionFromBody(body) }));
        });
      },
      async changeCursor() {
        return wrap('detections.changeCursor', 'STORE_READ', () => {
          const newest = self.changeCounter();
          return newest > 0 ? String(newest) : '';
        });
      },
      async countChangedSince(after: string) {
        return wrap('detections.countChangedSince', 'STORE_READ', () => {
          return (self.st('SELECT count(*) AS n FROM detections WHERE change_seq > ?').get(self.changeFrom(after)) as { n: number }).n;
        });
      },
      async get(id: string) {
        return wrap('detections.get', 'STORE_READ', () => {
          const r = self.st('SELECT body FROM detections WHERE id = ?').get(id) as Row | undefined;
          return r ? detectionFromBody(r.body as string) : null;
        });
      },
      async latestChanges(ids: readonly string[]) {
        return wrap('detections.latestChanges', 'STORE_READ', () => {
          const q = self.st('SELECT created_at, change_seq FROM detections WHERE id = ?').raw(true);
          const out = new Map<string, LatestChange>();
          for (const id of ids) {
            const r = q.get(id) as [number, number] | undefined;
            if (r) out.set(id, { createdAt: r[0], cursor: String(r[1]) });
          }
          return out;
        });
      },
      async list(query: DetectionQuery = {}) {
        return wrap('detections.list', 'STORE_READ', () => {
          const where: string[] = ['last_seen >= ?'];
          const args: unknown[] = [query.since ?? Number.MIN_SAFE_INTEGER];
          if (query.analytic) {
            where.push('analytic = ?');
            args.push(query.analytic);
          }
          if (query.host) {
            // lower() folds ASCII only, as PostgreSQL's lower(… COLLATE "C") does
            where.push(`(lower(host_id) = lower(?) OR host_id IN (SELECT r.host_id FROM hosts h JOIN host_refs r ON r.ref = h.host_ref WHERE lower(h.hostname) = lower(?)))`);
            args.push(query.host, query.host);
          }
          args.push(query.limit ?? 1000);
          // the newest `limit`, oldest first
          const rows = self
            .st(`SELECT body FROM (SELECT body, last_seen, id FROM detections WHERE ${where.join(' AND ')} ORDER BY last_seen DESC, id DESC LIMIT ?) ORDER BY last_seen, id`)
            .all(...args) as Row[];
          return rows.map((r) => detectionFromBody(r.body as string));
        });
      },
      async countByAnalytic() {
        return wrap('detections.countByAnalytic', 'STORE_READ', () => {
          const rows = self.st('SELECT analytic, count(*) AS n FROM detections GROUP BY analytic ORDER BY analytic').all() as Row[];
          return Object.fromEntries(rows.map((r) => [r.analytic as string, r.n as number]));
        });
      },
      async expire(before: number) {
        return wrap('detections.expire', 'STORE_WRITE', () => self.st('DELETE FROM detections WHERE last_seen < ?').run(before).changes);
      },
    };

    this.quarantine = {
      async add(rows: readonly QuarantineRow[]) {
        wrap('quarantine.add', 'STORE_WRITE', () => {
          const ins = self.st('INSERT INTO quarantine (received_at, source, reason, line) VALUES (?, ?, ?, ?)');
          for (const r of rows) ins.run(r.receivedAt, r.source, r.reason, r.line);
        });
      },
      async count() {
        return wrap('quarantine.count', 'STORE_READ', () => (self.st('SELECT count(*) AS n FROM quarantine').get() as { n: number }).n);
      },
      async list(limit: number) {
        return wrap('quarantine.list', 'STORE_READ', () =>
          (self.st('SELECT received_at, source, reason, line FROM quarantine ORDER BY id DESC LIMIT ?').all(limit) as Row[]).map((r) => ({
            receivedAt: r.received_at as number,
            source: r.source as string,
            reason: r.reason as string,
            line: r.line as string,
          })),
        );
      },
      async expire(before: number) {
        return wrap('quarantine.expire', 'STORE_WRITE', () => self.st('DELETE FROM quarantine WHERE received_at < ?').run(before).changes);
      },
    };

    this.checkpoints = {
      async get(sourceId: string) {
        return wrap('checkpoints.get', 'STORE_READ', () => {
          const r = self.st('SELECT checkpoint FROM checkpoints WHERE source_id = ?').get(sourceId) as Row | undefined;
          return r ? (JSON.parse(r.checkpoint as string) as Checkpoint) : null;
        });
      },
      async put(sourceId: string, checkpoint: Checkpoint) {
        wrap('checkpoints.put', 'STORE_WRITE', () => {
          self
            .st('INSERT INTO checkpoints (source_id, checkpoint) VALUES (?, ?) ON CONFLICT (source_id) DO UPDATE SET checkpoint = excluded.checkpoint')
            .run(sourceId, JSON.stringify(checkpoint));
        });
      },
      async putIfAbsent(sourceId: string, checkpoint: Checkpoint) {
        return wrap('checkpoints.putIfAbsent', 'STORE_WRITE', () => {
          self.st('INSERT INTO checkpoints (source_id, checkpoint) VALUES (?, ?) ON CONFLICT (source_id) DO NOTHING').run(sourceId, JSON.stringify(checkpoint));
          const r = self.st('SELECT checkpoint FROM checkpoints WHERE source_id = ?').get(sourceId) as Row;
          return JSON.parse(r.checkpoint as string) as Checkpoint;
        });
      },
      async list() {
        return wrap('checkpoints.list', 'STORE_READ', () =>
          (self.st('SELECT source_id, checkpoint FROM checkpoints ORDER BY source_id').all() as Row[]).map((r) => ({
            sourceId: r.source_id as string,
            checkpoint: JSON.parse(r.checkpoint as string) as Checkpoint,
          })),
        );
      },
    };
  }

  /** The dedupe set, first brought up to date with log rows appended since (by any process). */
  private syncSeen(): SeenKeys {
    let seen = this.seen;
    if (!seen) {
      const total = this.st('SELECT coalesce(sum(length(keys)), 0) / ? AS n FROM result_key_log').get(KEY_RECORD_BYTES) as { n: number };
      seen = this.seen = new SeenKeys(total.n);
      this.seenLogId = 0;
    }
    const into = seen;
    for (const [id, blob] of this.st('SELECT id, keys FROM result_key_log WHERE id > ? ORDER BY id').raw(true).iterate(this.seenLogId) as IterableIterator<[number, Buffer]>) {
      forEachKeyRecord(blob, (hi, lo) => void into.add(hi, lo));
      this.seenLogId = id;
    }
    return seen;
  }

  /** ResultsRepo.markSeen under the write lock: check against the set, append the new keys as one log row. */
  markSeen(keys: readonly ResultKey[]): boolean[] {
    const seen = this.syncSeen();
    const out = new Array<boolean>(keys.length);
    const blob = Buffer.allocUnsafe(keys.length * KEY_RECORD_BYTES);
    const fp = this.fp;
    let n = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      fingerprint(k.digest, fp);
      // add() is false for a key seen before, including earlier in this call.
      const fresh = seen.add(fp.hi, fp.lo);
      out[i] = fresh;
      if (!fresh) continue;
      encodeKeyRecord(blob, n++, fp.hi, fp.lo, k.unixTime);
      if (k.unixTime < min) min = k.unixTime;
      if (k.unixTime > max) max = k.unixTime;
    }
    if (n > 0) {
      this.seenUncommitted = true;
      const r = this.st('INSERT INTO result_key_log (min_time, max_time, keys) VALUES (?, ?, ?)').run(min, max, blob.subarray(0, n * KEY_RECORD_BYTES));
      // Every earlier row is in the set already: the write lock was held since syncSeen read the tail.
      this.seenLogId = Number(r.lastInsertRowid);
    }
    return out;
  }

  /** The transaction committed: what markSeen added to the set is durable. */
  committed(): void {
    this.seenUncommitted = false;
  }

  /** The transaction rolled back: forget keys it added (the set is rebuilt from the log). */
  discardUncommitted(): void {
    if (this.seenUncommitted) this.seen = null;
    this.seenUncommitted = false;
    // Refs the transaction created are gone; rollbacks are rare, so the whole cache goes rather than tracking them.
    this.refCache.clear();
  }

  st(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * One multi-row statement per `chunk` rows (per-call overhead dominates one row per statement):
   * `sql(values)` receives the chunk's VALUES list (`width` parameters a row), `bind` appends a row's
   * parameters, `exec` runs the prepared statement (by default `run`). The last chunk is padded to a power
   * of two (at least 8) by repeating its last row, so a few prepared statements serve every batch size
   * instead of one per size: every statement given here must treat a repeated row as a no-op (upserts with
   * min/max/newest-wins merges, INSERT … DO NOTHING, IN lists).
   */
  chunked<T>(
    rows: readonly T[],
    width: number,
    sql: (values: string) => string,
    bind: (row: T, args: (string | number)[]) => void,
    exec: (st: Statement, args: (string | number)[]) => void = (st, args) => void st.run(...args),
    chunk = UPSERT_CHUNK,
  ): void {
    const tuple = `(${'?, '.repeat(width - 1)}?)`;
    for (let i = 0; i < rows.length; i += chunk) {
      const n = Math.min(chunk, rows.length - i);
      let size = 8;
      while (size < n) size *= 2;
      if (size > chunk) size = chunk;
      const args: (string | number)[] = [];
      for (let j = i; j < i + n; j++) bind(rows[j]!, args);
      for (let j = n; j < size; j++) bind(rows[i + n - 1]!, args);
      exec(this.st(sql(`${`${tuple}, `.repeat(size - 1)}${tuple}`)), args);
    }
  }

  private keyWhere(t: PrevalenceTables): string {
    return t.keyCols.map((c) => `${c} = ?`).join(' AND ');
  }

  /**
   * Merge sightings: key rows first (min/max), then host rows for keys not yet saturated and day sketches for
   * saturated ones.
   * Sightings are aggregated per key first so a batch touches each key row once; host rows are written in
   * (id, host_ref) order so consecutive rows of a statement land on the same B-tree pages.
   */
  observe(t: PrevalenceTables, rows: readonly { keys: string[]; hostId: string; firstSeen: number; lastSeen: number }[], opts?: ObserveOptions): void {
    type KeyRow = { keys: string[]; firstSeen: number; lastSeen: number; id: number; saturated: boolean };
    const perKey = new Map<string, KeyRow>();
    /** Each sighting's key row, aligned with `rows` (the key is joined once per sighting). */
    const rowKey: KeyRow[] = [];
    for (const r of rows) {
      const k = r.keys.length === 1 ? r.keys[0]! : r.keys.join('\u0000');
      let cur = perKey.get(k);
      if (!cur) perKey.set(k, (cur = { keys: r.keys, firstSeen: r.firstSeen, lastSeen: r.lastSeen, id: 0, saturated: false }));
      else {
        if (r.firstSeen < cur.firstSeen) cur.firstSeen = r.firstSeen;
        if (r.lastSeen > cur.lastSeen) cur.lastSeen = r.lastSeen;
      }
      rowKey.push(cur);
    }
    const cols = t.keyCols.join(', ');
    const width = t.keyCols.length;
    this.chunked(
      [...perKey.values()],
      width + 2,
      (values) => `INSERT INTO ${t.keyTable} (${cols}, first_seen, last_seen) VALUES ${values}
        ON CONFLICT (${cols}) DO UPDATE SET first_seen = min(${t.keyTable}.first_seen, excluded.first_seen), last_seen = max(${t.keyTable}.last_seen, excluded.last_seen)
        RETURNING id, saturated, ${cols}`,
      (k, args) => void args.push(...k.keys, k.firstSeen, k.lastSeen),
      (st, args) => {
        // RETURNING order is not guaranteed: map rows back by their key columns.
        for (const row of st.raw(true).all(...args) as (string | number)[][]) {
          const key = perKey.get(width === 1 ? (row[2] as string) : row.slice(2).join('\u0000'))!;
          key.id = row[0] as number;
          key.saturated = row[1] === 1;
        }
      },
    );
    const hostRows: { id: number; ref: number; firstSeen: number; lastSeen: number }[] = [];
    const live: number[] = [];
    /** Sightings of saturated keys, one span per (key, host) as a host row would merge them. */
    let sketched: Map<string, { id: number; hostId: string; firstSeen: number; lastSeen: number }> | undefined;
    for (let i = 0; i < rows.length; i++) {
      const key = rowKey[i]!;
      const r = rows[i]!;
      if (!key.saturated) {
        live.push(i);
        continue;
      }
      sketched ??= new Map();
      const id = `${key.id}\u0000${r.hostId}`;
      const cur = sketched.get(id);
      if (!cur) sketched.set(id, { id: key.id, hostId: r.hostId, firstSeen: r.firstSeen, lastSeen: r.lastSeen });
      else {
        if (r.firstSeen < cur.firstSeen) cur.firstSeen = r.firstSeen;
        if (r.lastSeen > cur.lastSeen) cur.lastSeen = r.lastSeen;
      }
    }
    if (sketched) {
      const updates = new SketchUpdates<number>(SketchUpdates.forIngest(opts?.windowDays));
      for (const v of sketched.values()) updates.addSighting(v.id, v.hostId, v.firstSeen, v.lastSeen);
      this.mergeSketches(t, updates);
    }
    if (live.length === 0) return;
    const refs = this.hostRefs(live.map((i) => rows[i]!.hostId));
    for (const i of live) hostRows.push({ id: rowKey[i]!.id, ref: refs.get(rows[i]!.hostId)!, firstSeen: rows[i]!.firstSeen, lastSeen: rows[i]!.lastSeen });
    hostRows.sort((a, b) => a.id - b.id || a.ref - b.ref);
    this.chunked(
      hostRows,
      4,
      (values) => `INSERT INTO ${t.hostTable} (${t.idCol}, host_ref, first_seen, last_seen) VALUES ${values}
        ON CONFLICT (${t.idCol}, host_ref) DO UPDATE SET first_seen = min(${t.hostTable}.first_seen, excluded.first_seen), last_seen = max(${t.hostTable}.last_seen, excluded.last_seen)
        WHERE excluded.first_seen < ${t.hostTable}.first_seen OR excluded.last_seen > ${t.hostTable}.last_seen`,
      (r, args) => void args.push(r.id, r.ref, r.firstSeen, r.lastSeen),
    );
  }

  /** The newest detection change number handed out (migration 0006's counter). */
  changeCounter(): number {
    return (this.st(`SELECT value FROM store_meta WHERE name = 'detection_change_seq'`).get() as { value: number } | undefined)?.value ?? 0;
  }

  /** A change cursor of this store as a number (exact: change counts stay far below 2^53). */
  changeFrom(cursor: string): number {
    return Number(changeSeqWithin('sqlite', cursor, BigInt(this.changeCounter())));
  }

  /**
   * `fn` under the write lock: the open transaction's, else an immediate transaction of its own, so that host
   * refs it reads cannot be expired by another process before it writes them.
   */
  underWriteLock<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    let value: T;
    try {
      value = this.db.transaction(fn).immediate();
    } catch (err) {
      // refs and dedupe keys added by the rolled-back transaction are gone
      this.discardUncommitted();
      throw err;
    }
    this.committed();
    return value;
  }

  /**
   * host_refs rows for these hosts, created on first sight. Refs are cached across transactions: a ref
   * never changes while its row exists, and deleting rows (prevalence.expire) bumps host_refs_generation,
   * which every transaction compares before trusting the cache (another process may have deleted).
   */
  hostRefs(hostIds: readonly string[]): Map<string, number> {
    const gen = (this.st(`SELECT value FROM store_meta WHERE name = 'host_refs_generation'`).get() as { value: number } | undefined)?.value ?? 0;
    if (gen !== this.refGeneration) {
      this.refCache.clear();
      this.refGeneration = gen;
    }
    const missing = new Set<string>();
    for (const h of hostIds) if (!this.refCache.has(h)) missing.add(h);
    if (missing.size) {
      const list = [...missing];
      const bindId = (h: string, args: (string | number)[]) => void args.push(h);
      this.chunked(list, 1, (values) => `INSERT INTO host_refs (host_id) VALUES ${values} ON CONFLICT (host_id) DO NOTHING`, bindId, undefined, 512);
      // Each looked up by the id asked for, not by the text read back: an id that is not valid UTF-16 (a lone
      // surrogate, stored as its raw bytes) reads back as another string, and its rows would be bound without a ref.
      const refOf = this.st('SELECT ref FROM host_refs WHERE host_id = ?').pluck();
      for (const h of list) {
        const ref = refOf.get(h) as number | undefined;
        if (ref === undefined) throw new StoreError('STORE_WRITE', `sqlite: no host ref for host ${JSON.stringify(h)} after creating it`, 'report this as a bug');
        this.refCache.set(h, ref);
      }
    }
    return this.refCache;
  }

  stats(t: PrevalenceTables, keys: string[], window: TimeWindow, countCap?: number): PrevalenceStats {
    const k = this.st(`SELECT id, first_seen, last_seen, saturated, saturated_hosts, sketch_from FROM ${t.keyTable} WHERE ${this.keyWhere(t)}`).get(...keys) as Row | undefined;
    if (!k || (k.first_seen as number) > window.to) return emptyStats();
    const firstSeen = k.first_seen as number;
    if (k.saturated === 1) {
      const { first, last } = sketchDays(window);
      const days = this.sketchRows(t, k.id as number, first, last);
      const hosts = saturatedHostCount({ lastSeen: k.last_seen as number, compactedHosts: k.saturated_hosts as number, sketchFrom: k.sketch_from as number }, window, new DaySketches(days).hostsIn(window));
      return { hosts, firstSeen, lastSeen: k.last_seen as number, saturated: true };
    }
    const c = this.st(
      `SELECT count(*) AS n, max(last_seen) AS last FROM (SELECT last_seen FROM ${t.hostTable} WHERE ${t.idCol} = ? AND first_seen <= ? AND last_seen >= ? LIMIT ?)`,
    ).get(k.id, window.to, window.from, countCap ?? -1) as { n: number; last: number | null };
    return { hosts: c.n, firstSeen, lastSeen: c.last ?? (k.last_seen as number), saturated: false };
  }

  /** A saturated key's day sketches from day `first` to `last`, ascending. */
  sketchRows(t: PrevalenceTables, id: number, first: number, last: number): { day: number; registers: Uint8Array }[] {
    const rows = this.st(`SELECT day, registers FROM ${t.sketchTable} WHERE ${t.idCol} = ? AND day BETWEEN ? AND ? ORDER BY day`).raw(true).all(id, first, last) as [number, Buffer][];
    return rows.map(([day, blob]) => ({ day, registers: sketchFromBlob(blob, `${t.keyTable} ${id} day ${day}`) }));
  }

  /** Raise stored day sketches by the updates (read, merge, write back only what changed). */
  mergeSketches(t: PrevalenceTables, updates: SketchUpdates<number>): void {
    const read = this.st(`SELECT registers FROM ${t.sketchTable} WHERE ${t.idCol} = ? AND day = ?`).pluck();
    const write = this.st(`INSERT INTO ${t.sketchTable} (${t.idCol}, day, registers) VALUES (?, ?, ?) ON CONFLICT (${t.idCol}, day) DO UPDATE SET registers = excluded.registers`);
    for (const { key, day, points } of updates.entries()) {
      const blob = read.get(key, day) as Buffer | undefined;
      // a copy: better-sqlite3 hands out a fresh Buffer, but the registers must not alias anything cached
      const registers = blob ? Uint8Array.from(sketchFromBlob(blob, `${t.keyTable} ${key} day ${day}`)) : emptySketch();
      if (addPoints(registers, points) || !blob) write.run(key, day, registers);
    }
  }

  hostSpans(t: PrevalenceTables, keys: string[], window: TimeWindow, limit: number): HostSpan[] {
    const rows = this.st(
      `SELECT r.host_id, h.first_seen, h.last_seen FROM ${t.keyTable} k JOIN ${t.hostTable} h ON h.${t.idCol} = k.id JOIN host_refs r ON r.ref = h.host_ref
        WHERE ${t.keyCols.map((c) => `k.${c} = ?`).join(' AND ')} AND h.first_seen <= ? AND h.last_seen >= ? ORDER BY h.first_seen, r.host_id LIMIT ?`,
    ).all(...keys, window.to, window.from, limit) as Row[];
    return rows.map((r) => ({ hostId: r.host_id as string, firstSeen: r.first_seen as number, lastSeen: r.last_seen as number }));
  }

  /**
   * Saturate every key (of `ids`, when given) whose host count in the window reached the threshold: its host rows
   * are folded into its day sketches (each row's span no further back than `floor`, compactionFloor) and dropped.
   * (A saturated key never has host rows here: observe reads the flag in the same write transaction.)
   */
  compactTables(t: PrevalenceTables, threshold: number, window: TimeWindow, floor: number, ids?: readonly number[]): number {
    let full: Row[];
    if (ids === undefined) {
      full = this.st(this.countedHosts(t)).all(window.to, window.from, threshold) as Row[];
    } else {
      const count = this.st(`SELECT count(*) FROM ${t.hostTable} WHERE ${t.idCol} = ? AND first_seen <= ? AND last_seen >= ?`).pluck();
      full = ids.map((id) => ({ id, n: count.get(id, window.to, window.from) as number })).filter((r) => r.n >= threshold);
    }
    const mark = this.st(`UPDATE ${t.keyTable} SET saturated = 1, saturated_hosts = max(saturated_hosts, ?) WHERE id = ? AND saturated = 0`);
    const hostRows = this.st(`SELECT r.host_id, h.first_seen, h.last_seen FROM ${t.hostTable} h JOIN host_refs r ON r.ref = h.host_ref WHERE h.${t.idCol} = ?`).raw(true);
    const drop = this.st(`DELETE FROM ${t.hostTable} WHERE ${t.idCol} = ?`);
    const updates = new SketchUpdates<number>({ floorTime: floor, strideDays: (window.to - window.from) / 86_400 });
    let compacted = 0;
    for (const r of full) {
      const id = r.id as number;
      if (mark.run(r.n as number, id).changes === 0) continue;
      compacted++;
      for (const [hostId, firstSeen, lastSeen] of hostRows.all(id) as [string, number, number][]) updates.addSighting(id, hostId, firstSeen, lastSeen);
      drop.run(id);
    }
    if (updates.size) this.mergeSketches(t, updates);
    return compacted;
  }

  /**
   * The key ids (and their host counts) with `threshold` hosts or more in the window, bound as (to, from, threshold):
   * what compactTables saturates and commonKeys lists, so the list is the plan compaction carries out.
   */
  private countedHosts(t: PrevalenceTables): string {
    return `SELECT ${t.idCol} AS id, count(*) AS n FROM ${t.hostTable} WHERE first_seen <= ? AND last_seen >= ? GROUP BY ${t.idCol} HAVING count(*) >= ?`;
  }

  /** The keys compactTables would saturate now, with their host counts in the window, in id order. */
  commonKeys(t: PrevalenceTables, threshold: number, window: TimeWindow): PrevalenceKeyRef[] {
    const rows = this.st(
      `SELECT ${t.keyCols.map((c) => `k.${c}`).join(', ')}, c.n AS rows FROM (${this.countedHosts(t)}) c JOIN ${t.keyTable} k ON k.id = c.id WHERE k.saturated = 0 ORDER BY k.id`,
    ).all(window.to, window.from, threshold) as Row[];
    return rows.map((r) => keyRefOf(t, r));
  }

  /**
   * The keys expireTables would change now, with how many of their host rows it drops, in id order. (Host rows and
   * sketches always have their key row: observe writes it in the same statement batch, expiry drops it last.)
   */
  expirableKeys(t: PrevalenceTables, before: number, sketchesBefore: number): PrevalenceKeyRef[] {
    const rows = this.st(
      `SELECT ${t.keyCols.map((c) => `k.${c}`).join(', ')}, x.n AS rows FROM (
         SELECT id, sum(n) AS n FROM (
           SELECT ${t.idCol} AS id, count(*) AS n FROM ${t.hostTable} WHERE last_seen < ? GROUP BY ${t.idCol}
           UNION ALL SELECT id, 0 FROM ${t.keyTable} WHERE last_seen < ?
           UNION ALL SELECT DISTINCT ${t.idCol}, 0 FROM ${t.sketchTable} WHERE day < ?
         ) GROUP BY id
       ) x JOIN ${t.keyTable} k ON k.id = x.id ORDER BY k.id`,
    ).all(before, before, sketchDay(sketchesBefore)) as Row[];
    return rows.map((r) => keyRefOf(t, r));
  }

  /** The ids of the keys of family `t` among `refs` (keys that no longer exist have none). */
  keyIds(t: PrevalenceTables, refs: readonly PrevalenceKeyRef[]): number[] {
    const byFamily = keyRefsByFamily(refs);
    const keys: string[][] = t === DEST ? byFamily.destinations.map((k) => [k]) : t === PAIR ? byFamily.pairs.map((p) => [p.identity, p.key]) : byFamily.apps.map((i) => [i]);
    const id = this.st(`SELECT id FROM ${t.keyTable} WHERE ${this.keyWhere(t)}`).pluck();
    return keys.map((k) => id.get(...k) as number | undefined).filter((i) => i !== undefined);
  }

  expireTables(t: PrevalenceTables, before: number, sketchesBefore: number, ids?: readonly number[]): number {
    if (ids === undefined) {
      this.st(`DELETE FROM ${t.hostTable} WHERE last_seen < ?`).run(before);
      // whole days before the sketches' horizon, then every sketch of a key about to go (its last day may be today)
      this.st(`DELETE FROM ${t.sketchTable} WHERE day < ?`).run(sketchDay(sketchesBefore));
      this.st(`DELETE FROM ${t.sketchTable} WHERE ${t.idCol} IN (SELECT id FROM ${t.keyTable} WHERE last_seen < ?)`).run(before);
      return this.st(`DELETE FROM ${t.keyTable} WHERE last_seen < ?`).run(before).changes;
    }
    // the same, key by key
    const hosts = this.st(`DELETE FROM ${t.hostTable} WHERE ${t.idCol} = ? AND last_seen < ?`);
    const oldDays = this.st(`DELETE FROM ${t.sketchTable} WHERE ${t.idCol} = ? AND day < ?`);
    const key = this.st(`DELETE FROM ${t.keyTable} WHERE id = ? AND last_seen < ?`);
    const sketches = this.st(`DELETE FROM ${t.sketchTable} WHERE ${t.idCol} = ?`);
    const horizon = sketchDay(sketchesBefore);
    let expired = 0;
    for (const id of ids) {
      hosts.run(id, before);
      oldDays.run(id, horizon);
      if (key.run(id, before).changes === 0) continue;
      sketches.run(id);
      expired++;
    }
    return expired;
  }

  /** Forget refs of hosts no prevalence, host or status row names any more; tell other processes' caches. */
  expireHostRefs(): void {
    const n = this.st(`DELETE FROM host_refs WHERE ref NOT IN (SELECT host_ref FROM destination_hosts UNION SELECT host_ref FROM app_hosts UNION SELECT host_ref FROM pair_hosts
      UNION SELECT host_ref FROM hosts UNION SELECT host_ref FROM host_status)`).run().changes;
    // This process's cache goes too: its next hostRefs sees the new generation.
    if (n > 0) this.st(`UPDATE store_meta SET value = value + 1 WHERE name = 'host_refs_generation'`).run();
  }
}

/**
 * One prevalence family's key rows and host spans, loaded lazily per key and kept for one statsMany
 * call. `stats` gives the same host count as SqliteRepos.stats, each window in O(log hosts) (sorted-spans.ts).
 * When that count reaches `countCap`, lastSeen is still the window's latest sighting, where SqliteRepos.stats
 * reports the last of the rows it counted before stopping (PrevalenceRepo leaves a capped lastSeen open; no
 * verdict reads it).
 */
class KeySpans {
  private readonly keyRows = new Map<string, { id: number; firstSeen: number; lastSeen: number; saturated: boolean; compactedHosts: number; sketchFrom: number } | null>();
  private readonly spans = new Map<string, SortedSpans>();
  private readonly sketches = new Map<string, DaySketches>();

  constructor(
    private readonly repos: SqliteRepos,
    private readonly t: PrevalenceTables,
    /** The days the call's windows read: the only sketch days worth loading. */
    private readonly days: { first: number; last: number },
  ) {}

  private keyRow(keys: string[], id: string) {
    let k = this.keyRows.get(id);
    if (k === undefined) {
      const where = this.t.keyCols.map((c) => `${c} = ?`).join(' AND ');
      const r = this.repos.st(`SELECT id, first_seen, last_seen, saturated, saturated_hosts, sketch_from FROM ${this.t.keyTable} WHERE ${where}`).get(...keys) as Row | undefined;
      k = r
        ? { id: r.id as number, firstSeen: r.first_seen as number, lastSeen: r.last_seen as number, saturated: r.saturated === 1, compactedHosts: r.saturated_hosts as number, sketchFrom: r.sketch_from as number }
        : null;
      this.keyRows.set(id, k);
    }
    return k;
  }

  private hostRows(keyId: number, id: string): SortedSpans {
    let h = this.spans.get(id);
    if (!h) {
      const rows = this.repos.st(`SELECT first_seen, last_seen FROM ${this.t.hostTable} WHERE ${this.t.idCol} = ? ORDER BY first_seen`).raw(true).all(keyId) as [number, number][];
      this.spans.set(id, (h = sortedSpans(rows)));
    }
    return h;
  }

  private daySketches(keyId: number, id: string): DaySketches {
    let d = this.sketches.get(id);
    if (!d) this.sketches.set(id, (d = new DaySketches(this.repos.sketchRows(this.t, keyId, this.days.first, this.days.last))));
    return d;
  }

  /** `id`: the keys as one string, unique per key (the caller has it already: pairKey, or the one key). */
  stats(keys: string[], id: string, window: TimeWindow, countCap?: number): PrevalenceStats {
    const k = this.keyRow(keys, id);
    if (!k || k.firstSeen > window.to) return emptyStats();
    if (k.saturated) {
      const hosts = saturatedHostCount(k, window, this.daySketches(k.id, id).hostsIn(window));
      return { hosts, firstSeen: k.firstSeen, lastSeen: k.lastSeen, saturated: true };
    }
    const { hosts, last } = spansIn(this.hostRows(k.id, id), window);
    // SQLite's LIMIT: a negative value means no limit.
    const cap = countCap === undefined || countCap < 0 ? Infinity : countCap;
    return { hosts: Math.min(hosts, cap), firstSeen: k.firstSeen, lastSeen: hosts > 0 ? last : k.lastSeen, saturated: false };
  }
}

/** Wraps every repository method so a call outside `transaction()` runs under the store mutex. */
function guarded<T extends object>(repo: T, mutex: Mutex, closed: () => boolean): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(repo)) {
    if (typeof fn !== 'function') continue;
    out[name] = (...args: unknown[]) =>
      mutex.run(() => {
        if (closed()) throw new StoreError('STORE_READ', 'store is closed');
        return (fn as (...a: unknown[]) => unknown).apply(repo, args);
      });
  }
  return out as T;
}

export class SqliteStore implements Store {
  readonly backend = 'sqlite' as const;
  readonly results: ResultsRepo;
  readonly hosts: HostsRepo;
  readonly clock: EventClockRepo;
  readonly prevalence: PrevalenceRepo;
  readonly candidates: CandidatesRepo;
  readonly detections: DetectionsRepo;
  readonly quarantine: QuarantineRepo;
  readonly checkpoints: CheckpointsRepo;

  private readonly repos: SqliteRepos;
  private readonly mutex = new Mutex();
  private readonly jobs = new Set<string>();
  /** The job (name) a piece of async work runs for: its write transactions are fenced by the job's lease. */
  private readonly jobContext = new AsyncLocalStorage<string>();
  /** This store's name in job_leases: unique per open store, even for two stores of one process. */
  private readonly leaseOwner = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  private closed = false;

  private constructor(
    private readonly db: Db,
    readonly location: string,
    private readonly log: Logger,
    private readonly jobLeaseMs: number,
  ) {
    this.repos = new SqliteRepos(db);
    const isClosed = () => this.closed;
    this.results = guarded(this.repos.results, this.mutex, isClosed);
    this.hosts = guarded(this.repos.hosts, this.mutex, isClosed);
    this.clock = guarded(this.repos.clock, this.mutex, isClosed);
    this.prevalence = guarded(this.repos.prevalence, this.mutex, isClosed);
    this.candidates = guarded(this.repos.candidates, this.mutex, isClosed);
    this.detections = guarded(this.repos.detections, this.mutex, isClosed);
    this.quarantine = guarded(this.repos.quarantine, this.mutex, isClosed);
    this.checkpoints = guarded(this.repos.checkpoints, this.mutex, isClosed);
  }

  /** `file` is a path (created with its directory) or `:memory:`. */
  static async open(file: string, opts: SqliteStoreOptions = {}): Promise<SqliteStore> {
    let db: Db;
    try {
      if (file !== ':memory:' && !opts.readonly) {
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: PRIVATE_DIR_MODE });
        // created here, not by SQLite, for its mode (the -wal and -shm files take the database file's); a store
        // an earlier version left readable by everyone loses that (best effort: the owner may be someone else)
        closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
        const mode = statSync(file).mode & 0o777;
        if (mode & 0o007) {
          try {
            chmodSync(file, mode & ~0o007);
          } catch {
            // not ours to change
          }
        }
      }
      db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
      if (!opts.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        // Checkpoint every ~40 MB of WAL rather than 4 MB: an ingest batch rewrites many of the same pages,
        // which a checkpoint then copies once (≈ 10 % less ingest CPU on the 10 000-host bench).
        db.pragma('wal_autocheckpoint = 10000');
      }
      db.pragma('busy_timeout = 5000');
      db.pragma('cache_size = -65536');
      db.pragma('temp_store = MEMORY');
      // Migration 0012 digests the candidate bodies it moves, as upsertPending does (its name from when the digest was
      // md5; it is candidateBodyDigest's, SHA-256 since, and the migration's text cannot change).
      db.function('outflow_md5', { deterministic: true }, (body: unknown) => candidateBodyDigest(String(body)));
    } catch (err) {
      throw new StoreError('STORE_OPEN', `cannot open SQLite store ${file}: ${coerceError(err).message}`, 'check the path (--store / fleet.store) and its permissions', { cause: err });
    }
    const store = new SqliteStore(db, file, (opts.log ?? silentLogger()).child({ component: 'sqlite-store' }), opts.jobLeaseMs ?? JOB_LEASE_MS);
    try {
      if (opts.migrate ?? !opts.readonly) await store.migrate();
      else if (opts.checkMigrated ?? true) store.assertMigrated();
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  private appliedMigrations(): Set<string> {
    const has = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
    if (!has) return new Set();
    return new Set((this.db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id));
  }

  private assertMigrated(): void {
    const applied = this.appliedMigrations();
    assertNoUnknownMigrations('sqlite', this.location, applied);
    const pending = loadMigrations('sqlite').filter((m) => !applied.has(m.id));
    if (pending.length) {
      throw new StoreError('STORE_MIGRATE', `store ${this.location} needs migrations ${pending.map((m) => m.id).join(', ')}`, 'run `outflow fleet migrate`');
    }
  }

  async migrate(): Promise<string[]> {
    return this.mutex.run(() => {
      try {
        this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
        const applied = this.appliedMigrations();
        assertNoUnknownMigrations('sqlite', this.location, applied);
        const done: string[] = [];
        for (const m of loadMigrations('sqlite')) {
          if (applied.has(m.id)) continue;
          this.db.transaction(() => {
            this.db.exec(m.sql);
            this.db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)').run(m.id, Math.floor(Date.now() / 1000));
          })();
          done.push(m.id);
        }
        return done;
      } catch (err) {
        if (err instanceof StoreError) throw err;
        throw new StoreError('STORE_MIGRATE', `migrating ${this.location} failed: ${coerceError(err).message}`, 'restore the store from a backup or start a new one', { cause: err });
      }
    });
  }

  // opts.exclusive: every SQLite write transaction already runs alone (one writer per file).
  async transaction<T>(fn: (tx: StoreRepos) => Promise<T>, opts?: TransactionOptions): Promise<T> {
    return this.mutex.run(async () => {
      if (this.closed) throw new StoreError('STORE_WRITE', 'store is closed');
      // SQLite refuses to change the safety level inside a transaction: set it around this one (the mutex keeps
      // every other transaction of this connection out meanwhile)
      const durable = opts?.durable === true;
      if (durable) this.db.pragma('synchronous = FULL');
      try {
        wrap('BEGIN', 'STORE_WRITE', () => this.db.exec('BEGIN IMMEDIATE'));
        let value: T;
        try {
          this.fenceJob();
          value = await fn(this.repos);
          wrap('COMMIT', 'STORE_WRITE', () => this.db.exec('COMMIT'));
        } catch (err) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          this.repos.discardUncommitted();
          throw err;
        }
        this.repos.committed();
        return value;
      } finally {
        if (durable) this.db.pragma('synchronous = NORMAL');
      }
    });
  }

  /**
   * The job runs while this store holds a lease row in `job_leases` (migration 0007), so no other process on
   * the same file runs it meanwhile. The lease is renewed every quarter of its length while `fn` runs and deleted
   * after it; a holder that dies leaves a lease that others may take over once it expires.
   */
  async withJobLock<T>(name: string, fn: () => Promise<T>): Promise<JobLockResult<T>> {
    if (this.db.readonly) throw new StoreError('STORE_WRITE', `cannot run the ${name} job on ${this.location}: the store is open read-only`, 'open the store for writing');
    if (this.jobs.has(name)) return { acquired: false };
    this.jobs.add(name);
    try {
      let taken: boolean;
      try {
        taken = await this.takeLease(name);
      } catch (err) {
        // another writer held the file past busy_timeout: as good as a held lock (a waiting caller asks again)
        if ((err instanceof StoreError ? (err.cause as { code?: unknown } | undefined)?.code : undefined) !== 'SQLITE_BUSY') throw err;
        this.log.warn({ job: name, store: this.location }, 'store busy (another writer held it past busy_timeout): job not run this time');
        taken = false;
      }
      if (!taken) return { acquired: false };
      const renew = setInterval(() => {
        // closed: close() freed the lease already
        if (this.closed) return;
        this.renewLease(name).catch((err: unknown) => this.log.warn({ err: coerceError(err), job: name }, 'job lease renewal failed'));
      }, this.jobLeaseMs / 4);
      renew.unref();
      try {
        return { acquired: true, value: await this.jobContext.run(name, fn) };
      } finally {
        clearInterval(renew);
        await this.leaseWrite('release', () => this.repos.st(`DELETE FROM job_leases WHERE name = ? AND owner = ?`).run(name, this.leaseOwner)).catch((err: unknown) =>
          // closed: close() freed the lease (leaseWrite refuses a closed store)
          this.closed ? undefined : this.log.warn({ err: coerceError(err), job: name }, 'job lease release failed; it expires on its own'),
        );
      }
    } finally {
      this.jobs.delete(name);
    }
  }

  /**
   * Inside a write transaction started by a job (withJobLock's async context): the job's lease must still be
   * ours, else another process took it over (this one stalled past its expiry) and may be running the same
   * job, so this transaction must not commit. Checked and extended under the write lock the transaction
   * holds, which a takeover needs too: the lease cannot change hands between this check and the COMMIT.
   */
  private fenceJob(): void {
    const job = this.jobContext.getStore();
    if (job === undefined || !this.jobs.has(job)) return;
    if (!this.extendLease(job)) {
      throw new OutflowError(
        'JOB_LOCK_LOST',
        `the ${job} job's lease on ${this.location} expired while the job ran and another process took it over; this transaction was rolled back and the job stops`,
        'the other process carries on with the job; a holder stalls past the lease when its event loop or the machine is blocked for a minute',
      );
    }
  }

  /** The lease for `name`, unless another owner holds one that has not expired. */
  private takeLease(name: string): Promise<boolean> {
    return this.leaseWrite('take', () => {
      const now = Date.now();
      const r = this.repos.st(
        `INSERT INTO job_leases (name, owner, expires_at) VALUES (?, ?, ?)
          ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
          WHERE job_leases.owner = excluded.owner OR job_leases.expires_at < ?`,
      ).run(name, this.leaseOwner, now + this.jobLeaseMs, now);
      return r.changes === 1;
    });
  }

  /** Push our lease for `name` out by a lease length; false when it is no longer ours. Caller holds the mutex. */
  private extendLease(name: string): boolean {
    return this.repos.st(`UPDATE job_leases SET expires_at = ? WHERE name = ? AND owner = ?`).run(Date.now() + this.jobLeaseMs, name, this.leaseOwner).changes === 1;
  }

  private async renewLease(name: string): Promise<void> {
    const kept = await this.leaseWrite('renew', () => this.extendLease(name));
    if (!kept) this.log.warn({ job: name }, 'job lease lost (expired while the job ran and another process took it): that process may run this job concurrently');
  }

  private leaseWrite<T>(what: string, fn: () => T): Promise<T> {
    return this.mutex.run(() => {
      if (this.closed) throw new StoreError('STORE_WRITE', 'store is closed');
      return wrap(`jobLease.${what}`, 'STORE_WRITE', fn);
    });
  }

  async ping(): Promise<void> {
    await this.mutex.run(() => {
      if (this.closed) throw new StoreError('STORE_READ', 'store is closed');
      wrap('ping', 'STORE_READ', () => this.db.prepare('SELECT 1').get());
    });
  }

  async close(): Promise<void> {
    await this.mutex.run(() => {
      if (this.closed) return;
      this.closed = true;
      // A job still running cannot write any more: free its lease now rather than in a lease length.
      if (this.jobs.size > 0 && !this.db.readonly) {
        try {
          this.repos.st('DELETE FROM job_leases WHERE owner = ?').run(this.leaseOwner);
        } catch (err) {
          this.log.warn({ err: coerceError(err), jobs: [...this.jobs] }, 'job leases not released on close; they expire on their own');
        }
      }
      this.db.close();
    });
  }
}

export function openSqliteStore(file: string, opts?: SqliteStoreOptions): Promise<SqliteStore> {
  return SqliteStore.open(file, opts);
}
