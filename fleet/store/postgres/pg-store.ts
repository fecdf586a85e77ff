/**
 * PostgreSQL backend of the Store contract (fleet/store/store.ts): the shared truth of several aggregator
 * instances. Same behaviour as the SQLite store (one contract suite runs against both); what differs is
 * what concurrency needs:
 *
 * - Batches are multi-row upserts over `unnest($1::text[], …)`: one round trip per repository call,
 *   whatever the batch size (chunked at `upsert_chunk` rows). Rows are merged per key in JS first
 *   (ON CONFLICT cannot touch one row twice in a statement) and sorted, so concurrent transactions of
 *   different instances lock rows in the same order and do not deadlock.
 * - Idempotency across instances comes from primary keys: `results.markSeen` is
 *   INSERT … ON CONFLICT DO NOTHING RETURNING, so of two instances ingesting the same (redelivered) row
 *   exactly one sees it as new — the other waits for the first to commit and then sees a conflict.
 * - The event clock is one row per writer slot, not one hot row that would serialize every commit.
 * - Scheduler jobs: `withJobLock` holds a session advisory lock on a dedicated connection, so a job runs
 *   on one instance at a time, and bumps the job's fencing token (`job_fences`), which every transaction of
 *   the job checks: a job whose lock was lost with its connection cannot commit once another instance took
 *   the job over. Should two finalizations still overlap (writes made outside `transaction()`),
 *   `pendingUpTo` inside a transaction takes the rows FOR UPDATE SKIP LOCKED (disjoint work) and
 *   `openBySuppressionKey` inside a transaction takes a transaction advisory lock per suppression key
 *   before reading, so the second finalizer sees the first one's detection instead of creating another.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { OutflowError, StoreError, coerceError } from '../../../src/errors.js';
import type { Logger } from '../../../src/log.js';
import { silentLogger } from '../../../src/log.js';
import { typedUserinfo } from '../../../src/strings.js';
import type { EgressCandidate } from '../../../src/schemas/egress-candidate.js';
import { DetectionSchema } from '../../../src/schemas/detection.js';
import { DaySketches, SKETCH_REGISTERS, SketchUpdates, addPoints, emptySketch, saturatedHostCount, sketchDay, sketchDaysOf, sketchFromBlob } from '../host-sketch.js';
import { assertNoUnknownMigrations, loadMigrations } from '../migrations.js';
import { SketchRowCache, type ReadSketch } from './sketch-cache.js';
import {
  KEPT_FROM_META,
  candidateBodyDigest,
  detectionFromBody,
  candidateId,
  changeSeqWithin,
  compareText,
  hostnameReplaces,
  hostnameTimeOf,
  mergeAppAttributes,
  statusReplaces,
  statusStateRankSql,
  PROBLEM_STATE_RANK,
  pairKey,
  type AppSighting,
  type AppStats,
  type CandidateInput,
  type CandidateVersion,
  type CandidateOutcome,
  type CandidatesRepo,
  type Checkpoint,
  type CheckpointsRepo,
  type CompactionResult,
  type DestinationSighting,
  type Detection,
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
  emptyStats,
  keyRefsByFamily,
  type LatestChange,
} from '../store.js';

export interface PostgresStoreOptions {
  /** Connections in this instance's pool. */
  poolSize?: number;
  statementTimeoutMs?: number;
  /** Rows per multi-row statement. */
  upsertChunk?: number;
  log?: Logger;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
  /**
   * How long a new job holder waits for a transaction of the job's previous holder (one whose lock went with its
   * connection) to end before its fencing token bump gives up and the job is skipped this time (default 30 s).
   */
  jobFenceWaitMs?: number;
  /**
   * Bytes of day sketches kept from earlier reads, so a read is sent only the registers that changed since
   * (SketchRowCache; default 128 MiB, 0 keeps none).
   */
  sketchCacheBytes?: number;
  /** How long a migration waits for a lock on a table it alters before it gives up (default 5 s). */
  migrationLockTimeoutMs?: number;
  /**
   * How much longer than the server's own bound (statement_timeout; for job-lock queries, jobFenceWaitMs) a query
   * may wait for its answer before this side gives up and drops the connection (default 30 s): the bound a server
   * that vanished without a FIN or RST can no longer enforce. Not applied to the pool when statement_timeout is 0.
   */
  clientTimeoutMarginMs?: number;
}

const DEFAULT_SKETCH_CACHE_BYTES = 128 * 1024 * 1024;
/**
 * An ALTER TABLE waiting for its lock queues every later statement on that table, every instance's plain reads
 * included, behind it: waiting for a long transaction (a backup, a forgotten psql session) would stall the whole
 * fleet with it. Ingest batches and rollup slices hold their tables for well under a second.
 */
const DEFAULT_MIGRATION_LOCK_TIMEOUT_MS = 5_000;

/** Advisory-lock namespace ("outf") so our locks never collide with another application's. */
const LOCK_NAMESPACE = 0x6f757466;
/** store_meta row numbering detection changes (0002_detection_changes.sql). */
const CHANGE_COUNTER = 'detection_change_seq';
/** Key of the migration lock inside that namespace (job locks hash their names). */
const MIGRATION_LOCK_KEY = 1;

/** BIGINT and COUNT(*) come back as numbers: every value we store fits in 2^53. */
const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Where repository calls run: the pool (each call atomic on its own) or one transaction's client. */
interface Executor {
  inTransaction: boolean;
  q<R extends pg.QueryResultRow = pg.QueryResultRow>(kind: 'read' | 'write', text: string, values?: unknown[]): Promise<R[]>;
  /** Several statements as one unit: the enclosing transaction, or a fresh one. */
  atomic<T>(fn: (ex: Executor) => Promise<T>): Promise<T>;
}

/** What to do about a failed connection, by PostgreSQL's error code when the server answered. */
export function connectHint(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = coerceError(err).message;
  if (code === '3D000') return 'the server runs but has no such database: create it (createdb NAME) or fix the database in the URL';
  if (code === '28P01' || code === '28000') return 'the server refused the login: check the user and password in the URL (and pg_hba.conf)';
  if (/no PostgreSQL user name specified/i.test(message)) return 'put a user in the URL: postgres://USER[:PASSWORD]@HOST/DATABASE';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') return 'check that PostgreSQL is running and that the host and port in the URL are right';
  return 'check that PostgreSQL is running and the URL is right';
}

/** What to do about a failed migration, by the server's error code (cause: migrate()). */
function migrationHint(err: unknown, timeouts: { lockMs: number; statementMs: number | undefined }, otherwise: string): string {
  const code = (err as { code?: unknown }).code;
  if (code === '55P03') {
    return `another session held a table this migration alters for more than ${timeouts.lockMs} ms (a long transaction: a backup, an open psql session, another program): find it with pg_blocking_pids() / pg_stat_activity, let it end or end it, and start again; nothing was applied`;
  }
  if (code === '57014') {
    return `a statement ran longer than fleet.postgres.statement_timeout_ms (${timeouts.statementMs ?? 0} ms; another instance may be migrating): raise it for this start and start again; nothing of this migration was applied`;
  }
  return otherwise;
}

/** pg's error when a query's answer did not come within query_timeout; its connection can serve nothing more. */
function isAnswerLost(err: unknown): boolean {
  return err instanceof Error && err.message === 'Query read timeout';
}

/**
 * A checked-out client's queries, watching for a lost answer (isAnswerLost): pg leaves such a connection waiting for
 * it, so it must be dropped rather than pooled again, and any further query on it (a ROLLBACK) would wait as long.
 */
function watchAnswers(client: pg.PoolClient): { query: <R extends pg.QueryResultRow>(q: string | pg.QueryConfig, values?: unknown[]) => Promise<pg.QueryResult<R>>; readonly answerLost: boolean } {
  let lost = false;
  return {
    query: <R extends pg.QueryResultRow>(q: string | pg.QueryConfig, values?: unknown[]) =>
      client.query<R>(q as string, values).catch((err: unknown) => {
        if (isAnswerLost(err)) lost = true;
        throw err;
      }),
    get answerLost() {
      return lost;
    },
  };
}

function storeError(kind: 'read' | 'write', err: unknown): StoreError {
  const e = coerceError(err);
  const why = isAnswerLost(err) ? 'no answer from the server in time; the connection was dropped (server down or network cut?)' : e.message;
  return new StoreError(kind === 'read' ? 'STORE_READ' : 'STORE_WRITE', `postgres ${kind} failed: ${why}`, 'check that PostgreSQL is reachable; the operation can be retried', {
    cause: err,
  });
}

function executorFor(client: Queryable, inTransaction: boolean, begin?: () => Promise<Executor & { done(ok: boolean): Promise<void> }>): Executor {
  const ex: Executor = {
    inTransaction,
    async q<R extends pg.QueryResultRow>(kind: 'read' | 'write', text: string, values?: unknown[]): Promise<R[]> {
      try {
        return (await client.query<R>(text, values)).rows;
      } catch (err) {
        throw storeError(kind, err);
      }
    },
    async atomic(fn) {
      if (inTransaction || !begin) return fn(ex);
      const tx = await begin();
      try {
        const out = await fn(tx);
        await tx.done(true);
        return out;
      } catch (err) {
        await tx.done(false);
        throw err;
      }
    },
  };
  return ex;
}

function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

interface SpanRow {
  firstSeen: number;
  lastSeen: number;
}

/** Merge rows with the same key: first_seen = min, last_seen = max (later fields via `merge`). */
function mergeByKey<T extends SpanRow>(rows: readonly T[], keyOf: (r: T) => string, merge?: (into: T, r: T) => void): [string, T][] {
  const map = new Map<string, T>();
  for (const r of rows) {
    const k = keyOf(r);
    const cur = map.get(k);
    if (!cur) {
      map.set(k, { ...r });
      continue;
    }
    merge?.(cur, r);
    if (r.firstSeen < cur.firstSeen) cur.firstSeen = r.firstSeen;
    if (r.lastSeen > cur.lastSeen) cur.lastSeen = r.lastSeen;
  }
  return [...map.entries()].sort((a, b) => compareText(a[0], b[0]));
}

class PgRepos implements StoreRepos {
  readonly results: ResultsRepo;
  readonly hosts: HostsRepo;
  readonly clock: EventClockRepo;
  readonly prevalence: PrevalenceRepo;
  readonly candidates: CandidatesRepo;
  readonly detections: DetectionsRepo;
  readonly quarantine: QuarantineRepo;
  readonly checkpoints: CheckpointsRepo;

  constructor(ex: Executor, chunk: number, clockSlot: number, judged: JudgedVersions, sketchRows: SketchRowCache) {
    this.results = resultsRepo(ex, chunk);
    this.hosts = hostsRepo(ex, chunk);
    this.clock = clockRepo(ex, clockSlot);
    this.prevalence = prevalenceRepo(ex, chunk, sketchRows);
    this.candidates = candidatesRepo(ex, chunk, judged);
    this.detections = detectionsRepo(ex, chunk);
    this.quarantine = quarantineRepo(ex, chunk);
    this.checkpoints = checkpointsRepo(ex);
  }
}

// ─── results ───────────────────────────────────────────────────────────────────────────────────

function resultsRepo(ex: Executor, chunk: number): ResultsRepo {
  return {
    async markSeen(keys: readonly ResultKey[]) {
      const first = new Map<string, number>();
      keys.forEach((k, i) => {
        if (!first.has(k.digest)) first.set(k.digest, i);
      });
      const unique = [...first.keys()].sort(compareText);
      const inserted = new Set<string>();
      const times = new Map<string, number>();
      for (const k of keys) if (!times.has(k.digest)) times.set(k.digest, k.unixTime);
      for (const part of chunks(unique, chunk)) {
        const rows = await ex.q<{ digest: string }>(
          'write',
          `INSERT INTO results_seen (digest, unix_time)
           SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (digest) DO NOTHING RETURNING digest`,
          [part, part.map((d) => times.get(d)!)],
        );
        for (const r of rows) inserted.add(r.digest);
      }
      return keys.map((k, i) => inserted.has(k.digest) && first.get(k.digest) === i);
    },
    async expire(before) {
      const rows = await ex.q<{ n: number }>('write', `WITH d AS (DELETE FROM results_seen WHERE unix_time < $1 RETURNING 1) SELECT count(*) AS n FROM d`, [before]);
      return rows[0]?.n ?? 0;
    },
  };
}

// ─── hosts ─────────────────────────────────────────────────────────────────────────────────────

