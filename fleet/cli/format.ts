/**
 * Output helpers for `outflow fleet detections`: JSON lines, OCSF 1.x Detection Finding (class 2004,
 * mapping owned by fleet/sinks/ocsf.ts) or a table for people.
 */
import path from 'node:path';
import { InputError } from '../../src/errors.js';
import type { Detection } from '../../src/schemas/detection.js';

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

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)}G`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)}M`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)}K`;
  return `${n}`;
}

export function detectionsTable(rows: readonly Detection[]): string {
  const header = ['last_seen', 'severity', 'score', 'analytic', 'branch', 'host', 'process', 'destination', 'bytes_out', 'count'];
  const data = rows.map((d) => [
    iso(d.last_seen),
    d.severity + (d.baseline_warming ? '*' : ''),
    String(d.score),
    d.analytic,
    d.branch,
    d.hostname || d.host_id,
    path.posix.basename(d.process.path) || d.process.identity,
    `${d.destination_key}:${d.flow.remote_port}`,
    bytes(d.bytes_out_total),
    String(d.count),
  ]);
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...data.map((r) => r[i]!.length))));
  const line = (r: string[]) => r.map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...data.map(line), `${rows.length} detection${rows.length === 1 ? '' : 's'}`].join('\n');
}

export async function formatDetections(rows: readonly Detection[], format: DetectionFormat): Promise<string> {
  if (format === 'table') return detectionsTable(rows);
  if (format === 'ocsf') {
    const { toOcsf } = await import('../sinks/ocsf.js');
    return rows.map((d) => JSON.stringify(toOcsf(d))).join('\n');
  }
  return rows.map((d) => JSON.stringify(d)).join('\n');
}
