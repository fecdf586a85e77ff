/**
 * The one entry point every source calls (files, stdin, HTTP POST /v1/ingest, NATS): raw osquery
 * result lines in, store state out (SPEC §5).
 *
 *   const ingest = createIngestService({ store, analytics: config.analytics, quarantineFile });
 *   const r = await ingest.ingestLines(lines, { kind: 'http', id: req.ip });
 *
 * Policy (after Fleet's): a call resolves once every line is either applied or quarantined — then the
 * source may acknowledge. It rejects (StoreError) only when the store cannot commit; nothing of that
 * batch was applied, so the sender should retry. Malformed input never rejects.
 *
 * What each line does:
 * - every new line: host activity (first/last seen, hostname), the event clock (earliest/newest) and its day (data_days);
 * - outflow_candidates: pending candidate (unless baseline), destination sighting, app sightings for the
 *   flow process and each chain link, pair sighting when upload-shaped;
 * - outflow_destinations: destination sighting, pair sighting when upload-shaped (pcr from bytes);
 * - outflow_apps: app sighting (fleet and per host first-seen, attributes);
 * - outflow_status: latest health per host and component;
 * - other queries: host activity only (counted as `ignored` rows, and by query name in `ignoredQueries`: a log
 *   of renamed reports, or the wrong log, is then visible rather than "applied").
 * Baseline rows (counter 0, snapshots) update state but never create pending candidates. `removed`
 * rows change nothing but host activity (`ignored` too).
 *
 * Duplicates (same host, name, unixTime, counter, action, columns) change nothing, two ways. Every state
 * effect above except a pending candidate is an idempotent merge: min/max spans, set union, and newest-wins
 * hostname, status and each app attribute, each dated by the row that carried it and tie-broken by value
 * (test/fleet/redelivery.test.ts), so a re-delivered row is simply applied again. (One exception: a row older
 * than the prevalence window, re-delivered after a rollup expired what it names, brings that back.) Only
 * rows whose repetition would show are recognized by a dedupe key: differential `outflow_candidates` rows
 * (a candidate must be pending once) and rejected rows of any line (quarantined once). Keying every row
 * instead cost ~25 % of ingest CPU and a key per row for `retention.dedupe_hours` (~800 000 for 10 000
 * hosts × 48 h against ~11 000 now); `duplicates` therefore counts re-delivered candidate and rejected rows only,
 * and the rejected lines of a source that keys its inputs (NATS, see IngestSource.inputKey): a line that cannot
 * be read has no digest of its own.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { hash } from 'node:crypto';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import { systemClock, type Clock } from '../../src/clock.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import { createDestinationKeyer } from '../../src/classify/destination.js';
import { candidateStart } from '../../src/analytics/index.js';
import { EgressCandidateSchema, MAX_KEY_TEXT, MAX_SHORT_TEXT } from '../../src/schemas/egress-candidate.js';
import { cutHostName, cutText, LONE_SURROGATE, StringInterner, utf8LongerThan } from '../../src/strings.js';
import { AppRowSchema, cutAppRow, type AppRow, type ResultLogLine, type ResultRow } from '../../src/schemas/result-log.js';
import { coerceError, StoreError } from '../../src/errors.js';
import { PRIVATE_FILE_MODE } from '../file-modes.js';
import { plainCandidateRow } from './plain-candidate-row.js';
import { dataDay, foldAppAttributes, hostnameReplaces, statusReplaces } from '../store/store.js';
import type {
  AppSighting,
  CandidateInput,
  Checkpoint,
  DestinationSighting,
  HostComponentStatus,
  HostSighting,
  MergedAppAttributes,
  ObserveOptions,
  PairSighting,
  QuarantineRow,
  ResultKey,
  Store,
  StoreRepos,
  TransactionOptions,
} from '../store/store.js';
import { parseResultLine } from './parse-result-log.js';
import { readResultLine } from './read-result-line.js';

export interface IngestSource {
  /** file | stdin | http | nats (free-form for new sources); used in quarantine rows and metrics. */
  kind: string;
  /** Stable id within the kind: file path, stream/consumer name, client address. */
  id: string;
  /**
   * Position to store atomically with this batch's state (files: inode/offset; NATS: stream seq),
   * under checkpoint id `${kind}:${id}` (read it back with `store.checkpoints.get(\`${kind}:${id}\`)`).
   */
  checkpoint?: Checkpoint;
  /**
   * The dedupe key of the input at `index` (its position in `lines`), for a source that may hand over again
   * inputs it already committed (NATS redelivers a message whose ack was lost, and retries a commit whose
   * outcome it did not see). A rejected input (a line that cannot be read, a RejectedInput) is then quarantined
   * once, like a rejected row: without keys, only rows are recognized, since a line that cannot be read names no
   * host or time to digest. Keys must tell inputs apart across deliveries (NATS: stream, sequence, publish time,
   * line in the message); `unixTime` dates the key for `retention.dedupe_hours`.
   */
  inputKey?: (index: number) => ResultKey;
  /**
   * The sender forgets these lines once ingestLines resolves (an HTTP 200, a JetStream ack): their batch is committed
   * durably (TransactionOptions.durable). A file source can read again from its checkpoint and does not need it.
   */
  durable?: boolean;
}

/**
 * An input its source could not decode into lines (a NATS payload compressed in a way Node.js cannot inflate):
 * counted as a line and quarantined with the source's reason and text, in the batch's transaction, keyed like a
 * line when the source keys its inputs (IngestSource.inputKey).
 */
export class RejectedInput {
  constructor(
    readonly reason: string,
    readonly text: string,
  ) {}
}

