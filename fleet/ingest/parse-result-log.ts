/**
 * Pure parser of osquery result-log lines (formats.md §6): event (`columns`+`action`), batch
 * (`diffResults`) and snapshot (`snapshot[]`) shapes; numbers or strings for unixTime/epoch/counter;
 * decorations (nested or `--decorations_top_level`). Never throws on bad input: a line is either a
 * normalized ResultLogLine or a reject with the reason.
 *
 * Hand-written rather than zod: this runs for every line at 200k lines/s, and the envelope is small.
 */
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { utf8LongerThan } from '../../src/strings.js';
import { OUTFLOW_QUERIES, type OutflowQuery, type ResultLogLine, type ResultRow, type RowAction } from '../../src/schemas/result-log.js';

/**
 * Longest query name, host identity and hostname accepted (characters). Real ones are tens of characters (a
 * UUID is 36); these strings are copied into every host row, dedupe key and quarantine row of the line, so a
 * 60 KB host id multiplied a line's rejected rows into gigabytes.
 */
export const MAX_ENVELOPE_TEXT = 512;

/**
 * Whether a host identity is longer than MAX_ENVELOPE_TEXT bytes of UTF-8 (its characters are bounded apart): a
 * PostgreSQL index entry holds 2704 bytes at most, and a candidate's primary key holds the host id twice (host id,
 * and the candidate id made of it and the flow id), so 512 characters of 3 bytes each failed every batch that
 * carried one of its candidates there, where SQLite kept them. Within 512 bytes every key fits with the longest
 * flow id and key texts ingest keeps.
 */
export function hostIdTooLong(hostId: string): boolean {
  return utf8LongerThan(hostId, MAX_ENVELOPE_TEXT);
}

export type ParseLineResult = { ok: true; line: ResultLogLine } | { ok: false; reason: string };

export interface ParseOptions {
  /** Lines with unixTime above this are rejected (a host clock in the future would finalize everything early). */
  maxUnixTime?: number;
}

const SUFFIXES = OUTFLOW_QUERIES.map((q) => [q, `/${q}`, `_${q}`] as const);

/**
 * Which Outflow query a logged `name` is: the name itself, or the suffix after the pack delimiter
 * (`pack/Global/outflow_candidates`, `pack/team-7/…`, `pack_outflow_outflow_candidates`).
 */
export function matchQuery(name: string): OutflowQuery | null {
  for (const [q, slash, underscore] of SUFFIXES) {
    if (name === q || name.endsWith(slash) || name.endsWith(underscore)) return q;
  }
  return null;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** osquery writes these as numbers today and as decimal strings in old versions and the docs. */
function toInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && v !== '' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function toBool(v: unknown): boolean {
  return v === true || v === 'true' || v === 1 || v === '1';
}

/** Rows of a snapshot/diffResults list into `into`: null, or the reason the list is not an array of objects. */
export function rowsFrom(list: unknown, action: RowAction, into: ResultRow[], what: string): string | null {
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) return `${what} is not an array`;
  for (let i = 0; i < list.length; i++) {
    const columns = list[i];
    if (!isPlainObject(columns)) return `${what}[${i}] is not an object`;
    into.push({ action, columns });
  }
  return null;
}

