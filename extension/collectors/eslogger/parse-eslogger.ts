/**
 * eslogger JSON lines (formats.md §5) → typed events, hand-checked (no zod: this runs for every relevant
 * line). Pure: no I/O, no logging. Tolerant where formats.md says the shape varies:
 * - audit tokens as objects (message version ≤ 9) or arrays of 8 ints (version 10);
 * - the event kind comes from the single key inside `event`; `event_type` is only a cross-check;
 * - 9-digit fractional times are parsed by hand (Date would keep milliseconds only; we need seconds);
 * - cdhash is lower-cased (eslogger prints upper-case), a null team_id stays null (platform code);
 * - create/rename destinations as `existing_file` or `new_path{dir, filename}`.
 * Fields we do not use (stat blocks with 64-bit inode numbers beyond 2^53, mach_time, env) are never read.
 */
import type { ProcessStdin } from '../../runtime/context.js';

export type EsEventKind = 'exec' | 'fork' | 'exit' | 'open' | 'create' | 'write' | 'rename' | 'close' | 'clone' | 'link' | 'copyfile';

/** ES event_type numbers (formats.md §5.2). */
export const ES_EVENT_TYPES: Readonly<Record<EsEventKind, number>> = {
  exec: 9,
  open: 10,
  fork: 11,
  close: 12,
  create: 13,
  exit: 15,
  link: 19,
  rename: 25,
  write: 33,
  clone: 61,
  copyfile: 110,
};

export interface EsFile {
  path: string;
  /** ES cut the path (beyond ~16 KB): it is a prefix of the real path. */
  truncated: boolean;
}

/** A rename's or clone's source: what moves or is copied may be a whole folder. */
export interface EsSource extends EsFile {
  /** Its `stat.st_mode` says directory; null when the line has no stat (or no integer st_mode). */
  directory: boolean | null;
}

/** st_mode's file-type bits (S_IFMT) and a directory's (S_IFDIR). */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;

export interface EsProcess {
  pid: number;
  /** Distinguishes exec images of one pid; null when the token is missing. */
  pidversion: number | null;
  /** Effective uid (audit token). */
  uid: number;
  ppid: number;
  originalPpid: number | null;
  responsiblePid: number | null;
  executable: EsFile;
  signingId: string | null;
  /** null for Apple platform code. */
  teamId: string | null;
  /** Lower-case hex, or null when absent / all zero (unsigned). */
  cdhash: string | null;
  platformBinary: boolean;
  codesigningFlags: number | undefined;
  csValidationCategory: number | undefined;
  tty: boolean;
  /** start_time truncated to unix seconds (matches ps `lstart`). */
  processStart: number;
}

/**
 * What the new image's standard input is, from the exec event's `fds` (`fdtype` of fd 0: PROX_FDTYPE_PIPE 6,
 * PROX_FDTYPE_SOCKET 2, anything else — a terminal or a file is PROX_FDTYPE_VNODE 1 — 'other'). null when the
 * event lists no fd 0 or the shape is not the expected one: the member's rendering by eslogger is unverified
 * (../shared/formats.md names it only), so it never fails the event.
 */
export type StdinKind = ProcessStdin | null;

export function stdinOf(fds: unknown): StdinKind {
  if (!Array.isArray(fds)) return null;
  for (const fd of fds) {
    if (!isObj(fd) || fd.fd !== 0) continue;
    const type = fd.fdtype;
    if (typeof type !== 'number' || !Number.isInteger(type)) return null;
    return type === 6 ? 'pipe' : type === 2 ? 'socket' : 'other';
  }
  return null;
}

interface EsEventBase {
  /** Unix seconds (truncated). */
  time: number;
  /** Message version (8–9 macOS 15, 10 macOS 26). */
  version: number;
  seqNum: number | null;
  globalSeqNum: number | null;
  process: EsProcess;
}