/** Counts for one call. Row counts are per result row (a batch/snapshot line carries many). */
export interface IngestResult {
  /** Input lines (blank lines excluded). */
  lines: number;
  /** Rows in parsed lines (an empty snapshot/batch line counts as one row). */
  rows: number;
  /**
   * Rows taken (includes baseline and ignored rows: `accepted - ignored` rows had an effect beyond host activity).
   * A re-delivered row of a query other than outflow_candidates counts here again: its effects are idempotent
   * merges, so applying it changes nothing. `rows` = accepted + the rows counted in `duplicates` and in `quarantined`.
   */
  accepted: number;
  /**
   * Re-delivered candidate and rejected rows (the rows a dedupe key tracks), and rejected lines of a source that
   * keys its inputs (IngestSource.inputKey): skipped.
   */
  duplicates: number;
  /**
   * Of `duplicates`, the rejected rows and lines: quarantined on their first delivery, no data on any. The rest are
   * candidate rows, data taken before (a run that read only those read Outflow's data; one that read only these did not).
   */
  duplicateRejects: number;
  /** Accepted rows from counter-0 or snapshot lines (state only, never new activity); never ignored ones. */
  baseline: number;
  /** Lines (or single rows) rejected and written to the quarantine. */
  quarantined: number;
  /** Accepted rows of other queries, `removed` rows, lines without rows, app rows without identity: host activity only. */
  ignored: number;
  /** `ignored` by why (the counts sum to it). */
  ignoredByReason: Record<IgnoredReason, number>;
  /**
   * The rows of `ignoredByReason.other_query` by query name as logged (`name`), for the names seen first: at most
   * MAX_IGNORED_QUERY_NAMES of them (a name is up to 512 characters, and a batch or a run may hold any number);
   * rows of further names count in `other_query` only.
   */
  ignoredQueries: IgnoredQuery[];
  /** Candidates that became pending (awaiting finalization). */
  candidates: number;
  /** Newest unixTime among accepted lines (null when none). */
  newestEventTime: number | null;
}

/**
 * Why a row was ignored (only host activity taken): `other_query`, its query name is not one of Outflow's (a report
 * renamed in Fleet, or a log of other queries); `removed`, a differential `removed` row; `no_rows`, a line without rows
 * (an empty snapshot or batch); `no_identity`, an `outflow_apps` row without identity.
 */
export const IGNORED_REASONS = ['other_query', 'removed', 'no_rows', 'no_identity'] as const;
export type IgnoredReason = (typeof IGNORED_REASONS)[number];

/** Rows of one query name that is not Outflow's (IngestResult.ignoredQueries). */
export interface IgnoredQuery {
  name: string;
  rows: number;
}

/** Query names kept per result (IngestResult.ignoredQueries). */
export const MAX_IGNORED_QUERY_NAMES = 20;

export interface IngestService {
  /**
   * Ingest a batch. `lines` are raw lines (strings; blank ones skipped) or already-decoded line
   * objects (webhook `details[]`, Kafka-REST `records[].value`). One store transaction per call,
   * including `source.checkpoint` when given. Batches of a few thousand lines are the sweet spot.
   * `lines` is iterated once, synchronously, before the call first awaits (the file source decodes each
   * line from its read buffer as it is reached).
   */
  ingestLines(lines: Iterable<unknown>, source: IngestSource): Promise<IngestResult>;
  /** Cumulative counts since this service was created (for /metrics). */
  totals(): Readonly<IngestResult>;
}

export interface IngestServiceDeps {
  store: Store;
  analytics: AnalyticsConfig;
  /** Append quarantined lines here (JSON lines). null/undefined: store only. */
  quarantineFile?: string | null;
  /** Longer lines are quarantined without parsing (default 4 MiB). */
  maxLineBytes?: number;
  /**
   * Quarantine rows stored per call (default 10 000): beyond, rejects are counted (`quarantined`) and summed
   * up in one more row naming how many and their most common reason.
   */
  maxQuarantinePerBatch?: number;
  /** Quarantine `line` bytes stored per call (default 16 MiB); beyond, as past maxQuarantinePerBatch. */
  maxQuarantineBytesPerBatch?: number;
  /**
   * Accept unixTime, and a candidate's first_seen and last_seen, up to wall clock + this (seconds, default 1 day); a
   * later line, or candidate row, is quarantined.
   */
  maxClockSkew?: number;
  /** Extra shared cloud-storage suffixes for destination keys. */
  sharedSuffixes?: readonly string[];
  clock?: Clock;
  log?: Logger;
}

const QUARANTINE_LINE_CAP = 64 * 1024;
/** Item flags (ingestLines). An ignored item carries one IGNORED_* bit, its reason. */
const ITEM_BASELINE = 2;
/** The row was rejected (quarantined): neither accepted nor baseline nor ignored. */
const ITEM_REJECTED = 4;
const IGNORED_OTHER_QUERY = 8;
const IGNORED_REMOVED = 16;
const IGNORED_NO_ROWS = 32;
const IGNORED_NO_IDENTITY = 64;
const ITEM_IGNORED = IGNORED_OTHER_QUERY | IGNORED_REMOVED | IGNORED_NO_ROWS | IGNORED_NO_IDENTITY;

export function emptyIngestResult(): IngestResult {
  return {
    lines: 0,
    rows: 0,
    accepted: 0,
    duplicates: 0,
    duplicateRejects: 0,
    baseline: 0,
    quarantined: 0,
    ignored: 0,
    ignoredByReason: { other_query: 0, removed: 0, no_rows: 0, no_identity: 0 },
    ignoredQueries: [],
    candidates: 0,
    newestEventTime: null,
  };
}

/** Count `rows` of query `name` in `into` (IngestResult.ignoredQueries), within MAX_IGNORED_QUERY_NAMES names. */
function countIgnoredQuery(into: IgnoredQuery[], name: string, rows: number): void {
  const held = into.find((q) => q.name === name);
  if (held) held.rows += rows;
  else if (into.length < MAX_IGNORED_QUERY_NAMES) into.push({ name, rows });
}

/** A result's copy that shares nothing with it (totals handed out while ingest goes on). */
export function copyIngestResult(r: IngestResult): IngestResult {
  return { ...r, ignoredByReason: { ...r.ignoredByReason }, ignoredQueries: r.ignoredQueries.map((q) => ({ ...q })) };
}

/** Merge b into a (for totals and multi-batch summaries). */
export function addIngestResults(a: IngestResult, b: IngestResult): IngestResult {
  a.lines += b.lines;
  a.rows += b.rows;
  a.accepted += b.accepted;
  a.duplicates += b.duplicates;
  a.duplicateRejects += b.duplicateRejects;
  a.baseline += b.baseline;
  a.quarantined += b.quarantined;
  a.ignored += b.ignored;
  for (const reason of IGNORED_REASONS) a.ignoredByReason[reason] += b.ignoredByReason[reason];
  for (const q of b.ignoredQueries) countIgnoredQuery(a.ignoredQueries, q.name, q.rows);
  a.candidates += b.candidates;
  if (b.newestEventTime !== null && (a.newestEventTime === null || b.newestEventTime > a.newestEventTime)) a.newestEventTime = b.newestEventTime;
  return a;
}

