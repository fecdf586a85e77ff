import { detached } from '../../../src/strings.js';
import { ES_EVENT_TYPES, joinNewPath, normalCdhash, parseEsTime, S_IFDIR, S_IFMT, stdinOf, type EsEvent, type EsEventKind, type EsFile, type EsProcess, type EsSource, type StdinKind } from './parse-eslogger.js';

/**
 * The same events as `parseEsLine`, read from the raw line without JSON.parse.
 *
 * JSON.parse of a 1.8 KB eslogger line builds ~13 KB of objects (stat blocks, env, tokens, strings) of which
 * the pipeline needs a dozen fields. This reader walks the line once: the objects holding needed fields
 * (top level, `process`, `event` and its body, files, tokens) key by key in JS; every other member (stat
 * blocks, `action`, `env`, `fds`…) is checked and stepped over by one sticky regex (native code).
 *
 * It reads eslogger's plain shape only: compact JSON (no whitespace between tokens), no string escape other
 * than `\/`, no control character in a string, no duplicate key in the objects it reads, integers where it
 * reads numbers (≤ 15 digits, no fraction or exponent). Anything else — truncated or invalid JSON, unicode
 * or quote escapes in a path, a missing or mistyped field, an unknown kind, trailing data — returns
 * undefined, and the caller parses the line with `parseEsLine`, which then decides (and counts) as before.
 *
 * Contract: when this returns an event, `parseEsLine(line)` returns `{ ok: true }` with a strictly equal
 * event (`read-eslogger.test.ts` checks it over the fixtures and generated and mutated lines). Why it holds:
 * - JSON validity: every string, read or skipped, must match STR (no control character, no escape but
 *   `\/`); the walk checks every structural character of the objects it reads; a member it does not read
 *   must match SKIP_MEMBER, which accepts exactly a compact JSON member of depth ≤ 3 built of such strings;
 *   the line must end right after the top-level object.
 * - Same values: a key is read only when its raw text is the name (then it holds no escape), unknown keys
 *   are checked by SKIP_MEMBER, a key read twice bails (JSON.parse would keep the last), and each field is
 *   converted with the parser's rule (optInt, optStr, `=== true`, isObj…), into objects built in the same
 *   property order.
 */
export function readEsLine(line: string): EsEvent | undefined {
  try {
    return readLine(line);
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  }
}

/** Thrown (never escapes this module) when the line leaves the plain shape. */
const BAIL = { bail: true };

// A JSON string without control characters whose only escape is `\/`; any compact JSON value of nesting
// depth ≤ 3 made of such strings (eslogger's deepest skipped value, `action`, is 3); a member (`"key":value`)
// of an object being walked. (Each level multiplies the regex's compiled code by ~4: depth 4 is ~1.3 MB.)
const STR = String.raw`"[^"\\\x00-\x1f]*(?:\\/[^"\\\x00-\x1f]*)*"`;
const NUM = String.raw`-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?`;
const PRIM = `${NUM}|${STR}|true|false|null`;
const VALUE = [1, 2, 3].reduce((v) => `(?:${PRIM}|\\{(?:${STR}:${v}(?:,${STR}:${v})*)?\\}|\\[(?:${v}(?:,${v})*)?\\])`, `(?:${PRIM})`);
const SKIP_MEMBER = new RegExp(`${STR}:${VALUE}`, 'y');
const SKIP_VALUE = new RegExp(VALUE, 'y');
const STRING = new RegExp(STR, 'y');

const Q = 34; // "
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const MINUS = 45;

// Registers: the readers below return the index after what they read and leave the value here.
let vInt = 0;
let vStr = '';
let vFile: EsFile = { path: '', truncated: false };
let vProc: EsProcess | undefined;
// audit token of the last token()
let tPid = 0;
let tEuid = 0;
let tVersion = 0;
// event body of the line
let bProcess: EsProcess | undefined;
let bArgs: string[] | undefined;
let bCwd = '';
let bFile: EsFile | undefined;
let bSource: EsSource | undefined;
let bDest: EsFile | undefined;
let bNum: number | null = null; // exit stat, open fflag
let bModified: boolean | undefined;
let bStdin: StdinKind = null; // exec fds

