import { ParseError } from '../../src/errors.js';

/*
 * macOS process snapshot from three `ps` listings (formats.md §3.1):
 *   ids    `ps -axww -o pid=,ppid=,uid=,lstart=`        numbers and a date only
 *   procs  `ps -axww -o pid=,ppid=,uid=,lstart=,comm=`  + executable path, last on the line
 *   args   `ps -axww -o pid=,args=`                     + argv joined by spaces, last on the line
 *
 * Any unprivileged process chooses its argv and the name it was executed by. Whether /bin/ps escapes a
 * newline in them is unverified, so assume it may not: then such a process prints lines of its own into
 * the procs and args listings, claiming any pid, uid and path. What a forged line cannot do is remove or
 * reorder the real lines, and it cannot appear in the ids listing, which holds no text a process chooses.
 * Hence:
 *  - the ids listing alone says which processes exist and their ppid, uid and start (nothing can be hidden
 *    or invented);
 *  - a pid listed twice in a text listing is ambiguous: none of its lines is believed (the real one is
 *    among them, so a forged line can withhold a path or argv but never replace it);
 *  - a row's text is believed only when the next line is a clean row (or the output ends there with a
 *    newline): a forged line always follows the real line of the process that printed it, whose text was
 *    cut at the newline (a process exec'd as "/tmp/x\n…" would otherwise pass as "/tmp/x"). Which of a
 *    pid's two lines is the forged one is unknown, so the rows before both lose their text: a forger can
 *    withhold the path of the process listed before its victim too, never replace it.
 * Left: a forged line for a pid listed once that agrees with the ids listing is believed — possible only
 * for a process whose own line is missing from that text listing (it exited between the runs).
 * The order of rows is no help: BSD-derived ps sorts by controlling terminal, then pid (ps.c pscomp), and
 * the terminal is not printed; a forger can also place a phantom between two real pids.
 */

/** One row of the ids listing. */
export interface PsIdRow {
  pid: number;
  ppid: number;
  uid: number;
  /** Unix seconds (lstart printed in UTC: the tool runs with TZ=UTC). */
  start: number;
}

/** One row of the procs listing. */
export interface PsRow extends PsIdRow {
  /** Executable path on macOS (may contain spaces); a short name on Linux. */
  comm: string;
}

/** One row of the args listing. */
export interface PsArgsRow {
  pid: number;
  args: string[];
}

/** A listing whose last column is free text, kept line by line so a row can be judged by the line after it. */
export interface PsTextListing<T> {
  /** One entry per line in output order: the row, or null for a line that fits no format (a blank one included). */
  lines: Array<T | null>;
  /** False when the output does not end with a newline (its last line may be cut short). */
  complete: boolean;
  /** Blank lines: ps prints none, only a name or argument ending in (or holding two) newlines does. */
  blank: number;
}

/** A process of the ids listing with the text the other listings could vouch for. */
export interface PsProcess extends PsIdRow {
  comm?: string;
  args?: string[];
}

export interface PsSnapshot {
  /** One per pid of the ids listing, in its order. */
  processes: PsProcess[];
  /**
   * Lines not used: lines that fit no format, and text rows of a pid (or start) the ids listing lacks — a
   * process that started or exited between the listings, or a forged row.
   */
  skipped: number;
  /**
   * Lines only a forged line explains: a pid listed twice in one listing, a blank line inside a text
   * listing. A newline in some process's name or argv — worth a warning.
   */
  forged: number;
  /** Processes whose path or argv was present but not believed (ambiguous or possibly cut at a newline). */
  withheld: number;
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

/** Lines of ps output, without the empty string after the final newline. */
function splitLines(text: string): { lines: string[]; complete: boolean; blank: number } {
  if (!text) return { lines: [], complete: true, blank: 0 };
  const complete = text.endsWith('\n');
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (complete) lines.pop();
  return { lines, complete, blank: lines.filter((l) => !l.trim()).length };
}

// pid ppid uid, then lstart's five tokens (the day is space-padded: split on runs of whitespace).
const ID_COLUMNS = String.raw`^\s*(\d+)\s+(\d+)\s+(-?\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)`;
const IDS_LINE = new RegExp(`${ID_COLUMNS}\\s*$`);
const PROCS_LINE = new RegExp(`${ID_COLUMNS}\\s(.*)$`);

function idRow(m: RegExpExecArray): PsIdRow | undefined {
  const start = parseLstart([m[4]!, m[5]!, m[6]!, m[7]!, m[8]!]);
  if (!Number.isFinite(start)) return undefined;
  return { pid: Number(m[1]), ppid: Number(m[2]), uid: Number(m[3]), start };
}

/**
 * Parse the ids listing (`pid=,ppid=,uid=,lstart=`). Every line is ps's own, so every valid row is
 * believed; a line that does not fit is counted in `skipped`. Throws ParseError only for non-empty input
 * with no valid row (this listing is the snapshot: without it there is none).
 */
export function parsePsIds(text: string): { rows: PsIdRow[]; skipped: number } {
  const rows: PsIdRow[] = [];
  const seen = new Set<number>();
  let skipped = 0;
  let firstBad: number | undefined;
  const { lines } = splitLines(text);
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const m = IDS_LINE.exec(line);
    const row = m ? idRow(m) : undefined;
    // One kernel snapshot lists a pid once; a repeat would be a ps bug, not something a process can cause.
    if (!row || seen.has(row.pid)) {
      skipped++;
      firstBad ??= i + 1;
      return;
    }
    seen.add(row.pid);
    rows.push(row);
  });
  if (!rows.length && skipped) throw new ParseError('ps output has no process rows', firstBad);
  return { rows, skipped };
}