export type EsEvent =
  | (EsEventBase & { kind: 'exec'; target: EsProcess; args: string[]; cwd: string; stdin: StdinKind })
  | (EsEventBase & { kind: 'fork'; child: EsProcess })
  | (EsEventBase & { kind: 'exit'; status: number | null })
  | (EsEventBase & { kind: 'open'; file: EsFile; fflag: number })
  | (EsEventBase & { kind: 'create'; file: EsFile })
  | (EsEventBase & { kind: 'write'; file: EsFile })
  | (EsEventBase & { kind: 'rename'; source: EsSource; destination: EsFile })
  | (EsEventBase & { kind: 'close'; file: EsFile; modified: boolean })
  /** clonefile(2): the source is read without an open event; the clone is target_dir + target_name. */
  | (EsEventBase & { kind: 'clone'; source: EsSource; destination: EsFile })
  /**
   * The copyfile system call (not copyfile(3); macOS 12+): like a clone, the source is read without an open event. The
   * copy is `target_file` when it overwrites one, else target_dir + target_name.
   */
  | (EsEventBase & { kind: 'copyfile'; source: EsSource; destination: EsFile })
  /** link(2), a hard link: a new name (target_dir + target_filename) for the source's data; nothing is read. */
  | (EsEventBase & { kind: 'link'; source: EsSource; destination: EsFile });

export type LineResult =
  | { ok: true; event: EsEvent }
  /** `malformed`: not JSON or a required field is missing/mistyped; `unsupported`: valid, but an event kind we do not handle. */
  | { ok: false; reason: 'malformed' | 'unsupported'; detail: string };

type Json = Record<string, unknown>;

class ShapeError extends Error {}

const fail = (detail: string): never => {
  throw new ShapeError(detail);
};

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(parent: Json, key: string, where: string): Json {
  const v = parent[key];
  return isObj(v) ? v : fail(`${where}.${key}: expected object`);
}