function hostsRepo(ex: Executor, chunk: number): HostsRepo {
  return {
    async touch(rows: readonly HostSighting[]) {
      const merged = mergeByKey(
        rows.map((r) => ({ ...r, hostnameTime: hostnameTimeOf(r) })),
        (r) => r.hostId,
        (into, r) => {
          if (hostnameReplaces(r.hostname, r.hostnameTime, into.hostname, into.hostnameTime)) {
            into.hostname = r.hostname;
            into.hostnameTime = r.hostnameTime;
          }
        },
      );
      // hostnameReplaces, in SQL (SET expressions read the row as it was)
      const newer = `EXCLUDED.hostname <> '' AND (h.hostname = '' OR EXCLUDED.hostname_time > h.hostname_time
        OR (EXCLUDED.hostname_time = h.hostname_time AND EXCLUDED.hostname COLLATE "C" > h.hostname COLLATE "C"))`;
      for (const part of chunks(merged, chunk)) {
        await ex.q(
          'write',
          `INSERT INTO hosts AS h (host_id, hostname, hostname_time, first_seen, last_seen)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
           ON CONFLICT (host_id) DO UPDATE SET
             hostname = CASE WHEN ${newer} THEN EXCLUDED.hostname ELSE h.hostname END,
             hostname_time = CASE WHEN ${newer} THEN EXCLUDED.hostname_time ELSE h.hostname_time END,
             first_seen = LEAST(h.first_seen, EXCLUDED.first_seen),
             last_seen = GREATEST(h.last_seen, EXCLUDED.last_seen)
           WHERE EXCLUDED.first_seen < h.first_seen OR EXCLUDED.last_seen > h.last_seen OR (${newer})`,
          [
            part.map(([k]) => k),
            part.map(([, r]) => r.hostname),
            part.map(([, r]) => r.hostnameTime),
            part.map(([, r]) => r.firstSeen),
            part.map(([, r]) => r.lastSeen),
          ],
        );
      }
    },
    async activeCount(window: TimeWindow) {
      const rows = await ex.q<{ n: number }>('read', `SELECT count(*) AS n FROM hosts WHERE last_seen >= $1 AND first_seen <= $2`, [window.from, window.to]);
      return rows[0]?.n ?? 0;
    },
    async get(hostIds) {
      const out = new Map<string, HostRecord>();
      if (!hostIds.length) return out;
      const rows = await ex.q<{ host_id: string; hostname: string; first_seen: number; last_seen: number }>(
        'read',
        `SELECT host_id, hostname, first_seen, last_seen FROM hosts WHERE host_id = ANY($1::text[])`,
        [[...new Set(hostIds)]],
      );
      for (const r of rows) out.set(r.host_id, { hostId: r.host_id, hostname: r.hostname, firstSeen: r.first_seen, lastSeen: r.last_seen });
      return out;
    },
    async recordStatus(rows: readonly HostComponentStatus[]) {
      const latest = new Map<string, HostComponentStatus>();
      for (const r of rows) {
        const k = `${r.hostId}\u0000${r.component}`;
        const cur = latest.get(k);
        if (!cur || statusReplaces(r, cur)) latest.set(k, r);
      }
      const sorted = [...latest.entries()].sort((a, b) => compareText(a[0], b[0])).map(([, r]) => r);
      for (const part of chunks(sorted, chunk)) {
        await ex.q(
          'write',
          `INSERT INTO host_status AS s (host_id, component, platform, state, detail, version, time)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
           ON CONFLICT (host_id, component) DO UPDATE SET
             platform = EXCLUDED.platform, state = EXCLUDED.state, detail = EXCLUDED.detail,
             version = EXCLUDED.version, time = EXCLUDED.time
           WHERE EXCLUDED.time > s.time OR (EXCLUDED.time = s.time
             AND (${statusStateRankSql('EXCLUDED.state')}, EXCLUDED.state COLLATE "C", EXCLUDED.detail COLLATE "C", EXCLUDED.platform COLLATE "C", EXCLUDED.version COLLATE "C")
               > (${statusStateRankSql('s.state')}, s.state COLLATE "C", s.detail COLLATE "C", s.platform COLLATE "C", s.version COLLATE "C"))`,
          [
            part.map((r) => r.hostId),
            part.map((r) => r.component),
            part.map((r) => r.platform),
            part.map((r) => r.state),
            part.map((r) => r.detail),
            part.map((r) => r.version),
            part.map((r) => r.time),
          ],
        );
      }
    },
    async listStatus(hostId?: string) {
      const rows = await ex.q<{ host_id: string; component: string; platform: string; state: string; detail: string; version: string; time: number }>(
        'read',
        `SELECT host_id, component, platform, state, detail, version, time FROM host_status
         WHERE ($1::text IS NULL OR host_id = $1) ORDER BY host_id COLLATE "C", component COLLATE "C"`,
        [hostId ?? null],
      );
      return rows.map((r) => ({ hostId: r.host_id, component: r.component, platform: r.platform, state: r.state, detail: r.detail, version: r.version, time: r.time }));
    },
    async findStatus(q) {
      const rank = statusStateRankSql('s.state');
      const rows = await ex.q<{ host_id: string; hostname: string; component: string; platform: string; state: string; detail: string; version: string; time: number }>(
        'read',
        `SELECT s.host_id, coalesce(h.hostname, '') AS hostname, s.component, s.platform, s.state, s.detail, s.version, s.time
         FROM host_status s LEFT JOIN hosts h ON h.host_id = s.host_id
         WHERE ($1::text IS NULL OR s.state = $1) AND ($2::text IS NULL OR s.component = $2)
           AND ($3::bigint IS NULL OR s.time >= $3) AND (NOT $4::boolean OR ${rank} >= ${PROBLEM_STATE_RANK})
         ORDER BY ${rank} DESC, s.host_id COLLATE "C", s.component COLLATE "C" LIMIT $5`,
        [q.state ?? null, q.component ?? null, q.since ?? null, q.problems === true, q.limit + 1],
      );
      const truncated = rows.length > q.limit;
      return {
        rows: rows.slice(0, q.limit).map((r) => ({ hostId: r.host_id, hostname: r.hostname, component: r.component, platform: r.platform, state: r.state, detail: r.detail, version: r.version, time: r.time })),
        truncated,
      };
    },
    async statusCounts(since, known) {
      const rows = await ex.q<{ c: string; s: string; hosts: number }>(
        'read',
        `SELECT c, s, hosts FROM (
           SELECT CASE WHEN component = ANY($2::text[]) THEN component ELSE 'other' END AS c,
                  CASE WHEN state = ANY($3::text[]) THEN state ELSE 'other' END AS s, count(DISTINCT host_id)::int AS hosts
           FROM host_status WHERE time >= $1 GROUP BY 1, 2) g
         ORDER BY c COLLATE "C", s COLLATE "C"`,
        [since, [...known.components], [...known.states]],
      );
      return rows.map((r) => ({ component: r.c, state: r.s, hosts: r.hosts }));
    },
    async expire(before) {
      return ex.atomic(async (t) => {
        const rows = await t.q<{ host_id: string }>('write', `DELETE FROM hosts WHERE last_seen < $1 RETURNING host_id`, [before]);
        if (rows.length) await t.q('write', `DELETE FROM host_status WHERE host_id = ANY($1::text[])`, [rows.map((r) => r.host_id)]);
        // a live host's components it stopped reporting (or made up once) go with the window too
        await t.q('write', `DELETE FROM host_status WHERE time < $1`, [before]);
        return rows.length;
      });
    },
  };
}

// ─── event clock ───────────────────────────────────────────────────────────────────────────────

function clockRepo(ex: Executor, slot: number): EventClockRepo {
  return {
    async get(): Promise<EventClockState> {
      const rows = await ex.q<{ earliest: number | null; newest: number | null }>('read', `SELECT min(earliest) AS earliest, max(newest) AS newest FROM event_clock`);
      return { earliest: rows[0]?.earliest ?? null, newest: rows[0]?.newest ?? null };
    },
    async observe(earliest, newest) {
      await ex.q(
        'write',
        `INSERT INTO event_clock AS c (slot, earliest, newest) VALUES ($1, $2, $3)
         ON CONFLICT (slot) DO UPDATE SET earliest = LEAST(c.earliest, EXCLUDED.earliest), newest = GREATEST(c.newest, EXCLUDED.newest)
         WHERE EXCLUDED.earliest < c.earliest OR EXCLUDED.newest > c.newest`,
        [slot, earliest, newest],
      );
    },
    async observeDays(days) {
      if (!days.length) return;
      // Sorted: two batches recording the same new days wait for each other in one order. A day already recorded
      // (every batch but a day's first) conflicts with a committed row: no lock, no write.
      await ex.q('write', `INSERT INTO data_days (day) SELECT unnest($1::bigint[]) ON CONFLICT (day) DO NOTHING`, [[...new Set(days)].sort((a, b) => a - b)]);
    },
    async dataDaysFrom(day) {
      const rows = await ex.q<{ day: string | number }>('read', `SELECT day FROM data_days WHERE day >= $1 ORDER BY day`, [day]);
      return rows.map((r) => Number(r.day));
    },
    async expireDays(before) {
      const rows = await ex.q<{ day: string }>('write', `DELETE FROM data_days WHERE day < $1 RETURNING day`, [before]);
      return rows.length;
    },
  };
}

// ─── prevalence ────────────────────────────────────────────────────────────────────────────────

/** The three prevalence families differ only in their key columns. */
interface Family {
  keyTable: string;
  hostTable: string;
  /** Day sketches of saturated keys: key columns, day, registers. */
  sketchTable: string;
  /** Key columns, in primary-key order, with their SQL types. */
  keyCols: string[];
}

const DEST: Family = { keyTable: 'destinations', hostTable: 'destination_hosts', sketchTable: 'destination_sketches', keyCols: ['dest_key'] };
const PAIR: Family = { keyTable: 'pairs', hostTable: 'pair_hosts', sketchTable: 'pair_sketches', keyCols: ['dest_key', 'identity'] };
const APP: Family = { keyTable: 'apps', hostTable: 'app_hosts', sketchTable: 'app_sketches', keyCols: ['identity'] };

/** A key's columns joined into one map key (as mergeByKey joins them). */
const joinKey = (keys: readonly string[]): string => keys.join('\u0000');

async function observe(ex: Executor, chunk: number, f: Family, rows: { keys: string[]; hostId: string; firstSeen: number; lastSeen: number }[], opts?: ObserveOptions): Promise<void> {
  const n = f.keyCols.length;
  const perKey = mergeByKey(rows, (r) => r.keys.join('\u0000'));
  const perHost = mergeByKey(rows, (r) => [...r.keys, r.hostId].join('\u0000'));
  const keyList = f.keyCols.join(', ');
  const keyJoin = f.keyCols.map((c) => `k.${c} = u.${c}`).join(' AND ');
  const cols = f.keyCols.map((c) => `u.${c}`).join(', ');
  // Key rows, host rows and the saturated keys in ONE statement (one round trip): every part sees the snapshot
  // taken before it, which is what the saturation check needs (a key saturated by compaction earlier takes no
  // host rows and is named in the answer, its sightings then go to its day sketches; a key created by this
  // statement is not saturated). The answer names exactly the keys whose host rows were skipped.
  // The chunk's saturated keys are read once (saturated_keys: its host rows' keys are its key rows' keys), each key
  // through the primary key: a scalar subquery runs per key, where a join or NOT EXISTS with the key table was planned
  // as a scan of the whole table for its saturated rows, twice per batch (with 150 000 destinations a 500-row batch
  // took 30 ms instead of 12).
  const keyArrays = (offset: number) => f.keyCols.map((_, i) => `$${offset + i + 1}::text[]`).join(', ');
  const hostOffset = n + 2;
  const sql = `WITH saturated_keys AS (
       SELECT ${f.keyCols.map((c) => `w.${c}`).join(', ')} FROM unnest(${keyArrays(0)}) AS w(${keyList})
       WHERE (SELECT k.saturated FROM ${f.keyTable} k WHERE ${f.keyCols.map((c) => `k.${c} = w.${c}`).join(' AND ')})
     ), keys AS (
       INSERT INTO ${f.keyTable} AS k (${keyList}, first_seen, last_seen)
       SELECT * FROM unnest(${keyArrays(0)}, $${n + 1}::bigint[], $${n + 2}::bigint[])
       ON CONFLICT (${keyList}) DO UPDATE SET first_seen = LEAST(k.first_seen, EXCLUDED.first_seen), last_seen = GREATEST(k.last_seen, EXCLUDED.last_seen)
       WHERE EXCLUDED.first_seen < k.first_seen OR EXCLUDED.last_seen > k.last_seen
       RETURNING 1
     ), host_rows AS (
       INSERT INTO ${f.hostTable} AS h (${keyList}, host_id, first_seen, last_seen)
       SELECT ${cols}, u.host_id, u.first_seen, u.last_seen
       FROM unnest(${keyArrays(hostOffset)}, $${hostOffset + n + 1}::text[], $${hostOffset + n + 2}::bigint[], $${hostOffset + n + 3}::bigint[])
         AS u(${keyList}, host_id, first_seen, last_seen)
       WHERE NOT EXISTS (SELECT 1 FROM saturated_keys k WHERE ${keyJoin})
       ON CONFLICT (${keyList}, host_id) DO UPDATE SET first_seen = LEAST(h.first_seen, EXCLUDED.first_seen), last_seen = GREATEST(h.last_seen, EXCLUDED.last_seen)
       WHERE EXCLUDED.first_seen < h.first_seen OR EXCLUDED.last_seen > h.last_seen
       RETURNING 1
     )
     SELECT * FROM saturated_keys`;
  const saturated = new Set<string>();
  // Chunk by host rows (the larger set); each chunk carries the key rows its host rows belong to.
  for (const part of chunks(perHost, chunk)) {
    const keySet = new Set(part.map(([, r]) => r.keys.join('\u0000')));
    const keyPart = perKey.filter(([k]) => keySet.has(k));
    const params: unknown[] = f.keyCols.map((_, i) => keyPart.map(([, r]) => r.keys[i]));
    params.push(
      keyPart.map(([, r]) => r.firstSeen),
      keyPart.map(([, r]) => r.lastSeen),
    );
    for (let i = 0; i < n; i++) params.push(part.map(([, r]) => r.keys[i]));
    params.push(
      part.map(([, r]) => r.hostId),
      part.map(([, r]) => r.firstSeen),
      part.map(([, r]) => r.lastSeen),
    );
    for (const r of await ex.q<Record<string, string>>('write', sql, params)) saturated.add(joinKey(f.keyCols.map((c) => r[c]!)));
  }
  if (!saturated.size) return;
  const updates = new SketchUpdates<string>(SketchUpdates.forIngest(opts?.windowDays));
  for (const [, r] of perHost) {
    const k = joinKey(r.keys);
    if (saturated.has(k)) updates.addSighting(k, r.hostId, r.firstSeen, r.lastSeen);
  }
  await mergeSketches(ex, chunk, f, updates);
}