/** Index of the value after the key starting at `k` (a quote), checking the colon. keyEnd: index of the closing quote. */
let keyEnd = 0;
function key(s: string, k: number): number {
  if (s.charCodeAt(k) !== Q) throw BAIL;
  const e = s.indexOf('"', k + 1);
  if (e === -1 || s.charCodeAt(e + 1) !== COLON) throw BAIL;
  keyEnd = e;
  return e + 2;
}

/** After a member: the index of the next key, or -1 after the closing brace (index in `next`). */
let next = 0;
function member(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === COMMA) return i + 1;
  if (c === RBRACE) {
    next = i + 1;
    return -1;
  }
  throw BAIL;
}

/** Steps over a value of a field read by name whose type is not the one used (null team_id, tty…). */
function skip(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 110 /* n */ && s.startsWith('null', i)) return i + 4;
  if (c === 102 /* f */ && s.startsWith('false', i)) return i + 5;
  const re = c === Q ? STRING : SKIP_VALUE;
  re.lastIndex = i;
  if (!re.test(s)) throw BAIL;
  return re.lastIndex;
}

/** Steps over a member not read (`"key":value`, at its opening quote), checking key and value. */
function skipMember(s: string, i: number): number {
  SKIP_MEMBER.lastIndex = i;
  if (!SKIP_MEMBER.test(s)) throw BAIL;
  return SKIP_MEMBER.lastIndex;
}

/** A plain integer into vInt: -?digits, ≤ 15 digits, no leading zero, not -0, no fraction or exponent. */
function int(s: string, i: number): number {
  let neg = false;
  if (s.charCodeAt(i) === MINUS) {
    neg = true;
    i++;
  }
  const start = i;
  let v = 0;
  let c = s.charCodeAt(i);
  while (c >= 48 && c <= 57) {
    v = v * 10 + (c - 48);
    c = s.charCodeAt(++i);
  }
  const n = i - start;
  if (n === 0 || n > 15 || (n > 1 && s.charCodeAt(start) === 48) || c === 46 || c === 101 || c === 69 || (neg && v === 0)) throw BAIL;
  vInt = neg ? -v : v;
  return i;
}

/** optInt: a number must be a plain integer (else bail); any other value gives null (vInt = NaN). */
function optInt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === MINUS || (c >= 48 && c <= 57)) return int(s, i);
  vInt = NaN;
  return skip(s, i);
}

/**
 * A string into vStr (`\/` unescaped; no other escape passes STRING). The value is always a string of its
 * own: a slice of 13 or more characters (or a replaceAll result, built of such slices) would keep the whole
 * line — and the reader's 64 KB chunk it was cut from — alive for as long as a row or the process model
 * holds the value (JSON.parse copies).
 */
function str(s: string, i: number): number {
  STRING.lastIndex = i;
  if (!STRING.test(s)) throw BAIL;
  const e = STRING.lastIndex;
  const raw = s.slice(i + 1, e - 1);
  // JSON.parse decodes the `\/` escapes into a new flat string (a copy). Not replaceAll: it costs ~0.4 µs
  // per escape, so an argv of a million `/` (an exec anyone can make) took ~30× the JSON.parse of the line.
  if (raw.includes('\\')) vStr = JSON.parse(`"${raw}"`) as string;
  else vStr = detached(raw);
  return e;
}

/** optStr: a string into vStr, any other value gives null (vStr = '' and false returned via vInt = 0). */
function optStr(s: string, i: number): number {
  if (s.charCodeAt(i) === Q) {
    vInt = 1;
    return str(s, i);
  }
  vInt = 0;
  return skip(s, i);
}

function timeAt(s: string, i: number): number {
  STRING.lastIndex = i;
  if (!STRING.test(s)) throw BAIL;
  const e = STRING.lastIndex;
  // kept only as a number: no copy; an escaped time is no time (parseEsTime would see the backslash too)
  const t = parseEsTime(s.slice(i + 1, e - 1));
  if (t === undefined) throw BAIL;
  vInt = t;
  return e;
}