function int(parent: Json, key: string, where: string): number {
  const v = parent[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : fail(`${where}.${key}: expected integer`);
}

function optInt(parent: Json, key: string): number | null {
  const v = parent[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

function optStr(parent: Json, key: string): string | null {
  const v = parent[key];
  return typeof v === 'string' ? v : null;
}

function file(v: unknown, where: string): EsFile {
  if (!isObj(v)) return fail(`${where}: expected file object`);
  const path = v.path;
  if (typeof path !== 'string') return fail(`${where}.path: expected string`);
  return { path, truncated: v.path_truncated === true };
}

function source(v: unknown, where: string): EsSource {
  const { path, truncated } = file(v, where);
  const stat = (v as Json).stat;
  const mode = isObj(stat) ? optInt(stat, 'st_mode') : null;
  return { path, truncated, directory: mode === null ? null : (mode & S_IFMT) === S_IFDIR };
}

/** pid / euid / pidversion out of either audit-token shape (formats.md §5.3). */
function token(v: unknown): { pid: number; euid: number; pidversion: number } | null {
  if (Array.isArray(v)) {
    if (v.length < 8) return null;
    const [, euid, , , , pid, , pidversion] = v;
    if (typeof pid !== 'number' || typeof euid !== 'number' || typeof pidversion !== 'number') return null;
    return { pid, euid, pidversion };
  }
  if (isObj(v)) {
    const { pid, euid, pidversion } = v;
    if (typeof pid !== 'number' || typeof euid !== 'number') return null;
    return { pid, euid, pidversion: typeof pidversion === 'number' ? pidversion : 0 };
  }
  return null;
}

const ZERO_CDHASH = /^0+$/;

/** An ES cdhash as we keep it: lower-case hex, or null when absent, empty or all zeros (unsigned). */
export function normalCdhash(raw: string | null | undefined): string | null {
  return raw && !ZERO_CDHASH.test(raw) ? raw.toLowerCase() : null;
}

/** A `new_path{dir, filename}` destination as one file. */
export function joinNewPath(dir: EsFile, name: string): EsFile {
  return { path: dir.path.endsWith('/') ? dir.path + name : `${dir.path}/${name}`, truncated: dir.truncated };
}

function processOf(v: unknown, where: string): EsProcess {
  if (!isObj(v)) return fail(`${where}: expected process object`);
  const tok = token(v.audit_token);
  if (!tok) return fail(`${where}.audit_token: expected object or 8-int array`);
  const start = typeof v.start_time === 'string' ? parseEsTime(v.start_time) : undefined;
  if (start === undefined) return fail(`${where}.start_time: expected ISO time`);
  const cdhashRaw = optStr(v, 'cdhash');
  const responsible = token(v.responsible_audit_token);
  return {
    pid: tok.pid,
    pidversion: tok.pidversion,
    uid: tok.euid,
    ppid: int(v, 'ppid', where),
    originalPpid: optInt(v, 'original_ppid'),
    responsiblePid: responsible ? responsible.pid : null,
    executable: file(v.executable, `${where}.executable`),
    signingId: optStr(v, 'signing_id') || null,
    teamId: optStr(v, 'team_id') || null,
    cdhash: normalCdhash(cdhashRaw),
    platformBinary: v.is_platform_binary === true,
    codesigningFlags: optInt(v, 'codesigning_flags') ?? undefined,
    csValidationCategory: optInt(v, 'cs_validation_category') ?? undefined,
    tty: isObj(v.tty),
    processStart: start,
  };
}

/** `existing_file` or `new_path{dir, filename}` → one file (create and rename destinations). */
function destination(body: Json, where: string): EsFile {
  const dest = obj(body, 'destination', where);
  if (isObj(dest.existing_file)) return file(dest.existing_file, `${where}.destination.existing_file`);
  if (isObj(dest.new_path)) {
    const np = dest.new_path;
    const dir = file(np.dir, `${where}.destination.new_path.dir`);
    const name = np.filename;
    if (typeof name !== 'string') return fail(`${where}.destination.new_path.filename: expected string`);
    return joinNewPath(dir, name);
  }
  return fail(`${where}.destination: expected existing_file or new_path`);
}

const KINDS = new Set<string>(Object.keys(ES_EVENT_TYPES));

/** Parse one eslogger line. Never throws. */
export function parseEsLine(line: string): LineResult {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'malformed', detail: 'not valid JSON (truncated line?)' };
  }
  try {
    return parseEsObject(raw);
  } catch (err) {
    if (err instanceof ShapeError) return { ok: false, reason: 'malformed', detail: err.message };
    throw err;
  }
}

function parseEsObject(raw: unknown): LineResult {
  if (!isObj(raw)) return fail('line: expected a JSON object');
  const ev = obj(raw, 'event', 'line');
  const keys = Object.keys(ev);
  if (keys.length !== 1) return fail(`event: expected exactly one kind, got ${keys.length}`);
  const kind = keys[0]!;
  if (!KINDS.has(kind)) return { ok: false, reason: 'unsupported', detail: `event kind ${kind}` };
  const k = kind as EsEventKind;
  const eventType = optInt(raw, 'event_type');
  if (eventType !== null && eventType !== ES_EVENT_TYPES[k]) return fail(`event_type ${eventType} does not match event.${k}`);
  const time = typeof raw.time === 'string' ? parseEsTime(raw.time) : undefined;
  if (time === undefined) return fail('time: expected ISO time');
  const base: EsEventBase = {
    time,
    version: optInt(raw, 'version') ?? 0,
    seqNum: optInt(raw, 'seq_num'),
    globalSeqNum: optInt(raw, 'global_seq_num'),
    process: processOf(raw.process, 'process'),
  };
  const body = obj(ev, k, 'event');
  const where = `event.${k}`;
  switch (k) {
    case 'exec': {
      const args = body.args;
      if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return fail(`${where}.args: expected string array`);
      const cwd = isObj(body.cwd) && typeof body.cwd.path === 'string' ? body.cwd.path : '';
      return { ok: true, event: { ...base, kind: k, target: processOf(body.target, `${where}.target`), args: args as string[], cwd, stdin: stdinOf(body.fds) } };
    }
    case 'fork':
      return { ok: true, event: { ...base, kind: k, child: processOf(body.child, `${where}.child`) } };
    case 'exit':
      return { ok: true, event: { ...base, kind: k, status: optInt(body, 'stat') } };
    case 'open':
      return { ok: true, event: { ...base, kind: k, file: file(body.file, `${where}.file`), fflag: optInt(body, 'fflag') ?? 0 } };
    case 'create':
      return { ok: true, event: { ...base, kind: k, file: destination(body, where) } };
    case 'write':
      return { ok: true, event: { ...base, kind: k, file: file(body.target, `${where}.target`) } };
    case 'rename':
      return { ok: true, event: { ...base, kind: k, source: source(body.source, `${where}.source`), destination: destination(body, where) } };
    case 'close':
      if (typeof body.modified !== 'boolean') return fail(`${where}.modified: expected boolean`);
      return { ok: true, event: { ...base, kind: k, file: file(body.target, `${where}.target`), modified: body.modified } };
    case 'clone':
    case 'copyfile': {
      // a copyfile's fields are es_event_copyfile_t's (formats.md §5.4, HarfangLab/endpoint-sec event_copyfile.rs; no
      // eslogger sample was seen [?]): its copy is target_file when it overwrites one, else the clone's target_dir +
      // target_name
      if (k === 'copyfile' && isObj(body.target_file)) {
        return { ok: true, event: { ...base, kind: k, source: source(body.source, `${where}.source`), destination: file(body.target_file, `${where}.target_file`) } };
      }
      const name = body.target_name;
      if (typeof name !== 'string') return fail(`${where}.target_name: expected string`);
      return { ok: true, event: { ...base, kind: k, source: source(body.source, `${where}.source`), destination: joinNewPath(file(body.target_dir, `${where}.target_dir`), name) } };
    }
    case 'link': {
      // es_event_link_t's fields (HarfangLab/endpoint-sec event_link.rs), as a clone's are es_event_clone_t's; no
      // eslogger sample of a link was seen [?]
      const name = body.target_filename;
      if (typeof name !== 'string') return fail(`${where}.target_filename: expected string`);
      return { ok: true, event: { ...base, kind: k, source: source(body.source, `${where}.source`), destination: joinNewPath(file(body.target_dir, `${where}.target_dir`), name) } };
    }
  }
}

/**
 * ISO-8601 UTC time as eslogger prints it (`2026-03-03T09:51:40.284917305Z`, any number of fractional
 * digits, `Z` or ±HH:MM) → unix seconds, truncated. undefined when it is not that shape.
 */
export function parseEsTime(s: string): number | undefined {
  if (s.length < 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return undefined;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return undefined;
  let i = 19;
  if (s.charCodeAt(i) === 46 /* . */) {
    i++;
    const fracStart = i;
    while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    if (i === fracStart) return undefined;
  }
  let offset = 0;
  const z = s.charCodeAt(i);
  if (z === 90 /* Z */ && i === s.length - 1) offset = 0;
  else if ((z === 43 || z === 45) && s.length - i === 6 && s.charCodeAt(i + 3) === 58) {
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || om < 0) return undefined;
    offset = (z === 43 ? 1 : -1) * (oh * 3600 + om * 60);
  } else return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, sec) / 1000 - offset;
}

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Parse a whole capture (fixtures, tests): one result per non-empty line. */
export function parseEslogger(text: string): { events: EsEvent[]; skipped: { line: number; reason: string; detail: string }[] } {
  const events: EsEvent[] = [];
  const skipped: { line: number; reason: string; detail: string }[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const r = parseEsLine(line);
    if (r.ok) events.push(r.event);
    else skipped.push({ line: i + 1, reason: r.reason, detail: r.detail });
  });
  return { events, skipped };
}