/**
 * Raise stored day sketches by the updates. Read-modify-write under row locks, taken in (key, day) order by
 * every writer so concurrent instances queue instead of deadlocking: the rows are created first (a row another
 * transaction is creating is waited for), then locked and read, merged here and written back where changed.
 * (Ingest also holds its key rows' locks from the key upsert, and the rollup runs alone; these make the merge
 * safe by construction for any caller.)
 */
async function mergeSketches(ex: Executor, chunk: number, f: Family, updates: SketchUpdates<string>): Promise<void> {
  const entries = [...updates.entries()].sort((a, b) => compareText(a.key, b.key) || a.day - b.day);
  const n = f.keyCols.length;
  const keyList = f.keyCols.join(', ');
  const arrays = f.keyCols.map((_, i) => `$${i + 1}::text[]`).join(', ');
  // the first key column also as `= ANY`: the rows are then found through the primary key, not by hashing the whole
  // table (a join with unnest alone was planned that way), which the rollup would pay once per slice
  const match = `${f.keyCols.map((c) => `s.${c} = u.${c}`).join(' AND ')} AND s.${f.keyCols[0]} = ANY($1::text[])`;
  for (const part of chunks(entries, chunk)) {
    const params: unknown[] = f.keyCols.map((_, i) => part.map((e) => e.key.split('\u0000')[i]));
    params.push(part.map((e) => e.day));
    await ex.q(
      'write',
      `INSERT INTO ${f.sketchTable} (${keyList}, day, registers)
       SELECT *, decode(repeat('00', ${SKETCH_REGISTERS}), 'hex') FROM unnest(${arrays}, $${n + 1}::int[])
       ON CONFLICT DO NOTHING`,
      params,
    );
    const rows = await ex.q<Record<string, unknown> & { day: number; registers: Buffer }>(
      'write',
      `SELECT ${f.keyCols.map((c) => `s.${c}`).join(', ')}, s.day, s.registers FROM ${f.sketchTable} s
       JOIN unnest(${arrays}, $${n + 1}::int[]) AS u(${keyList}, day) ON ${match} AND s.day = u.day
       ORDER BY ${f.keyCols.map((c) => `s.${c} COLLATE "C"`).join(', ')}, s.day FOR UPDATE OF s`,
      params,
    );
    const stored = new Map(rows.map((r) => [`${joinKey(f.keyCols.map((c) => r[c] as string))}\u0001${r.day}`, r.registers]));
    const changed: { key: string; day: number; registers: Uint8Array }[] = [];
    for (const e of part) {
      const blob = stored.get(`${e.key}\u0001${e.day}`);
      const registers = blob ? Uint8Array.from(sketchFromBlob(blob, `${f.keyTable} ${e.key} day ${e.day}`)) : emptySketch();
      if (addPoints(registers, e.points)) changed.push({ key: e.key, day: e.day, registers });
    }
    if (!changed.length) continue;
    const writeParams: unknown[] = f.keyCols.map((_, i) => changed.map((c) => c.key.split('\u0000')[i]));
    writeParams.push(
      changed.map((c) => c.day),
      changed.map((c) => Buffer.from(c.registers.buffer, c.registers.byteOffset, c.registers.byteLength)),
    );
    await ex.q(
      'write',
      `UPDATE ${f.sketchTable} s SET registers = u.registers FROM unnest(${arrays}, $${n + 1}::int[], $${n + 2}::bytea[]) AS u(${keyList}, day, registers)
       WHERE ${match} AND s.day = u.day`,
      writeParams,
    );
  }
}

/**
 * Day sketches of saturated keys read for some windows: the days they read, and each key's sketches of those days;
 * `rows`, the store instance's sketches kept from earlier reads.
 */
interface SketchCache {
  days: { first: number; last: number };
  byKey: Map<string, DaySketches>;
  rows: SketchRowCache;
}

/**
 * The day sketches of saturated keys within `cache.days`, per joined key, read once per key into the cache.
 *
 * The registers this instance read before (`held`, SketchRowCache) are named by digest, and the server sends the
 * registers of a row only when its digest is not among them: between two finalization runs, the few days ingest
 * raised, not every day of every key (500 keys × 31 days: 128 MB and 0.7–1.5 s for this statement before, 1.4 MB
 * and 0.09–0.28 s after, on the loaded 2-core machine). Cheaper encodings of the registers gain far less, measured on
 * the same read (node-postgres 8.23): base64 is 2/3 of hex's bytes but slower, PostgreSQL's encoder and Node's
 * decoder of its line-wrapped output both costing more than the bytes saved; the binary result format
 * (`binary: true`) halves the bytes and saves about 20 % of the time, but node-postgres decodes every binary field as
 * UTF-8 and encodes it back (brianc/node-postgres#3495), which corrupts any byte ≥ 0x80 — an int4 day from 20 608 on
 * (4/5 of that read's rows came back with wrong days) — and it has no binary bytea parser (pg.types hands the
 * Buffer to String()), and PG_TYPES' int8 override would parse binary int8 as NaN.
 */
async function loadSketches(ex: Executor, f: Family, keys: string[][], cache: SketchCache): Promise<Map<string, DaySketches>> {
  const { byKey: out, rows } = cache;
  const missing = keys.filter((k) => !out.has(joinKey(k)));
  if (!missing.length) return out;
  const { first, last } = cache.days;
  const n = f.keyCols.length;
  const keyList = f.keyCols.join(', ');
  // What this read holds, by digest, taken now (a concurrent read may replace the cache's entries meanwhile). An
  // equal digest is equal registers, whichever key and day they were read for.
  const held = new Map<string, Uint8Array>();
  for (const k of missing) for (const d of rows.known(f.sketchTable, joinKey(k), first, last)) held.set(d.digest, d.registers);
  // IN (SELECT …) is one hash of the digests, probed per row; a join with them (key, day, digest) was planned as a hash
  // of the sketch rows, registers and all, which spilled to disk. A row written before migration 0008 has no digest:
  // `NULL IN (…)` is not true, so its registers are sent (and SketchRowCache does not keep it: nothing could name it)
  const found = await ex.q<Record<string, unknown> & { day: number; digest: string | null; registers: Buffer | null }>(
    'read',
    `SELECT ${f.keyCols.map((c) => `s.${c}`).join(', ')}, s.day, s.digest, CASE WHEN s.digest IN (SELECT unnest($${n + 3}::uuid[])) THEN NULL ELSE s.registers END AS registers
     FROM ${f.sketchTable} s
     JOIN (SELECT DISTINCT * FROM unnest(${f.keyCols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS w0(${keyList})) w ON ${f.keyCols.map((c) => `s.${c} = w.${c}`).join(' AND ')}
     WHERE s.day BETWEEN $${n + 1} AND $${n + 2}`,
    [...f.keyCols.map((_, i) => missing.map((k) => k[i])), first, last, [...held.keys()]],
  );
  const days = new Map<string, ReadSketch[]>(missing.map((k) => [joinKey(k), []]));
  let served = 0;
  for (const r of found) {
    const k = joinKey(f.keyCols.map((c) => r[c] as string));
    const list = days.get(k);
    if (!list) continue;
    let registers: Uint8Array;
    if (r.registers === null) {
      const mine = r.digest === null ? undefined : held.get(r.digest);
      // the server leaves out only registers whose digest it was sent
      if (!mine) throw new StoreError('STORE_READ', `postgres sent no registers for ${f.keyTable} ${k} day ${r.day}`, 'a bug in the sketch cache: report it; restarting the aggregator clears the cache');
      registers = mine;
      served++;
    } else {
      registers = sketchFromBlob(r.registers, `${f.keyTable} ${k} day ${r.day}`);
    }
    list.push({ day: r.day, digest: r.digest, registers });
  }
  rows.count(served, found.length - served);
  for (const list of days.values()) list.sort((a, b) => a.day - b.day);
  rows.remember(f.sketchTable, days);
  for (const [k, d] of days) out.set(k, new DaySketches(d));
  return out;
}

interface StatsRow {
  first_seen: number;
  last_seen: number;
  saturated: boolean;
  host_count: number;
  sketch_from: number;
  exact: number;
  window_last: number | null;
}

/**
 * A key first seen after the window does not exist yet for it; a saturated key counts the hosts of its day
 * sketches in the window (same rules as the SQLite backend).
 */
function toStats(r: StatsRow | undefined, window: TimeWindow, sketches: DaySketches | undefined): PrevalenceStats {
  if (!r || r.first_seen > window.to) return emptyStats();
  if (r.saturated) {
    const hosts = saturatedHostCount({ lastSeen: r.last_seen, compactedHosts: r.host_count, sketchFrom: r.sketch_from }, window, sketches?.hostsIn(window) ?? 0);
    return { hosts, firstSeen: r.first_seen, lastSeen: r.last_seen, saturated: true };
  }
  return { hosts: r.exact, firstSeen: r.first_seen, lastSeen: r.window_last ?? r.last_seen, saturated: false };
}

/** One window's keys in a stats read; `cap` limits each exact count (undefined: none). */
interface StatsAsk {
  keys: string[][];
  window: TimeWindow;
  cap: number | undefined;
}

/** One (window, key) pair of a stats statement; `at` is the index of the window's ask. */
interface StatsPair {
  at: number;
  keys: string[];
  window: TimeWindow;
  cap: number | undefined;
}

/** (window, key) pairs per statement: each is one index probe, and the arrays stay a few MB. */
const STATS_CHUNK = 5000;

/**
 * Stats rows for several windows at once, with the day sketches of the saturated keys loaded (through `cache`,
 * which must cover every window's days). Answer `i` maps joined keys to rows of `asks[i]`. All windows of a
 * family go in one statement per STATS_CHUNK (window, key) pairs: finalization asks a window per candidate start,
 * which cost three round trips each as one statement per window.
 */
async function statsWithSketches<R extends StatsRow>(
  ex: Executor,
  f: Family,
  asks: readonly StatsAsk[],
  keyOf: (r: R) => string[],
  cache: SketchCache,
  extraCols = '',
): Promise<{ rows: Map<string, R>[]; sketches: Map<string, DaySketches> }> {
  const flat: StatsPair[] = [];
  for (const [at, a] of asks.entries()) for (const keys of a.keys) flat.push({ at, keys, window: a.window, cap: a.cap });
  const rows = asks.map(() => new Map<string, R>());
  const saturated = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += STATS_CHUNK) {
    for (const r of await stats<R>(ex, f, flat.slice(i, i + STATS_CHUNK), extraCols)) {
      const keys = keyOf(r);
      const k = joinKey(keys);
      rows[r.at]!.set(k, r);
      if (r.saturated) saturated.set(k, keys);
    }
  }
  const sketches = await loadSketches(ex, f, [...saturated.values()], cache);
  return { rows, sketches };
}