/**
 * JSON text of any value a line can hold, never throwing: a line is attacker-controlled, and an object whose
 * own `toString` is not a function, or an array nested 100 000 deep, must be quarantined, not stop ingest.
 */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return '[value not serializable]';
  }
}

/** Column values as text, whatever --logger_numerics did, so both encodings dedupe alike. */
function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  // objects and arrays (invalid as a column value; their text only has to be stable for the digest)
  return safeJson(v);
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : NaN;
  }
  return NaN;
}

/** Key-order independent rendering of one row's columns. */
function canonicalColumns(columns: Record<string, unknown>): string {
  const keys = Object.keys(columns);
  // osquery (std::map) and Fleet (Go maps) both write keys sorted: sort only when they are not.
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      keys.sort();
      break;
    }
  }
  let s = '';
  for (const k of keys) s += `${k}\u0001${text(columns[k])}\u0002`;
  return s;
}

/**
 * Dedupe digest of one result row (formats.md §6.5): host, name, unixTime, counter, action, columns; 128 bits
 * of SHA-256 in base64url (22 characters). SHA-256 rather than md5 because CPUs with SHA extensions hash a
 * row in ~0.5 µs against md5's ~0.9 µs (measured on the 2-core bench machine); it runs for every
 * differential candidate and rejected row. Digests changed with it (2026-11-27): a row delivered once before
 * and once after an upgrade across that change is not recognized as a duplicate.
 */
export function resultDigest(line: Pick<ResultLogLine, 'hostId' | 'name' | 'unixTime' | 'counter'>, row: ResultRow | null): string {
  return dedupeDigest(`${line.hostId}\n${line.name}\n${line.unixTime}\n${line.counter}\n${row ? row.action : ''}\n${row ? canonicalColumns(row.columns) : ''}`);
}

/** A dedupe key's digest of `text` (ResultKey.digest): 128 bits of SHA-256 in base64url, 22 characters. */
export function dedupeDigest(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, 22);
}

/** How far ahead of its receipt a line may be dated and still keep its event time for "newest wins" (s). */
const NEWEST_WINS_SKEW = 300;

/**
 * The time a hostname, status or app-attribute row is dated by for "newest wins": its event time, but never more
 * than NEWEST_WINS_SKEW after it was received. Lines up to max_clock_skew (a day) ahead are accepted, and one
 * forged line dated a day ahead renamed its victim and hid its health for that day: the host's real reports,
 * received later, could not outrank it. A host clock a few minutes ahead keeps its event times, so its lines
 * are still ordered by them and a re-delivered line changes nothing; only lines further ahead are dated by
 * receipt (+ the skew), and only those can depend on when they arrive.
 */
function newestWinsTime(eventTime: number, receivedAt: number): number {
  const latest = receivedAt + NEWEST_WINS_SKEW;
  return eventTime <= latest ? eventTime : latest;
}

interface Span {
  firstSeen: number;
  lastSeen: number;
}

function widenSpan(s: Span, time: number): void {
  if (time < s.firstSeen) s.firstSeen = time;
  if (time > s.lastSeen) s.lastSeen = time;
}

/**
 * One host's aggregates in a batch: its activity span and its sightings, looked up once per line. The
 * per-row lookups are then in this host's small maps (a few dozen keys), not in fleet-wide maps keyed by
 * (key, host), and the host id string is hashed once per line rather than once per map per row.
 */
class HostBatch implements Span {
  readonly hostId: string;
  hostname: string;
  firstSeen: number;
  lastSeen: number;
  /** Time of the line that carried `hostname` (-1 while no line named the host). */
  hostnameTime: number;
  // Made on first use: in a time-ordered log of a large fleet most hosts have a line or two in a batch, and three
  // maps for each of them were most of what a batch promoted to the old generation.
  destinations: Map<string, DestinationSighting> | undefined;
  apps: Map<string, AppSighting> | undefined;
  status: Map<string, HostComponentStatus> | undefined;

  /** `hostId` and `hostname` as `interner` keeps them; the keys of its sightings are kept the same way. */
  constructor(
    private readonly interner: StringInterner,
    hostId: string,
    hostname: string,
    time: number,
    nameTime: number,
  ) {
    this.hostId = interner.intern(hostId);
    this.hostname = interner.intern(hostname);
    this.firstSeen = time;
    this.lastSeen = time;
    this.hostnameTime = hostname ? nameTime : -1;
  }

  sightDestination(key: string, t: number): void {
    const sightings = (this.destinations ??= new Map());
    const s = sightings.get(key);
    if (s) widenSpan(s, t);
    else {
      const own = this.interner.intern(key);
      sightings.set(own, { key: own, hostId: this.hostId, firstSeen: t, lastSeen: t });
    }
  }

  sightApp(identity: string, t: number): AppSighting {
    const sightings = (this.apps ??= new Map());
    let s = sightings.get(identity);
    if (s) widenSpan(s, t);
    else {
      const own = this.interner.intern(identity);
      sightings.set(own, (s = { identity: own, hostId: this.hostId, firstSeen: t, lastSeen: t }));
    }
    return s;
  }

  /** A newer line's hostname (see hostOf). */
  rename(hostname: string, nameTime: number): void {
    // every newer line of the host comes here, almost always with the name it already has
    if (hostname !== this.hostname) this.hostname = this.interner.intern(hostname);
    this.hostnameTime = nameTime;
  }
}

/** A status row's text cut like candidate text; only rows with a field past its limit come here. */
function cutStatusText(st: HostComponentStatus): void {
  st.platform = cutText(st.platform, MAX_KEY_TEXT);
  st.state = cutText(st.state, MAX_KEY_TEXT);
  st.detail = cutText(st.detail, MAX_SHORT_TEXT);
  st.version = cutText(st.version, MAX_KEY_TEXT);
}

const INTEGER_TEXT = /^-?\d+$/;

function optText(v: unknown): string | undefined {
  return v === undefined ? '' : typeof v === 'string' ? v : undefined;
}

