/**
 * Output helpers for `outflow fleet detections`: JSON lines, OCSF 1.x Detection Finding (class 2004,
 * mapping owned by fleet/sinks/ocsf.ts) or a table for people.
 */
import path from 'node:path';
import { InputError } from '../../src/errors.js';
import type { Detection } from '../../src/schemas/detection.js';
import { cutHostNameToWidth, cutToWidth, padToWidth, textWidth } from './text-width.js';
import { eventPresent, type HostStatusRow } from '../store/store.js';

export type DetectionFormat = 'json' | 'ocsf' | 'table';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** What `--since` and `?since=` take, for error messages and help. */
export const SINCE_FORMS =
  'a duration back from the newest event time or now, whichever is earlier (30m, 24h, 7d, 2w; units s m h d w), unix seconds (1773064700), or an ISO 8601 date or date-time (2026-03-09, 2026-03-09T14:30, 2026-03-09T14:30:00+01:00; UTC unless it has Z or an offset)';

/** Why a `since` value was refused: `reason` names the value, `hint` what to type instead. */
export class SinceError extends InputError {
  constructor(
    value: string,
    readonly reason: string,
    hint: string,
  ) {
    super(`--since ${value} ${reason}`, [], hint);
  }
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** An ISO 8601 date (UTC midnight) or date-time (UTC unless it carries Z or an offset), in unix seconds; null if it is none or names no real time. */
function isoSeconds(v: string): number | null {
  const m = ISO.exec(v);
  if (!m) return null;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  if (month! < 1 || month! > 12 || day! < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const d = new Date(0);
  d.setUTCFullYear(year!, month! - 1, day!); // not Date.UTC, which takes years 0–99 for 1900–1999
  if (d.getUTCDate() !== day) return null; // 2026-02-30
  const t = d.getTime() + (hour * 3600 + minute * 60 + second) * 1000;
  let offset = 0;
  const zone = m[7];
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const [oh, om] = [Number(z[2]), Number(z[3] ?? 0)];
    if (oh > 23 || om > 59) return null;
    offset = (z[1] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return Math.floor(t / 1000) - offset;
}

/**
 * The time a duration `since` counts back from: the newest event time in the store, but never later than the
 * wall clock `now`. A replay of old logs counts back from its last event; live, a single host whose clock runs
 * ahead (ingest takes lines up to a day in the future) would otherwise move "24h" to a window that is mostly
 * still to come. An empty store counts back from `now`.
 */
export function sinceAnchor(newest: number | null, now: number): number {
  return eventPresent(newest, now) ?? now;
}

/**
 * `--since` and `?since=`: a duration (`30m`, `24h`, `7d`) counted back from `anchor` (sinceAnchor), unix
 * seconds, or an ISO 8601 date or date-time (UTC unless it has a zone). Anything else is a SinceError: a guess
 * (Date.parse takes `7` for 2001-07-01) would widen or empty the result without a word.
 */
export function parseSince(value: string, anchor: number): number {
  const v = value.trim();
  const rel = /^(\d+)\s*([smhdw])$/i.exec(v);
  // before every event time: 0, so both stores get an integer they can bind (PostgreSQL's bigint refused 1e28)
  if (rel) return Math.max(0, anchor - Number(rel[1]) * UNITS[rel[2]!.toLowerCase()]!);
  if (/^\d+$/.test(v)) {
    // unix seconds from 1973 (9 digits) to 2286 (10 digits); a shorter number is a duration without its unit
    if (v.length === 9 || v.length === 10) return Number(v);
    if (v.length === 13) return fail(value, 'looks like milliseconds (13 digits)', `divide by 1000: ${v.slice(0, 10)} is unix seconds`);
    if (v.length < 9) return fail(value, 'is a number without a unit', `for a duration add one: ${v}h, ${v}d`);
    return fail(value, 'is not unix seconds (9 or 10 digits)');
  }
  const iso = isoSeconds(v);
  if (iso !== null) return iso;
  return fail(value, 'is not a time');
}

function fail(value: string, reason: string, advice?: string): never {
  throw new SinceError(value, reason, `${advice ? `${advice}; ` : ''}accepted: ${SINCE_FORMS}`);
}

/** `MM-DD HH:MMZ`: the year and seconds are in the JSON; a triage table needs the day and time. */
function shortTime(t: number): string {
  return new Date(t * 1000).toISOString().slice(5, 16).replace('T', ' ') + 'Z';
}

function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)}G`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)}M`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)}K`;
  return `${n}`;
}

/** An app bundle's name (`Visual Studio Code` rather than the `Electron` binary inside it), else the file name. */
function processName(d: Detection): string {
  const p = d.process.path;
  const bundle = /\/([^/]+)\.app\/Contents\/MacOS\/[^/]+$/.exec(p);
  return bundle?.[1] ?? (path.posix.basename(p) || d.process.identity);
}

const COLUMNS = ['last_seen', 'severity', 'analytic', 'host', 'process', 'destination', 'bytes_out', 'count'] as const;
/** The columns that give up width when the table is too wide for the terminal, widest first. */
/**
 * C0 and C1 controls and DEL: a newline would forge a row, an escape sequence reach the admin's terminal. Bidi
 * controls (and the line and paragraph separators): a host name with U+202E would show the rest of its row backwards
 * in a terminal that applies them, spoofing the destination or process next to it.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** Host-sent text for a terminal: each control character shown as its `\u` escape. */
export function printable(s: string): string {
  return s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const SHRINKABLE = new Set(['destination', 'process', 'host', 'analytic']);
const MIN_WIDTH = 12;

/**
 * A table for people. `maxWidth` (the terminal's columns) narrows the widest of destination, process, host and
 * analytic until a row fits; without it (a pipe) every cell is shown up to 48 characters.
 */
export function detectionsTable(rows: readonly Detection[], maxWidth?: number): string {
  const data = rows.map((d) => [
    shortTime(d.last_seen),
    `${d.severity} ${d.score}${d.baseline_warming ? '*' : ''}`,
    `${d.analytic} ${d.branch}`,
    printable(d.hostname || d.host_id),
    printable(processName(d)),
    printable(`${d.destination_key}:${d.flow.remote_port}`),
    bytes(d.bytes_out_total),
    String(d.count),
  ]);
  const widths = COLUMNS.map((h, i) => Math.min(48, Math.max(h.length, ...data.map((r) => textWidth(r[i]!)))));
  if (maxWidth !== undefined) {
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
    while (total() > maxWidth) {
      let widest = -1;
      for (const [i, h] of COLUMNS.entries()) if (SHRINKABLE.has(h) && widths[i]! > MIN_WIDTH && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      if (widest < 0) break;
      widths[widest]! -= 1;
    }
  }
  const dest = COLUMNS.indexOf('destination');
  // a destination's meaning is at its end (registrable domain, port)
  const line = (r: readonly string[]) => r.map((c, i) => padToWidth(i === dest ? cutHostNameToWidth(c, widths[i]!) : cutToWidth(c, widths[i]!), widths[i]!)).join('  ').trimEnd();
  const warming = rows.some((d) => d.baseline_warming);
  return [
    line(COLUMNS),
    ...data.map(line),
    `${rows.length} detection${rows.length === 1 ? '' : 's'}${warming ? ' (* baseline warming: judged on less than baseline_maturity_days of fleet data)' : ''}`,
  ].join('\n');
}

const STATUS_COLUMNS = ['time', 'host', 'component', 'state', 'detail'] as const;

/** Hosts' collector health for people: the detail (what to do) takes the rest of the line. */
export function hostStatusTable(rows: readonly HostStatusRow[], truncated: boolean, maxWidth?: number): string {
  const data = rows.map((r) => [shortTime(r.time), printable(r.hostname || r.hostId), printable(r.component), printable(r.state), printable(r.detail)]);
  const widths = STATUS_COLUMNS.map((h, i) => Math.min(i === 4 ? 200 : 40, Math.max(h.length, ...data.map((r) => textWidth(r[i]!)))));
  if (maxWidth !== undefined) widths[4] = Math.max(MIN_WIDTH, Math.min(widths[4]!, maxWidth - widths.slice(0, 4).reduce((a, b) => a + b + 2, 0)));
  const line = (r: readonly string[]) => r.map((c, i) => padToWidth(cutToWidth(c, widths[i]!), widths[i]!)).join('  ').trimEnd();
  const more = truncated ? ' (more match: narrow with --problems, --component or --since, or raise --limit)' : '';
  return [line(STATUS_COLUMNS), ...data.map(line), `${rows.length} status row${rows.length === 1 ? '' : 's'}${more}`].join('\n');
}

export async function formatDetections(rows: readonly Detection[], format: DetectionFormat, opts: { maxWidth?: number } = {}): Promise<string> {
  if (format === 'table') return detectionsTable(rows, opts.maxWidth);
  if (format === 'ocsf') {
    const { toOcsf } = await import('../sinks/ocsf.js');
    return rows.map((d) => JSON.stringify(toOcsf(d))).join('\n');
  }
  return rows.map((d) => JSON.stringify(d)).join('\n');
}