async function stats<R extends StatsRow>(ex: Executor, f: Family, asks: readonly StatsPair[], extraCols = ''): Promise<(R & { at: number })[]> {
  const n = f.keyCols.length;
  const keyArrays = f.keyCols.map((_, i) => `$${i + 2}::text[]`).join(', ');
  const keyList = f.keyCols.join(', ');
  const hostJoin = f.keyCols.map((c) => `h.${c} = k.${c}`).join(' AND ');
  const keyJoin = f.keyCols.map((c) => `k.${c} = w.${c}`).join(' AND ');
  const params: unknown[] = [asks.map((a) => a.at), ...f.keyCols.map((_, i) => asks.map((a) => a.keys[i]))];
  params.push(
    asks.map((a) => a.window.from),
    asks.map((a) => a.window.to),
    // a negative cap is none, as on SQLite (PostgreSQL refuses a negative LIMIT)
    asks.map((a) => (a.cap === undefined || a.cap < 0 ? null : a.cap)),
  );
  // LIMIT NULL = no limit; with a cap a very common key costs O(cap) rows, not O(fleet)
  return ex.q<R & { at: number }>(
    'read',
    `SELECT w.at, ${f.keyCols.map((c) => `k.${c}`).join(', ')}, k.first_seen, k.last_seen, k.saturated, k.host_count, k.sketch_from ${extraCols},
       c.n AS exact, c.last AS window_last
     FROM (SELECT DISTINCT * FROM unnest($1::int[], ${keyArrays}, $${n + 2}::bigint[], $${n + 3}::bigint[], $${n + 4}::int[]) AS w0(at, ${keyList}, wfrom, wto, cap)) AS w
     JOIN ${f.keyTable} k ON ${keyJoin}
     CROSS JOIN LATERAL (
       SELECT count(*) AS n, max(x.last_seen) AS last FROM (
         SELECT h.last_seen FROM ${f.hostTable} h
         WHERE ${hostJoin} AND h.first_seen <= w.wto AND h.last_seen >= w.wfrom AND NOT k.saturated
         LIMIT w.cap
       ) x
     ) c`,
    params,
  );
}

async function hostSpans(ex: Executor, f: Family, keys: string[], window: TimeWindow, limit: number): Promise<HostSpan[]> {
  const n = f.keyCols.length;
  const where = f.keyCols.map((c, i) => `${c} = $${i + 1}`).join(' AND ');
  const rows = await ex.q<{ host_id: string; first_seen: number; last_seen: number }>(
    'read',
    `SELECT host_id, first_seen, last_seen FROM ${f.hostTable}
     WHERE ${where} AND first_seen <= $${n + 2} AND last_seen >= $${n + 1}
     ORDER BY first_seen, host_id COLLATE "C" LIMIT $${n + 3}`,
    [...keys, window.from, window.to, limit],
  );
  return rows.map((r) => ({ hostId: r.host_id, firstSeen: r.first_seen, lastSeen: r.last_seen }));
}

/**
 * `AND` the row's key is one of `keys`, the keys as parameters from `$first` on (one text array per key column), and
 * those parameters; nothing and none for every key (`keys` undefined). The first column as `= ANY(array)`, which
 * reads just those keys through the primary key (`IN (SELECT unnest …)` was planned as a hash join over the whole
 * table, once per slice); a pair's whole key is then checked against the listed tuples.
 */
function keyFilter(f: Family, alias: string, keys: readonly string[][] | undefined, first: number): { sql: string; params: unknown[] } {
  if (keys === undefined) return { sql: '', params: [] };
  const arrays = f.keyCols.map((_, i) => `$${first + i}::text[]`);
  let sql = ` AND ${alias}.${f.keyCols[0]} = ANY(${arrays[0]})`;
  if (f.keyCols.length > 1) sql += ` AND (${f.keyCols.map((c) => `${alias}.${c}`).join(', ')}) IN (SELECT * FROM unnest(${arrays.join(', ')}))`;
  return { sql, params: f.keyCols.map((_, i) => keys.map((k) => k[i])) };
}

/** A family's keys of `refs` as key-column tuples (f.keyCols order). */
function familyKeys(f: Family, refs: readonly PrevalenceKeyRef[]): string[][] {
  const byFamily = keyRefsByFamily(refs);
  if (f === DEST) return byFamily.destinations.map((k) => [k]);
  if (f === PAIR) return byFamily.pairs.map((p) => [p.key, p.identity]);
  return byFamily.apps.map((i) => [i]);
}

/** A row of a family's key columns and `rows` as a PrevalenceKeyRef. */
function keyRef(f: Family, r: Record<string, unknown>): PrevalenceKeyRef {
  const rows = Number(r.rows);
  if (f === DEST) return { family: 'destinations', key: r.dest_key as string, rows };
  if (f === PAIR) return { family: 'pairs', identity: r.identity as string, key: r.dest_key as string, rows };
  return { family: 'apps', identity: r.identity as string, rows };
}

/**
 * The keys (and their host counts) with `threshold` ($3) hosts or more in the window [$1, $2], host rows aliased `h`
 * for `filter` (keyFilter's, from $4 on): what compactFamily saturates and commonFamilyKeys lists, so the list is
 * the plan compaction carries out.
 */
function countedHosts(f: Family, filter = ''): string {
  const keyList = f.keyCols.join(', ');
  return `SELECT ${keyList}, count(*) AS hosts FROM ${f.hostTable} h
       WHERE first_seen <= $2 AND last_seen >= $1${filter} GROUP BY ${keyList} HAVING count(*) >= $3`;
}

/**
 * Saturate every key (of `keys`, when given) whose host count in the window reached the threshold, then fold their
 * host rows into their day sketches (each span no further back than `floor`, compactionFloor) and drop them. (Host
 * rows of a key saturated earlier cannot appear: observe skips them in the statement that reads the flag, and the
 * rollup runs alone. Any that an instance not yet upgraded wrote are ignored by the reads and expire with the window.)
 */
async function compactFamily(ex: Executor, chunk: number, f: Family, threshold: number, window: TimeWindow, floor: number, keys?: readonly string[][]): Promise<number> {
  if (keys?.length === 0) return 0;
  const keyList = f.keyCols.join(', ');
  const joinC = f.keyCols.map((c) => `k.${c} = c.${c}`).join(' AND ');
  const only = keyFilter(f, 'h', keys, 4);
  const onlyK = keyFilter(f, 'k', keys, 4);
  const saturated = await ex.q<Record<string, string>>(
    'write',
    `WITH counted AS (${countedHosts(f, only.sql)})
     UPDATE ${f.keyTable} k SET saturated = TRUE, host_count = GREATEST(k.host_count, c.hosts) FROM counted c
     WHERE ${joinC} AND NOT k.saturated${onlyK.sql} RETURNING ${f.keyCols.map((c) => `k.${c}`).join(', ')}`,
    [window.from, window.to, threshold, ...only.params],
  );
  if (!saturated.length) return 0;
  const updates = new SketchUpdates<string>({ floorTime: floor, strideDays: (window.to - window.from) / 86_400 });
  for (const part of chunks(saturated, chunk)) {
    const dropped = await ex.q<Record<string, unknown> & { host_id: string; first_seen: number; last_seen: number }>(
      'write',
      `DELETE FROM ${f.hostTable} h USING unnest(${f.keyCols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS s(${keyList})
       WHERE ${f.keyCols.map((c) => `h.${c} = s.${c}`).join(' AND ')} AND h.${f.keyCols[0]} = ANY($1::text[])
       RETURNING ${f.keyCols.map((c) => `h.${c}`).join(', ')}, h.host_id, h.first_seen, h.last_seen`,
      f.keyCols.map((c) => part.map((r) => r[c])),
    );
    for (const r of dropped) updates.addSighting(joinKey(f.keyCols.map((c) => r[c] as string)), r.host_id, r.first_seen, r.last_seen);
  }
  if (updates.size) await mergeSketches(ex, chunk, f, updates);
  return saturated.length;
}

/** The keys compactFamily would saturate now, with their host counts in the window. */
async function commonFamilyKeys(ex: Executor, f: Family, threshold: number, window: TimeWindow): Promise<PrevalenceKeyRef[]> {
  const rows = await ex.q<Record<string, unknown>>(
    'read',
    `SELECT ${f.keyCols.map((c) => `k.${c}`).join(', ')}, c.hosts AS rows FROM (${countedHosts(f)}) c JOIN ${f.keyTable} k ON ${f.keyCols.map((c) => `k.${c} = c.${c}`).join(' AND ')}
     WHERE NOT k.saturated ORDER BY ${f.keyCols.map((c) => `k.${c} COLLATE "C"`).join(', ')}`,
    [window.from, window.to, threshold],
  );
  return rows.map((r) => keyRef(f, r));
}

/** The keys expireFamily would change now, with how many of their host rows it drops. */
async function expirableFamilyKeys(ex: Executor, f: Family, before: number, sketchesBefore: number): Promise<PrevalenceKeyRef[]> {
  const keyList = f.keyCols.join(', ');
  const rows = await ex.q<Record<string, unknown>>(
    'read',
    `SELECT ${keyList}, sum(n)::bigint AS rows FROM (
       SELECT ${keyList}, count(*) AS n FROM ${f.hostTable} WHERE last_seen < $1 GROUP BY ${keyList}
       UNION ALL SELECT ${keyList}, 0 FROM ${f.keyTable} WHERE last_seen < $1
       UNION ALL SELECT DISTINCT ${keyList}, 0 FROM ${f.sketchTable} WHERE day < $2
     ) x GROUP BY ${keyList} ORDER BY ${f.keyCols.map((c) => `${c} COLLATE "C"`).join(', ')}`,
    [before, sketchDay(sketchesBefore)],
  );
  return rows.map((r) => keyRef(f, r));
}

async function expireFamily(ex: Executor, f: Family, before: number, sketchesBefore: number, keys?: readonly string[][]): Promise<number> {
  if (keys?.length === 0) return 0;
  const only = (alias: string) => keyFilter(f, alias, keys, 2);
  const h = only('h');
  await ex.q('write', `DELETE FROM ${f.hostTable} h WHERE h.last_seen < $1${h.sql}`, [before, ...h.params]);
  // whole days before the sketches' horizon, then every sketch of a key about to go (its last day may be today)
  const s = only('s');
  await ex.q('write', `DELETE FROM ${f.sketchTable} s WHERE s.day < $1${s.sql}`, [sketchDay(sketchesBefore), ...s.params]);
  const k = only('k');
  await ex.q(
    'write',
    `DELETE FROM ${f.sketchTable} s USING ${f.keyTable} k WHERE ${f.keyCols.map((c) => `s.${c} = k.${c}`).join(' AND ')} AND k.last_seen < $1${k.sql}`,
    [before, ...k.params],
  );
  // a key's last_seen is the max over its sightings, so no host row of a remaining key is older
  const rows = await ex.q<{ n: number }>('write', `WITH d AS (DELETE FROM ${f.keyTable} k WHERE k.last_seen < $1${k.sql} RETURNING 1) SELECT count(*) AS n FROM d`, [before, ...k.params]);
  return rows[0]?.n ?? 0;
}