/**
 * AppRowSchema's result for the common row, without zod: string or absent text columns, and `notarized`
 * absent, a safe integer, or integer text. undefined for anything else (the caller then asks the schema).
 */
export function plainAppRow(c: Record<string, unknown>): AppRow | undefined {
  const path = optText(c.path);
  const identity = optText(c.identity);
  const signatureClass = optText(c.signature_class);
  const teamId = optText(c.team_id);
  const signingId = optText(c.signing_id);
  const cdhash = optText(c.cdhash);
  if (path === undefined || identity === undefined || signatureClass === undefined || teamId === undefined || signingId === undefined || cdhash === undefined) return undefined;
  const n = c.notarized;
  let notarized: number;
  if (n === undefined) notarized = -1;
  else if (typeof n === 'number' && Number.isSafeInteger(n)) notarized = n;
  else if (typeof n === 'string' && n.length <= 15 && INTEGER_TEXT.test(n)) notarized = Number(n);
  else return undefined;
  return cutAppRow({ path, identity, signature_class: signatureClass, team_id: teamId, signing_id: signingId, cdhash, notarized });
}

/** The first column holding an object or array (osquery writes strings, or numbers with --logger_numerics). */
function nonScalarColumn(c: Record<string, unknown>): string | undefined {
  for (const k in c) {
    const v = c[k];
    if (v !== null && typeof v === 'object') return k;
  }
  return undefined;
}

const UNSTORABLE_NUL = 'a string holds a NUL character (\\u0000), which the stores cannot keep';
// SQLite keeps a lone surrogate's raw bytes and PostgreSQL a U+FFFD: two host ids or keys that differ only there
// would be two in one store and one in the other, and two such rows in one PostgreSQL statement fail the batch.
const UNSTORABLE_SURROGATE = 'a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which the stores cannot keep';

function unstorable(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (v.includes('\u0000')) return UNSTORABLE_NUL;
  return LONE_SURROGATE.test(v) ? UNSTORABLE_SURROGATE : undefined;
}

/** Why a string the store may keep (envelope text, column names and values) cannot be kept; undefined if all can. */
function unstorableText(line: ResultLogLine): string | undefined {
  let why = unstorable(line.hostId) ?? unstorable(line.hostname) ?? unstorable(line.name);
  for (let i = 0; why === undefined && i < line.rows.length; i++) {
    for (const [k, v] of Object.entries(line.rows[i]!.columns)) {
      why = unstorable(k) ?? unstorable(v);
      if (why !== undefined) break;
    }
  }
  return why;
}

/** The end of a rejected row's reason that says which row of its line it was (see rowReason). */
const ROW_OF_LINE = / \(row (?:snapshot|diffResults\.(?:added|removed))\[\d+\]\)$/;

/** A rejected row's reason, naming the row when its line holds several (`snapshot[3]`, `diffResults.added[0]`). */
function rowReason(reason: string, line: ResultLogLine, index: number, removedRows: number): string {
  if (line.rows.length < 2) return reason;
  // Rows are flattened in the parser's order: snapshot[], or diffResults.removed then .added (an event line has one).
  const at = line.shape !== 'batch' ? `snapshot[${index}]` : index < removedRows ? `diffResults.removed[${index}]` : `diffResults.added[${index - removedRows}]`;
  return `${reason} (row ${at})`;
}