/** `true` literal → true; any other value → false (the parser's `=== true`). Index after the value. */
let vBool = false;
function isTrue(s: string, i: number): number {
  if (s.charCodeAt(i) === 116 && s.startsWith('true', i)) {
    vBool = true;
    return i + 4;
  }
  vBool = false;
  return skip(s, i);
}

/**
 * `{path, path_truncated, …}` into vFile, as `file()` in the parser; with `mode`, also whether its `stat.st_mode` says
 * directory into vDirectory (the parser's `source()`).
 */
function file(s: string, i: number, mode = false): number {
  if (s.charCodeAt(i) !== LBRACE) throw BAIL;
  let path: string | undefined;
  let truncated = false;
  let seen = 0;
  vDirectory = null;
  i++;
  if (s.charCodeAt(i) !== RBRACE) {
    for (;;) {
      const v = key(s, i);
      const len = keyEnd - i - 1;
      let bit = 0;
      if (len === 4 && s.startsWith('path', i + 1)) {
        bit = 1;
        i = str(s, v);
        path = vStr;
      } else if (len === 14 && s.startsWith('path_truncated', i + 1)) {
        bit = 2;
        i = isTrue(s, v);
        truncated = vBool;
      } else if (mode && len === 4 && s.startsWith('stat', i + 1)) {
        bit = 4;
        i = statMode(s, v);
      } else i = skipMember(s, i);
      if (seen & bit) throw BAIL;
      seen |= bit;
      i = member(s, i);
      if (i === -1) break;
    }
  } else next = i + 1;
  if (path === undefined) throw BAIL;
  vFile = { path, truncated };
  return next;
}

/** A source's file type (file() with `mode`): true for a directory, null without stat or an integer st_mode. */
let vDirectory: boolean | null = null;

/**
 * The `stat` value of a file (only a rename's source is read so): checked as any skipped value, then its st_mode into
 * vDirectory. eslogger's stat block is flat; one holding an object or array, or two st_mode keys, bails. In a checked
 * value `"st_mode":` can only be a key (a string holds no unescaped quote), so in a flat one it is a member of the block.
 */
function statMode(s: string, i: number): number {
  if (s.charCodeAt(i) !== LBRACE) return skip(s, i);
  SKIP_VALUE.lastIndex = i;
  if (!SKIP_VALUE.test(s)) throw BAIL;
  const end = SKIP_VALUE.lastIndex;
  const inner = s.indexOf('{', i + 1);
  const list = s.indexOf('[', i + 1);
  if ((inner !== -1 && inner < end) || (list !== -1 && list < end)) throw BAIL;
  const k = s.indexOf(ST_MODE, i);
  if (k === -1 || k >= end) return end;
  const again = s.indexOf(ST_MODE, k + ST_MODE.length);
  if (again !== -1 && again < end) throw BAIL;
  optInt(s, k + ST_MODE.length);
  vDirectory = vInt === vInt ? (vInt & S_IFMT) === S_IFDIR : null;
  return end;
}
const ST_MODE = '"st_mode":';

/**
 * An audit token in either shape (object ≤ v9, 8-int array v10: euid 1, pid 5, pidversion 7) into
 * tPid/tEuid/tVersion; vBool false for a value that is neither (the parser: no token). Shapes the parser
 * might judge differently (non-integer numbers, short arrays, a token without pid/euid) bail.
 */
function token(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === LBRACKET) {
    i++;
    let n = 0;
    for (;;) {
      i = int(s, i);
      if (n === 1) tEuid = vInt;
      else if (n === 5) tPid = vInt;
      else if (n === 7) tVersion = vInt;
      n++;
      const d = s.charCodeAt(i++);
      if (d === RBRACKET) break;
      if (d !== COMMA) throw BAIL;
    }
    if (n < 8) throw BAIL;
    vBool = true;
    return i;
  }
  if (c === LBRACE) {
    i++;
    let seen = 0;
    tVersion = 0;
    if (s.charCodeAt(i) === RBRACE) throw BAIL;
    for (;;) {
      const v = key(s, i);
      const len = keyEnd - i - 1;
      let bit = 0;
      if (len === 3 && s.startsWith('pid', i + 1)) {
        bit = 1;
        i = int(s, v);
        tPid = vInt;
      } else if (len === 4 && s.startsWith('euid', i + 1)) {
        bit = 2;
        i = int(s, v);
        tEuid = vInt;
      } else if (len === 10 && s.startsWith('pidversion', i + 1)) {
        bit = 4;
        // a number, else 0 (absent too)
        const d = s.charCodeAt(v);
        if (d === MINUS || (d >= 48 && d <= 57)) {
          i = int(s, v);
          tVersion = vInt;
        } else i = skip(s, v);
      } else i = skipMember(s, i);
      if (seen & bit) throw BAIL;
      seen |= bit;
      i = member(s, i);
      if (i === -1) break;
    }
    if ((seen & 3) !== 3) throw BAIL;
    vBool = true;
    return next;
  }
  vBool = false;
  return skip(s, i);
}