function prevalenceRepo(ex: Executor, chunk: number, sketchRows: SketchRowCache): PrevalenceRepo {
  /** One window's question: the keys of a family, the window, the cap of each count. */
  type Ask<K> = { keys: readonly K[]; window: TimeWindow; countCap?: number };
  const cacheFor = (asks: readonly { window: TimeWindow }[]): SketchCache => ({ days: sketchDaysOf(asks.map((a) => a.window)), byKey: new Map(), rows: sketchRows });

  async function destinationStats(asks: readonly Ask<string>[]): Promise<Map<string, PrevalenceStats>[]> {
    const { rows, sketches } = await statsWithSketches<StatsRow & { dest_key: string }>(ex, DEST, asks.map((a) => ({ keys: a.keys.map((k) => [k]), window: a.window, cap: a.countCap })), (r) => [r.dest_key], cacheFor(asks));
    return asks.map((a, i) => new Map(a.keys.map((k) => [k, toStats(rows[i]!.get(k), a.window, sketches.get(k))])));
  }
  async function pairStats(asks: readonly Ask<{ identity: string; key: string }>[]): Promise<Map<string, PrevalenceStats>[]> {
    type PairRow = StatsRow & { dest_key: string; identity: string };
    const { rows, sketches } = await statsWithSketches<PairRow>(ex, PAIR, asks.map((a) => ({ keys: a.keys.map((p) => [p.key, p.identity]), window: a.window, cap: a.countCap })), (r) => [r.dest_key, r.identity], cacheFor(asks));
    return asks.map((a, i) => {
      const out = new Map<string, PrevalenceStats>();
      for (const p of a.keys) {
        const k = joinKey([p.key, p.identity]);
        out.set(pairKey(p.identity, p.key), toStats(rows[i]!.get(k), a.window, sketches.get(k)));
      }
      return out;
    });
  }
  async function appStats(asks: readonly Ask<string>[]): Promise<Map<string, AppStats>[]> {
    type AppRow = StatsRow & { identity: string; path: string; signature_class: string; team_id: string; signing_id: string; cdhash: string };
    const extra = ', k.path, k.signature_class, k.team_id, k.signing_id, k.cdhash';
    const { rows, sketches } = await statsWithSketches<AppRow>(ex, APP, asks.map((a) => ({ keys: a.keys.map((i) => [i]), window: a.window, cap: a.countCap })), (r) => [r.identity], cacheFor(asks), extra);
    return asks.map((a, i) => {
      const out = new Map<string, AppStats>();
      for (const id of a.keys) {
        const r = rows[i]!.get(id);
        out.set(id, {
          ...toStats(r, a.window, sketches.get(id)),
          path: r?.path ?? '',
          signatureClass: r?.signature_class ?? '',
          teamId: r?.team_id ?? '',
          signingId: r?.signing_id ?? '',
          cdhash: r?.cdhash ?? '',
        });
      }
      return out;
    });
  }
  const repo: PrevalenceRepo = {
    async observeDestinations(rows: readonly DestinationSighting[], opts?: ObserveOptions) {
      if (!rows.length) return;
      await ex.atomic((t) => observe(t, chunk, DEST, rows.map((r) => ({ keys: [r.key], hostId: r.hostId, firstSeen: r.firstSeen, lastSeen: r.lastSeen })), opts));
    },
    async observePairs(rows: readonly PairSighting[], opts?: ObserveOptions) {
      if (!rows.length) return;
      await ex.atomic((t) => observe(t, chunk, PAIR, rows.map((r) => ({ keys: [r.key, r.identity], hostId: r.hostId, firstSeen: r.firstSeen, lastSeen: r.lastSeen })), opts));
    },
    async observeApps(rows: readonly AppSighting[], opts?: ObserveOptions) {
      if (!rows.length) return;
      await ex.atomic(async (t) => {
        await observe(t, chunk, APP, rows.map((r) => ({ keys: [r.identity], hostId: r.hostId, firstSeen: r.firstSeen, lastSeen: r.lastSeen })), opts);
        // Attributes: per identity and per attribute, the newest non-empty value wins (foldAppAttributes; SET sees
        // the row as it was, so a value and its time are decided by the same comparison).
        const attrs = mergeAppAttributes(rows);
        const list = [...attrs.entries()].sort((a, b) => compareText(a[0], b[0]));
        const wins = (col: string, u: string) => `(u.${u} <> '' AND (u.${u}_t > a.${col}_time OR (u.${u}_t = a.${col}_time AND u.${u} COLLATE "C" > a.${col} COLLATE "C")))`;
        const pick = (col: string, u: string) =>
          `${col} = CASE WHEN ${wins(col, u)} THEN u.${u} ELSE a.${col} END, ${col}_time = CASE WHEN ${wins(col, u)} THEN u.${u}_t ELSE a.${col}_time END`;
        for (const part of chunks(list, chunk)) {
          await t.q(
            'write',
            `UPDATE apps a SET
               ${pick('path', 'path')}, ${pick('signature_class', 'sc')}, ${pick('team_id', 'team')}, ${pick('signing_id', 'sid')}, ${pick('cdhash', 'cd')},
               attrs_time = GREATEST(a.attrs_time, u.path_t, u.sc_t, u.team_t, u.sid_t, u.cd_t)
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::text[], $9::bigint[], $10::text[], $11::bigint[])
               AS u(identity, path, path_t, sc, sc_t, team, team_t, sid, sid_t, cd, cd_t)
             WHERE a.identity = u.identity`,
            [
              part.map(([k]) => k),
              part.map(([, a]) => a.path),
              part.map(([, a]) => a.times.path),
              part.map(([, a]) => a.signatureClass),
              part.map(([, a]) => a.times.signatureClass),
              part.map(([, a]) => a.teamId),
              part.map(([, a]) => a.times.teamId),
              part.map(([, a]) => a.signingId),
              part.map(([, a]) => a.times.signingId),
              part.map(([, a]) => a.cdhash),
              part.map(([, a]) => a.times.cdhash),
            ],
          );
        }
      });
    },
    destinations: async (keys, window, countCap) => (await destinationStats([{ keys, window, countCap }]))[0]!,
    pairs: async (pairs, window, countCap) => (await pairStats([{ keys: pairs, window, countCap }]))[0]!,
    apps: async (identities, window, countCap) => (await appStats([{ keys: identities, window, countCap }]))[0]!,
    async statsMany(requests) {
      // Every window of a family in one set-based statement (per STATS_CHUNK pairs); the day sketches of
      // saturated keys are read once for the whole call (finalization asks many windows of the same hot keys).
      const destinations = await destinationStats(requests.map((r) => ({ keys: r.destinations, window: r.window, countCap: r.countCap })));
      const pairs = await pairStats(requests.map((r) => ({ keys: r.pairs, window: r.window, countCap: r.countCap })));
      const apps = await appStats(requests.map((r) => ({ keys: r.apps, window: r.window, countCap: r.countCap })));
      return requests.map((_, i): PrevalenceAnswer => ({ destinations: destinations[i]!, pairs: pairs[i]!, apps: apps[i]! }));
    },
    destinationHosts: (key, window, limit) => hostSpans(ex, DEST, [key], window, limit),
    appHosts: (identity, window, limit) => hostSpans(ex, APP, [identity], window, limit),
    async compact(threshold, window, opts): Promise<CompactionResult> {
      const floor = compactionFloor(window, opts);
      const keys = (f: Family) => (opts?.keys ? familyKeys(f, opts.keys) : undefined);
      return ex.atomic(async (t) => ({
        destinations: await compactFamily(t, chunk, DEST, threshold, window, floor, keys(DEST)),
        pairs: await compactFamily(t, chunk, PAIR, threshold, window, floor, keys(PAIR)),
        apps: await compactFamily(t, chunk, APP, threshold, window, floor, keys(APP)),
      }));
    },
    async expire(before, opts): Promise<CompactionResult> {
      const sketchesBefore = opts?.sketchesBefore ?? before;
      const keys = (f: Family) => (opts?.keys ? familyKeys(f, opts.keys) : undefined);
      return ex.atomic(async (t) => {
        await t.q('write', `INSERT INTO store_meta (name, value) VALUES ('${KEPT_FROM_META}', $1) ON CONFLICT (name) DO UPDATE SET value = greatest(store_meta.value, excluded.value)`, [before]);
        return {
          destinations: await expireFamily(t, DEST, before, sketchesBefore, keys(DEST)),
          pairs: await expireFamily(t, PAIR, before, sketchesBefore, keys(PAIR)),
          apps: await expireFamily(t, APP, before, sketchesBefore, keys(APP)),
        };
      });
    },
    async commonKeys(threshold, window) {
      return [...(await commonFamilyKeys(ex, DEST, threshold, window)), ...(await commonFamilyKeys(ex, PAIR, threshold, window)), ...(await commonFamilyKeys(ex, APP, threshold, window))];
    },
    async expirableKeys(before, opts) {
      const sketchesBefore = opts?.sketchesBefore ?? before;
      return [
        ...(await expirableFamilyKeys(ex, DEST, before, sketchesBefore)),
        ...(await expirableFamilyKeys(ex, PAIR, before, sketchesBefore)),
        ...(await expirableFamilyKeys(ex, APP, before, sketchesBefore)),
      ];
    },
    async keptFrom() {
      const rows = await ex.q<{ value: string }>('read', `SELECT value::text AS value FROM store_meta WHERE name = '${KEPT_FROM_META}'`);
      return rows[0] ? Number(rows[0].value) : null;
    },
  };
  return repo;
}

// ─── candidates ────────────────────────────────────────────────────────────────────────────────

interface CandidateRow {
  id: string;
  host_id: string;
  event_time: number;
  bytes_out: number;
  destination_key: string;
  body: string;
  status: 'pending' | 'finalized';
  detection_id: string | null;
  counted_bytes_out: number;
  counted_bytes_in: number;
  due_time: number | null;
}

function toStored(r: CandidateRow): StoredCandidate & { version: CandidateVersion } {
  return {
    id: r.id,
    hostId: r.host_id,
    eventTime: r.event_time,
    destinationKey: r.destination_key,
    candidate: JSON.parse(r.body) as EgressCandidate,
    status: r.status,
    detectionId: r.detection_id,
    countedBytesOut: r.counted_bytes_out,
    countedBytesIn: r.counted_bytes_in,
    version: { eventTime: r.event_time, bytesOut: r.bytes_out, digest: candidateBodyDigest(r.body) },
    dueTime: Math.min(r.event_time, r.due_time ?? r.event_time),
  };
}

/**
 * Which version of each candidate this store instance handed out through `pendingUpTo` (event time, bytes
 * out, body digest). Finalization reads candidates, judges them, then marks them in a transaction; if the
 * row changed in between (a newer version ingested by another instance, or another finalizer), marking
 * would finalize a version nobody judged. Bounded: entries leave when marked, and the map is capped.
 */
type JudgedVersions = Map<string, { eventTime: number; bytesOut: number; digest: string; read: { detectionId: string | null; countedBytesOut: number; countedBytesIn: number } }>;
const JUDGED_CAP = 200_000;

/**
 * When a version dated `t` is due: at its report, or, after a judgement (the version dated `judged`) that folded the
 * flow into a detection (`detection`), no earlier than that judged version plus the hold.
 */
const dueAfterJudged = (t: string, judged: string, detection: string, hold: string) =>
  `CASE WHEN ${judged} IS NULL OR ${detection} IS NULL THEN ${t} ELSE GREATEST(${t}, ${judged} + ${hold}) END`;

/** When a version reported to a row is due (upsertPending's ON CONFLICT). */
const REPORT_DUE = dueAfterJudged('EXCLUDED.event_time', 'c.judged_time', 'c.detection_id', 'EXCLUDED.rejudge_hold');

/**
 * The hold of the version a row holds (markFinalized's fold). A release before 0012 replaces a row without writing
 * rejudge_hold, so during a rolling upgrade the column can still be an older open version's: a closing report (the
 * body says closed) has none whatever it says.
 */
const ROW_HOLD = `CASE WHEN c.body::jsonb ->> 'closed' = '1' THEN 0 ELSE coalesce(c.rejudge_hold, 0) END`;

