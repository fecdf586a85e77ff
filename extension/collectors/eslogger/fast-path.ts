import { hasArchiveExtension } from '../../../src/classify/archive.js';
import { canonicalPath, type PrefixNode, type SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { parseEsTime } from './parse-eslogger.js';
import type { CopyNode, SensitiveCopies } from './sensitive-copies.js';

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
const TARGET_DIR_KEY = 'target_dir"';
const TARGET_FILENAME_KEY = 'target_filename"';

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

/**
 * The JSON string value starting at `i` (after optional spaces), as [start, end) inside its quotes; undefined when no
 * string starts there or it is cut short.
 */
function stringAt(line: string, i: number): { start: number; end: number } | undefined {
  while (line.charCodeAt(i) === 32) i++;
  if (line.charCodeAt(i) !== 34 /* " */) return undefined;
  const end = closingQuote(line, i + 1);
  return end === -1 ? undefined : { start: i + 1, end };
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

const FOLD_SAME = 0;
const FOLD_DIFFERENT = 1;
/** A character outside ASCII on the way: its case folding is left to the exact check. */
const FOLD_UNSURE = 2;

/**
 * Whether `line` at `pos` spells `name` (the matcher's lower case) in any case: ASCII letters are folded here; a
 * character outside ASCII met before a difference is FOLD_UNSURE (toLowerCase may map it to the name's).
 */
function foldedAt(line: string, pos: number, name: string): number {
  for (let i = 0; i < name.length; i++) {
    let c = line.charCodeAt(pos + i);
    if (c >= 128) return FOLD_UNSURE;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== name.charCodeAt(i)) return FOLD_DIFFERENT;
  }
  return FOLD_SAME;
}

/** Whether the raw characters [from, end) hold one outside ASCII. */
function hasNonAscii(line: string, from: number, end: number): boolean {
  for (let i = from; i < end; i++) if (line.charCodeAt(i) >= 128) return true;
  return false;
}

/** A matcher trie node prepared for raw-string lookups: children grouped by name length, endings to check. */
interface ScreenNode {
  /** Some rule here has no literal ending to pre-check: any path reaching this node may match. */
  open: boolean;
  /** Some rule here can credit a folder deeper than this node (matchBelow): a renamed folder reaching it may match. */
  openToFolders: boolean;
  /** Endings required by the rules here (when not open); empty when the node has no rules. */
  suffixes: string[];
  /** Children by segment length (compared with startsWith, no slicing). */
  children: Map<number, { name: string; node: ScreenNode }[]>;
}

function screenNode(n: PrefixNode): ScreenNode {
  const out: ScreenNode = { open: false, openToFolders: false, suffixes: [], children: new Map() };
  for (const r of n.rules) {
    if (r.creditsDeeper) out.openToFolders = true;
    // An ending that JSON would escape cannot be compared on the raw line: treat the rule as open.
    if (!r.suffixes || r.suffixes.some((x) => /["\\/\x00-\x1f]/.test(x))) out.open = true;
    else out.suffixes.push(...r.suffixes);
  }
  for (const [name, child] of n.children) {
    let list = out.children.get(name.length);
    if (!list) out.children.set(name.length, (list = []));
    list.push({ name, node: screenNode(child) });
  }
  return out;
}

export class FastPath {
  /** The matcher's tries for the raw-path screen (undefined: some rule matches anywhere, no screen). */
  private readonly home: ScreenNode | undefined;
  private readonly abs: ScreenNode | undefined;
  /** event_type of the line last judged (-1 when unreadable), so callers need not read it twice. */
  lastEventType = -1;
  // segment cursor of nextSegment(): end of the segment, start of the next one (> end of path: none)
  private segEnd = 0;
  private segNext = 0;
  private segEscaped = false;
  /** Whether the last segment of the path being screened holds an escape or a character outside ASCII (-1: not looked at yet). */
  private lastEscaped = -1;
  /**
   * `copies`: where copies of credential stores went (the pipeline's); a path there is passed on whatever the screen
   * says, while there is any.
   */
  constructor(
    private readonly matcher: SensitivePathMatcher,
    private readonly copies?: SensitiveCopies,
  ) {
    const tries = matcher.prefixTries();
    this.home = tries && screenNode(tries.home);
    this.abs = tries && screenNode(tries.abs);
  }

  /**
   * The raw segment starting at `pos` of a path ending at `end`: sets segEnd, segNext (> end when it is the
   * last) and segEscaped (it holds an escape: its raw text is not its name). Separators are `/` or `\/`.
   */
  private nextSegment(line: string, pos: number, end: number): void {
    const sep = line.indexOf('/', pos);
    if (sep === -1 || sep >= end) {
      this.segEnd = end;
      this.segNext = end + 1;
    } else {
      this.segEnd = line.charCodeAt(sep - 1) === 92 /* \ */ ? sep - 1 : sep;
      this.segNext = sep + 1;
    }
    const b = line.indexOf('\\', pos);
    this.segEscaped = b !== -1 && b < this.segEnd;
  }

  /** The segment at `pos` is `name` (lower case, ASCII), in any case. */
  private segmentIs(line: string, pos: number, name: string): boolean {
    return this.segEnd - pos === name.length && foldedAt(line, pos, name) === FOLD_SAME;
  }

  /**
   * Can the JSON path string at [start, end) be a followed copy of a credential store (SensitiveCopies), or lie in a
   * copied folder? Walks the copies' trie on the raw characters, as mayBeSensitive walks the rules', without
   * allocating; a segment holding an escape other than the `\/` separators, or a character outside ASCII, is a yes.
   * With `folders`, a folder above a followed copy is a yes too.
   */
  private mayBeCopy(line: string, start: number, end: number, folders: boolean): boolean {
    let node: CopyNode = this.copies!.screen;
    let pos = start;
    if (line.charCodeAt(pos) === 92) pos++;
    if (line.charCodeAt(pos) !== 47) return true; // not absolute: leave it to the exact check
    pos++;
    while (pos < end) {
      this.nextSegment(line, pos, end);
      if (this.segEscaped || hasNonAscii(line, pos, this.segEnd)) return true;
      const list = node.children.get(this.segEnd - pos);
      let next: CopyNode | undefined;
      if (list !== undefined) {
        for (let i = 0; i < list.length; i++) {
          if (foldedAt(line, pos, list[i]!.name) === FOLD_SAME) {
            next = list[i]!.node;
            break;
          }
        }
      }
      // an empty segment (`//`, a trailing `/`) names the same folder
      if (next === undefined) {
        if (this.segEnd !== pos) return false;
      } else {
        if (next.ends > 0) return true;
        node = next;
      }
      pos = this.segNext;
    }
    // with `folders` (a rename's paths), a folder that holds followed copies: they move with it
    return folders;
  }

  /**
   * Can the JSON path string at [start, end) match some rule? Mirrors `canonicalPath` + `matcher.match` on
   * the raw characters without allocating: the canonical aliases are skipped, the home (`/Users/<name>`,
   * `/var/root`) and absolute tries are walked segment by segment, and a node answers yes when one of its
   * rules could accept the path (an open rule, or a required ending the path has). No means that no rule
   * can match; yes only sends the path to the exact check. Any segment this has to read that holds an
   * escape other than the `\/` separators (`\u00e9`, `\n`) is a yes.
   * With `folders` (a rename's paths: one may be a folder moved whole) it mirrors `matcher.matchBelow` too: a path
   * that ends on a trie node, or on what holds homes (`/`, `/Users`, a home, `/var`, `/var/root`, `/private`, the Data
   * volume), leads to some rule's files, and a node whose rules can credit a deeper folder is open.
   */
  private mayBeSensitive(line: string, start: number, end: number, folders = false): boolean {
    let pos = start;
    if (line.charCodeAt(pos) === 92) pos++;
    if (line.charCodeAt(pos) !== 47) return true; // not absolute: leave it to the exact check
    // a trailing separator names the same folder (matchBelow drops it)
    while (folders && end - 1 > pos && line.charCodeAt(end - 1) === 47) end -= line.charCodeAt(end - 2) === 92 && end - 2 > pos ? 2 : 1;
    pos++;
    this.lastEscaped = -1;
    // canonicalPath: /private/{var,tmp,etc}[/…] → /{var,tmp,etc}[/…]; /System/Volumes/Data/… → /…
    this.nextSegment(line, pos, end);
    if (this.segEscaped) return true;
    // (with folders: /System, /System/Volumes, the Data volume and /private hold homes)
    if (this.segmentIs(line, pos, 'system') && (this.segNext <= end || folders)) {
      if (this.segNext > end) return true;
      const p1 = this.segNext;
      this.nextSegment(line, p1, end);
      if (this.segEscaped) return true;
      if (this.segmentIs(line, p1, 'volumes') && (this.segNext <= end || folders)) {
        if (this.segNext > end) return true;
        const p2 = this.segNext;
        this.nextSegment(line, p2, end);
        if (this.segEscaped) return true;
        if (this.segmentIs(line, p2, 'data') && (this.segNext <= end || folders)) {
          if (this.segNext > end) return true;
          pos = this.segNext;
        }
      }
    }
    if (folders && pos >= end) return true; // `/`
    // then /private/{var,tmp,etc} (also under the Data volume: /System/Volumes/Data/private/var/…)
    this.nextSegment(line, pos, end);
    if (this.segEscaped) return true;
    if (this.segmentIs(line, pos, 'private') && (this.segNext <= end || folders)) {
      if (this.segNext > end) return true;
      const p1 = this.segNext;
      this.nextSegment(line, p1, end);
      if (this.segEscaped) return true;
      if (this.segmentIs(line, p1, 'var') || this.segmentIs(line, p1, 'tmp') || this.segmentIs(line, p1, 'etc')) pos = p1;
    }
    // homeRelative: /Users/<name>/… (not empty, not Shared) or /var/root/…
    this.nextSegment(line, pos, end);
    if (this.segEscaped) return true;
    let rel = -1;
    if (this.segNext <= end) {
      if (this.segmentIs(line, pos, 'users')) {
        const name = this.segNext;
        this.nextSegment(line, name, end);
        if (this.segEscaped) return true;
        if (this.segEnd > name && !this.segmentIs(line, name, 'shared')) {
          if (this.segNext <= end) rel = this.segNext;
          else if (folders) return true; // a home
        }
      } else if (this.segmentIs(line, pos, 'var')) {
        const p1 = this.segNext;
        this.nextSegment(line, p1, end);
        if (this.segEscaped) return true;
        if (this.segmentIs(line, p1, 'root')) {
          if (this.segNext <= end) rel = this.segNext;
          else if (folders) return true;
        }
      }
    } else if (folders && (this.segmentIs(line, pos, 'users') || this.segmentIs(line, pos, 'var'))) return true;
    if (rel !== -1 && this.walk(this.home!, line, rel, end, folders)) return true;
    return this.walk(this.abs!, line, pos, end, folders);
  }

  /** The matcher's trie walk over raw segments from `pos`: true when a visited node may accept the path. */
  private walk(node: ScreenNode, line: string, pos: number, end: number, folders: boolean): boolean {
    for (;;) {
      if (node.open || (folders && node.openToFolders)) return true;
      const suffixes = node.suffixes;
      if (suffixes.length) {
        // endings are compared on the raw last segment, so it must hold no escape, and only ASCII (lower-casing
        // outside it can change a length: 'İ' becomes two units)
        if (this.lastEscaped === -1) {
          const from = line.lastIndexOf('/', end - 1) + 1;
          const b = line.indexOf('\\', from);
          this.lastEscaped = (b !== -1 && b < end) || hasNonAscii(line, from, end) ? 1 : 0;
        }
        if (this.lastEscaped === 1) return true;
        for (let i = 0; i < suffixes.length; i++) {
          const x = suffixes[i]!;
          if (end >= x.length && foldedAt(line, end - x.length, x) !== FOLD_DIFFERENT) return true;
        }
      }
      // a folder ending on a node holds what the rules under it name
      if (pos >= end) return folders;
      this.nextSegment(line, pos, end);
      const list = node.children.get(this.segEnd - pos);
      // outside ASCII, folding may change a name's length or spelling: the exact check decides
      if (list === undefined) return this.segEscaped || hasNonAscii(line, pos, this.segEnd);
      let child: ScreenNode | undefined;
      for (let i = 0; i < list.length; i++) {
        const same = foldedAt(line, pos, list[i]!.name);
        if (same === FOLD_UNSURE) return true;
        if (same === FOLD_SAME) {
          child = list[i]!.node;
          break;
        }
      }
      if (child === undefined) return this.segEscaped || hasNonAscii(line, pos, this.segEnd);
      node = child;
      pos = this.segNext;
    }
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
        return this.anyPath(line, true, from, type === 13 ? 1 : 2, type === 25) ? Verdict.Parse : Verdict.Reject;
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
      case 61: // clone: rare (cp -c, Finder duplicates); the parse judges source and target
      case 110: // the copyfile system call: rarer still
        return Verdict.Parse;
      case 19: {
        // link: hard links (package managers make many): source and target folder judged like a rename's, and the new
        // name itself (target_dir + target_filename), which a rule or a followed copy may name when its folder is none
        // (`~/**/*.kdbx`)
        const from = eventBody(line, 'link');
        return this.anyPath(line, false, from, 2, true) || this.linkTargetMayMatter(line, from) ? Verdict.Parse : Verdict.Reject;
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
   * extension). Paths are first screened on the raw characters by the matcher's prefix tries
   * (mayBeSensitive, no allocation), and only those that may match are unescaped, canonicalised and
   * matched exactly. `from` is the start of the event
   * body when it could be located (the process executable before it cannot produce a row for a file
   * event), else 1: every path in the line, which only costs a false positive the parse resolves.
   */
  private anyPath(line: string, archives: boolean, from: number, bodyPaths: number, folders = false): boolean {
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
      if (this.pathMayMatter(line, start, end, archives, folders)) return true;
    }
    // A line with a file event but no path key at all is not eslogger's shape: let the parser count it.
    return !found;
  }

  /** Whether the JSON path string at [start, end) may be sensitive, a followed copy (or, with `archives`, an archive). */
  private pathMayMatter(line: string, start: number, end: number, archives: boolean, folders: boolean): boolean {
    if (this.copies !== undefined && this.copies.size > 0 && this.mayBeCopy(line, start, end, folders)) return true;
    // A \u escape can spell the extension's letters (eslogger never writes one for ASCII, another encoder
    // might): such a path is not judged on its raw characters.
    if (this.home !== undefined && !this.mayBeSensitive(line, start, end, folders) && !(archives && (hasArchiveExtension(line.slice(start, end)) || hasUnicodeEscape(line, start, end)))) return false;
    let raw = line.slice(start, end);
    if (raw.includes('\\')) {
      raw = raw.replaceAll('\\/', '/');
      // Other escapes (\n, \u00e9, \") need real JSON decoding: not worth doing here.
      if (raw.includes('\\')) return true;
    }
    const path = canonicalPath(raw);
    if (archives && hasArchiveExtension(path)) return true;
    return this.matcher.match(path) !== undefined || (folders && this.matcher.matchBelow(path) !== undefined);
  }

  /**
   * A link's new name, target_dir's path joined with target_filename as the parse joins them (joinNewPath), screened
   * as a file path: it may match a rule, or be a followed copy, that the folder alone does not lead to. Anything not
   * in the expected shape is passed on.
   */
  private linkTargetMayMatter(line: string, from: number): boolean {
    const dirKey = findKey(line, TARGET_DIR_KEY, from);
    const dirPath = dirKey === -1 ? -1 : findKey(line, PATH_KEY, dirKey);
    const nameKey = findKey(line, TARGET_FILENAME_KEY, from);
    const dirAt = dirPath === -1 ? undefined : stringAt(line, dirPath);
    const nameAt = nameKey === -1 ? undefined : stringAt(line, nameKey);
    if (dirAt === undefined || nameAt === undefined) return true;
    const dir = line.slice(dirAt.start, dirAt.end);
    const name = line.slice(nameAt.start, nameAt.end);
    const joined = `${dir}${dir.endsWith('/') ? '' : '\\/'}${name}`;
    return this.pathMayMatter(joined, 0, joined.length, false, false);
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

/** Whether the JSON string body line[start, end) holds a `\u` escape. */
function hasUnicodeEscape(line: string, start: number, end: number): boolean {
  // Escapes are a backslash and the character after it, so stepping past both keeps `\\u` (an escaped
  // backslash, then u) from counting. Searching for the backslash stops at the path's next `\/`.
  for (let i = line.indexOf('\\', start); i !== -1 && i < end; i = line.indexOf('\\', i + 2)) {
    if (line.charCodeAt(i + 1) === 117 /* u */) return true;
  }
  return false;
}
