import { ParseError } from '../../src/errors.js';

/** One row of `ps -axww -o pid=,ppid=,uid=,lstart=,comm=` (formats.md §3.1). */
export interface PsRow {
  pid: number;
  ppid: number;
  uid: number;
  /** Unix seconds (lstart printed in UTC: the tool runs with TZ=UTC). */
  start: number;
  /** Executable path on macOS (may contain spaces); a short name on Linux. */
  comm: string;
}

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** `Www Mmm dd HH:MM:SS YYYY` (C locale, UTC) → unix seconds, or NaN. */
export function parseLstart(tokens: readonly string[]): number {
  const [, mon, day, time, year] = tokens;
  const m = mon !== undefined ? MONTHS[mon] : undefined;
  const hms = time ? /^(\d{1,2}):(\d{2}):(\d{2})$/.exec(time) : null;
  if (m === undefined || !hms || !day || !year || !/^\d{1,2}$/.test(day) || !/^\d{4}$/.test(year)) return Number.NaN;
  return Date.UTC(Number(year), m, Number(day), Number(hms[1]), Number(hms[2]), Number(hms[3])) / 1000;
}

/**
 * Parse the pid/ppid/uid/lstart/comm listing. Columns are split on runs of whitespace (lstart pads the
 * day with a space); comm is everything after the fifth lstart token, spaces included. Lines that do not
 * fit are counted in `skipped`. Throws ParseError only for non-empty input with no valid row.
 */
export function parsePsProcesses(text: string): { rows: PsRow[]; skipped: number } {
  const rows: PsRow[] = [];
  let skipped = 0;
  let lineNo = 0;
  let firstBad: number | undefined;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    const m = /^\s*(\d+)\s+(\d+)\s+(-?\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s(.*)$/.exec(line);
    if (!m) {
      skipped++;
      firstBad ??= lineNo;
      continue;
    }
    const start = parseLstart([m[4]!, m[5]!, m[6]!, m[7]!, m[8]!]);
    const comm = m[9]!.trim();
    if (!Number.isFinite(start) || !comm) {
      skipped++;
      firstBad ??= lineNo;
      continue;
    }
    rows.push({ pid: Number(m[1]), ppid: Number(m[2]), uid: Number(m[3]), start, comm });
  }
  if (!rows.length && skipped) throw new ParseError('ps output has no process rows', firstBad);
  // ps prints comm as it is: an executable named with a newline could add a row of its own, claiming any
  // pid (its own, or another process's, attributed to, say, Safari's path). A pid listed twice is ambiguous,
  // so none of its rows is believed (eslogger and the next snapshot still know the real one).
  const seen = new Map<number, number>();
  for (const r of rows) seen.set(r.pid, (seen.get(r.pid) ?? 0) + 1);
  if (seen.size === rows.length) return { rows, skipped };
  const unique = rows.filter((r) => seen.get(r.pid) === 1);
  return { rows: unique, skipped: skipped + rows.length - unique.length };
}

/**
 * Parse `ps -axww -o pid=,args=` into pid → argv. ps joins argv with spaces, so arguments containing
 * spaces cannot be recovered; splitting on whitespace is the best available approximation.
 */
export function parsePsArgs(text: string): { args: Map<number, string[]>; skipped: number } {
  const args = new Map<number, string[]>();
  let skipped = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    if (!m) {
      skipped++;
      continue;
    }
    args.set(Number(m[1]), m[2]!.trim().split(/\s+/).filter(Boolean));
  }
  return { args, skipped };
}

/** `/proc/<pid>/stat`: fields after the last `)` (comm may contain spaces and parentheses). */
export function parseProcStat(text: string): { comm: string; state: string; ppid: number; starttime: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); ppid is field 4; starttime field 22.
  const ppid = Number(rest[1]);
  const starttime = Number(rest[19]);
  if (!rest[0] || !Number.isFinite(ppid) || !Number.isFinite(starttime)) return undefined;
  return { comm: text.slice(open + 1, close), state: rest[0], ppid, starttime };
}

/** Real uid from `/proc/<pid>/status` (`Uid: real effective saved fs`). */
export function parseProcStatusUid(text: string): number | undefined {
  const m = /^Uid:\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** `btime` (boot time, unix s) from `/proc/stat`. */
export function parseBtime(text: string): number | undefined {
  const m = /^btime\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}