function candidatesRepo(ex: Executor, chunk: number, judged: JudgedVersions): CandidatesRepo {
  return {
    async upsertPending(rows: readonly CandidateInput[]) {
      // Newest version per id: greater eventTime, or equal eventTime with more bytes out; remaining ties
      // break on the body text (as the SQL below does), so arrival order never matters.
      const best = new Map<string, { r: CandidateInput; body: string }>();
      /**
       * Per candidate, the times of its versions in this batch: an older version reported late still dates when a pending
       * row is due, the earliest of them newer than the version last judged (a late copy of a judged one does not).
       */
      const reports = new Map<string, Map<number, number>>();
      for (const r of rows) {
        const id = candidateId(r);
        const body = JSON.stringify(r.candidate);
        const hold = r.rejudgeHold ?? 0;
        const times = reports.get(id);
        // per event time the shortest hold: the version due first
        if (times === undefined) reports.set(id, new Map([[r.eventTime, hold]]));
        else times.set(r.eventTime, Math.min(hold, times.get(r.eventTime) ?? hold));
        const cur = best.get(id);
        const c = cur?.r;
        if (
          !c ||
          r.eventTime > c.eventTime ||
          (r.eventTime === c.eventTime && r.candidate.bytes_out > c.candidate.bytes_out) ||
          (r.eventTime === c.eventTime && r.candidate.bytes_out === c.candidate.bytes_out && compareText(body, cur.body) > 0)
        ) {
          best.set(id, { r, body });
        }
      }
      const list = [...best.entries()].sort((a, b) => compareText(a[0], b[0])).map(([id, v]) => [id, v.r, v.body] as const);
      let pending = 0;
      for (const part of chunks(list, chunk)) {
        const rowsOut = await ex.q<{ id: string }>(
          'write',
          `INSERT INTO candidates AS c (host_id, id, event_time, destination_key, bytes_out, body, status, due_time, rejudge_hold)
           SELECT u.host_id, u.id, u.event_time, u.destination_key, u.bytes_out, u.body, 'pending', u.event_time, u.hold
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bigint[]) AS u(host_id, id, event_time, destination_key, bytes_out, body, hold)
           ON CONFLICT (host_id, id) DO UPDATE SET
             event_time = EXCLUDED.event_time, destination_key = EXCLUDED.destination_key,
             bytes_out = EXCLUDED.bytes_out, body = EXCLUDED.body, status = 'pending', rejudge_hold = EXCLUDED.rejudge_hold,
             -- a still-pending row stays due at its earliest unjudged report (see CandidatesRepo.pendingUpTo); after a
             -- judgement that folded the flow into a detection, no earlier than the judged version plus the hold
             due_time = CASE WHEN c.status = 'pending' THEN LEAST(coalesce(c.due_time, c.event_time), ${REPORT_DUE}) ELSE ${REPORT_DUE} END
           WHERE EXCLUDED.event_time > c.event_time
              OR (EXCLUDED.event_time = c.event_time AND EXCLUDED.bytes_out > c.bytes_out)
              OR (EXCLUDED.event_time = c.event_time AND EXCLUDED.bytes_out = c.bytes_out AND EXCLUDED.body COLLATE "C" > c.body COLLATE "C")
           RETURNING c.id`,
          [
            part.map(([, r]) => r.hostId),
            part.map(([id]) => id),
            part.map(([, r]) => r.eventTime),
            part.map(([, r]) => r.destinationKey),
            part.map(([, r]) => r.candidate.bytes_out),
            part.map(([, , body]) => body),
            part.map(([, r]) => r.rejudgeHold ?? 0),
          ],
        );
        pending += rowsOut.length;
        // A candidate whose one version of the batch was stored has the due time the upsert gave it already (the common
        // case: no statement more); one with several versions, or one the upsert did not store, may date it earlier.
        const stored = new Set(rowsOut.map((o) => o.id));
        // (or one stored with a hold longer than another version of its time: as on SQLite, that one dates it)
        const revisit = part.filter(([id, r]) => reports.get(id)!.size > 1 || !stored.has(id) || reports.get(id)!.get(r.eventTime) !== (r.rejudgeHold ?? 0));
        if (!revisit.length) continue;
        await ex.q(
          'write',
          `UPDATE candidates AS c SET due_time = v.due
           FROM (SELECT u.host_id, u.id,
                   min(${dueAfterJudged('u.t', 'j.judged_time', 'j.detection_id', 'u.hold')}) AS due
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS u(host_id, id, t, hold)
                 JOIN candidates j ON j.host_id = u.host_id AND j.id = u.id
                 WHERE j.judged_time IS NULL OR j.judged_time < u.t
                 GROUP BY u.host_id, u.id) AS v
           WHERE c.host_id = v.host_id AND c.id = v.id AND c.status = 'pending' AND coalesce(c.due_time, c.event_time) > v.due`,
          [
            revisit.flatMap(([id, r]) => [...reports.get(id)!].map(() => r.hostId)),
            revisit.flatMap(([id]) => [...reports.get(id)!].map(() => id)),
            revisit.flatMap(([id]) => [...reports.get(id)!.keys()]),
            revisit.flatMap(([id]) => [...reports.get(id)!.values()]),
          ],
        );
      }
      return pending;
    },
    async pendingUpTo(cutoff, limit, opts) {
      // Inside a transaction (finalization) the rows stay locked until commit; a racing finalizer on
      // another instance skips them instead of finalizing the same flow twice.
      const lock = ex.inTransaction ? 'FOR UPDATE SKIP LOCKED' : '';
      // (the flush's condition only in a flush: the minutely run's query keeps its plan)
      const reported = opts?.reportedUpTo;
      const rows = await ex.q<CandidateRow>(
        'read',
        `SELECT id, host_id, event_time, destination_key, bytes_out, body, status, detection_id, counted_bytes_out, counted_bytes_in, due_time
         FROM candidates WHERE status = 'pending' AND ${reported === undefined ? 'coalesce(due_time, event_time) <= $1' : '(coalesce(due_time, event_time) <= $1 OR event_time <= $3)'}
         ORDER BY event_time, id COLLATE "C" LIMIT $2 ${lock}`,
        reported === undefined ? [cutoff, limit] : [cutoff, limit, reported],
      );
      if (judged.size + rows.length > JUDGED_CAP) judged.clear();
      // the version each candidate is judged on is the one it is handed with: its body hashed once, not again here
      const stored = rows.map(toStored);
      // with what the row had counted when read: a row no other finalizer has marked since still has it (markRound)
      for (const c of stored) judged.set(c.id, { ...c.version, read: { detectionId: c.detectionId, countedBytesOut: c.countedBytesOut, countedBytesIn: c.countedBytesIn } });
      return stored;
    },
    async countPending() {
      const rows = await ex.q<{ n: number }>('read', `SELECT count(*) AS n FROM candidates WHERE status = 'pending'`);
      return rows[0]?.n ?? 0;
    },
    async markFinalized(outcomes: readonly CandidateOutcome[]) {
      // In a transaction the last outcome per id counts (finalization sends one). A direct call applies them in order,
      // as SQLite does: the n-th outcome for an id in the n-th round.
      const rounds = ex.inTransaction ? [[...new Map(outcomes.map((o) => [o.id, o])).values()]] : inOrderRounds(outcomes);
      for (const round of rounds) await markRound(round.sort((a, b) => compareText(a.id, b.id)));
    },
    async expire(before) {
      // a detection's key is (host_id, id), the host its candidates' own
      const rows = await ex.q<{ n: number }>(
        'write',
        `WITH d AS (DELETE FROM candidates c WHERE c.status = 'finalized' AND c.event_time < $1
           AND (c.detection_id IS NULL OR NOT EXISTS (SELECT 1 FROM detections x WHERE x.host_id = c.host_id AND x.id = c.detection_id)) RETURNING 1)
         SELECT count(*) AS n FROM d`,
        [before],
      );
      return rows[0]?.n ?? 0;
    },
  };

  async function markRound(list: readonly CandidateOutcome[]): Promise<void> {
    for (const part of chunks(list, chunk)) {
      // an outcome without a version finalizes whatever version the row is (store.ts); finalization's own calls, in a
      // transaction, name the version pendingUpTo handed out
      const versions = part.map((o) => (ex.inTransaction ? (o.version ?? judged.get(o.id)) : o.version));
      // Inside a transaction (finalization: detections + outcomes) only rows still pending AND still the
      // version that was judged are marked. Otherwise another instance changed them meanwhile (a second
      // finalizer after a lost job lock, or a newer version ingested): our detections were computed from
      // stale candidates, so fail and let the whole transaction — detection upserts included — roll back
      // instead of folding flows in twice or finalizing a version nobody judged.
      // Outside a transaction (a direct call) there is nothing to roll back: as on SQLite, a newer version is left
      // pending with the fold recorded on it (below).
      const judgedVersion = `(u.et IS NULL OR (c.event_time = u.et AND c.bytes_out = u.bo AND encode(sha256(convert_to(c.body, 'UTF8')), 'hex') = u.digest))`;
      const guard = ex.inTransaction ? `AND c.status = 'pending' AND ${judgedVersion}` : `AND ${judgedVersion}`;
      const rows = await ex.q<{ id: string }>(
        'write',
        `UPDATE candidates c SET status = 'finalized', detection_id = u.detection_id,
           counted_bytes_out = u.out, counted_bytes_in = u.inn, branch = u.branch, judged_time = c.event_time
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[])
           AS u(id, detection_id, out, inn, branch, et, bo, digest)
         WHERE c.id = u.id ${guard}
         RETURNING c.id`,
        [
          part.map((o) => o.id),
          part.map((o) => o.detectionId),
          part.map((o) => o.countedBytesOut),
          part.map((o) => o.countedBytesIn),
          part.map((o) => o.branch),
          versions.map((v) => v?.eventTime ?? null),
          versions.map((v) => v?.bytesOut ?? null),
          versions.map((v) => v?.digest ?? null),
        ],
      );
      if (!ex.inTransaction && rows.length < part.length) {
        const marked = new Set(rows.map((r) => r.id));
        const changed = part.filter((o) => !marked.has(o.id));
        // the detection already holds the judged version's bytes: the newer version adds only its delta when judged
        await ex.q(
          'write',
          `UPDATE candidates c SET detection_id = u.detection_id, counted_bytes_out = u.out, counted_bytes_in = u.inn, judged_time = u.et,
             due_time = CASE WHEN u.et IS NULL THEN c.due_time ELSE ${dueAfterJudged('c.event_time', 'u.et', 'u.detection_id', ROW_HOLD)} END
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, detection_id, out, inn, et)
           WHERE c.id = u.id AND c.status = 'pending'`,
          [changed.map((o) => o.id), changed.map((o) => o.detectionId), changed.map((o) => o.countedBytesOut), changed.map((o) => o.countedBytesIn), changed.map((o) => o.version?.eventTime ?? null)],
        );
      }
      if (ex.inTransaction && rows.length < part.length) {
        // A row still pending and still counted as when this instance read it was changed by ingest alone (a newer
        // version: an open flow reported again while it was judged), not by another finalizer: as on SQLite, the newer
        // version stays pending and takes over the fold this batch commits. Anything else rolls the batch back.
        const marked = new Set(rows.map((r) => r.id));
        const changed = part.filter((o) => !marked.has(o.id) && judged.has(o.id));
        const folded = changed.length
          ? await ex.q<{ id: string }>(
              'write',
              `UPDATE candidates c SET detection_id = u.detection_id, counted_bytes_out = u.out, counted_bytes_in = u.inn, judged_time = u.et,
                 -- due at its own report now (its due time was the judged version's or older), as when it arrives after
                 -- (no earlier than its hold past the judged version when that one fired)
                 due_time = ${dueAfterJudged('c.event_time', 'u.et', 'u.detection_id', ROW_HOLD)}
               FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])
                 AS u(id, detection_id, out, inn, read_detection, read_out, read_in, et)
               WHERE c.id = u.id AND c.status = 'pending' AND c.detection_id IS NOT DISTINCT FROM u.read_detection
                 AND c.counted_bytes_out = u.read_out AND c.counted_bytes_in = u.read_in
               RETURNING c.id`,
              [
                changed.map((o) => o.id),
                changed.map((o) => o.detectionId),
                changed.map((o) => o.countedBytesOut),
                changed.map((o) => o.countedBytesIn),
                changed.map((o) => judged.get(o.id)!.read.detectionId),
                changed.map((o) => judged.get(o.id)!.read.countedBytesOut),
                changed.map((o) => judged.get(o.id)!.read.countedBytesIn),
                changed.map((o) => judged.get(o.id)!.eventTime),
              ],
            )
          : [];
        const exists = await ex.q<{ n: number }>('read', `SELECT count(*) AS n FROM candidates WHERE id = ANY($1::text[])`, [part.map((o) => o.id)]);
        if ((exists[0]?.n ?? 0) > rows.length + folded.length) {
          throw new StoreError(
            'STORE_WRITE',
            `${(exists[0]?.n ?? 0) - rows.length} candidates were finalized concurrently or changed since they were judged; this finalization batch is rolled back`,
            'harmless: the next finalize run continues from the committed state',
          );
        }
      }
      // forget what was marked (a rolled-back batch is simply re-read, and re-recorded, next time)
      for (const o of part) judged.delete(o.id);
    }
  }
}

/** `outcomes` split so that each id is at most once a round and its outcomes keep their order across rounds. */
function inOrderRounds(outcomes: readonly CandidateOutcome[]): CandidateOutcome[][] {
  const rounds: CandidateOutcome[][] = [];
  const seen = new Map<string, number>();
  for (const o of outcomes) {
    const n = seen.get(o.id) ?? 0;
    seen.set(o.id, n + 1);
    (rounds[n] ??= []).push(o);
  }
  return rounds;
}

// ─── detections ────────────────────────────────────────────────────────────────────────────────

