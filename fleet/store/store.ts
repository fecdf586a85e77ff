/**
 * The aggregator's storage contract (SPEC §5). Two backends implement it — SQLite (embedded, default)
 * and PostgreSQL (shared by several aggregator instances) — and both run the same contract suite
 * (test/store/store.contract.ts). Nothing here is SQLite- or PostgreSQL-specific:
 *
 * - Every method is async and batch-oriented (arrays in, arrays/maps out) so a network backend pays
 *   one round trip per batch, not per row.
 * - All times are unix seconds of EVENT time (the result line's `unixTime`), never wall-clock time,
 *   so replaying logs gives the same state as live operation. The only wall-clock field is
 *   `QuarantineRow.receivedAt`.
 * - "Observe" writes are idempotent merges (first_seen = min, last_seen = max, set union), so the
 *   order in which lines arrive does not change the result.
 * - Callers sort nothing; implementations that take row locks (PostgreSQL) sort keys themselves to
 *   avoid deadlocks between concurrent ingest transactions.
 *
 * Writes that must be atomic together (an ingest batch's state AND its source checkpoint; a
 * finalization's detections AND the candidates' status) go through `Store.transaction(fn)`; the
 * repositories on `Store` itself run each call in its own implicit transaction.
 */
import { hash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EgressCandidate, AnalyticId } from '../../src/schemas/egress-candidate.js';
import { OutflowError, StoreError } from '../../src/errors.js';
import type { Detection } from '../../src/schemas/detection.js';
import { STATUS_STATES } from '../../src/schemas/outflow-status.js';

export type { Detection };

/** Inclusive event-time window [from, to] (unix s) used by every prevalence query. */
export interface TimeWindow {
  from: number;
  to: number;
}

// ─── results (dedupe) ──────────────────────────────────────────────────────────────────────────

/**
 * One result row's identity: a digest of (host, query name, unixTime, counter, action, columns)
 * computed by the ingest service (`resultDigest` in fleet/ingest/ingest-service.ts) for the rows whose
 * repetition would show (candidate and rejected rows). Stored only to drop duplicates of at-least-once
 * deliveries; `unixTime` lets retention expire old keys.
 */
export interface ResultKey {
  digest: string;
  unixTime: number;
}

export interface ResultsRepo {
  /**
   * Record keys; returns, aligned with the input, true for keys never seen before (the caller
   * processes only those). A key repeated inside the same call is "new" only the first time.
   */
  markSeen(keys: readonly ResultKey[]): Promise<boolean[]>;
  /** Drop keys with unixTime < before (re-deliveries older than the dedupe horizon are no longer caught). */
  expire(before: number): Promise<number>;
}

// ─── hosts (activity, health) ──────────────────────────────────────────────────────────────────

export interface HostSighting {
  hostId: string;
  /** decorations.hostname when present, else ''. The non-empty value of the newest line wins (hostnameReplaces). */
  hostname: string;
  /** Event time of the line that carried `hostname` (default lastSeen). */
  hostnameTime?: number;
  firstSeen: number;
  lastSeen: number;
}

/** The time a sighting's hostname is dated by, as both stores keep it (0 for an unnamed sighting). */
export function hostnameTimeOf(r: HostSighting): number {
  return r.hostname ? (r.hostnameTime ?? r.lastSeen) : 0;
}

/**
 * Whether hostname `name` seen at `time` replaces `current` seen at `currentTime`: a non-empty name replaces an
 * empty one or an older one, and at equal time the greater in byte order, so arrival order never decides. Both
 * stores apply the same rule in SQL (hosts.touch).
 */
export function hostnameReplaces(name: string, time: number, current: string, currentTime: number): boolean {
  if (name === '') return false;
  if (current === '' || time > currentTime) return true;
  return time === currentTime && compareText(name, current) > 0;
}

export interface HostRecord {
  hostId: string;
  hostname: string;
  firstSeen: number;
  lastSeen: number;
}

/** One `outflow_status` row as last reported by a host (the newest `time` wins per component). */
export interface HostComponentStatus {
  hostId: string;
  component: string;
  platform: string;
  state: string;
  detail: string;
  version: string;
  time: number;
}