/** A process object into vProc, as `processOf` in the parser. */
function processObj(s: string, i: number): number {
  if (s.charCodeAt(i) !== LBRACE || s.charCodeAt(i + 1) === RBRACE) throw BAIL;
  i++;
  let seen = 0;
  let pid = 0;
  let euid = 0;
  let pidversion = 0;
  let ppid = 0;
  let originalPpid: number | null = null;
  let responsiblePid: number | null = null;
  let executable: EsFile | undefined;
  let signingId: string | null = null;
  let teamId: string | null = null;
  let cdhash: string | null = null;
  let platformBinary = false;
  let codesigningFlags: number | undefined;
  let csValidationCategory: number | undefined;
  let tty = false;
  let start = 0;
  for (;;) {
    const v = key(s, i);
    const k = i + 1;
    const len = keyEnd - k;
    let bit = 0;
    switch (s.charCodeAt(k)) {
      case 97: // a
        if (len === 11 && s.startsWith('audit_token', k)) {
          bit = 1;
          i = token(s, v);
          if (!vBool) throw BAIL;
          pid = tPid;
          euid = tEuid;
          pidversion = tVersion;
        }
        break;
      case 112: // p
        if (len === 4 && s.startsWith('ppid', k)) {
          bit = 2;
          i = int(s, v);
          ppid = vInt;
        }
        break;
      case 111: // o
        if (len === 13 && s.startsWith('original_ppid', k)) {
          bit = 4;
          i = optInt(s, v);
          originalPpid = vInt === vInt ? vInt : null;
        }
        break;
      case 114: // r
        if (len === 23 && s.startsWith('responsible_audit_token', k)) {
          bit = 8;
          i = token(s, v);
          responsiblePid = vBool ? tPid : null;
        }
        break;
      case 101: // e
        if (len === 10 && s.startsWith('executable', k)) {
          bit = 16;
          i = file(s, v);
          executable = vFile;
        }
        break;
      case 115: // s
        if (len === 10 && s.startsWith('signing_id', k)) {
          bit = 32;
          i = optStr(s, v);
          signingId = vInt && vStr ? vStr : null;
        } else if (len === 10 && s.startsWith('start_time', k)) {
          bit = 64;
          i = timeAt(s, v);
          start = vInt;
        }
        break;
      case 116: // t
        if (len === 7 && s.startsWith('team_id', k)) {
          bit = 128;
          i = optStr(s, v);
          teamId = vInt && vStr ? vStr : null;
        } else if (len === 3 && s.startsWith('tty', k)) {
          bit = 256;
          tty = s.charCodeAt(v) === LBRACE;
          i = skip(s, v);
        }
        break;
      case 99: // c
        if (len === 6 && s.startsWith('cdhash', k)) {
          bit = 512;
          i = optStr(s, v);
          cdhash = vInt ? normalCdhash(vStr) : null;
        } else if (len === 17 && s.startsWith('codesigning_flags', k)) {
          bit = 1024;
          i = optInt(s, v);
          codesigningFlags = vInt === vInt ? vInt : undefined;
        } else if (len === 22 && s.startsWith('cs_validation_category', k)) {
          bit = 2048;
          i = optInt(s, v);
          csValidationCategory = vInt === vInt ? vInt : undefined;
        }
        break;
      case 105: // i
        if (len === 18 && s.startsWith('is_platform_binary', k)) {
          bit = 4096;
          i = isTrue(s, v);
          platformBinary = vBool;
        }
        break;
    }
    if (bit === 0) i = skipMember(s, i);
    else if (seen & bit) throw BAIL;
    seen |= bit;
    i = member(s, i);
    if (i === -1) break;
  }
  // audit_token, ppid, executable, start_time are required
  if ((seen & (1 | 2 | 16 | 64)) !== (1 | 2 | 16 | 64)) throw BAIL;
  vProc = {
    pid,
    pidversion,
    uid: euid,
    ppid,
    originalPpid,
    responsiblePid,
    executable: executable!,
    signingId,
    teamId,
    cdhash,
    platformBinary,
    codesigningFlags,
    csValidationCategory,
    tty,
    processStart: start,
  };
  return next;
}