function detectionsRepo(ex: Executor, chunk: number): DetectionsRepo {
  return {
    async openBySuppressionKey(keys, since) {
      const out = new Map<string, Detection[]>();
      if (!keys.length) return out;
      const unique = [...new Set(keys)].sort(compareText);
      if (ex.inTransaction) {
        // Serialize finalizers per suppression key until commit; taken in sorted order (no deadlock).
        await ex.q('write', `SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(k)) FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C"`, [unique]);
      }
      const rows = await ex.q<{ suppression_key: string; body: string }>(
        'read',
        `SELECT suppression_key, body FROM detections
         WHERE suppression_key = ANY($1::text[]) AND created_at >= $2
         ORDER BY suppression_key, created_at, id COLLATE "C"`,
        [unique, since],
      );
      for (const r of rows) {
        const list = out.get(r.suppression_key);
        if (list) list.push(detectionFromBody(r.body));
        else out.set(r.suppression_key, [detectionFromBody(r.body)]);
      }
      return out;
    },
    /**
     * Takes the detection change counter's row lock to COMMIT (0002_detection_changes.sql): detection writers
     * go one transaction at a time. In a transaction, call it before taking other locks (it waits for the
     * counter while holding them).
     */
    async upsert(rows: readonly Detection[]) {
      const byId = new Map<string, Detection>();
      // validated like the SQLite backend: a malformed detection is a bug, never stored
      for (const d of rows) byId.set(d.id, DetectionSchema.parse(d));
      if (!byId.size) return;
      const list = [...byId.values()].sort((a, b) => compareText(a.id, b.id));
      await ex.atomic(async (tx) => {
        const counted = await tx.q<{ last: string }>('write', `UPDATE store_meta SET value = value + $1 WHERE name = '${CHANGE_COUNTER}' RETURNING value::text AS last`, [list.length]);
        if (!counted[0]) throw new StoreError('STORE_WRITE', 'postgres: the detection change counter is missing from store_meta', 'run the migrations (outflow fleet migrate) on this database');
        let next = BigInt(counted[0].last) - BigInt(list.length);
        for (const part of chunks(list, chunk)) {
          await tx.q(
            'write',
            `INSERT INTO detections AS d (host_id, id, suppression_key, analytic, created_at, first_seen, last_seen, body, change_seq, first_change_seq)
             SELECT u.host_id, u.id, u.sk, u.analytic, u.created_at, u.first_seen, u.last_seen, u.body, u.seq, u.seq
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::bigint[])
               AS u(host_id, id, sk, analytic, created_at, first_seen, last_seen, body, seq)
             ON CONFLICT (host_id, id) DO UPDATE SET suppression_key = EXCLUDED.suppression_key, analytic = EXCLUDED.analytic,
               created_at = EXCLUDED.created_at, first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen, body = EXCLUDED.body,
               change_seq = EXCLUDED.change_seq, first_change_seq = COALESCE(d.first_change_seq, d.change_seq)`,
            [
              part.map((d) => d.host_id),
              part.map((d) => d.id),
              part.map((d) => d.suppression_key),
              part.map((d) => d.analytic),
              part.map((d) => d.created_at),
              part.map((d) => d.first_seen),
              part.map((d) => d.last_seen),
              part.map((d) => JSON.stringify(d)),
              part.map(() => String(++next)),
            ],
          );
        }
      });
    },
    async get(id) {
      const rows = await ex.q<{ body: string }>('read', `SELECT body FROM detections WHERE id = $1 LIMIT 1`, [id]);
      return rows[0] ? detectionFromBody(rows[0].body) : null;
    },
    async latestChanges(ids) {
      const out = new Map<string, LatestChange>();
      for (const part of chunks([...new Set(ids)], chunk)) {
        const rows = await ex.q<{ id: string; created_at: string; seq: string }>(
          'read',
          `SELECT id, created_at::text AS created_at, change_seq::text AS seq FROM detections WHERE id = ANY($1::text[])`,
          [part],
        );
        for (const r of rows) out.set(r.id, { createdAt: Number(r.created_at), cursor: r.seq });
      }
      return out;
    },
    async list(query: DetectionQuery = {}) {
      const rows = await ex.q<{ body: string }>(
        'read',
        `SELECT body FROM (SELECT body, last_seen, id FROM detections
           WHERE ($1::bigint IS NULL OR last_seen >= $1) AND ($2::text IS NULL OR analytic = $2)
             AND ($3::text IS NULL OR lower(host_id COLLATE "C") = lower($3 COLLATE "C")
               OR host_id IN (SELECT h.host_id FROM hosts h WHERE lower(h.hostname COLLATE "C") = lower($3 COLLATE "C")))
           ORDER BY last_seen DESC, id COLLATE "C" DESC LIMIT $4) newest
         ORDER BY last_seen, id COLLATE "C"`,
        // an empty host or analytic is no filter, as on SQLite ('' would match every host without a hostname)
        [query.since ?? null, query.analytic || null, query.host || null, query.limit ?? 1000],
      );
      return rows.map((r) => detectionFromBody(r.body));
    },
    async countByAnalytic() {
      const rows = await ex.q<{ analytic: string; n: number }>('read', `SELECT analytic, count(*) AS n FROM detections GROUP BY analytic ORDER BY analytic`);
      return Object.fromEntries(rows.map((r) => [r.analytic, r.n]));
    },
    async expire(before) {
      const rows = await ex.q<{ n: number }>('write', `WITH d AS (DELETE FROM detections WHERE last_seen < $1 RETURNING 1) SELECT count(*) AS n FROM d`, [before]);
      return rows[0]?.n ?? 0;
    },
    async changedSince(after, limit) {
      const from = await changeSeq(ex, after);
      const rows = await ex.q<{ seq: string; first: string | null; body: string }>(
        'read',
        `SELECT d.change_seq::text AS seq, d.first_change_seq::text AS first, d.body FROM detections d WHERE d.change_seq > $1 ORDER BY d.change_seq LIMIT $2`,
        [from, limit],
      );
      return rows.map((r) => ({ cursor: r.seq, firstCursor: r.first ?? r.seq, detection: detectionFromBody(r.body) }));
    },
    async changeCursor() {
      const last = await changeCounter(ex);
      return last === '0' ? '' : last;
    },
    async countChangedSince(after) {
      const from = await changeSeq(ex, after);
      const rows = await ex.q<{ n: string }>('read', `SELECT count(*)::text AS n FROM detections WHERE change_seq > $1`, [from]);
      return Number(rows[0]?.n ?? 0);
    },
  };
}

/** The newest change number handed out (committed), as text. */
async function changeCounter(ex: Executor): Promise<string> {
  const rows = await ex.q<{ last: string }>('read', `SELECT value::text AS last FROM store_meta WHERE name = '${CHANGE_COUNTER}'`);
  return rows[0]?.last ?? '0';
}

/** A change cursor of this store as a number (text, for bigint). */
async function changeSeq(ex: Executor, cursor: string): Promise<string> {
  if (cursor === '') return '0';
  return String(changeSeqWithin('postgres', cursor, BigInt(await changeCounter(ex))));
}

// ─── quarantine, checkpoints ───────────────────────────────────────────────────────────────────

function quarantineRepo(ex: Executor, chunk: number): QuarantineRepo {
  return {
    async add(rows: readonly QuarantineRow[]) {
      for (const part of chunks(rows, chunk)) {
        await ex.q(
          'write',
          `INSERT INTO quarantine (received_at, source, reason, line)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])`,
          // PostgreSQL text cannot hold NUL; keep the rest of the line readable.
          [part.map((r) => r.receivedAt), part.map((r) => r.source.replace(/\0/g, '\\0')), part.map((r) => r.reason.replace(/\0/g, '\\0')), part.map((r) => r.line.replace(/\0/g, '\\0'))],
        );
      }
    },
    async count() {
      const rows = await ex.q<{ n: number }>('read', `SELECT count(*) AS n FROM quarantine`);
      return rows[0]?.n ?? 0;
    },
    async list(limit) {
      const rows = await ex.q<{ received_at: number; source: string; reason: string; line: string }>(
        'read',
        `SELECT received_at, source, reason, line FROM quarantine ORDER BY seq DESC LIMIT $1`,
        [limit],
      );
      return rows.map((r) => ({ receivedAt: r.received_at, source: r.source, reason: r.reason, line: r.line }));
    },
    async expire(before) {
      const rows = await ex.q<{ n: number }>('write', `WITH d AS (DELETE FROM quarantine WHERE received_at < $1 RETURNING 1) SELECT count(*) AS n FROM d`, [before]);
      return rows[0]?.n ?? 0;
    },
  };
}

function checkpointsRepo(ex: Executor): CheckpointsRepo {
  return {
    async get(sourceId) {
      const rows = await ex.q<{ checkpoint: string }>('read', `SELECT checkpoint FROM checkpoints WHERE source_id = $1`, [sourceId]);
      return rows[0] ? (JSON.parse(rows[0].checkpoint) as Checkpoint) : null;
    },
    async put(sourceId, checkpoint) {
      await ex.q(
        'write',
        `INSERT INTO checkpoints (source_id, checkpoint, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (source_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = now()`,
        [sourceId, JSON.stringify(checkpoint)],
      );
    },
    async putIfAbsent(sourceId, checkpoint) {
      // ON CONFLICT DO NOTHING waits for a concurrent insert of the same id to commit; the SELECT then reads it
      const inserted = await ex.q<{ checkpoint: string }>(
        'write',
        `INSERT INTO checkpoints (source_id, checkpoint, updated_at) VALUES ($1, $2, now()) ON CONFLICT (source_id) DO NOTHING RETURNING checkpoint`,
        [sourceId, JSON.stringify(checkpoint)],
      );
      if (inserted[0]) return JSON.parse(inserted[0].checkpoint) as Checkpoint;
      const rows = await ex.q<{ checkpoint: string }>('read', `SELECT checkpoint FROM checkpoints WHERE source_id = $1`, [sourceId]);
      return JSON.parse(rows[0]!.checkpoint) as Checkpoint;
    },
    async list() {
      const rows = await ex.q<{ source_id: string; checkpoint: string }>('read', `SELECT source_id, checkpoint FROM checkpoints ORDER BY source_id COLLATE "C"`);
      return rows.map((r) => ({ sourceId: r.source_id, checkpoint: JSON.parse(r.checkpoint) as Checkpoint }));
    },
  };
}

// ─── the store ─────────────────────────────────────────────────────────────────────────────────

/**
 * `postgres://user:secret@host:5432/db` → `postgres://host:5432/db` for logs and /healthz. The authority is read from
 * after the url's last '@': a password may hold an unencoded '/', '?' or '#', where a URL parser ends the authority
 * (`postgres://u:/secret@h` parses, with host u and the secret in its path).
 */
