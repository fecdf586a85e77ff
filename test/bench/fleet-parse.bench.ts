/**
 * Result-line parsing cost (issue 7: ingest at ≥ 200 000 lines/s on one core): CPU µs per line of
 * `parseResultLine` (JSON.parse + hand checks) and of `readResultLine` (read-result-line.ts, what ingest
 * calls first), on simulated fleet lines handed over as the file source does (each decoded on its own).
 * - osquery order: the lines as osquery writes them (what the reader reads), all of them and by shape;
 * - JSON.parse alone, of the line and of its rows member only: what any reader that builds the row objects
 *   as JSON.parse does pays at least;
 * - sorted keys: the same lines re-serialized with sorted keys, which the reader leaves to the parser: the
 *   cost of its attempt.
 * Rounds are interleaved (each round runs every variant) and the median is reported: on a shared machine
 * single rounds move by ±30 % even in CPU time. Target: reader ≤ 1.0 µs per line.
 */
import { parseResultLine } from '../../fleet/ingest/parse-result-log.js';
import { readResultLine } from '../../fleet/ingest/read-result-line.js';
import { simulateFleet } from '../../scripts/simulate-fleet.js';
import type { BenchContext } from './run.js';

const ROUNDS = 9;
const OPTS = { maxUnixTime: 2_000_000_000 };

function cpuMicros(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
}

const sortedKeys = (o: unknown): unknown =>
  Array.isArray(o)
    ? o.map(sortedKeys)
    : o && typeof o === 'object'
      ? Object.fromEntries(
          Object.keys(o)
            .sort()
            .map((k) => [k, sortedKeys((o as Record<string, unknown>)[k])]),
        )
      : o;

/** Where the rows member's value starts and ends (osquery order: it ends before the action or the brace). */
function rowsSpan(l: string): [number, number] {
  const m = /"(columns|snapshot|diffResults)":/.exec(l)!;
  const end = l.endsWith('"}') ? l.lastIndexOf(',"action":') : l.length - 1;
  return [m.index + m[0].length, end];
}

/** Median CPU µs per line of each variant over interleaved rounds. */
function measure(lines: string[], variants: Record<string, (l: string) => unknown>): Record<string, number> {
  const all: Record<string, number[]> = {};
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, run] of Object.entries(variants)) {
      const us = cpuMicros(() => {
        for (let i = 0; i < lines.length; i++) if (run(lines[i]!) !== undefined) sink++;
      });
      (all[name] ??= []).push(us / lines.length);
    }
  }
  if (sink === 0) throw new Error('nothing parsed');
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(all)) {
    v.sort((a, b) => a - b);
    out[name] = Math.round(v[Math.floor(v.length / 2)]! * 1000) / 1000;
  }
  return out;
}

export default async function (b: BenchContext): Promise<void> {
  const fleet = simulateFleet({ hosts: b.quick ? 100 : 520, days: 1, seed: 1000, files: 1, duplicateRate: 0.01 });
  // as the file source hands them over: each line decoded from the file's bytes on its own (a one-byte
  // string when it is ASCII), not a slice of one big string
  const decoded = (l: string) => Buffer.from(l, 'utf8').toString('utf8');
  const lines = fleet.files[0]!.map(decoded);
  const sorted = lines.map((l) => decoded(JSON.stringify(sortedKeys(JSON.parse(l)))));
  const avgBytes = Math.round(lines.reduce((n, l) => n + l.length, 0) / lines.length);
  let read = 0;
  for (const l of lines) if (readResultLine(l, OPTS) !== undefined) read++;
  let readSorted = 0;
  for (const l of sorted) if (readResultLine(l, OPTS) !== undefined) readSorted++;
  const spans = new Map(lines.map((l) => [l, rowsSpan(l)]));

  const m = measure(lines, {
    parse: (l) => parseResultLine(l, OPTS),
    read: (l) => readResultLine(l, OPTS),
    json_line: (l) => JSON.parse(l),
    json_rows_only: (l) => {
      const [s, e] = spans.get(l)!;
      return JSON.parse(l.slice(s, e));
    },
  });
  b.report(`result lines, osquery order (${lines.length} lines)`, {
    parse_us: m.parse!,
    read_us: m.read!,
    read_vs_parse: Math.round((m.read! / m.parse!) * 100) / 100,
    json_parse_line_us: m.json_line!,
    json_parse_rows_only_us: m.json_rows_only!,
    read_pct: Math.round((read / lines.length) * 1000) / 10,
    avg_line_bytes: avgBytes,
    target_read_us: 1.0,
    meets_target: m.read! <= 1.0 ? 'yes' : 'no',
  });

  for (const [shape, pick] of [
    ['event lines (columns)', (l: string) => l.includes('"columns":{')],
    ['snapshot lines', (l: string) => l.includes('"snapshot":[')],
  ] as const) {
    const part = lines.filter(pick);
    const p = measure(part, { parse: (l) => parseResultLine(l, OPTS), read: (l) => readResultLine(l, OPTS) });
    b.report(`  ${shape} (${part.length})`, {
      parse_us: p.parse!,
      read_us: p.read!,
      read_vs_parse: Math.round((p.read! / p.parse!) * 100) / 100,
      avg_line_bytes: Math.round(part.reduce((n, l) => n + l.length, 0) / part.length),
    });
  }

  const s = measure(sorted, { parse: (l) => parseResultLine(l, OPTS), read_attempt: (l) => readResultLine(l, OPTS) ?? 0 });
  b.report(`result lines, sorted keys (${sorted.length} lines)`, {
    parse_us: s.parse!,
    read_attempt_us: s.read_attempt!,
    read_pct: Math.round((readSorted / sorted.length) * 1000) / 10,
  });
}