/** `existing_file` (preferred, as the parser) or `new_path{dir, filename}` into vFile. */
function destination(s: string, i: number): number {
  if (s.charCodeAt(i) !== LBRACE) throw BAIL;
  let existing: EsFile | undefined;
  let dir: EsFile | undefined;
  let filename: string | undefined;
  let seen = 0;
  i++;
  if (s.charCodeAt(i) !== RBRACE) {
    for (;;) {
      const v = key(s, i);
      const len = keyEnd - i - 1;
      let bit = 0;
      if (len === 13 && s.startsWith('existing_file', i + 1)) {
        bit = 1;
        // not an object: the parser looks at new_path instead
        if (s.charCodeAt(v) === LBRACE) {
          i = file(s, v);
          existing = vFile;
        } else i = skip(s, v);
      } else if (len === 8 && s.startsWith('new_path', i + 1)) {
        bit = 2;
        if (s.charCodeAt(v) === LBRACE) {
          i = v + 1;
          let npSeen = 0;
          if (s.charCodeAt(i) !== RBRACE) {
            for (;;) {
              const nv = key(s, i);
              const nlen = keyEnd - i - 1;
              let nbit = 0;
              if (nlen === 3 && s.startsWith('dir', i + 1)) {
                nbit = 1;
                i = file(s, nv);
                dir = vFile;
              } else if (nlen === 8 && s.startsWith('filename', i + 1)) {
                nbit = 2;
                i = str(s, nv);
                filename = vStr;
              } else i = skipMember(s, i);
              if (npSeen & nbit) throw BAIL;
              npSeen |= nbit;
              i = member(s, i);
              if (i === -1) break;
            }
            i = next;
          } else i++;
        } else i = skip(s, v);
      } else i = skipMember(s, i);
      if (seen & bit) throw BAIL;
      seen |= bit;
      i = member(s, i);
      if (i === -1) break;
    }
  } else next = i + 1;
  const end = next;
  if (existing !== undefined) vFile = existing;
  else if (dir !== undefined && filename !== undefined) {
    vFile = joinNewPath(dir, filename);
  } else throw BAIL;
  return end;
}

function stringArray(s: string, i: number): number {
  if (s.charCodeAt(i) !== LBRACKET) throw BAIL;
  const out: string[] = [];
  i++;
  if (s.charCodeAt(i) === RBRACKET) {
    bArgs = out;
    return i + 1;
  }
  for (;;) {
    i = str(s, i);
    out.push(vStr);
    const d = s.charCodeAt(i++);
    if (d === RBRACKET) break;
    if (d !== COMMA) throw BAIL;
  }
  bArgs = out;
  return i;
}

/** exec `cwd`: its path when it is an object with a string path, else '' (as the parser). */
function cwd(s: string, i: number): number {
  bCwd = '';
  if (s.charCodeAt(i) !== LBRACE) return skip(s, i);
  i++;
  if (s.charCodeAt(i) === RBRACE) return i + 1;
  let seen = false;
  for (;;) {
    const v = key(s, i);
    if (keyEnd - i - 1 === 4 && s.startsWith('path', i + 1)) {
      if (seen) throw BAIL;
      seen = true;
      i = optStr(s, v);
      bCwd = vInt ? vStr : '';
    } else i = skipMember(s, i);
    i = member(s, i);
    if (i === -1) return next;
  }
}