export function redactPostgresUrl(url: string): string {
  const typed = typedUserinfo(url);
  try {
    const u = new URL(typed ? typed.scheme + typed.rest : url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'postgres://(unparseable url)';
  }
}

/** Job-lock connections of one store (see PostgresStore.lockPool): more jobs at once wait for one. */
const JOB_LOCK_CONNECTIONS = 4;

/**
 * Set on every connection: the server probes an idle client after 30 s, every 10 s, and ends the session after 3
 * unanswered probes. An aggregator host that vanishes (power loss, a network cut: no FIN, no RST) otherwise keeps
 * its sessions, and with them its job locks and any transaction's suppression-key locks, until the server's
 * operating-system default (2 h of idle, then ~11 min of probes): every other instance skips the job all that
 * time. A live client's kernel answers the probes, however long its job runs. A session with data the client has not
 * acknowledged (rows sent to a host that vanished) is not idle, so no probe goes out: tcp_user_timeout ends it 60 s
 * after the oldest unacknowledged send. SET (not a startup `options`
 * parameter, which PgBouncer refuses); ignored by the server on a Unix socket, where a vanished peer cannot be.
 */
const SERVER_KEEPALIVE_SQL =
  `SELECT set_config('tcp_keepalives_idle', '30', false), set_config('tcp_keepalives_interval', '10', false), set_config('tcp_keepalives_count', '3', false), ` +
  // keepalives probe an idle connection only: a session sending rows to a vanished host is ended by this instead.
  // PostgreSQL 12 on (11 knows no tcp_user_timeout, and an unknown name would fail the keepalives above with it)
  `CASE WHEN current_setting('tcp_user_timeout', true) IS NOT NULL THEN set_config('tcp_user_timeout', '60000', false) END`;
/**
 * The same from this side: a connection idle for 30 s is probed (then at the operating system's interval), so a
 * pooled connection to a server that vanished is found dead rather than handed out and waited on forever.
 */
const CLIENT_KEEPALIVE: pg.PoolConfig = { keepAlive: true, keepAliveInitialDelayMillis: 30_000 };
const DEFAULT_CLIENT_TIMEOUT_MARGIN_MS = 30_000;

export class PostgresStore implements Store {
  readonly backend = 'postgres' as const;
  readonly location: string;
  readonly results: ResultsRepo;
  readonly hosts: HostsRepo;
  readonly clock: EventClockRepo;
  readonly prevalence: PrevalenceRepo;
  readonly candidates: CandidatesRepo;
  readonly detections: DetectionsRepo;
  readonly quarantine: QuarantineRepo;
  readonly checkpoints: CheckpointsRepo;

  private readonly pool: pg.Pool;
  /**
   * Connections that hold job locks, apart from `pool`: a job holds its lock connection for its whole run while its
   * own transactions take `pool` connections, so on one pool two jobs at once (finalize and rollup both fire at
   * :07) could each hold a connection and wait for one more, stalling ingest and the API with them.
   */
  private readonly lockPool: pg.Pool;
  private readonly chunk: number;
  private readonly clockSlot = randomInt(0, 2 ** 31 - 1);
  private readonly judged: JudgedVersions = new Map();
  private readonly sketchRows: SketchRowCache;
  private readonly log: Logger;
  private readonly localJobs = new Set<string>();
  private readonly jobFenceWaitMs: number;
  private readonly migrationTimeouts: { lockMs: number; statementMs: number | undefined };
  private readonly clientTimeoutMarginMs: number;
  /** The job (and its fencing token) whose code is running, for transaction() to check. */
  private readonly jobContext = new AsyncLocalStorage<{ name: string; token: string }>();
  private txQueue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    this.location = redactPostgresUrl(url);
    this.log = (opts.log ?? silentLogger()).child({ component: 'pg-store' });
    this.chunk = opts.upsertChunk ?? 2000;
    this.jobFenceWaitMs = opts.jobFenceWaitMs ?? 30_000;
    this.migrationTimeouts = { lockMs: opts.migrationLockTimeoutMs ?? DEFAULT_MIGRATION_LOCK_TIMEOUT_MS, statementMs: opts.statementTimeoutMs || undefined };
    this.sketchRows = new SketchRowCache(opts.sketchCacheBytes ?? DEFAULT_SKETCH_CACHE_BYTES);
    // onConnect runs before the pool hands a new connection out (a query queued behind another is deprecated in pg 8)
    const keepalives = async (client: pg.ClientBase) => {
      await client.query(SERVER_KEEPALIVE_SQL).catch((err: unknown) => this.log.warn({ err: coerceError(err) }, 'could not set the server-side TCP keepalives of a postgres connection; a vanished instance may hold its job locks until the server notices'));
    };
    const poolOf = (o: pg.PoolConfig) => new pg.Pool({ connectionString: url, connectionTimeoutMillis: 10_000, types: PG_TYPES, onConnect: keepalives, ...CLIENT_KEEPALIVE, ...o });
    const appName = opts.applicationName ?? 'outflow-aggregator';
    // A query past its client-side timeout fails; its connection is then dropped, never pooled again (pg leaves it
    // waiting for the lost answer): pool.query does that, and so do begin/done and withJobLock.
    const margin = (this.clientTimeoutMarginMs = opts.clientTimeoutMarginMs ?? DEFAULT_CLIENT_TIMEOUT_MARGIN_MS);
    const statementMs = opts.statementTimeoutMs || undefined;
    this.pool = poolOf({ max: opts.poolSize ?? 6, idleTimeoutMillis: 30_000, statement_timeout: statementMs, query_timeout: statementMs && statementMs + margin, application_name: appName });
    // one per job running at once (finalize, rollup, retention, a CLI's job), closed when idle; its queries return at
    // once, but the fencing token's bump, which waits up to jobFenceWaitMs
    this.lockPool = poolOf({ max: JOB_LOCK_CONNECTIONS, idleTimeoutMillis: 10_000, query_timeout: this.jobFenceWaitMs + margin, application_name: `${appName} (job locks)` });
    // An idle connection dropped by the server (restart, failover) must not crash the process; the
    // pool replaces it and the next query reconnects.
    this.pool.on('error', (err) => this.log.warn({ err }, 'idle postgres connection lost'));
    this.lockPool.on('error', (err) => this.log.warn({ err }, 'idle postgres job-lock connection lost'));

    const ex = executorFor(this.pool, false, () => this.begin());
    const repos = new PgRepos(ex, this.chunk, this.clockSlot, this.judged, this.sketchRows);
    this.results = repos.results;
    this.hosts = repos.hosts;
    this.clock = repos.clock;
    this.prevalence = repos.prevalence;
    this.candidates = repos.candidates;
    this.detections = repos.detections;
    this.quarantine = repos.quarantine;
    this.checkpoints = repos.checkpoints;
  }

  private async client(pool: pg.Pool = this.pool): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw new StoreError('STORE_OPEN', `cannot connect to ${this.location}: ${coerceError(err).message}`, connectHint(err), { cause: err });
    }
    // A checked-out client that loses its connection emits 'error' on itself; without a listener that
    // would be an uncaught exception. The failing query rejects anyway.
    const onError = (err: Error) => this.log.warn({ err }, 'postgres connection lost');
    client.on('error', onError);
    const release = client.release.bind(client);
    client.release = (destroy?: boolean | Error) => {
      client.off('error', onError);
      return release(destroy);
    };
    return client;
  }

  /**
   * A transaction: `transaction()`'s, or a one-off for multi-statement repository calls outside it. Every one
   * holds the maintenance lock shared, taken before any row lock, except an exclusive transaction (the rollup),
   * which holds it alone (TransactionOptions.exclusive); one round trip with the BEGIN.
   */
  private async begin(exclusive = false): Promise<Executor & { done(ok: boolean): Promise<void> }> {
    const client = await this.client();
    try {
      await client.query(`BEGIN; SELECT ${exclusive ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared'}(${LOCK_NAMESPACE}, hashtext('store:maintenance'))`);
    } catch (err) {
      client.release(true);
      throw storeError('write', err);
    }
    const watched = watchAnswers(client);
    const ex = executorFor(watched, true);
    return {
      ...ex,
      async done(ok) {
        if (watched.answerLost) {
          client.release(true);
          if (ok) throw storeError('write', new Error('Query read timeout'));
          return;
        }
        try {
          await client.query(ok ? 'COMMIT' : 'ROLLBACK');
          client.release();
        } catch (err) {
          client.release(true);
          if (ok) throw storeError('write', err);
        }
      },
    };
  }

  async migrate(): Promise<string[]> {
    const migrations = loadMigrations('postgres');
    const checkedOut = await this.client();
    const client = watchAnswers(checkedOut);
    const applied: string[] = [];
    try {
      // Instances starting together: one migrates, the others wait and then find nothing to do.
      await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, MIGRATION_LOCK_KEY]);
      try {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
        const done = new Set((await client.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
        assertNoUnknownMigrations('postgres', 'on this PostgreSQL database', done);
        for (const m of migrations) {
          if (done.has(m.id)) continue;
          await client.query('BEGIN');
          try {
            await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.round(this.migrationTimeouts.lockMs))}ms`]);
            // One query of several statements, each bounded by statement_timeout on its own (PostgreSQL 13+): the
            // client waits for as many bounds as the file can hold statements (every ';' may end one) + the margin.
            const statementMs = this.migrationTimeouts.statementMs;
            // (query_timeout per query: pg reads it from the query config; @types/pg does not list it)
            await client.query({ text: m.sql, query_timeout: statementMs && m.sql.split(';').length * statementMs + this.clientTimeoutMarginMs } as pg.QueryConfig);
            await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
            await client.query('COMMIT');
          } catch (err) {
            if (!client.answerLost) await client.query('ROLLBACK').catch(() => undefined);
            throw new StoreError('STORE_MIGRATE', `postgres migration ${m.id} failed: ${coerceError(err).message}`, migrationHint(err, this.migrationTimeouts, 'fix the database (or restore a backup) and restart'), {
              cause: err,
            });
          }
          applied.push(m.id);
          this.log.info({ migration: m.id }, 'postgres migration applied');
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, MIGRATION_LOCK_KEY]).catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError('STORE_MIGRATE', `postgres migrations failed: ${coerceError(err).message}`, migrationHint(err, this.migrationTimeouts, 'check the database permissions (CREATE on the schema)'), {
        cause: err,
      });
    } finally {
      // a connection whose answer was lost is dropped, never pooled again
      checkedOut.release(client.answerLost);
    }
    return applied;
  }

  transaction<T>(fn: (tx: StoreRepos) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    const run = async (): Promise<T> => {
      const tx = await this.begin(opts.exclusive === true);
      let out: T;
      try {
        await this.fenceJob(tx);
        out = await fn(new PgRepos(tx, this.chunk, this.clockSlot, this.judged, this.sketchRows));
      } catch (err) {
        await tx.done(false);
        throw err;
      }
      await tx.done(true);
      return out;
    };
    const next = this.txQueue.then(run, run);
    this.txQueue = next.catch(() => undefined);
    return next;
  }

  async withJobLock<T>(name: string, fn: () => Promise<T>): Promise<JobLockResult<T>> {
    if (this.localJobs.has(name)) return { acquired: false };
    this.localJobs.add(name);
    let client: pg.PoolClient | undefined;
    let failed = false;
    try {
      client = await this.client(this.lockPool);
      // Session-level lock on a dedicated connection: held for the whole job, across its transactions,
      // and released by the server if this instance dies.
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_NAMESPACE, `job:${name}`]).catch((err: unknown) => {
        failed = true;
        throw err;
      });
      if (!got.rows[0]?.ok) return { acquired: false };
      try {
        const token = await this.bumpFence(client, name);
        if (token === null) return { acquired: false };
        return { acquired: true, value: await this.jobContext.run({ name, token }, fn) };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, `job:${name}`]).catch((err: unknown) => {
          // connection gone: the server already dropped the lock with the session
          this.log.warn({ err: coerceError(err), job: name }, 'job lock release failed');
          client?.release(true);
          client = undefined;
        });
      }
    } finally {
      // a connection whose query failed may still wait for an answer: it is dropped, never pooled again
      client?.release(failed);
      this.localJobs.delete(name);
    }
  }

  /**
   * A new fencing token for job `name`, taken on the lock connection. The row update waits for a transaction of
   * the previous holder that is already past its fence check (it holds the row FOR SHARE); after jobFenceWaitMs
   * it gives up (null: the job is skipped this time, as when the lock is held).
   */
  private async bumpFence(client: pg.PoolClient, name: string): Promise<string | null> {
    await client.query('BEGIN');
    try {
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.round(this.jobFenceWaitMs))}ms`]);
      const r = await client.query<{ token: string }>(
        `INSERT INTO job_fences (job, token) VALUES ($1, 1) ON CONFLICT (job) DO UPDATE SET token = job_fences.token + 1 RETURNING token::text AS token`,
        [name],
      );
      await client.query('COMMIT');
      return r.rows[0]!.token;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      const code = (err as { code?: unknown }).code;
      // lock_not_available (lock_timeout) or query_canceled (statement_timeout)
      if (code === '55P03' || code === '57014') {
        this.log.warn({ job: name, waitedMs: this.jobFenceWaitMs }, "job not run this time: a transaction of the job's previous holder is still running");
        return null;
      }
      throw storeError('write', err);
    }
  }

  /**
   * Inside a transaction started by a job of this store (withJobLock's async context): the job's fencing token
   * must still be the one this holder got, else the lock went with its connection and another instance took the
   * job over. Read FOR SHARE, so a new holder's bump waits until this transaction ends: the token cannot change
   * between this check and the COMMIT.
   */
  private async fenceJob(tx: Executor): Promise<void> {
    const job = this.jobContext.getStore();
    if (job === undefined || !this.localJobs.has(job.name)) return;
    const rows = await tx.q<{ token: string }>('write', 'SELECT token::text AS token FROM job_fences WHERE job = $1 FOR SHARE', [job.name]);
    if (rows[0]?.token !== job.token) {
      throw new OutflowError(
        'JOB_LOCK_LOST',
        `the ${job.name} job's lock on ${this.location} was lost with its connection while the job ran, and another instance took the job over; this transaction was rolled back and the job stops`,
        'the other instance carries on with the job; check the network between this instance and PostgreSQL',
      );
    }
  }

  /** The day sketches kept from earlier reads (SketchRowCache): keys, bytes, and rows served from it and fetched. */
  sketchCacheStats(): ReturnType<SketchRowCache['stats']> {
    return this.sketchRows.stats();
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      throw new StoreError('STORE_READ', `postgres at ${this.location} unreachable: ${coerceError(err).message}`, connectHint(err), { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.txQueue.catch(() => undefined);
    await Promise.all([this.pool.end(), this.lockPool.end()]);
  }
}

/**
 * Open (and by default migrate) a PostgreSQL store. `postgres` carries the `fleet.postgres` config keys
 * (what fleet/store/open.ts passes); explicit options win over them.
 */
export async function openPostgresStore(
  url: string,
  opts: PostgresStoreOptions & { migrate?: boolean; postgres?: { pool_size?: number; statement_timeout_ms?: number; upsert_chunk?: number; sketch_cache_mb?: number } } = {},
): Promise<PostgresStore> {
  const store = new PostgresStore(url, {
    poolSize: opts.postgres?.pool_size,
    statementTimeoutMs: opts.postgres?.statement_timeout_ms,
    upsertChunk: opts.postgres?.upsert_chunk,
    sketchCacheBytes: opts.postgres?.sketch_cache_mb === undefined ? undefined : opts.postgres.sketch_cache_mb * 1024 * 1024,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  });
  try {
    await store.ping();
    if (opts.migrate !== false) await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    if (err instanceof StoreError) throw new StoreError('STORE_OPEN', err.message, err.hint, { cause: err });
    throw err;
  }
  return store;
}