/**
 * Parse the procs listing (`pid=,ppid=,uid=,lstart=,comm=`) line by line. comm is everything after the
 * fifth lstart token, spaces included. Whether a row is believed is for mergePsListings to judge.
 */
export function parsePsProcesses(text: string): PsTextListing<PsRow> {
  return textListing(text, (line) => {
    const m = PROCS_LINE.exec(line);
    const row = m ? idRow(m) : undefined;
    const comm = m?.[9]!.trim();
    return row && comm ? { ...row, comm } : null;
  });
}

/**
 * Parse the args listing (`pid=,args=`) line by line. ps joins argv with spaces, so arguments containing
 * spaces cannot be recovered; splitting on whitespace is the best available approximation.
 */
export function parsePsArgs(text: string): PsTextListing<PsArgsRow> {
  return textListing(text, (line) => {
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    return m ? { pid: Number(m[1]), args: m[2]!.trim().split(/\s+/).filter(Boolean) } : null;
  });
}

/** A text listing's lines, each parsed on its own (null: a line that does not parse). */
function textListing<T>(text: string, parseLine: (line: string) => T | null): PsTextListing<T> {
  const { lines, complete, blank } = splitLines(text);
  return { complete, blank, lines: lines.map(parseLine) };
}

/**
 * The rows of a text listing that can be believed (see the module comment), by pid. `fits` says whether a
 * row agrees with the ids listing; a row that does not is skipped and makes the row before it suspect.
 */
function believe<T extends { pid: number }>(listing: PsTextListing<T>, fits: (row: T) => boolean) {
  const { lines } = listing;
  const count = new Map<number, number>();
  let rowCount = 0;
  for (const row of lines) {
    if (!row) continue;
    rowCount++;
    count.set(row.pid, (count.get(row.pid) ?? 0) + 1);
  }
  const clean = lines.map((row) => row !== null && count.get(row.pid) === 1 && fits(row));
  const believed = new Map<number, T>();
  /** pids with a row that fits the ids listing, believed or not */
  const listed = new Set<number>();
  let skipped = 0;
  lines.forEach((row, i) => {
    if (!row || !fits(row)) {
      skipped++;
      return;
    }
    listed.add(row.pid);
    const nextIsClean = i + 1 < lines.length ? clean[i + 1] : listing.complete;
    if (clean[i] && nextIsClean) believed.set(row.pid, row);
  });
  // Every line beyond the first of a pid, and every blank line, can only have been printed by a process.
  return { believed, listed, skipped, forged: rowCount - count.size + listing.blank };
}

/**
 * Join the three listings (see the module comment): every process of the ids listing, with the path and
 * argv that could be believed. args may be missing (its ps failed): then no process has argv.
 */
export function mergePsListings(ids: readonly PsIdRow[], procs: PsTextListing<PsRow>, args?: PsTextListing<PsArgsRow>): PsSnapshot {
  const byPid = new Map(ids.map((r) => [r.pid, r]));
  // The procs row must be the same instance (pid and start); ppid and uid come from the ids listing,
  // so a process reparented or changing uid between the two runs keeps its path.
  const p = believe(procs, (r) => byPid.get(r.pid)?.start === r.start);
  const a = args ? believe(args, (r) => byPid.has(r.pid)) : undefined;
  let withheld = 0;
  const processes = ids.map((id): PsProcess => {
    const comm = p.believed.get(id.pid)?.comm;
    const argv = a?.believed.get(id.pid)?.args;
    if ((comm === undefined && p.listed.has(id.pid)) || (argv === undefined && a?.listed.has(id.pid))) withheld++;
    return { ...id, ...(comm !== undefined ? { comm } : {}), ...(argv !== undefined ? { args: argv } : {}) };
  });
  return { processes, skipped: p.skipped + (a?.skipped ?? 0), forged: p.forged + (a?.forged ?? 0), withheld };
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