/** An event body of `kind` into the b* registers. */
function body(s: string, i: number, kind: EsEventKind): number {
  bProcess = undefined;
  bArgs = undefined;
  bCwd = '';
  bFile = undefined;
  bSource = undefined;
  bDest = undefined;
  bNum = null;
  bModified = undefined;
  bStdin = null;
  if (s.charCodeAt(i) !== LBRACE) throw BAIL;
  i++;
  let seen = 0;
  if (s.charCodeAt(i) !== RBRACE) {
    for (;;) {
      const v = key(s, i);
      const k = i + 1;
      const len = keyEnd - k;
      let bit = 0;
      switch (kind) {
        case 'exec':
          if (len === 6 && s.startsWith('target', k)) {
            bit = 1;
            i = processObj(s, v);
            bProcess = vProc;
          } else if (len === 4 && s.startsWith('args', k)) {
            bit = 2;
            i = stringArray(s, v);
          } else if (len === 3 && s.startsWith('cwd', k)) {
            bit = 4;
            i = cwd(s, v);
          } else if (len === 3 && s.startsWith('fds', k)) {
            // checked as any skipped value, then read by the parser's own rule (exec events are few)
            bit = 8;
            i = skip(s, v);
            bStdin = stdinOf(JSON.parse(s.slice(v, i)));
          }
          break;
        case 'fork':
          if (len === 5 && s.startsWith('child', k)) {
            bit = 1;
            i = processObj(s, v);
            bProcess = vProc;
          }
          break;
        case 'exit':
          if (len === 4 && s.startsWith('stat', k)) {
            bit = 1;
            i = optInt(s, v);
            bNum = vInt === vInt ? vInt : null;
          }
          break;
        case 'open':
          if (len === 4 && s.startsWith('file', k)) {
            bit = 1;
            i = file(s, v);
            bFile = vFile;
          } else if (len === 5 && s.startsWith('fflag', k)) {
            bit = 2;
            i = optInt(s, v);
            bNum = vInt === vInt ? vInt : null;
          }
          break;
        case 'write':
        case 'close':
          if (len === 6 && s.startsWith('target', k)) {
            bit = 1;
            i = file(s, v);
            bFile = vFile;
          } else if (kind === 'close' && len === 8 && s.startsWith('modified', k)) {
            bit = 2;
            if (s.startsWith('true', v)) {
              bModified = true;
              i = v + 4;
            } else if (s.startsWith('false', v)) {
              bModified = false;
              i = v + 5;
            } else throw BAIL;
          }
          break;
        case 'rename':
          if (len === 6 && s.startsWith('source', k)) {
            bit = 1;
            i = file(s, v, true);
            bSource = { path: vFile.path, truncated: vFile.truncated, directory: vDirectory };
          } else if (len === 11 && s.startsWith('destination', k)) {
            bit = 2;
            i = destination(s, v);
            bDest = vFile;
          }
          break;
        case 'create':
          if (len === 11 && s.startsWith('destination', k)) {
            bit = 1;
            i = destination(s, v);
            bDest = vFile;
          }
          break;
      }
      if (bit === 0) i = skipMember(s, i);
      else if (seen & bit) throw BAIL;
      seen |= bit;
      i = member(s, i);
      if (i === -1) break;
    }
  } else next = i + 1;
  // required per kind, as the parser
  switch (kind) {
    case 'exec':
      if (bProcess === undefined || bArgs === undefined) throw BAIL;
      break;
    case 'fork':
      if (bProcess === undefined) throw BAIL;
      break;
    case 'open':
    case 'write':
      if (bFile === undefined) throw BAIL;
      break;
    case 'close':
      if (bFile === undefined || bModified === undefined) throw BAIL;
      break;
    case 'rename':
      if (bSource === undefined || bDest === undefined) throw BAIL;
      break;
    case 'create':
      if (bDest === undefined) throw BAIL;
      break;
  }
  return next;
}

