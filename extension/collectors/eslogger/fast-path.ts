import { hasArchiveExtension } from '../../../src/classify/archive.js';
import { canonicalPath, type SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { parseEsTime } from './parse-eslogger.js';

/**
 * Decide from the raw line, before JSON.parse, whether an eslogger line can matter. Most of the stream is
 * open/write/close of files nobody cares about (builds, caches); those are rejected with a handful of
 * native string searches. Anything this cannot decide cheaply is passed on (the full parse decides), so
 * the fast path only ever loses lines that cannot produce a row.
 *
 * Pitfalls handled (formats.md §5.5): `/` is escaped as `\/` inside JSON strings, so paths are extracted
 * and unescaped instead of searching the raw line for `/Users/`; key order is not stable, so fields are
 * found by name anywhere in the line.
 */
export const Verdict = {
  /** Parse it: process-model event, or a path that may be sensitive / an archive. */
  Parse: 0,
  /** Cannot produce a row. */
  Reject: 1,
  /** An event type we did not subscribe to (counted, not parsed). */
  Unsupported: 2,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

// Needles start after the opening quote: V8 scans for a needle's first character with memchr, and `"`
// is the most frequent character in a JSON line. The quote is then checked by hand.
const EVENT_TYPE_KEY = 'event_type"';
const PATH_KEY = 'path"';
const SEQ_KEY = 'global_seq_num"';
const MODIFIED_KEY = 'modified"';
// `v` is rare in these lines (unlike `"` and `e`), so V8's first-character scan skips most of the line.
const EVENT_KEY_TAIL = 'vent"';

/**
 * Index inside the top-level event object, just before the key naming its kind (`"event":{"open":…`), or 1
 * (the whole line) when that shape is not found. The file events' bodies hold every path and flag the fast
 * path needs, and eslogger usually prints `event` after the ~1 KB process object, so scanning only from
 * here skips the process executable (which cannot produce a row for a file event) and its stat block.
 * A quote inside a JSON string is always escaped, so `"event"` followed by `:` cannot come from a path;
 * requiring `{"<kind>"` right after it rules out any other object that might carry an `event` key.
 */
function eventBody(line: string, kind: string): number {
  let from = 1;
  for (;;) {
    const at = line.indexOf(EVENT_KEY_TAIL, from);
    if (at === -1) return 1;
    from = at + EVENT_KEY_TAIL.length;
    if (line.charCodeAt(at - 1) !== 101 /* e */ || line.charCodeAt(at - 2) !== 34 /* " */) continue;
    let i = from;
    while (line.charCodeAt(i) === 32) i++;
    if (line.charCodeAt(i) !== 58 /* : */) continue;
    i++;
    while (line.charCodeAt(i) === 32) i++;
    if (line.charCodeAt(i) !== 123 /* { */) continue;
    const body = i + 1;
    i = body;
    while (line.charCodeAt(i) === 32) i++;
    if (line.charCodeAt(i) === 34 && line.startsWith(kind, i + 1) && line.charCodeAt(i + 1 + kind.length) === 34) return body;
  }
}

/** Index just after `"key"` followed by optional spaces and a colon, searching from `from`; -1 if absent. */
function findKey(line: string, key: string, from: number): number {
  for (;;) {
    const at = line.indexOf(key, from);
    if (at === -1) return -1;
    from = at + key.length;
    if (line.charCodeAt(at - 1) !== 34 /* " */) continue;
    let i = from;
    while (line.charCodeAt(i) === 32) i++;
    if (line.charCodeAt(i) === 58 /* : */) return i + 1;
  }
}

/** The `event_type` number, -1 when absent or not a number. */
export function rawEventType(line: string): number {
  const at = findKey(line, EVENT_TYPE_KEY, 1);
  return at === -1 ? -1 : readUint(line, at);
}

/** `global_seq_num` (drop detection), -1 when absent. Values stay exact up to 2^53, far beyond any real count. */
export function rawGlobalSeq(line: string): number {
  const at = findKey(line, SEQ_KEY, 1);
  return at === -1 ? -1 : readUint(line, at);
}

function readUint(line: string, from: number): number {
  let i = from;
  while (line.charCodeAt(i) === 32) i++;
  let v = -1;
  for (;;) {
    const c = line.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) break;
    v = v < 0 ? c : v * 10 + c;
    i++;
  }
  return v;
}

export class FastPath {
  /** First segments a sensitive path can start with (undefined: some rule matches anywhere). */
  private readonly roots: readonly string[] | undefined;
  /** event_type of the line last judged (-1 when unreadable), so callers need not read it twice. */
  lastEventType = -1;

  constructor(private readonly matcher: SensitivePathMatcher) {
    const roots = matcher.rootSegments();
    this.roots = roots ? [...roots] : undefined;
  }

  /** Does the raw JSON path string at [start, end) begin with one of the root segments? Allocation-free. */
  private underRoot(line: string, start: number, end: number): boolean {
    let i = start;
    if (line.charCodeAt(i) === 92 /* \ */) i++;
    if (line.charCodeAt(i) !== 47 /* / */) return false;
    i++;
    for (const root of this.roots!) {
      if (!line.startsWith(root, i)) continue;
      const after = i + root.length;
      const c = line.charCodeAt(after);
      if (after === end || c === 47 || c === 92) return true;
    }
    return false;
  }

  verdict(line: string): Verdict {
    this.lastEventType = -1;
    // A line cut short (eslogger killed mid-write, a pipe hiccup) must be counted as malformed, not
    // silently rejected: every complete JSON object line ends with `}`.
    let last = line.length - 1;
    while (last > 0 && line.charCodeAt(last) <= 32) last--;
    if (line.charCodeAt(last) !== 125 /* } */) return Verdict.Parse;
    const type = rawEventType(line);
    this.lastEventType = type;
    switch (type) {
      case 9: // exec
      case 11: // fork
      case 15: // exit
        return Verdict.Parse;
      case 10: // open
        return this.anyPath(line, false, eventBody(line, 'open'), 1) ? Verdict.Parse : Verdict.Reject;
      case 33: // write
        return this.anyPath(line, false, eventBody(line, 'write'), 1) ? Verdict.Parse : Verdict.Reject;
      case 13: // create
      case 25: {
        // rename
        const from = eventBody(line, type === 13 ? 'create' : 'rename');
        // new_path splits the destination into dir + filename; rare enough to hand to the full parse.
        if (line.indexOf('"new_path"', from) !== -1) return Verdict.Parse;
        return this.anyPath(line, true, from, type === 13 ? 1 : 2) ? Verdict.Parse : Verdict.Reject;
      }
      case 12: {
        // close: only close-after-modification produces a row
        const from = eventBody(line, 'close');
        let i = findKey(line, MODIFIED_KEY, from);
        if (i === -1) return Verdict.Reject; // no flag: the parser would reject the line too
        while (line.charCodeAt(i) === 32) i++;
        if (!line.startsWith('true', i)) return Verdict.Reject;
        return this.anyPath(line, true, from, 1) ? Verdict.Parse : Verdict.Reject;
      }
      case -1:
        // No readable event_type: let the full parse classify it (malformed, or a format change).
        return Verdict.Parse;
      default:
        return Verdict.Unsupported;
    }
  }

  /**
   * True when some `"path"` string at or after `from` is sensitive (or, with `archives`, ends in an archive
   * extension). Paths are first screened by their first segment (no allocation for /usr, /System,
   * /Applications…), then unescaped, canonicalised and matched exactly. `from` is the start of the event
   * body when it could be located (the process executable before it cannot produce a row for a file
   * event), else 1: every path in the line, which only costs a false positive the parse resolves.
   */
  private anyPath(line: string, archives: boolean, from: number, bodyPaths: number): boolean {
    // Inside a located body the kind fixes how many file paths there are (open/write/close/create: one,
    // rename: source and destination; stat blocks hold none): the rest of the line need not be scanned.
    let left = from > 1 ? bodyPaths : Infinity;
    let found = false;
    while (left > 0) {
      let i = findKey(line, PATH_KEY, from);
      if (i === -1) break;
      while (line.charCodeAt(i) === 32) i++;
      if (line.charCodeAt(i) !== 34 /* " */) {
        from = i;
        continue;
      }
      const start = i + 1;
      const end = closingQuote(line, start);
      if (end === -1) return true; // truncated line: let the parser count it
      found = true;
      from = end + 1;
      left--;
      if (this.roots && !this.underRoot(line, start, end) && !(archives && hasArchiveExtension(line.slice(start, end)))) continue;
      let raw = line.slice(start, end);
      if (raw.includes('\\')) {
        raw = raw.replaceAll('\\/', '/');
        // Other escapes (\n, \u00e9, \") need real JSON decoding: not worth doing here.
        if (raw.includes('\\')) return true;
      }
      const path = canonicalPath(raw);
      if (archives && hasArchiveExtension(path)) return true;
      if (this.matcher.match(path)) return true;
    }
    // A line with a file event but no path key at all is not eslogger's shape: let the parser count it.
    return !found;
  }
}

/**
 * The three fields an exit event contributes (pid, start_time, time), read without JSON.parse: exit lines
 * are a large share of the lines that must be handled, carry exactly one process, and need nothing else.
 * undefined whenever the shape is not the expected one (the caller then parses the line properly).
 */
export function rawExit(line: string): { pid: number; processStart: number; time: number } | undefined {
  const time = rawTimeField(line, TIME_KEY);
  const start = rawTimeField(line, START_TIME_KEY);
  if (time === undefined || start === undefined) return undefined;
  // Exactly one process object: a second start_time means some other shape.
  if (findKey(line, START_TIME_KEY, findKey(line, START_TIME_KEY, 1)) !== -1) return undefined;
  let i = findKey(line, TOKEN_KEY, 1);
  if (i === -1 || findKey(line, TOKEN_KEY, i) !== -1) return undefined;
  while (line.charCodeAt(i) === 32) i++;
  let pid = -1;
  if (line.charCodeAt(i) === 91 /* [ */) {
    // v10: [auid, euid, egid, ruid, rgid, pid, asid, pidversion]
    for (let commas = 0; commas < 5; ) {
      const c = line.charCodeAt(++i);
      if (c === 44) commas++;
      else if (!(c >= 48 && c <= 57) && c !== 32 && c !== 45) return undefined;
    }
    pid = readUint(line, i + 1);
  } else if (line.charCodeAt(i) === 123 /* { */) {
    const close = line.indexOf('}', i);
    const at = findKey(line, PID_KEY, i);
    if (at === -1 || close === -1 || at > close) return undefined;
    pid = readUint(line, at);
  }
  return pid >= 0 ? { pid, processStart: start, time } : undefined;
}

const TIME_KEY = 'time"';
const START_TIME_KEY = 'start_time"';
const TOKEN_KEY = 'audit_token"';
const PID_KEY = 'pid"';

function rawTimeField(line: string, key: string): number | undefined {
  let i = findKey(line, key, 1);
  if (i === -1) return undefined;
  while (line.charCodeAt(i) === 32) i++;
  if (line.charCodeAt(i) !== 34) return undefined;
  const end = line.indexOf('"', i + 1);
  return end === -1 ? undefined : parseEsTime(line.slice(i + 1, end));
}

/** Index of the quote closing a JSON string that starts at `start`, skipping escaped quotes. */
function closingQuote(line: string, start: number): number {
  let i = start;
  for (;;) {
    const q = line.indexOf('"', i);
    if (q === -1) return -1;
    let backslashes = 0;
    for (let j = q - 1; j >= start && line.charCodeAt(j) === 92; j--) backslashes++;
    if (backslashes % 2 === 0) return q;
    i = q + 1;
  }
}