/** One row standing for the rejects past the batch's quarantine limits. */
function omittedSummary(omitted: readonly QuarantineRow[], limits: QuarantineLimits): QuarantineRow {
  const byReason = new Map<string, number>();
  // rows of one line differ only in which row they were: counted as the one reason they share
  for (const q of omitted) {
    const reason = q.reason.replace(ROW_OF_LINE, '');
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  const [reason, n] = [...byReason].sort((a, b) => b[1] - a[1])[0]!;
  return {
    receivedAt: omitted[0]!.receivedAt,
    source: omitted[0]!.source,
    reason: `${omitted.length} more lines or rows of this batch were rejected and not stored (fleet.ingest.max_quarantine_per_batch = ${limits.rows}, max_quarantine_bytes_per_batch = ${limits.bytes}); most common reason (${n}): ${reason}`,
    line: omitted[0]!.line,
  };
}

function cap(line: string): string {
  return line.length > QUARANTINE_LINE_CAP ? `${line.slice(0, QUARANTINE_LINE_CAP)}…[truncated]` : line;
}

function rawText(input: unknown): string {
  return typeof input === 'string' ? input : safeJson(input);
}

function zodReason(query: string, issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return `${query} row invalid: ${issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(row)'}: ${i.message}`)
    .join('; ')}`;
}

const DURABLE: TransactionOptions = { durable: true };

/** What one ingestLines call hands to its store transaction. */
interface BatchWrites {
  result: IngestResult;
  sourceName: string;
  source: IngestSource;
  keys: ResultKey[];
  itemKey: number[];
  itemTime: number[];
  itemFlags: number[];
  heldQuarantine: { key: number; row: QuarantineRow }[];
  /** Keys of the rejected lines held in heldQuarantine (keyed inputs): a re-delivered one is a duplicate. */
  lineKeys: number[];
  heldCandidates: { key: number; input: CandidateInput }[];
  quarantine: QuarantineRow[];
  hostRows: HostSighting[];
  destinations: DestinationSighting[];
  pairs: PairSighting[];
  apps: AppSighting[];
  status: HostComponentStatus[];
  earliest: number;
  newest: number;
  /** The days (dataDay) of the batch's event times, each once: usually one or two. */
  days: number[];
  /** How compacted keys' sightings go into their day sketches (the prevalence window). */
  observe: ObserveOptions;
}

/**
 * The counts, quarantine and pending candidates of the rows the dedupe answer says are new (`fresh`).
 * A function of its own, like commitBatch: see there.
 */
interface QuarantineLimits {
  rows: number;
  bytes: number;
}

/** How many of `rows` fit the batch's quarantine limits (row count, and bytes of their lines). */
function quarantineFit(rows: readonly QuarantineRow[], limits: QuarantineLimits): number {
  let bytes = 0;
  const n = Math.min(rows.length, limits.rows);
  for (let i = 0; i < n; i++) {
    bytes += Buffer.byteLength(rows[i]!.line) + Buffer.byteLength(rows[i]!.reason);
    if (bytes > limits.bytes) return i;
  }
  return n;
}

function settleItems(b: BatchWrites, fresh: readonly boolean[], maxQuarantine: QuarantineLimits): CandidateInput[] {
  const { result, itemKey, itemFlags, itemTime, quarantine } = b;
  let newestAccepted = -Infinity;
  for (let k = 0; k < itemKey.length; k++) {
    const key = itemKey[k]!;
    const flags = itemFlags[k]!;
    if (key >= 0 && fresh[key] !== true) {
      result.duplicates++;
      if (flags & ITEM_REJECTED) result.duplicateRejects++;
      continue;
    }
    if (flags & ITEM_REJECTED) continue; // counted with the quarantine below
    result.accepted++;
    if (flags & ITEM_BASELINE) result.baseline++;
    else if (flags & ITEM_IGNORED) {
      result.ignored++;
      if (flags & IGNORED_OTHER_QUERY) result.ignoredByReason.other_query++;
      else if (flags & IGNORED_REMOVED) result.ignoredByReason.removed++;
      else if (flags & IGNORED_NO_ROWS) result.ignoredByReason.no_rows++;
      else result.ignoredByReason.no_identity++;
    }
    if (itemTime[k]! > newestAccepted) newestAccepted = itemTime[k]!;
  }
  if (newestAccepted > -Infinity) result.newestEventTime = newestAccepted;
  for (const key of b.lineKeys) {
    if (fresh[key] === true) continue;
    result.duplicates++;
    result.duplicateRejects++;
  }
  for (const q of b.heldQuarantine) if (q.key < 0 || fresh[q.key] === true) quarantine.push(q.row);
  result.quarantined = quarantine.length;
  const kept = quarantineFit(quarantine, maxQuarantine);
  if (kept < quarantine.length) quarantine.splice(kept, Infinity, omittedSummary(quarantine.slice(kept), maxQuarantine));
  const candidates: CandidateInput[] = [];
  for (const c of b.heldCandidates) if (c.key < 0 || fresh[c.key] === true) candidates.push(c.input);
  return candidates;
}

/**
 * One batch's writes, in one store transaction. Created once per process, not as a closure per batch: V8
 * optimized a per-batch async closure afresh for every batch (about 30 ms of compiler time each, and the
 * batch's loops ran unoptimized meanwhile; seen with --trace-opt on the fleet-ingest bench).
 */
async function commitBatch(tx: StoreRepos, b: BatchWrites, maxQuarantine: QuarantineLimits): Promise<void> {
  const fresh = b.keys.length ? await tx.results.markSeen(b.keys) : [];
  const candidates = settleItems(b, fresh, maxQuarantine);
  if (b.hostRows.length) await tx.hosts.touch(b.hostRows);
  if (b.newest >= b.earliest) await tx.clock.observe(b.earliest, b.newest);
  if (b.destinations.length) await tx.prevalence.observeDestinations(b.destinations, b.observe);
  if (b.pairs.length) await tx.prevalence.observePairs(b.pairs, b.observe);
  if (b.apps.length) await tx.prevalence.observeApps(b.apps, b.observe);
  if (b.status.length) await tx.hosts.recordStatus(b.status);
  if (candidates.length) b.result.candidates = await tx.candidates.upsertPending(candidates);
  if (b.quarantine.length) await tx.quarantine.add(b.quarantine);
  if (b.source.checkpoint) await tx.checkpoints.put(b.sourceName, b.source.checkpoint);
  // Last: on PostgreSQL the first batch of a new day inserts its row, and another batch recording that day waits
  // for this one to commit; holding no other lock after it, this one never waits for that batch in turn.
  if (b.days.length) await tx.clock.observeDays(b.days);
}

/**
 * Append whole JSON lines to the quarantine file (`fh`, opened for appending) and sync them. A fragment a process
 * killed mid-append left at the end of a regular file is ended first, so it does not run into (and make unreadable)
 * the first record appended now.
 */
async function appendQuarantineFile(fh: FileHandle, file: string, body: string): Promise<void> {
  const st = await fh.stat();
  let lead = '';
  if (st.isFile() && st.size > 0) {
    // read through a descriptor of its own: this one is append-only, as a named pipe's writer's must be
    // The path may name another file by now (logrotate moved this one away): its last byte says nothing of this
    // one's, and a path naming nothing must not cost the append. Unknown, a line is ended anyway (at worst a blank one).
    const rh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
    lead = '\n';
    if (rh) {
      try {
        const rs = await rh.stat();
        if (rs.dev === st.dev && rs.ino === st.ino) {
          const last = Buffer.alloc(1);
          const { bytesRead } = await rh.read(last, 0, 1, st.size - 1);
          if (bytesRead === 0 || last[0] === 0x0a) lead = '';
        }
      } catch {
        // lead stays '\n'
      } finally {
        await rh.close().catch(() => undefined);
      }
    }
  }
  await fh.appendFile(lead + body);
  if (st.isFile()) await fh.datasync();
}

export function createIngestService(deps: IngestServiceDeps): IngestService {
  const { store, analytics } = deps;
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? silentLogger();
  const maxLineBytes = deps.maxLineBytes ?? 4 * 1024 * 1024;
  const maxClockSkew = deps.maxClockSkew ?? 86_400;
  const maxQuarantine: QuarantineLimits = { rows: deps.maxQuarantinePerBatch ?? 10_000, bytes: deps.maxQuarantineBytesPerBatch ?? 16 * 1024 * 1024 };
  const keyOf = createDestinationKeyer(deps.sharedSuffixes);
  // What a batch keeps of a line (host ids, keys, identities, app attributes), kept across batches: see StringInterner.
  const interner = new StringInterner();
  const intern = (s: string): string => interner.intern(s);
  const uploadPcr = analytics.upload_shaped.min_pcr;
  const uploadBytes = analytics.upload_shaped.min_bytes_out;
  const observe: ObserveOptions = { windowDays: analytics.prevalence_window_days };
  const openFlowUpdateInterval = analytics.open_flow_update_interval;
  const totals = emptyIngestResult();
  // Serialize quarantine-file appends so lines never interleave between concurrent batches.
  let quarantineWrite: Promise<void> = Promise.resolve();

  async function ingestLines(inputs: Iterable<unknown>, source: IngestSource): Promise<IngestResult> {
    const result = emptyIngestResult();
    const sourceName = `${source.kind}:${source.id}`;
    const receivedAt = clock.unix();
    const maxUnixTime = receivedAt + maxClockSkew;
    const quarantine: QuarantineRow[] = [];

    // One pass: parse, digest and apply each row's effects to this batch's aggregates right away, so a
    // parsed line dies young instead of surviving the batch (most of a batch's GC cost otherwise).
    // Every state effect is an idempotent merge (min/max spans, set union, newest-wins status and
    // attributes), so applying a row that turns out to be a re-delivery changes nothing; what the
    // dedupe answer decides afterwards is only what must not repeat: the counts, quarantine rows and
    // pending candidates, which wait here with their row's key index.
    // Differential candidate rows and rejected rows get a dedupe key (see the header); other rows of snapshot
    // lines never do: they are a full restatement of current state.
    const keys: ResultKey[] = [];
    /** Per item (a row, or a line without rows): dedupe key index or -1, event time, ITEM_* flags. */
    const itemKey: number[] = [];
    const itemTime: number[] = [];
    const itemFlags: number[] = [];
    const heldQuarantine: { key: number; row: QuarantineRow }[] = [];
    const lineKeys: number[] = [];
    const heldCandidates: { key: number; input: CandidateInput }[] = [];
    const hosts = new Map<string, HostBatch>();
    const pairs = new Map<string, PairSighting>();
    // Per identity, not per sighting: both stores fold attributes per identity (mergeAppAttributes), so one
    // sighting of the identity carries the batch's fold and the others none (an empty value changes nothing).
    const appAttrs = new Map<string, { carrier: AppSighting; merged: MergedAppAttributes }>();
    let earliest = Infinity;
    let newest = -Infinity;
    // the batch's days (dataDay), each once; lines of one day come together, so the last one is checked first
    const days: number[] = [];
    let lastDay = NaN;
    const parseOptions = { maxUnixTime };

    const sightPair = (identity: string, key: string, hostId: string, t: number): void => {
      // Rare (upload-shaped rows only): a concatenated key is fine here.
      const k = `${identity}\u0000${key}\u0000${hostId}`;
      const s = pairs.get(k);
      if (s) widenSpan(s, t);
      else pairs.set(k, { identity, key, hostId, firstSeen: t, lastSeen: t });
    };
    /** Dedupe key index of the row being applied (-1: none), set by addItem, taken by a rejected row. */
    let rowKey = -1;
    /** The input (line) being read, and the index in its line of the row being applied. */
    let received: unknown;
    let rowIndex = 0;
    /** Whether a rejected row of `received` already holds its line, and the line's count of removed rows. */
    let lineHeld = false;
    let removedRows = -1;
    const newKey = (line: ResultLogLine, row: ResultRow | null): number => keys.push({ digest: resultDigest(line, row), unixTime: line.unixTime }) - 1;
    /** Position of the input being read in `inputs` (IngestSource.inputKey). */
    let inputIndex = -1;
    /** Quarantine the input being read as a whole (`text`, capped): once per key when the source keys its inputs. */
    const rejectLine = (reason: string, text: string): void => {
      const row = { receivedAt, source: sourceName, reason, line: cap(text) };
      if (!source.inputKey) {
        quarantine.push(row);
        return;
      }
      const key = keys.push(source.inputKey(inputIndex)) - 1;
      heldQuarantine.push({ key, row });
      lineKeys.push(key);
    };
    /**
     * Hold the row for the quarantine, and which row of its line it was; returns ITEM_REJECTED, applyRow's answer
     * for it. The line's first rejected row holds the whole line as received; the others, and a row whose line of
     * several rows the line cap would cut, hold the row with its envelope: N copies of one line would spend the
     * batch's quarantine bytes on that line alone, and a cut line may not hold the row that was rejected.
     */
    const rejectRow = (line: ResultLogLine, row: ResultRow, reason: string): number => {
      // A re-delivered reject must not be quarantined twice: rejects are keyed whatever their query and shape.
      if (rowKey < 0) rowKey = newKey(line, row);
      if (removedRows < 0) {
        removedRows = 0;
        while (line.rows[removedRows]?.action === 'removed') removedRows++;
      }
      let text: string | undefined;
      if (!lineHeld) {
        lineHeld = true;
        const raw = rawText(received);
        if (line.rows.length < 2 || raw.length <= QUARANTINE_LINE_CAP) text = cap(raw);
      }
      text ??= cap(safeJson({ name: line.name, hostIdentifier: line.hostId, unixTime: line.unixTime, columns: row.columns }));
      heldQuarantine.push({ key: rowKey, row: { receivedAt, source: sourceName, reason: rowReason(reason, line, rowIndex, removedRows), line: text } });
      return ITEM_REJECTED;
    };

    /** A line's host activity (every line counts, whatever its rows); the host's batch state. */
    let lastHost: HostBatch | undefined;
    const hostOf = (line: ResultLogLine): HostBatch => {
      const t = line.unixTime;
      if (t < earliest) earliest = t;
      if (t > newest) newest = t;
      const day = dataDay(t);
      if (day !== lastDay) {
        lastDay = day;
        if (!days.includes(day)) days.push(day);
      }
      // A host's lines tend to come together (one query run's rows): the last host is checked first.
      let host = line.hostId === lastHost?.hostId ? lastHost : hosts.get(line.hostId);
      const nameTime = newestWinsTime(t, receivedAt);
      if (!host) {
        host = new HostBatch(interner, line.hostId, line.hostname, t, nameTime);
        hosts.set(host.hostId, host);
      } else {
        widenSpan(host, t);
        if (hostnameReplaces(line.hostname, nameTime, host.hostname, host.hostnameTime)) host.rename(line.hostname, nameTime);
      }
      lastHost = host;
      return host;
    };

    /** Apply one row's effects; returns an IGNORED_* reason when it only counts as host activity, ITEM_REJECTED when quarantined. */
    const applyRow = (line: ResultLogLine, host: HostBatch, row: ResultRow | null): number => {
      const t = line.unixTime;
      if (line.query === null) return IGNORED_OTHER_QUERY;
      if (row === null) return IGNORED_NO_ROWS;
      if (row.action === 'removed') return IGNORED_REMOVED;
      const c = row.columns;
      switch (line.query) {
        case 'outflow_destinations': {
          const odd = nonScalarColumn(c);
          if (odd !== undefined) {
            return rejectRow(line, row, `outflow_destinations row invalid: ${odd}: not a string or number`);
          }
          // cut as the candidate path cuts (EgressCandidateSchema): the same flow must give the same key and pair
          const remote = cutText(text(c.remote_address), MAX_KEY_TEXT);
          if (!remote) {
            return rejectRow(line, row, 'outflow_destinations row invalid: remote_address: missing');
          }
          const dest = keyOf(cutHostName(text(c.server_name), MAX_KEY_TEXT), remote);
          host.sightDestination(dest, t);
          const identity = cutText(text(c.identity), MAX_KEY_TEXT);
          const out = num(c.bytes_out);
          const inn = num(c.bytes_in);
          if (identity && out >= uploadBytes) {
            const total = out + (inn > 0 ? inn : 0);
            const pcr = total > 0 ? (out - (inn > 0 ? inn : 0)) / total : 0;
            if (pcr >= uploadPcr) sightPair(identity, dest, host.hostId, t);
          }
          return 0;
        }
        case 'outflow_apps': {
          // The plain row (every column a string or absent, notarized an integer) is read directly, as zod
          // would coerce it; anything else goes through the schema, which decides and names the problem.
          let app: AppRow | undefined = plainAppRow(c);
          if (!app) {
            const r = AppRowSchema.safeParse(c);
            if (!r.success) {
              return rejectRow(line, row, zodReason('outflow_apps', r.error.issues));
            }
            app = r.data;
          }
          if (!app.identity) return IGNORED_NO_IDENTITY;
          const a = host.sightApp(app.identity, t);
          // Attributes are folded by outflow_apps row time (the store's rule, so arrival order never matters),
          // not by the sighting's span, which candidate rows widen too.
          const held = appAttrs.get(a.identity);
          const attributes = { path: app.path, signatureClass: app.signature_class, teamId: app.team_id, signingId: app.signing_id, cdhash: app.cdhash };
          const merged = foldAppAttributes(held?.merged, newestWinsTime(t, receivedAt), attributes, intern);
          if (merged && !held) appAttrs.set(a.identity, { carrier: a, merged });
          return 0;
        }
        case 'outflow_status': {
          // Hand-checked rather than zod: status snapshots are the bulk of a fleet's rows.
          const odd = nonScalarColumn(c);
          if (odd !== undefined) {
            return rejectRow(line, row, `outflow_status row invalid: ${odd}: not a string or number`);
          }
          // cut like candidate text (cutStatusText): stored once per host and component, key text within an index entry
          const component = cutText(text(c.component), MAX_KEY_TEXT);
          if (!component) {
            return rejectRow(line, row, 'outflow_status row invalid: component: missing');
          }
          const prev = host.status?.get(component);
          const st = newestWinsTime(t, receivedAt);
          if (!prev || prev.time <= st) {
            const next = { hostId: host.hostId, component, platform: text(c.platform), state: text(c.state), detail: text(c.detail), version: text(c.version), time: st };
            if (next.platform.length > MAX_KEY_TEXT || next.state.length > MAX_KEY_TEXT || next.detail.length > MAX_SHORT_TEXT || next.version.length > MAX_KEY_TEXT) cutStatusText(next);
            if (!prev || statusReplaces(next, prev)) (host.status ??= new Map()).set(component, next);
          }
          return 0;
        }
        case 'outflow_candidates': {
          let cand = plainCandidateRow(c);
          if (!cand) {
            const r = EgressCandidateSchema.safeParse(c);
            if (!r.success) {
              return rejectRow(line, row, zodReason('outflow_candidates', r.error.issues));
            }
            cand = r.data;
          }
          // the flow's times become the detection's first/last seen, which retention and `since` go by: no later than a
          // line may be dated (a host's clock a day ahead), or a host could date detections retention never deletes
          if (cand.last_seen > maxUnixTime || cand.first_seen > maxUnixTime) {
            return rejectRow(line, row, `outflow_candidates row invalid: ${cand.last_seen > maxUnixTime ? 'last_seen' : 'first_seen'}: more than ${maxClockSkew} s ahead of the aggregator's clock`);
          }
          // process_chain is JSON inside a column: its escapes were decoded after the line's check (unstorableText)
          for (const link of cand.process_chain) {
            for (const v of Object.values(link)) {
              const why = unstorable(v);
              if (why !== undefined) return rejectRow(line, row, `outflow_candidates row invalid: process_chain: ${why}`);
            }
          }
          const dest = keyOf(cand.server_name, cand.remote_address);
          // Sighted over the flow's span up to its line: from the flow's start, so first-seen never follows it.
          const start = candidateStart(cand.first_seen, t, analytics);
          // (each sighted at both ends: the hot paths above keep their two-argument form)
          for (const at of start < t ? [start, t] : [t]) {
            host.sightDestination(dest, at);
            if (cand.identity) host.sightApp(cand.identity, at);
            for (const link of cand.process_chain) if (link.identity) host.sightApp(link.identity, at);
            if (cand.group_root_identity) host.sightApp(cand.group_root_identity, at);
            if (cand.identity && cand.bytes_out >= uploadBytes && cand.pcr >= uploadPcr) sightPair(cand.identity, dest, host.hostId, at);
          }
          // a firing flow still open is judged again (a detection update) at most every open_flow_update_interval; its close at once
          const rejudgeHold = cand.closed ? 0 : openFlowUpdateInterval;
          if (!line.baseline) heldCandidates.push({ key: rowKey, input: { hostId: host.hostId, eventTime: t, destinationKey: dest, candidate: cand, rejudgeHold } });
          return 0;
        }
      }
    };

    const addItem = (line: ResultLogLine, host: HostBatch, row: ResultRow | null) => {
      // Only differential candidate rows are keyed up front: a re-delivered candidate would be pending twice.
      // Every other row's effect is an idempotent merge, re-applied harmlessly (no digest, no key to keep).
      rowKey = line.shape !== 'snapshot' && line.query === 'outflow_candidates' ? newKey(line, row) : -1;
      let flags = applyRow(line, host, row);
      // baseline rows are the ones whose state counts (an ignored row has none), so `baseline` is a part of what was applied
      if (flags === 0 && line.baseline) flags |= ITEM_BASELINE;
      itemKey.push(rowKey);
      itemTime.push(line.unixTime);
      itemFlags.push(flags);
    };

    for (const input of inputs) {
      inputIndex++;
      if (input instanceof RejectedInput) {
        result.lines++;
        rejectLine(input.reason, input.text);
        continue;
      }
      if (typeof input === 'string') {
        if (input.length === 0) continue;
        // Blank lines are skipped; only a line starting with a character trim() may remove can be one
        // (every JS whitespace is ≤ U+0020 or ≥ U+00A0), which spares a trim() copy of every line.
        const first = input.charCodeAt(0);
        if ((first <= 0x20 || first >= 0xa0) && input.trim() === '') continue;
        // bytes of UTF-8, as the file and stdin sources count them; more characters than bytes allowed is too long
        // whatever they are, without measuring a long line
        if (input.length > maxLineBytes || utf8LongerThan(input, maxLineBytes)) {
          result.lines++;
          rejectLine(`line longer than ${maxLineBytes} bytes`, input);
          continue;
        }
      }
      result.lines++;
      received = input;
      lineHeld = false;
      removedRows = -1;
      try {
        const r = readResultLine(input, parseOptions) ?? parseResultLine(input, parseOptions);
        if (!r.ok) {
          rejectLine(r.reason, rawText(input));
          continue;
        }
        // JSON may spell a NUL (\u0000) that PostgreSQL text cannot hold, or a lone surrogate (\ud800) that neither
        // store keeps as it is: the whole batch would fail on every retry. A string input holds neither unescaped:
        // text decoded from bytes cannot, and JSON-decoded strings (HTTP wrapper bodies) come with lone surrogates
        // escaped again (decodeIngestBody).
        const unfit = typeof input !== 'string' || input.includes('\\u') ? unstorableText(r.line) : undefined;
        if (unfit !== undefined) {
          rejectLine(unfit, rawText(input));
          continue;
        }
        const host = hostOf(r.line);
        // A line without rows is one item, so its host activity counts.
        const rows = r.line.rows;
        // Named here, per line: rows of other queries are never keyed nor rejected, so each is counted as ignored.
        if (r.line.query === null) countIgnoredQuery(result.ignoredQueries, r.line.name, rows.length || 1);
        if (rows.length === 0) addItem(r.line, host, null);
        else {
          for (let i = 0; i < rows.length; i++) {
            rowIndex = i;
            addItem(r.line, host, rows[i]!);
          }
        }
      } catch (err) {
        // A bug, not bad input (every input problem above has a reason): one line must never stop a source
        // (a file would stop at its checkpoint, a NATS batch be redelivered forever). Rows of this line handled
        // before the error stay applied.
        const e = coerceError(err);
        log.error({ err: e, source: sourceName }, 'result line could not be processed; quarantined');
        rejectLine(`line could not be processed: ${e.message}`, rawText(input));
      }
    }
    result.rows = itemKey.length;
    for (const { carrier: a, merged: m } of appAttrs.values()) {
      a.attributeTimes = m.times;
      a.path = m.path;
      a.signatureClass = m.signatureClass;
      a.teamId = m.teamId;
      a.signingId = m.signingId;
      a.cdhash = m.cdhash;
    }

    const hostRows: HostSighting[] = [];
    const destinations: DestinationSighting[] = [];
    const apps: AppSighting[] = [];
    const status: HostComponentStatus[] = [];
    for (const h of hosts.values()) {
      hostRows.push({ hostId: h.hostId, hostname: h.hostname, hostnameTime: h.hostnameTime, firstSeen: h.firstSeen, lastSeen: h.lastSeen });
      if (h.destinations) for (const d of h.destinations.values()) destinations.push(d);
      if (h.apps) for (const a of h.apps.values()) apps.push(a);
      if (h.status) for (const st of h.status.values()) status.push(st);
    }

    const batch: BatchWrites = {
      result, sourceName, source, keys, itemKey, itemTime, itemFlags, heldQuarantine, lineKeys, heldCandidates, quarantine,
      hostRows, destinations, pairs: [...pairs.values()], apps, status, earliest, newest, days, observe,
    };
    const file = deps.quarantineFile;
    // Opened before the transaction: open(2) of a named pipe waits for its reader, and the store's write transaction
    // (every other writer of the store waits for it) must not wait with it.
    // (held rejects are settled inside it: any of them may be new)
    const fh =
      (quarantine.length || heldQuarantine.length) && file
        ? await open(file, 'a', PRIVATE_FILE_MODE).catch((err: unknown) => void log.warn({ err: coerceError(err), file }, 'quarantine file append failed (lines are in the store)'))
        : undefined;
    // A regular file is appended before the COMMIT (below); a pipe after it, as a write to a pipe waits while its
    // reader lags (a full pipe buffer), and the store's write transaction must not wait with it either.
    const inTransaction = fh ? await fh.stat().then((st) => st.isFile(), () => false) : false;
    const appendQuarantine = async (): Promise<void> => {
      if (!quarantine.length || !fh || !file) return;
      const body = quarantine.map((q) => JSON.stringify({ received_at: q.receivedAt, source: q.source, reason: q.reason, line: q.line })).join('\n') + '\n';
      quarantineWrite = quarantineWrite.then(() =>
        appendQuarantineFile(fh, file, body).catch((err: unknown) => log.warn({ err: coerceError(err), file }, 'quarantine file append failed (lines are in the store)')),
      );
      await quarantineWrite;
    };
    try {
      await store.transaction(async (tx) => {
        await commitBatch(tx, batch, maxQuarantine);
        // Before the COMMIT (settleItems has decided which rejects are new): a process killed between the two leaves
        // the lines in the file and, not committed, they are read and quarantined again (twice in the file, never
        // only in the store, where the source's checkpoint has moved past them).
        if (inTransaction) await appendQuarantine();
      }, source.durable ? DURABLE : undefined);
      // (never throws: a failed append is logged)
      if (!inTransaction) await appendQuarantine();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError('STORE_WRITE', `ingest batch from ${sourceName} not stored: ${coerceError(err).message}`, 'the sender should retry; check the store', { cause: err });
    } finally {
      await fh?.close().catch(() => undefined);
    }
    addIngestResults(totals, result);
    return result;
  }

  return { ingestLines, totals: () => copyIngestResult(totals) };
}