/** The event kind named by the key at [start, end), or bail (unknown kinds are the parser's to count). */
function kindAt(s: string, start: number, end: number): EsEventKind {
  switch (end - start) {
    case 4:
      if (s.startsWith('open', start)) return 'open';
      if (s.startsWith('exec', start)) return 'exec';
      if (s.startsWith('fork', start)) return 'fork';
      if (s.startsWith('exit', start)) return 'exit';
      break;
    case 5:
      if (s.startsWith('write', start)) return 'write';
      if (s.startsWith('close', start)) return 'close';
      break;
    case 6:
      if (s.startsWith('create', start)) return 'create';
      if (s.startsWith('rename', start)) return 'rename';
      break;
  }
  throw BAIL;
}

function readLine(s: string): EsEvent {
  if (s.charCodeAt(0) !== LBRACE || s.charCodeAt(1) === RBRACE) throw BAIL;
  let i = 1;
  let seen = 0;
  let eventType: number | null = null;
  let time_ = 0;
  let version = 0;
  let seqNum: number | null = null;
  let globalSeqNum: number | null = null;
  let proc: EsProcess | undefined;
  let kind: EsEventKind | undefined;
  for (;;) {
    const v = key(s, i);
    const k = i + 1;
    const len = keyEnd - k;
    let bit = 0;
    if (len === 10 && s.startsWith('event_type', k)) {
      bit = 1;
      i = optInt(s, v);
      eventType = vInt === vInt ? vInt : null;
    } else if (len === 4 && s.startsWith('time', k)) {
      bit = 2;
      i = timeAt(s, v);
      time_ = vInt;
    } else if (len === 7 && s.startsWith('version', k)) {
      bit = 4;
      i = optInt(s, v);
      version = vInt === vInt ? vInt : 0;
    } else if (len === 7 && s.startsWith('seq_num', k)) {
      bit = 8;
      i = optInt(s, v);
      seqNum = vInt === vInt ? vInt : null;
    } else if (len === 14 && s.startsWith('global_seq_num', k)) {
      bit = 16;
      i = optInt(s, v);
      globalSeqNum = vInt === vInt ? vInt : null;
    } else if (len === 7 && s.startsWith('process', k)) {
      bit = 32;
      i = processObj(s, v);
      proc = vProc;
    } else if (len === 5 && s.startsWith('event', k)) {
      bit = 64;
      // exactly one key, naming the kind
      if (s.charCodeAt(v) !== LBRACE) throw BAIL;
      const bv = key(s, v + 1);
      kind = kindAt(s, v + 2, keyEnd);
      i = body(s, bv, kind);
      if (s.charCodeAt(i) !== RBRACE) throw BAIL;
      i++;
    } else i = skipMember(s, i);
    if (seen & bit) throw BAIL;
    seen |= bit;
    i = member(s, i);
    if (i === -1) break;
  }
  if (next !== s.length) throw BAIL;
  // time, process and event are required
  if ((seen & (2 | 32 | 64)) !== (2 | 32 | 64) || kind === undefined || proc === undefined) throw BAIL;
  if (eventType !== null && eventType !== ES_EVENT_TYPES[kind]) throw BAIL;
  const process = proc;
  const time = time_;
  // The same construction (and property order) as parseEsObject.
  switch (kind) {
    case 'exec':
      return { time, version, seqNum, globalSeqNum, process, kind, target: bProcess!, args: bArgs!, cwd: bCwd, stdin: bStdin };
    case 'fork':
      return { time, version, seqNum, globalSeqNum, process, kind, child: bProcess! };
    case 'exit':
      return { time, version, seqNum, globalSeqNum, process, kind, status: bNum };
    case 'open':
      return { time, version, seqNum, globalSeqNum, process, kind, file: bFile!, fflag: bNum ?? 0 };
    case 'create':
      return { time, version, seqNum, globalSeqNum, process, kind, file: bDest! };
    case 'write':
      return { time, version, seqNum, globalSeqNum, process, kind, file: bFile! };
    case 'rename':
      return { time, version, seqNum, globalSeqNum, process, kind, source: bSource!, destination: bDest! };
    case 'close':
      return { time, version, seqNum, globalSeqNum, process, kind, file: bFile!, modified: bModified! };
    case 'clone':
    case 'link':
    case 'copyfile':
      // kindAt never names them: clone, link and copyfile lines (rare) take the full parse
      throw BAIL;
  }
}
