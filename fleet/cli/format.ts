/**
 * Output helpers for `outflow fleet detections`: JSON lines, OCSF 1.x Detection Finding (class 2004,
 * mapping owned by fleet/sinks/ocsf.ts) or a table for people.
 */
import path from 'node:path';
import { InputError } from '../../src/errors.js';
import type { Detection } from '../../src/schemas/detection.js';
import { cutHostName, cutText } from '../../src/strings.js';

export type DetectionFormat = 'json' | 'ocsf' | 'table';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * `--since`: ISO-8601 time, unix seconds, or a duration (`30m`, `24h`, `7d`) counted back from `newest`
 * — the newest event time in the store, which is "now" in live operation and the end of a replay.
 */
export function parseSince(value: string, newest: number): number {
  const v = value.trim();
  if (/^\d{9,}$/.test(v)) return Number(v);
  const rel = /^(\d+)\s*([smhdw])$/i.exec(v);
  if (rel) return newest - Number(rel[1]) * UNITS[rel[2]!.toLowerCase()]!;
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return Math.floor(t / 1000);
  throw new InputError(`--since ${value} is not a time`, [], 'use an ISO time (2026-03-01T00:00:00Z), unix seconds, or a duration such as 24h or 7d');
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
    d.hostname || d.host_id,
    processName(d),
    `${d.destination_key}:${d.flow.remote_port}`,
    bytes(d.bytes_out_total),
    String(d.count),
  ]);
  const widths = COLUMNS.map((h, i) => Math.min(48, Math.max(h.length, ...data.map((r) => r[i]!.length))));
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
  const line = (r: readonly string[]) => r.map((c, i) => (i === dest ? cutHostName(c, widths[i]!) : cutText(c, widths[i]!)).padEnd(widths[i]!)).join('  ').trimEnd();
  const warming = rows.some((d) => d.baseline_warming);
  return [
    line(COLUMNS),
    ...data.map(line),
    `${rows.length} detection${rows.length === 1 ? '' : 's'}${warming ? ' (* baseline warming: judged on less than baseline_maturity_days of fleet data)' : ''}`,
  ].join('\n');
}

export async function formatDetections(rows: readonly Detection[], format: DetectionFormat, opts: { maxWidth?: number } = {}): Promise<string> {
  if (format === 'table') return detectionsTable(rows, opts.maxWidth);
  if (format === 'ocsf') {
    const { toOcsf } = await import('../sinks/ocsf.js');
    return rows.map((d) => JSON.stringify(toOcsf(d))).join('\n');
  }
  return rows.map((d) => JSON.stringify(d)).join('\n');
}