/**
 * Order of `a` and `b` as the stores compare text (SQLite BINARY, PostgreSQL COLLATE "C"): by UTF-8 bytes,
 * which is code point order. JS's `<` compares UTF-16 code units, which differs when a character above
 * U+FFFF (a surrogate pair) meets one in U+E000..U+FFFF; every tie-break the stores also apply in SQL uses this.
 */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // surrogates (D800..DFFF) encode code points above every unit of E000..FFFF
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * outflow_status states (SPEC §3) by how much they need an operator; a state this version does not know
 * (a newer extension's) ranks above them all, so it is not hidden either.
 */
const STATUS_STATE_RANK: Readonly<Record<string, number>> = Object.fromEntries(STATUS_STATES.map((state, rank) => [state, rank]));
const UNKNOWN_STATE_RANK = STATUS_STATES.length;

function statusStateRank(state: string): number {
  return Object.hasOwn(STATUS_STATE_RANK, state) ? STATUS_STATE_RANK[state]! : UNKNOWN_STATE_RANK;
}

/** statusStateRank as an SQL expression over the text column `col` (the same in SQLite and PostgreSQL). */
export function statusStateRankSql(col: string): string {
  return `(CASE ${col} ${Object.entries(STATUS_STATE_RANK)
    .map(([state, rank]) => `WHEN '${state}' THEN ${rank}`)
    .join(' ')} ELSE ${UNKNOWN_STATE_RANK} END)`;
}

/**
 * Whether status `a` replaces `b` (same host and component): the newer one wins. At equal time the worse state
 * wins (statusStateRank: a healthy report must not hide a problem reported in the same second), then the greater
 * (state, detail, platform, version) in byte order, so the stored status never depends on arrival order. Both
 * stores apply the same rule in SQL (recordStatus).
 */
export function statusReplaces(a: HostComponentStatus, b: HostComponentStatus): boolean {
  if (a.time !== b.time) return a.time > b.time;
  const ra = statusStateRank(a.state);
  const rb = statusStateRank(b.state);
  if (ra !== rb) return ra > rb;
  for (const k of ['state', 'detail', 'platform', 'version'] as const) if (a[k] !== b[k]) return compareText(a[k], b[k]) > 0;
  return false;
}

/** One `outflow_status` row as last reported, with the host's current name. */
export interface HostStatusRow extends HostComponentStatus {
  hostname: string;
}

/** Which latest status rows `hosts.findStatus` returns. */
export interface StatusQuery {
  /** Only this state (exact). */
  state?: string;
  /** Only states that need an operator: anything but running and disabled (a state this version does not know included). */
  problems?: boolean;
  component?: string;
  /** Only rows reported at or after this event time (unix s). */
  since?: number;
  limit: number;
}

/** How many hosts last reported `component` in `state`. */
export interface StatusCount {
  component: string;
  state: string;
  hosts: number;
}

/** Status states at or above this rank need an operator (degraded, unavailable, permission_denied, unknown). */
export const PROBLEM_STATE_RANK = STATUS_STATE_RANK.degraded!;

export interface HostsRepo {
  touch(rows: readonly HostSighting[]): Promise<void>;
  /** Hosts with any line in `window` (last_seen ≥ from and first_seen ≤ to): SPEC's "active hosts". */
  activeCount(window: TimeWindow): Promise<number>;
  get(hostIds: readonly string[]): Promise<Map<string, HostRecord>>;
  recordStatus(rows: readonly HostComponentStatus[]): Promise<void>;
  /** Latest status rows, optionally for one host, ordered by host then component. */
  listStatus(hostId?: string): Promise<HostComponentStatus[]>;
  /**
   * Latest status rows matching `q`, the states that most need an operator first (statusStateRank), then by host
   * id and component; at most `q.limit`, `truncated` when more match.
   */
  findStatus(q: StatusQuery): Promise<{ rows: HostStatusRow[]; truncated: boolean }>;
  /**
   * Hosts per (component, state) among rows reported at or after `since`, a component not in `known.components`
   * counted as "other", and so a state not in `known.states` (host-sent text: folded before grouping, so no number of
   * made-up names can push a real group out); ordered by component, then state.
   */
  statusCounts(since: number, known: { components: readonly string[]; states: readonly string[] }): Promise<StatusCount[]>;
  /** Forget hosts (and their status) last seen before `before`, and any status row (of a live host too) reported before it. */
  expire(before: number): Promise<number>;
}

// ─── event clock ───────────────────────────────────────────────────────────────────────────────

export interface EventClockState {
  /** Earliest event time ever ingested (baseline start); null when nothing was ingested. */
  earliest: number | null;
  /** Newest event time ever ingested (finalization runs `finalize_delay` behind it). */
  newest: number | null;
}

/**
 * The fleet's present in event time, as the jobs and the API take "now": the newest event time seen, but never
 * past the wall clock. Ingest takes lines up to a day ahead (hosts' clocks drift), and one host whose clock runs
 * ahead must not move everyone's present: finalization would judge candidates before the lines that may still
 * count for them arrive, and the rollup, retention and the sinks' checkpoints would close windows early. A replay
 * of old logs is behind the wall clock, so its present is its newest event. null: no event yet.
 */
export function eventPresent(newest: number | null, wallNow: number): number | null {
  return newest === null ? null : Math.min(newest, wallNow);
}

export interface EventClockRepo {
  get(): Promise<EventClockState>;
  /** Merge: earliest = min, newest = max. */
  observe(earliest: number, newest: number): Promise<void>;
  /**
   * Record days that hold events (dataDay of their event times; any order, repeats allowed). Ingest records the
   * days of every batch beside `observe`; baseline maturity counts from the first of them in a candidate's window.
   */
  observeDays(days: readonly number[]): Promise<void>;
  /** The recorded days at or after `day`, ascending. */
  dataDaysFrom(day: number): Promise<number[]>;
  /** Forget the days before `day` (retention); returns how many went. */
  expireDays(before: number): Promise<number>;
}

/** The day (UTC, days since the epoch) an event time falls on, what EventClockRepo.observeDays records: a sketch's day. */
export { sketchDay as dataDay } from './host-sketch.js';

// ─── prevalence ────────────────────────────────────────────────────────────────────────────────

/** A host contacted a destination key (from outflow_destinations or outflow_candidates rows). */
export interface DestinationSighting {
  key: string;
  hostId: string;
  firstSeen: number;
  lastSeen: number;
}

/** A host made an upload-shaped flow from app `identity` to destination `key`. */
export interface PairSighting {
  identity: string;
  key: string;
  hostId: string;
  firstSeen: number;
  lastSeen: number;
}

/** A host ran code with `identity` (outflow_apps rows, and every identity of a candidate's chain). */
export interface AppSighting {
  identity: string;
  hostId: string;
  firstSeen: number;
  lastSeen: number;
  /**
   * Descriptive attributes from outflow_apps; optional elsewhere. Per attribute, the non-empty value of the
   * newest row wins, equal times going to the greater value (byte order), so arrival order never changes the
   * result (foldAppAttributes).
   */
  path?: string;
  signatureClass?: string;
  teamId?: string;
  signingId?: string;
  cdhash?: string;
  /**
   * Event time of the outflow_apps row that set the attributes (default `lastSeen`). Not `lastSeen` itself:
   * candidate rows widen a sighting's span without carrying attributes, and an older attribute value must
   * not be dated by them.
   */
  attrsTime?: number;
  /** Per attribute, the event time of its value, when the attributes were merged from rows of different times (overrides attrsTime). */
  attributeTimes?: AppAttributeTimes;
}

/**
 * Prevalence of one key in a window. `hosts` counts distinct hosts with first_seen ≤ window.to and
 * last_seen ≥ window.from while the key is tracked exactly; once compacted (`saturated`), the host set
 * was replaced by day sketches and `hosts` is their estimate for the days the window overlaps
 * (fleet/store/host-sketch.ts; docs/fleet.md, "Prevalence (bounded)").
 */
export interface PrevalenceStats {
  hosts: number;
  /** Earliest sighting fleet-wide (even outside the window); null when never seen up to window.to. */
  firstSeen: number | null;
  lastSeen: number | null;
  saturated: boolean;
}

/** A key the window holds no sighting of (or that did not exist yet at its end): a fresh object each call. */
export function emptyStats(): PrevalenceStats {
  return { hosts: 0, firstSeen: null, lastSeen: null, saturated: false };
}

export interface AppStats extends PrevalenceStats {
  path: string;
  signatureClass: string;
  teamId: string;
  signingId: string;
  cdhash: string;
}

/** Per-host rows of an exactly tracked key (API detail views); empty once saturated. */
export interface HostSpan {
  hostId: string;
  firstSeen: number;
  lastSeen: number;
}

export interface CompactionResult {
  destinations: number;
  pairs: number;
  apps: number;
}

export interface PrevalenceRepo {
  observeDestinations(rows: readonly DestinationSighting[], opts?: ObserveOptions): Promise<void>;
  observePairs(rows: readonly PairSighting[], opts?: ObserveOptions): Promise<void>;
  observeApps(rows: readonly AppSighting[], opts?: ObserveOptions): Promise<void>;

  /**
   * Stats for each requested key (missing keys map to hosts 0, firstSeen null). `countCap`: the caller
   * only needs exact counts up to this value (the common threshold); implementations MAY stop counting
   * there and report `hosts = countCap` — finalization of a candidate to a very common destination
   * then costs O(cap), not O(fleet). A count that reached the cap reports as lastSeen a sighting in the
   * window no later than the latest one: the last of the hosts counted, or the latest (statsMany on SQLite). A
   * negative countCap is none.
   */
  destinations(keys: readonly string[], window: TimeWindow, countCap?: number): Promise<Map<string, PrevalenceStats>>;
  /** Keyed by `pairKey(identity, key)`. */
  pairs(pairs: readonly { identity: string; key: string }[], window: TimeWindow, countCap?: number): Promise<Map<string, PrevalenceStats>>;
  apps(identities: readonly string[], window: TimeWindow, countCap?: number): Promise<Map<string, AppStats>>;

  /**
   * Many windows in one call (finalization reads two per candidate: as of its flow's start and as of its line): answer i is
   * exactly what destinations/pairs/apps return for request i (but for a capped count's lastSeen: see
   * `countCap`). A backend can then read each key once
   * per call instead of once per window.
   */
  statsMany(requests: readonly PrevalenceRequest[]): Promise<PrevalenceAnswer[]>;

  /** Detail for the API/CLI: the stats plus up to `limit` host rows (ordered by first_seen, host). */
  destinationHosts(key: string, window: TimeWindow, limit: number): Promise<HostSpan[]>;
  appHosts(identity: string, window: TimeWindow, limit: number): Promise<HostSpan[]>;

  /**
   * Bound state: every key whose exact host count (within `window`) reached `threshold` (the common
   * threshold) is saturated: its host rows are folded into its day sketches and dropped, and later sightings
   * go to the sketches. Returns the keys saturated by this call. Idempotent. Run by the rollup job.
   * `opts.keptFrom`: the folded rows' points reach back to this time (default `window.from`); the rollup passes
   * what expire keeps, so windows that end before `window.to` (a candidate judged as of its flow start) still
   * count the hosts they counted before compaction.
   * `opts.keys`: only these keys (commonKeys' list, a slice at a time), each judged as it stands now: one that is no
   * longer common, or was compacted since it was listed, is left alone.
   */
  compact(threshold: number, window: TimeWindow, opts?: { keptFrom?: number; keys?: readonly PrevalenceKeyRef[] }): Promise<CompactionResult>;
  /**
   * Sliding window: drop host rows last seen before `before`, then keys with no sighting left, and day sketches
   * of days before `opts.sketchesBefore` (default `before`). The rollup keeps one more window of days: a span's
   * points are a window apart, so a late candidate's window, which ends before the newest event, may need one.
   * `opts.keys`: only the rows of these keys (expirableKeys' list, a slice at a time), as they stand now; `before`
   * is recorded as keptFrom all the same (also with no key).
   */
  expire(before: number, opts?: { sketchesBefore?: number; keys?: readonly PrevalenceKeyRef[] }): Promise<CompactionResult>;
  /**
   * The keys compact(threshold, window) would saturate now: not saturated, with `threshold` hosts or more in the
   * window (`rows`: that count). A read: the rollup lists them outside its exclusive transactions, then compacts
   * them a slice at a time. Destinations first, then pairs, then apps, each in a fixed order.
   */
  commonKeys(threshold: number, window: TimeWindow): Promise<PrevalenceKeyRef[]>;
  /**
   * The keys expire(before, opts) would change now: those with host rows last seen before `before` (`rows`: how
   * many), last seen before it themselves, or with day sketches of days before `opts.sketchesBefore`'s. A read,
   * ordered as commonKeys.
   */
  expirableKeys(before: number, opts?: { sketchesBefore?: number }): Promise<PrevalenceKeyRef[]>;
  /**
   * The largest `before` expire() was called with, or null before the first call: host rows last seen earlier
   * are gone, so a window that starts before it counts too few hosts (finalization starts such a late
   * candidate's baseline there, see src/analytics/prevalence.ts `windowKeptFrom`).
   */
  keptFrom(): Promise<number | null>;
}

/**
 * One prevalence key of any family, as PrevalenceRepo.commonKeys and expirableKeys list them for the rollup, which
 * hands them back to compact and expire a slice at a time. `rows`: how many of its host rows that step touches, as
 * listed (the rollup sizes its slices by them).
 */
export type PrevalenceKeyRef =
  | { family: 'destinations'; key: string; rows: number }
  | { family: 'pairs'; identity: string; key: string; rows: number }
  | { family: 'apps'; identity: string; rows: number };

/** Key refs split by family: destination keys, (identity, key) pairs and app identities, in their order. */
export function keyRefsByFamily(refs: readonly PrevalenceKeyRef[]): { destinations: string[]; pairs: { identity: string; key: string }[]; apps: string[] } {
  const out = { destinations: [] as string[], pairs: [] as { identity: string; key: string }[], apps: [] as string[] };
  for (const r of refs) {
    if (r.family === 'destinations') out.destinations.push(r.key);
    else if (r.family === 'pairs') out.pairs.push({ identity: r.identity, key: r.key });
    else out.apps.push(r.identity);
  }
  return out;
}

/**
 * `refs` in order, cut into slices of at most `maxRows` work each: a key weighs its rows plus one (its key row and
 * sketches). A key is never split: one heavier than `maxRows` makes a slice of its own.
 */
export function sliceKeyRefs(refs: readonly PrevalenceKeyRef[], maxRows: number): PrevalenceKeyRef[][] {
  const out: PrevalenceKeyRef[][] = [];
  let cur: PrevalenceKeyRef[] = [];
  let weight = 0;
  for (const r of refs) {
    const w = Math.max(0, r.rows) + 1;
    if (cur.length && weight + w > maxRows) {
      out.push(cur);
      cur = [];
      weight = 0;
    }
    cur.push(r);
    weight += w;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** store_meta row (both backends) holding PrevalenceRepo.keptFrom. */
export const KEPT_FROM_META = 'prevalence_kept_from';

/** How the sightings of compacted keys go into their day sketches (host-sketch.ts SketchUpdatesOptions). */
export interface ObserveOptions {
  /**
   * The prevalence window in days (analytics.prevalence_window_days): a sighting's span puts a point every this
   * many days, and reaches two windows + 1 day (at least 31 days) back at most. Default: a week, and 31 days back.
   */
  windowDays?: number;
}

/** One window's reads for `PrevalenceRepo.statsMany`. */
export interface PrevalenceRequest {
  window: TimeWindow;
  countCap?: number;
  destinations: readonly string[];
  pairs: readonly { identity: string; key: string }[];
  apps: readonly string[];
}

export interface PrevalenceAnswer {
  destinations: Map<string, PrevalenceStats>;
  /** Keyed by `pairKey(identity, key)`. */
  pairs: Map<string, PrevalenceStats>;
  apps: Map<string, AppStats>;
}

/** The descriptive attributes of an app, each merged on its own. */
export const APP_ATTRIBUTES = ['path', 'signatureClass', 'teamId', 'signingId', 'cdhash'] as const;
export type AppAttributeName = (typeof APP_ATTRIBUTES)[number];
/** Per attribute, the event time of the row its value came from (-1: no value yet). */
export type AppAttributeTimes = Record<AppAttributeName, number>;

/** One identity's attributes as a batch would apply them (`mergeAppAttributes`): each value with its own time. */
export type MergedAppAttributes = Record<AppAttributeName, string> & { times: AppAttributeTimes };

/** The descriptive attributes an app sighting may carry. */
export type AppAttributes = Pick<AppSighting, AppAttributeName>;

/**
 * Fold one sighting's attributes into `cur`, with the rule both backends apply in SQL, per attribute on its
 * own: a non-empty value wins when its row is newer than the one that set the current value, or equally new
 * with a greater value in byte order. `time` dates every attribute of the sighting, or each one apart. This is
 * a per-attribute maximum of (time, value), so any order and any grouping of the same rows give the same
 * result. An empty value changes nothing. Returns the merged value (`cur` itself once it exists), undefined
 * while nothing carried an attribute. `keep` turns a value that wins into the string to hold (ingest interns them).
 */
export function foldAppAttributes(
  cur: MergedAppAttributes | undefined,
  time: number | AppAttributeTimes,
  r: AppAttributes,
  keep?: (value: string) => string,
): MergedAppAttributes | undefined {
  for (const k of APP_ATTRIBUTES) {
    const value = r[k];
    if (!value) continue;
    const t = typeof time === 'number' ? time : time[k];
    cur ??= { path: '', signatureClass: '', teamId: '', signingId: '', cdhash: '', times: { path: -1, signatureClass: -1, teamId: -1, signingId: -1, cdhash: -1 } };
    const curTime = cur.times[k];
    if (t > curTime || (t === curTime && compareText(value, cur[k]) > 0)) {
      // an equal value is already held (and kept): most rows repeat their identity's attributes
      if (value !== cur[k]) cur[k] = keep ? keep(value) : value;
      cur.times[k] = t;
    }
  }
  return cur;
}

/**
 * Fold a batch's app sightings into one attribute update per identity (foldAppAttributes, each sighting at
 * its attributeTimes, else attrsTime, else lastSeen). A fleet reports each app once per host, so a batch holds many identical sightings of the
 * same identity; the store then writes each apps row once instead of once per host.
 */
export function mergeAppAttributes(rows: readonly AppSighting[]): Map<string, MergedAppAttributes> {
  const out = new Map<string, MergedAppAttributes>();
  for (const r of rows) {
    const merged = foldAppAttributes(out.get(r.identity), r.attributeTimes ?? r.attrsTime ?? r.lastSeen, r);
    if (merged) out.set(r.identity, merged);
  }
  return out;
}

/**
 * A stored detection body as a Detection. Bodies are validated when written (detections.upsert) and read back
 * without the schema (finalization and the outbox read many); only fields added since an older version may have
 * written the body are filled in here, with the schema's defaults.
 */
export function detectionFromBody(body: string): Detection {
  const d = JSON.parse(body) as Detection;
  // fleet.window_kept_from: added 2026-11 (late candidates); absent from bodies written before
  d.fleet.window_kept_from ??= null;
  return d;
}

/** Where compaction's sketch points start: the window's start, or earlier where the caller keeps sightings from (compact's `keptFrom`). */
export function compactionFloor(window: TimeWindow, opts?: { keptFrom?: number }): number {
  return Math.min(window.from, opts?.keptFrom ?? window.from);
}

export function pairKey(identity: string, key: string): string {
  return `${identity}\u0000${key}`;
}

// ─── candidates ────────────────────────────────────────────────────────────────────────────────

export type CandidateStatus = 'pending' | 'finalized';

/** A parsed `outflow_candidates` row waiting for (or past) fleet finalization. */
export interface CandidateInput {
  hostId: string;
  /** unixTime of the result line that carried it (finalization and windows use this). */
  eventTime: number;
  destinationKey: string;
  candidate: EgressCandidate;
  /**
   * Seconds after the version last judged before this version is due, when that judgement folded the flow into a
   * detection (`analytics.open_flow_update_interval` for a flow still open, 0 for its closing report). A row never judged,
   * or judged without firing, is due at its report whatever this says. Absent: 0.
   */
  rejudgeHold?: number;
}

/**
 * Which stored version of a candidate was read (and so judged): the fields `upsertPending` orders versions
 * by. `digest` is `candidateBodyDigest` of the stored body text. Finalization hands it back in its outcome
 * so the store marks only that version: a newer one ingested meanwhile stays pending and is judged later.
 */
export interface CandidateVersion {
  eventTime: number;
  bytesOut: number;
  digest: string;
}

/**
 * SHA-256 hex of a candidate's stored JSON body (its UTF-8 bytes): PostgreSQL computes the same in SQL
 * (`encode(sha256(convert_to(body, 'UTF8')), 'hex')`). Not md5, as it was until 2026-11-28: a PostgreSQL 14+
 * server in FIPS mode refuses md5() (it goes through OpenSSL), and so does Node with FIPS enabled, which
 * would fail every finalization there. Digests are only ever compared with digests of the same row taken by
 * the same code (SQLite's stored body_md5 column, named before the change, holds whichever wrote the row).
 */
export function candidateBodyDigest(body: string): string {
  // One-shot hash: half the cost of createHash().update().digest() (once per pending candidate a finalize reads).
  return hash('sha256', body, 'hex');
}

export interface StoredCandidate extends CandidateInput {
  /** Stable id: host + flow_id + analytic (a flow's later versions replace the pending row). */
  id: string;
  status: CandidateStatus;
  /** Detection this flow was last folded into, so a later version of the same flow updates bytes, not count. */
  detectionId: string | null;
  /** bytes already added to that detection for this flow. */
  countedBytesOut: number;
  countedBytesIn: number;
  /** The version this row was read at (set by `pendingUpTo`). */
  version?: CandidateVersion;
  /**
   * When the row became due (set by `pendingUpTo`): the event time of its earliest version reported since it was last
   * judged, at most `eventTime`. Finalization reads the fleet as of then, not as of the newest version's line, which
   * can be younger than finalize_delay (lines of that time may still arrive).
   */
  dueTime?: number;
}

export interface CandidateOutcome {
  id: string;
  detectionId: string | null;
  countedBytesOut: number;
  countedBytesIn: number;
  /** The verdict branch, kept for audit (`no_fire:…` when the fleet stage did not fire). */
  branch: string;
  /**
   * The version that was judged (`StoredCandidate.version`). When given, only that version is marked
   * finalized; a row that has since been replaced by a newer version is not (see `markFinalized`).
   * Without it the row is marked whatever its version (callers that judged nothing, e.g. tests).
   */
  version?: CandidateVersion;
}

/** The stable candidate id every backend uses: one row per (host, analytic, flow). */
export function candidateId(c: Pick<CandidateInput, 'hostId'> & { candidate: Pick<EgressCandidate, 'analytic' | 'flow_id'> }): string {
  return `${c.hostId}|${c.candidate.analytic}|${c.candidate.flow_id}`;
}

export interface CandidatesRepo {
  /**
   * Upsert by (host, flow_id, analytic). A newer version (greater eventTime, or equal eventTime with
   * more bytes) replaces the stored candidate and sets it back to pending; an older one is ignored.
   * Returns how many rows became pending.
   */
  upsertPending(rows: readonly CandidateInput[]): Promise<number>;
  /**
   * Pending candidates due by `cutoff`, ordered by (eventTime, id), at most `limit`. A row is due at the event time of
   * the earliest version reported since it was last judged (`upsertPending` keeps it when a newer version replaces
   * a still-pending row): a flow reported on every pack run while it stays open is judged finalize_delay after its
   * first report, not only once it has gone quiet. A version reported after a judgement that folded the flow into a
   * detection is due no earlier than that judged version's event time plus its `rejudgeHold`. With `reportedUpTo`
   * (a flush), also a row whose version is dated by then, however long it is held.
   */
  pendingUpTo(cutoff: number, limit: number, opts?: { reportedUpTo?: number }): Promise<StoredCandidate[]>;
  countPending(): Promise<number>;
  /**
   * Record outcomes. An outcome carrying a `version` marks its row finalized only while the row is still
   * that version: a newer version ingested after `pendingUpTo` read the row stays pending (it was never
   * judged) and is judged by the next finalization. Inside a transaction, a backend keeps the batch and
   * records the fold on the still-pending row (detection id and counted bytes, so the newer version later
   * adds only its delta); PostgreSQL, where another instance may also have finalized the row, does so only
   * for a row still counted as when its `pendingUpTo` read it, and otherwise rejects the whole transaction.
   * Outside a transaction, every backend records the fold.
   */
  markFinalized(outcomes: readonly CandidateOutcome[]): Promise<void>;
  /**
   * Drop finalized candidates with eventTime < before, but not one folded into a detection (detectionId set) the store
   * still holds: while its detection is kept, the row is what tells a re-delivery of that version (a log read again)
   * from a flow not counted yet. A detection is kept by its last_seen, the newest of its flows (up to a suppression
   * window after an earlier one's line), so a bound on the row's own eventTime would let an earlier flow's row go first.
   * Retention deletes old detections first, in the same transaction: their rows go with them.
   */
  expire(before: number): Promise<number>;
}

// ─── detections ────────────────────────────────────────────────────────────────────────────────

export interface DetectionQuery {
  /** last_seen ≥ since (event time, unix s). */
  since?: number;
  analytic?: AnalyticId;
  /**
   * A host id or the host's current hostname (what the detections table shows), either matched without regard to
   * ASCII case (both stores fold ASCII only, so they agree on every name).
   */
  host?: string;
  /** The newest `limit` matching detections (by last_seen, then id), returned oldest first. Default 1000. */
  limit?: number;
}

/**
 * `detections.list` for a reader who should be told when the limit cut the list: the newest `limit` matching
 * detections, oldest first, and whether older ones match too (it asks the store for one more).
 */
export async function listNewestDetections(repo: DetectionsRepo, query: DetectionQuery & { limit: number }): Promise<{ detections: Detection[]; truncated: boolean }> {
  const detections = await repo.list({ ...query, limit: query.limit + 1 });
  const truncated = detections.length > query.limit;
  if (truncated) detections.shift();
  return { detections, truncated };
}

/** Where a detection stands (DetectionsRepo.latestChanges): its creation event time and its latest change's cursor. */
export interface LatestChange {
  createdAt: number;
  cursor: string;
}

export interface DetectionsRepo {
  /**
   * For each suppression key that has any: its detections with created_at ≥ since, oldest first (the suppression
   * windows a batch of candidates can fall in; a late candidate may belong to an older one than the newest).
   */
  openBySuppressionKey(keys: readonly string[], since: number): Promise<Map<string, Detection[]>>;
  /** Insert or replace by `id`. */
  upsert(rows: readonly Detection[]): Promise<void>;
  get(id: string): Promise<Detection | null>;
  /**
   * Where each of these detections stands, by id: its creation event time (`created_at`) and the cursor of its
   * latest change (DetectionChange.cursor). Ids retention deleted (or never stored) are missing from the answer.
   * For the outbox, which forgets the ids of detections a sink has read for the last time.
   */
  latestChanges(ids: readonly string[]): Promise<Map<string, LatestChange>>;
  /** Ordered by (last_seen, id). */
  list(query?: DetectionQuery): Promise<Detection[]>;
  countByAnalytic(): Promise<Record<string, number>>;
  /** Retention: drop detections last seen before `before`. */
  expire(before: number): Promise<number>;
  /**
   * The sinks' outbox: detections inserted or updated after position `after` ('' = the beginning), in change
   * order, at most `limit`. Every upsert moves its rows past every change committed before it, so a reader
   * that stores the cursor of the last change it handled sees every later change exactly once more, as the
   * detection's latest version, even across restarts and deletions. Changes commit in cursor order (a
   * change committed later never lands behind a cursor). Rejects with ChangeCursorError for a cursor this
   * store cannot have handed out (malformed, or beyond its newest change).
   */
  changedSince(after: string, limit: number): Promise<DetectionChange[]>;
  /** The position after the newest change returned by changedSince now ('' when there is none). */
  changeCursor(): Promise<string>;
  /** Changes after `after` (a sink's backlog: it grows while the sink refuses). Same errors as changedSince. */
  countChangedSince(after: string): Promise<number>;
}

/**
 * A change cursor ('' = before the first change) as its change number, checked against `newest`, the counter
 * of the store reading it. Both backends' cursors are decimal change numbers; a malformed one, or one beyond
 * the counter (which never goes back, so another store handed it out), is a ChangeCursorError.
 */
export function changeSeqWithin(backend: string, cursor: string, newest: bigint): bigint {
  const seq = changeSeq(cursor);
  if (seq === null) throw new ChangeCursorError(backend, cursor, 'is not a change number');
  if (seq > newest) throw new ChangeCursorError(backend, cursor, `is beyond the newest change (${newest}): not from this store`);
  return seq;
}

/** A change cursor ('' = before the first change) as its change number; null when it is not one. */
export function changeSeq(cursor: string): bigint | null {
  if (cursor === '') return 0n;
  return /^(?:0|[1-9]\d{0,17})$/.test(cursor) ? BigInt(cursor) : null;
}

/** A change cursor that does not belong to this store (see DetectionsRepo.changedSince). */
export class ChangeCursorError extends StoreError {
  override name = 'ChangeCursorError';
  constructor(backend: string, cursor: string, why: string) {
    super('STORE_READ', `${backend}: change cursor ${JSON.stringify(cursor)} ${why}`, 'the sink starts again at the newest change (outbox.ts does this by itself)');
  }
}

export interface DetectionChange {
  detection: Detection;
  /** Opaque position of this change (backend-specific text); pass it to changedSince to read what follows. */
  cursor: string;
  /**
   * The position of the detection's first change (its insert). A reader whose cursor is before it has never been
   * offered any version of this detection: the outbox tells the sink, and OCSF renders a Create.
   */
  firstCursor: string;
}

// ─── quarantine ────────────────────────────────────────────────────────────────────────────────

export interface QuarantineRow {
  /** Wall-clock unix s when the line was rejected. */
  receivedAt: number;
  /** `${source.kind}:${source.id}`. */
  source: string;
  reason: string;
  /**
   * The line as received, for a line's first rejected row too (its whole line; the reason says which row), capped
   * at 64 KiB. A later rejected row of the same line, or one of a line of several rows longer than the cap, is the
   * row with its envelope ({name, hostIdentifier, unixTime, columns}): the line is kept once, and the row always.
   * A line that arrived inside an HTTP wrapper body (webhook `details`, Kafka `records`, a JSON array) was parsed
   * with the body: it is re-serialized.
   */
  line: string;
}

export interface QuarantineRepo {
  add(rows: readonly QuarantineRow[]): Promise<void>;
  count(): Promise<number>;
  /** Newest first. */
  list(limit: number): Promise<QuarantineRow[]>;
  expire(before: number): Promise<number>;
}

// ─── checkpoints ───────────────────────────────────────────────────────────────────────────────

/** Opaque, JSON-serializable source position (files: {inode, offset, size}; NATS: {seq}). */
export type Checkpoint = Readonly<Record<string, string | number | boolean | null>>;

export interface CheckpointsRepo {
  get(sourceId: string): Promise<Checkpoint | null>;
  put(sourceId: string, checkpoint: Checkpoint): Promise<void>;
  /**
   * Save `checkpoint` unless one is saved already (another process may be setting the same one up); returns the
   * checkpoint saved now: this one, or the one that was there first.
   */
  putIfAbsent(sourceId: string, checkpoint: Checkpoint): Promise<Checkpoint>;
  list(): Promise<{ sourceId: string; checkpoint: Checkpoint }[]>;
}

// ─── the store ─────────────────────────────────────────────────────────────────────────────────

export interface StoreRepos {
  readonly results: ResultsRepo;
  readonly hosts: HostsRepo;
  readonly clock: EventClockRepo;
  readonly prevalence: PrevalenceRepo;
  readonly candidates: CandidatesRepo;
  readonly detections: DetectionsRepo;
  readonly quarantine: QuarantineRepo;
  readonly checkpoints: CheckpointsRepo;
}

export type JobLockResult<T> = { acquired: true; value: T } | { acquired: false };

/**
 * `store.withJobLock`, waiting up to `waitMs` (default 60 s) for another holder to finish: for the CLI, whose
 * `fleet finalize` / `fleet ingest` must not finalize while a `fleet serve` on the same store does (both would
 * judge overlapping pending candidates, and detection upserts are last-writer-wins, so one process's fold into
 * an open detection could overwrite the other's). Serve's jobs do not wait: the next tick runs them.
 */
export async function withJobLockWaiting<T>(store: Store, name: string, fn: () => Promise<T>, opts: { waitMs?: number; pollMs?: number; onWait?: () => void } = {}): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? 60_000);
  let waiting = false;
  for (;;) {
    const r = await store.withJobLock(name, fn);
    if (r.acquired) return r.value;
    if (Date.now() >= deadline) {
      throw new OutflowError('JOB_BUSY', `another process holds the ${name} job lock of ${store.location}`, `a fleet serve (or another CLI) is running ${name}; try again later, or leave it to serve's next run`);
    }
    if (!waiting) opts.onWait?.();
    waiting = true;
    await sleep(opts.pollMs ?? 250);
  }
}

export interface TransactionOptions {
  /**
   * Run alone: no other transaction of this store, in any process or instance, runs alongside (single
   * statements outside any transaction are not held back). For the rollup,
   * which deletes and compacts rows that ingest also locks, in an order no single lock order can serve for both:
   * taking one lock first on both sides (shared for every other transaction) rules out deadlocks between them.
   * Waits for running transactions to end; new ones wait for it. (SQLite: every write transaction already runs
   * alone.)
   */
  exclusive?: boolean;
  /**
   * On disk when the transaction resolves, whatever the store's default: its caller acknowledges the data to a
   * sender that then forgets it (an HTTP 200, a JetStream ack). SQLite runs `synchronous = NORMAL` under WAL, where a
   * power cut can take back the last commits; such a transaction commits with `synchronous = FULL` (an fsync of the
   * WAL). PostgreSQL commits are durable already (unless the server runs with `synchronous_commit = off`).
   */
  durable?: boolean;
}

export interface Store extends StoreRepos {
  readonly backend: 'sqlite' | 'postgres';
  /** Human-readable location without secrets (file path, or postgres host/db). */
  readonly location: string;
  /** Apply pending numbered migrations; returns the ids applied (empty when up to date). */
  migrate(): Promise<string[]>;
  /**
   * Run `fn` in one transaction: everything it writes through `tx` commits together or not at all
   * (an ingest batch's state and its source checkpoint; finalization's detections and candidates).
   * Transactions are serialized per store instance; inside `fn` use only `tx`: calling the store itself
   * (`transaction`, or a repository of the store rather than of `tx`) may wait for this very transaction.
   * If `fn` throws, the transaction rolls back and the error propagates.
   */
  transaction<T>(fn: (tx: StoreRepos) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /**
   * Run `fn` only if no other holder (this process or, on PostgreSQL, another instance) runs a job
   * with the same name; otherwise resolve `{acquired:false}` at once, without waiting.
   */
  withJobLock<T>(name: string, fn: () => Promise<T>): Promise<JobLockResult<T>>;
  /** Reachability probe for /healthz and doctor. Rejects with StoreError when unusable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