/** Two result lines run together: the newlines between them were lost on the way (curl -d strips them). */
const SEVERAL_VALUES = /\}\s*\{"name":/;
const SEVERAL_VALUES_HINT = ' (several result lines on one line: were its newlines stripped? send NDJSON with curl --data-binary, not -d)';

export function parseResultLine(input: unknown, opts: ParseOptions = {}): ParseLineResult {
  let obj: unknown = input;
  if (typeof input === 'string') {
    if (input.trim() === '') return { ok: false, reason: 'empty line' };
    if (nestsDeeperThan(input)) return { ok: false, reason: `not a result line: JSON nested deeper than ${MAX_JSON_DEPTH} levels` };
    try {
      obj = JSON.parse(input);
    } catch (err) {
      return { ok: false, reason: `not JSON: ${(err as Error).message}${SEVERAL_VALUES.test(input) ? SEVERAL_VALUES_HINT : ''}` };
    }
    // Wrappers may carry the line as a JSON string inside a string.
    if (typeof obj === 'string') return parseResultLine(obj, opts);
  }
  if (!isPlainObject(obj)) return { ok: false, reason: 'not a JSON object' };

  const name = obj.name;
  if (typeof name !== 'string' || name === '') return { ok: false, reason: 'missing name' };
  if (name.length > MAX_ENVELOPE_TEXT) return { ok: false, reason: `name longer than ${MAX_ENVELOPE_TEXT} characters` };

  const decorations = isPlainObject(obj.decorations) ? obj.decorations : undefined;
  const hostUuid = decorations?.host_uuid ?? obj.host_uuid;
  const hostIdentifier = obj.hostIdentifier;
  const hostId = typeof hostUuid === 'string' && hostUuid !== '' ? hostUuid : typeof hostIdentifier === 'string' ? hostIdentifier : '';
  if (hostId === '') return { ok: false, reason: 'missing host identity (decorations.host_uuid or hostIdentifier)' };
  if (hostId.length > MAX_ENVELOPE_TEXT) return { ok: false, reason: `host identity longer than ${MAX_ENVELOPE_TEXT} characters` };
  if (hostIdTooLong(hostId)) return { ok: false, reason: `host identity longer than ${MAX_ENVELOPE_TEXT} bytes (UTF-8)` };
  const hostnameRaw = decorations?.hostname ?? obj.hostname;
  const hostname = typeof hostnameRaw === 'string' ? hostnameRaw : '';
  if (hostname.length > MAX_ENVELOPE_TEXT) return { ok: false, reason: `hostname longer than ${MAX_ENVELOPE_TEXT} characters` };

  const unixTime = toInt(obj.unixTime);
  if (unixTime === undefined || unixTime < 0) return { ok: false, reason: 'missing or invalid unixTime' };
  if (opts.maxUnixTime !== undefined && unixTime > opts.maxUnixTime) return { ok: false, reason: `unixTime ${unixTime} is in the future` };
  const epoch = obj.epoch === undefined ? 0 : toInt(obj.epoch);
  if (epoch === undefined) return { ok: false, reason: 'invalid epoch' };
  // A missing counter (very old osquery) is unknown, not 0: we cannot call it a baseline dump.
  const counter = obj.counter === undefined ? -1 : toInt(obj.counter);
  if (counter === undefined || counter < -1) return { ok: false, reason: 'invalid counter' };
  const numerics = toBool(obj.numerics);

  const rows: ResultRow[] = [];
  let shape: ResultLogLine['shape'];
  let problem: string | null = null;
  if (obj.snapshot !== undefined) {
    shape = 'snapshot';
    if (!Array.isArray(obj.snapshot)) return { ok: false, reason: 'snapshot is not an array' };
    problem = rowsFrom(obj.snapshot, 'snapshot', rows, 'snapshot');
  } else if (obj.diffResults !== undefined) {
    shape = 'batch';
    const diff = obj.diffResults;
    if (!isPlainObject(diff)) return { ok: false, reason: 'diffResults is not an object' };
    // osquery logs removed rows before added ones; keep that order.
    problem = rowsFrom(diff.removed, 'removed', rows, 'diffResults.removed') ?? rowsFrom(diff.added, 'added', rows, 'diffResults.added');
  } else if (obj.columns !== undefined) {
    shape = 'event';
    const action = obj.action;
    if (action !== 'added' && action !== 'removed' && action !== 'snapshot') return { ok: false, reason: `unknown action ${JSON.stringify(action)}` };
    if (!isPlainObject(obj.columns)) return { ok: false, reason: 'columns is not an object' };
    rows.push({ action, columns: obj.columns });
    if (action === 'snapshot') shape = 'snapshot';
  } else {
    return { ok: false, reason: 'no columns, diffResults or snapshot' };
  }
  if (problem) return { ok: false, reason: problem };
  return parsedLine(name, matchQuery(name), hostId, hostname, unixTime, epoch, counter, numerics, shape, rows);
}

/**
 * A parsed line, built in one place for this parser and read-result-line.ts (same property order, same
 * rules): a snapshot without a counter is a baseline dump (counter 0), and so is any counter-0 line.
 */
export function parsedLine(
  name: string,
  query: OutflowQuery | null,
  hostId: string,
  hostname: string,
  unixTime: number,
  epoch: number,
  counter: number,
  numerics: boolean,
  shape: ResultLogLine['shape'],
  rows: ResultRow[],
): ParseLineResult {
  return {
    ok: true,
    line: {
      name,
      query,
      hostId,
      hostname,
      unixTime,
      epoch,
      counter: counter === -1 && shape === 'snapshot' ? 0 : counter,
      numerics,
      shape,
      baseline: shape === 'snapshot' || counter === 0,
      rows,
    },
  };
}

export interface ResultLogReject {
  /** 1-based line number in the text. */
  lineNumber: number;
  raw: string;
  reason: string;
}

/** Parse a whole log text (NDJSON). Blank lines are skipped, not rejected. */
export function parseResultLog(text: string, opts: ParseOptions = {}): { lines: ResultLogLine[]; rejects: ResultLogReject[] } {
  const lines: ResultLogLine[] = [];
  const rejects: ResultLogReject[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i]!;
    if (l.trim() === '') continue;
    const r = parseResultLine(l, opts);
    if (r.ok) lines.push(r.line);
    else rejects.push({ lineNumber: i + 1, raw: l, reason: r.reason });
  }
  return { lines, rejects };
}
