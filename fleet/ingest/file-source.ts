/**
 * Files source: osquery's filesystem logger / Fleet's filesystem destination write one result line per
 * `\n`. We read from the stored checkpoint, hand complete lines to the ingest service in chunks, and
 * store the byte offset after the last complete line IN THE SAME TRANSACTION as the state those lines
 * produced — a crash never loses or double-applies a line (and dedupe covers the rest).
 *
 * Following (`follow: true`, used by `fleet serve`): at EOF we poll the path. A different inode
 * means the file was rotated (rename + new file): the old descriptor is read on until it has not grown for
 * `rotateGraceMs` (a writer that still holds it finishes its line there), then to EOF, and the new file is
 * read from 0. A size below our offset on the same inode means truncation (copytruncate): we restart at 0.
 * On start, a checkpoint whose inode no longer matches the path (rotated while we were down) is looked for
 * among the files beside it (`results.log.1`, a dated name): when one of them is that inode and still holds
 * the bytes the checkpoint was taken on, its rest is read first, then the rotations written after it (the path was
 * rotated more than once), then the new file from 0.
 *
 * Same inode, size ≥ offset is not enough to resume: a file rewritten in place (the simulator before it wrote new
 * files, `cp bigger.log results.log`, an editor) keeps its inode, and resuming mid-line quarantined half-lines and
 * skipped everything before the offset. A checkpoint therefore carries a fingerprint of what was read (FileFingerprint:
 * digests of the file's first bytes and of the bytes just before the offset, at most FINGERPRINT_BYTES each); on
 * start, and when a followed file grows, the bytes at the path are compared with it, and a file that differs is
 * read from 0 as replaced (the truncation path). A checkpoint stored before fingerprints resumes only when the byte
 * before its offset is a line end (`\n`), which every checkpoint but an unterminated last line's is.
 */
import { isAscii } from 'node:buffer';
import { constants, statSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { lstat, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { coerceError, OutflowError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Checkpoint, Store } from '../store/store.js';
import { addIngestResults, emptyIngestResult, type IngestResult, type IngestService } from './ingest-service.js';

export interface FileSourceOptions {
  ingest: IngestService;
  store: Store;
  /**
   * Bytes read per batch (one store transaction per chunk of complete lines). Default 8 MiB (~14 000 lines
   * of ~600 bytes). Larger batches are cheaper per line: a batch merges each host's repeated sightings before
   * writing (store rows per line 1.34 at 1 MiB, ~0.6 at 8 MiB on the simulated fleet), and a COMMIT writes
   * every page the batch dirtied to the WAL, which on a store of thousands of hosts is much of the prevalence
   * tables whatever the batch size (4 000 hosts × 1 day in time order: COMMITs took 1.15 s, 0.47 s, 0.26 s in
   * all with 5 000, 20 000, 50 000-line batches). The read buffer is chunkBytes + max(chunkBytes, maxLineBytes);
   * 16 and 32 MiB batches measured no faster than 8 (2026-11-27).
   */
  chunkBytes?: number;
  /** Ignore the stored checkpoint and read from the start (dedupe still drops lines already ingested). */
  fromStart?: boolean;
  /** Keep tailing at EOF (rotation/truncation aware) until `signal` aborts. */
  follow?: boolean;
  pollIntervalMs?: number;
  /**
   * Following: how long a rotated file must stay the same size before it is left for the new one (default
   * 2 × pollIntervalMs), and at most 10 × that after the rotation. Lines written to it meanwhile (a writer that holds
   * the old descriptor) are read; the new file's wait that long.
   */
  rotateGraceMs?: number;
  /**
   * Following, a first line only partly read when the file is truncated (no fingerprint yet): a rotation beside the
   * path made at most this long (ms) before that part was read can be copytruncate's copy of it (default 60 s).
   */
  copySlackMs?: number;
  /** A line without `\n` longer than this is handed over as is (and quarantined as too long). */
  maxLineBytes?: number;
  signal?: AbortSignal;
  log?: Logger;
  /** After every batch: bytes consumed in the current file, its size, and the batch result. */
  onBatch?: (progress: { file: string; offset: number; size: number; result: IngestResult }) => void;
  /**
   * Where reading starts and why (FileStart), before the first batch. When given, the caller reports a file read
   * again from 0 because it was replaced (`fleet ingest` prints it); the log then gets it at info, not warn.
   */
  onStart?: (start: FileStart) => void;
  /**
   * The file is complete (`fleet ingest --flush`, the end of a replay): its unterminated last line is read as is,
   * and quarantined if it is not a whole line. Otherwise (a one-shot read, not `follow`), an unterminated last
   * line that is not whole JSON is left unread, the checkpoint at its start, for the next run: osquery may be
   * writing it, and reading half of it now would quarantine both halves.
   */
  endOfInput?: boolean;
  /** A one-shot read left its unterminated last line (`bytes` long, at `offset`) for the next run. */
  onUnfinishedLine?: (unfinished: { file: string; offset: number; bytes: number }) => void;
}

/** Where a file is read from, and why (`reason`). */
export interface FileStart {
  file: string;
  offset: number;
  /** The file's size when it was opened. */
  size: number;
  reason: StartReason;
  /** For `replaced`: what differed. */
  detail?: string;
  /** For `rotated`: the file beside it that held the checkpoint's inode, whose rest was read first from `offset`. */
  rotatedFrom?: { file: string; offset: number; size: number };
  /** For `rotated`: files rotated away after that one and before the file at the path, read whole next, in this order. */
  rotatedBetween?: string[];
}

/**
 * no-checkpoint, resumed (at the stored offset), from-start (--from-start), invalid-checkpoint, rotated (another
 * inode at the path), truncated (shorter than the offset), replaced (same inode and long enough, but not the bytes the
 * checkpoint was taken on: rewritten in place).
 */
export type StartReason = 'no-checkpoint' | 'resumed' | 'from-start' | 'invalid-checkpoint' | 'rotated' | 'truncated' | 'replaced';

/** Bytes a fingerprint digests at most, at the head of the file and before the offset (two 1 KiB preads on start). */
export const FINGERPRINT_BYTES = 1024;

/**
 * What a file checkpoint stores beside {ino, dev, offset} (all in its JSON, no schema of its own): digests of the first
 * `headBytes` bytes of the file and of the `tailBytes` bytes before the offset (each at most FINGERPRINT_BYTES, fewer
 * when the file or a batch was shorter), SHA-256 base64url cut to 22 characters.
 */
interface FileFingerprint {
  headHash: string;
  headBytes: number;
  tailHash: string;
  tailBytes: number;
}

/**
 * headHash/headBytes grow with what was read, up to FINGERPRINT_BYTES; tailHash/tailBytes are the bytes before
 * `offset` as the last checkpoint stored them (tailBytes 0: none yet).
 */
interface FilePosition extends FileFingerprint {
  fh: FileHandle;
  ino: number;
  dev: number;
  offset: number;
}

/** The fingerprint of a file not read yet (read from 0). */
const NO_FINGERPRINT: FileFingerprint = { headHash: '', headBytes: 0, tailHash: '', tailBytes: 0 };

function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22);
}

/** `length` bytes of `fh` at `at` (fewer at EOF). */
async function readAt(fh: FileHandle, at: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(b, got, length - got, at + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return b.subarray(0, got);
}

/** The checkpoint's fingerprint, or null for one stored before fingerprints (or one that is not ours). */
function fingerprintOf(cp: Checkpoint): FileFingerprint | null {
  const { headHash, headBytes, tailHash, tailBytes } = cp;
  if (typeof headHash !== 'string' || typeof tailHash !== 'string' || typeof headBytes !== 'number' || typeof tailBytes !== 'number') return null;
  if (!Number.isSafeInteger(headBytes) || !Number.isSafeInteger(tailBytes) || headBytes < 0 || tailBytes < 0 || headBytes > FINGERPRINT_BYTES || tailBytes > FINGERPRINT_BYTES) return null;
  return { headHash, headBytes, tailHash, tailBytes };
}

/**
 * Why the file open as `fh` is not the one `fp` was taken on at `offset` (null: the same bytes, as far as the
 * fingerprint tells). Without a fingerprint (an older checkpoint): the byte before the offset must end a line.
 */
async function differs(fh: FileHandle, offset: number, fp: FileFingerprint | null): Promise<string | null> {
  if (offset === 0) return null;
  if (!fp) {
    const before = await readAt(fh, offset - 1, 1);
    return before[0] === 0x0a ? null : `the byte before offset ${offset} is not a line end`;
  }
  if (fp.headBytes > 0 && digest(await readAt(fh, 0, fp.headBytes)) !== fp.headHash) return `its first ${fp.headBytes} bytes differ`;
  const tailBytes = Math.min(fp.tailBytes, offset);
  if (tailBytes > 0 && digest(await readAt(fh, offset - tailBytes, tailBytes)) !== fp.tailHash) return `the ${tailBytes} bytes before offset ${offset} differ`;
  return null;
}

/**
 * Result logs are almost always ASCII (osquery escapes nothing, but paths and names rarely leave ASCII):
 * for ASCII bytes latin1 decoding gives the same string and is a plain copy, ~5x cheaper than UTF-8
 * decoding (measured 8 MiB: ~5 ms vs ~25 ms), which was a tenth of ingest time.
 */
function textEncoding(bytes: Buffer): 'latin1' | 'utf8' {
  return isAscii(bytes) ? 'latin1' : 'utf8';
}

/** An unterminated last line that is a whole JSON value was written in full, without its newline. */
function wholeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function decodeText(bytes: Buffer): string {
  return bytes.toString(textEncoding(bytes));
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * `bytes` without the UTF-8 byte-order mark they start with when they start the file (`atStart`): JSON.parse refuses
 * it, and stdin and POST /v1/ingest drop it too. Only the text handed over loses it; offsets and fingerprints count it.
 */
function withoutBom(bytes: Buffer, atStart: boolean): Buffer {
  return atStart && bytes.subarray(0, 3).equals(UTF8_BOM) ? bytes.subarray(3) : bytes;
}

/**
 * The lines of `bytes` (split on `\n`, a trailing `\r` dropped, like `text.split('\n')`), each decoded when
 * the ingest service reaches it. One string per line rather than one string for the chunk split into
 * slices: a parsed line then dies young, where the slices kept the chunk's 8 MiB string alive for the
 * batch, and V8 gave every such string fresh pages (their faults were most of the decoding cost).
 */
class LinesOf implements Iterable<string> {
  private valid = true;

  constructor(
    private readonly bytes: Buffer,
    private readonly encoding: 'latin1' | 'utf8',
  ) {}

  /** The read buffer is about to be reused: reading lines after this is a bug, not stale bytes. */
  invalidate(): void {
    this.valid = false;
  }

  [Symbol.iterator](): Iterator<string> {
    const { bytes, encoding } = this;
    const end = bytes.length;
    let pos = 0;
    return {
      next: (): IteratorResult<string> => {
        if (!this.valid) throw new Error('file source: lines iterated after their batch was handed over (ingestLines must read them before it awaits)');
        if (pos > end) return { done: true, value: undefined };
        let nl = bytes.indexOf(0x0a, pos);
        if (nl < 0) nl = end;
        const stop = nl > pos && bytes[nl - 1] === 0x0d ? nl - 1 : nl;
        const line = bytes.toString(encoding, pos, stop);
        pos = nl + 1;
        return { done: false, value: line };
      },
    };
  }
}

/**
 * Why `file` cannot be stat'ed (its error code: ENOENT when it is not there yet, EACCES when its directory is
 * closed to us, …), or null when it can. `fleet serve` waits for ENOENT and reports the rest; doctor says so ahead.
 */
export function statErrorCode(file: string): string | null {
  const st = statFile(file);
  return typeof st === 'string' ? st : null;
}

/** `file`'s stats, or why it cannot be stat'ed (its error code, as statErrorCode): one stat for both questions. */
export function statFile(file: string): Stats | string {
  try {
    return statSync(file);
  } catch (err) {
    return String((err as { code?: unknown }).code ?? 'EUNKNOWN');
  }
}

/** What a path that is not a regular file is, in an operator's words. */
export function specialFileKind(st: Stats): string {
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/** A path read as a stream (no offsets, no checkpoint): a named pipe or a shell's `<(…)`, or a terminal or /dev/null. */
export function readAsStream(st: Stats): boolean {
  return st.isFIFO() || st.isCharacterDevice();
}

export function fileSourceId(file: string): string {
  return path.resolve(file);
}

/**
 * Open `file` and decide where to read it from: the checkpoint's offset when it still describes the bytes there,
 * else 0 (and why). One descriptor for the checks and the reading, so they see the same file.
 */
async function openFrom(file: string, checkpoint: Checkpoint | null, fromStart: boolean): Promise<{ pos: FilePosition; start: Omit<FileStart, 'file'> }> {
  // without blocking: a named pipe at the path would hold the source until a writer came
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`not a regular file (${specialFileKind(st)}): a file source reads a log file from stored offsets; pipe anything else to \`outflow fleet ingest\``);
    const pos: FilePosition = { fh, ino: st.ino, dev: st.dev, offset: 0, ...NO_FINGERPRINT };
    const from = (reason: StartReason, detail?: string) => ({ pos, start: { offset: pos.offset, size: st.size, reason, ...(detail ? { detail } : {}) } });
    if (!checkpoint) return from(fromStart ? 'from-start' : 'no-checkpoint');
    const offset = Number(checkpoint.offset);
    if (!Number.isSafeInteger(offset) || offset < 0) return from('invalid-checkpoint');
    if (Number(checkpoint.ino) !== st.ino) return from('rotated');
    if (st.size < offset) return from('truncated');
    const fp = fingerprintOf(checkpoint);
    const why = await differs(fh, offset, fp);
    if (why) return from('replaced', why);
    pos.offset = offset;
    if (fp) Object.assign(pos, fp);
    return from('resumed');
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** Directory entries looked at for a rotated file on start: a log directory holds a handful. */
const MAX_ROTATED_SCAN = 10_000;

/**
 * The file beside `file` that is the checkpoint's inode (rotated while we were down: renamed, or moved aside by a
 * dated name), opened at the checkpoint's offset when it still holds the bytes the checkpoint was taken on; null
 * when there is none (deleted, compressed into a new file, or rewritten).
 */
async function openRotated(file: string, checkpoint: Checkpoint): Promise<{ pos: FilePosition; path: string; size: number } | null> {
  const offset = Number(checkpoint.offset);
  const ino = Number(checkpoint.ino);
  const dev = Number(checkpoint.dev);
  if (!Number.isSafeInteger(offset) || offset < 0) return null;
  const found = await openByInode(file, ino, dev);
  if (!found) return null;
  const { fh } = found;
  try {
    const now = await fh.stat();
    // it still holds what the checkpoint read
    const fp = fingerprintOf(checkpoint);
    if (now.size >= offset && !(await differs(fh, offset, fp))) return { pos: { fh, ino, dev, offset, ...(fp ?? NO_FINGERPRINT) }, path: found.path, size: now.size };
  } catch {
    // unreadable: as if it were gone
  }
  await fh.close().catch(() => undefined);
  return null;
}

/**
 * The regular files beside `file` (in its directory, not `file` itself) whose name `keep` accepts, with their lstat,
 * among the first MAX_ROTATED_SCAN entries; none when the directory cannot be read.
 */
async function* filesBeside(file: string, keep: (name: string) => boolean = () => true): AsyncGenerator<{ name: string; path: string; st: Stats }> {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.slice(0, MAX_ROTATED_SCAN)) {
    if (name === base || !keep(name)) continue;
    const candidate = path.join(dir, name);
    const st = await lstat(candidate).catch(() => null);
    if (st?.isFile()) yield { name, path: candidate, st };
  }
}

/** The file beside `file` (not `file` itself) that is inode `ino`, opened (openFileIfInode); null when there is none. */
async function openByInode(file: string, ino: number, dev: number): Promise<{ fh: FileHandle; path: string } | null> {
  for await (const { path: candidate, st } of filesBeside(file)) {
    if (st.ino !== ino || st.dev !== dev) continue;
    const fh = await openFileIfInode(candidate, ino, dev);
    return fh ? { fh, path: candidate } : null;
  }
  return null;
}

/** First bytes of compressed files (gzip, bzip2, xz, zstd, zip): a rotated log compressed in place is not read. */
const COMPRESSED_MAGIC = [Buffer.from([0x1f, 0x8b]), Buffer.from('BZh'), Buffer.from([0xfd, 0x37, 0x7a, 0x58]), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from('PK\x03\x04', 'latin1')];

/** Whether a file's first bytes are a compressor's magic (COMPRESSED_MAGIC), or gzip's. */
const isCompressed = (head: Buffer) => COMPRESSED_MAGIC.some((m) => head.subarray(0, m.length).equals(m));
const isGzip = (head: Buffer) => head.subarray(0, 2).equals(COMPRESSED_MAGIC[0]!);

const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A compressed rotation's extension (found, so that it is reported rather than silently left). */
const COMPRESSION = String.raw`(?:\.(?:gz|bz2|xz|zst|lz4|Z|zip))?`;
/** A date or time in a rotated name: `20261128`, `2026-11-28T10-00-00.000`, `2026-11-28_10:00`. */
const DATE = String.raw`(\d{4}[0-9TZ:._-]{2,36})`;

/** How a rotation names itself: `NAME.N` (logrotate's numbers, older the higher) or a date (older the smaller). */
type RotationName = { number: number } | { date: string };

/**
 * A name's rotation of `base`, by patterns compiled once per scan: `base.N`, `base-DATE` (logrotate, `dateext`),
 * `stem-DATE.ext` (lumberjack, Fleet's filesystem logger), each possibly compressed; undefined for anything else beside
 * it (`base.bak`, the aggregator's own `base.quarantine`, another log).
 */
function rotationNames(base: string): (name: string) => RotationName | undefined {
  const b = escapeRegExp(base);
  const numbered = new RegExp(`^${b}\\.(\\d{1,6})${COMPRESSION}$`);
  const dated = new RegExp(`^${b}-${DATE}${COMPRESSION}$`);
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  const lumberjack = stem && ext ? new RegExp(`^${escapeRegExp(stem)}-${DATE}${escapeRegExp(ext)}${COMPRESSION}$`) : undefined;
  return (name) => {
    const n = numbered.exec(name);
    if (n) return { number: Number(n[1]) };
    const d = dated.exec(name) ?? lumberjack?.exec(name);
    return d ? { date: d[1]! } : undefined;
  };
}

/** Older first among rotations last written in the same instant: the higher number, the earlier date. */
function olderFirst(a: RotationName, b: RotationName): number {
  if ('number' in a && 'number' in b) return b.number - a.number;
  if ('date' in a && 'date' in b) return a.date < b.date ? -1 : a.date > b.date ? 1 : 0;
  return 'number' in a ? 1 : -1;
}

/** A file found beside the path at start: it is re-found by its inode when read, whatever it is called by then. */
interface RotatedFile {
  file: string;
  ino: number;
  dev: number;
}

/**
 * Open a regular file without blocking (a FIFO put in its place cannot hold the source) and check it is `ino`.
 */
async function openFileIfInode(file: string, ino: number, dev: number): Promise<FileHandle | null> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
  if (!fh) return null;
  const st = await fh.stat().catch(() => null);
  if (st?.isFile() && st.ino === ino && st.dev === dev) return fh;
  await fh.close().catch(() => undefined);
  return null;
}

/**
 * The files rotated away after `rotated` (the checkpoint's file) and before the file now at the path: the path was
 * rotated twice or more while we were down (logrotate's `.1`, between `.2` and the new file). Beside `file`, named
 * as its rotations (rotationNames), last written no earlier than `rotated` was (its mtime: now if it is there, else
 * as the checkpoint recorded it), neither it nor the file at the path, not compressed; oldest first.
 */
async function rotatedBetween(
  file: string,
  after: {
    mtimeMs: number;
    found?: { path: string; ino: number; dev: number };
    newerOnly?: boolean;
    copyOf?: { offset: number; fp: FileFingerprint } | null;
    /**
     * The checkpoint's file as read up to this offset: a gzip of it holding only those bytes (logrotate's compress)
     * is no loss, one holding more is a copy whose lines after the offset are lost.
     */
    readUpTo?: { offset: number; fp: FileFingerprint } | null;
  },
  current: { ino: number; dev: number },
  log?: Logger,
): Promise<RotatedFile[]> {
  const rotationName = rotationNames(path.basename(file));
  const { found: rotated } = after;
  // last written in the same instant as the checkpoint's file (coarse timestamps, a restored copy): a rotation of it
  // only if named as a newer one (when its own name tells; else it is read again, which loses nothing)
  const afterName = rotated === undefined ? undefined : rotationName(path.basename(rotated.path));
  const found: (RotatedFile & { mtimeMs: number; name: RotationName })[] = [];
  for await (const { name, path: candidate, st } of filesBeside(file, (n) => rotationName(n) !== undefined)) {
    const rotation = rotationName(name)!;
    if (st.mtimeMs < after.mtimeMs) continue;
    if (st.mtimeMs === after.mtimeMs && afterName && olderFirst(rotation, afterName) <= 0) continue;
    if ((st.ino === rotated?.ino && st.dev === rotated.dev) || (st.ino === current.ino && st.dev === current.dev)) continue;
    const fh = await openFileIfInode(candidate, st.ino, st.dev);
    if (!fh) continue;
    try {
      const head = await readAt(fh, 0, 4);
      const compressed = isCompressed(head);
      // only newer ones, but for a copy of the checkpoint's file made in the same instant (copytruncate on 1 s timestamps)
      if (after.newerOnly && st.mtimeMs === after.mtimeMs) {
        if (!after.copyOf) continue;
        if (compressed) {
          // an older rotation, read before it was compressed (nothing lost), unless it is such a copy: told apart for
          // gzip, logrotate's default; another compressor's file is warned about
          const copy = !isGzip(head) || (await gzipCopyOf(fh, after.copyOf)) === 'more';
          if (copy) log?.warn({ file: candidate }, 'a compressed rotation may be a copy of the checkpoint\'s file (copytruncate) with lines after the stored offset: not read (they are lost to the aggregator)');
          continue;
        }
        if (!(await holdsCheckpoint(fh, after.copyOf))) continue;
      }
      if (compressed) {
        const ofOurs = after.readUpTo && isGzip(head) ? await gzipCopyOf(fh, after.readUpTo) : 'no';
        if (ofOurs === 'more') log?.warn({ file: candidate }, 'a compressed copy of the file read up to the stored offset holds lines after it: not read (they are lost to the aggregator)');
        else if (ofOurs === 'no') log?.warn({ file: candidate }, 'a rotation of the file written while we were down is compressed: not read (its lines are lost to the aggregator)');
        continue;
      }
    } catch {
      continue;
    } finally {
      await fh.close().catch(() => undefined);
    }
    found.push({ file: candidate, ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs, name: rotation });
  }
  found.sort((a, b) => a.mtimeMs - b.mtimeMs || olderFirst(a.name, b.name));
  return found.map(({ file: f, ino, dev }) => ({ file: f, ino, dev }));
}

/**
 * Open a file rotatedBetween found, by its inode: where it was found, or under the name a rotation since gave it (the
 * path may rotate again while the files before it are read); null when it is gone (deleted, or compressed into a
 * new file).
 */
async function openRotation(file: string, found: RotatedFile): Promise<{ fh: FileHandle; path: string } | null> {
  const there = await openFileIfInode(found.file, found.ino, found.dev);
  return there ? { fh: there, path: found.file } : openByInode(file, found.ino, found.dev);
}

/**
 * The checkpoint's file as rotatedBetween takes it when the file is gone: its mtime as the checkpoint recorded it.
 * `replaced` and `truncated` too: the new file at the path may have been given the freed inode of the checkpoint's
 * file, deleted after it was compressed (so the bytes differ, and the inode does not tell the rotation); or
 * `copytruncate` copied the file aside (the copy is resumed at the offset, ingestFile). For those two only strictly
 * newer files count: a genuine rewrite in place has its older rotations beside it, maybe last written in the same
 * instant.
 */
function checkpointMtime(
  reason: StartReason,
  checkpoint: Checkpoint | null,
): { mtimeMs: number; newerOnly: boolean; copyOf: { offset: number; fp: FileFingerprint } | null; readUpTo: { offset: number; fp: FileFingerprint } | null } | null {
  if ((reason !== 'rotated' && reason !== 'replaced' && reason !== 'truncated') || !checkpoint) return null;
  const mtimeMs = Number(checkpoint.mtimeMs);
  // a checkpoint written before it recorded mtimes names no time to start from
  if (!Number.isFinite(mtimeMs) || mtimeMs <= 0) return null;
  // rotated (the path is another inode): a rotation last written in the same instant is read again rather than lost.
  // No inode is left out (no `found`): a file beside the path with the checkpoint's inode is another one that took the
  // freed inode (openRotated found its bytes are not the checkpoint's).
  const newerOnly = reason !== 'rotated';
  return { mtimeMs, newerOnly, copyOf: newerOnly ? checkpointCopy(checkpoint) : null, readUpTo: checkpointCopy(checkpoint) };
}

/** Whether the open file holds the checkpoint's bytes up to its offset (a copy of the checkpoint's file); false when unreadable. */
async function holdsCheckpoint(fh: FileHandle, copy: { offset: number; fp: FileFingerprint }): Promise<boolean> {
  try {
    return (await fh.stat()).size >= copy.offset && !(await differs(fh, copy.offset, copy.fp));
  } catch {
    return false;
  }
}

/**
 * What an open gzip file decompresses to, against the checkpoint's bytes up to its offset: `no` (other bytes, too
 * few, or unreadable), `exact` (those bytes and nothing after: a copy holding only what was read), `more` (a copy
 * with lines after the offset). Read through the descriptor already checked (a FIFO put at its name cannot hold
 * us); decompresses at most `offset` bytes and one more chunk.
 */
async function gzipCopyOf(fh: FileHandle, copy: { offset: number; fp: FileFingerprint }): Promise<'no' | 'exact' | 'more'> {
  const { offset, fp } = copy;
  const head: Buffer[] = [];
  let headLength = 0;
  // the last bytes before `at`, enough for the tail digest
  let recent = Buffer.alloc(0);
  let at = 0;
  let more = false;
  const compressed = fh.createReadStream({ start: 0, autoClose: false });
  const gunzip = createGunzip();
  compressed.on('error', (err) => gunzip.destroy(err));
  compressed.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (at >= offset) {
        more = chunk.length > 0;
        if (more) break;
        continue;
      }
      const piece = chunk.subarray(0, offset - at);
      if (headLength < fp.headBytes) {
        const h = piece.subarray(0, fp.headBytes - headLength);
        head.push(h);
        headLength += h.length;
      }
      recent = Buffer.concat([recent, piece]);
      if (recent.length > fp.tailBytes) recent = recent.subarray(recent.length - fp.tailBytes);
      at += piece.length;
      if (at >= offset && chunk.length > piece.length) {
        more = true;
        break;
      }
    }
  } catch {
    return 'no';
  } finally {
    gunzip.destroy();
    compressed.destroy();
  }
  if (at < offset) return 'no';
  const tailBytes = Math.min(fp.tailBytes, offset);
  const headSame = fp.headBytes === 0 || digest(Buffer.concat(head)) === fp.headHash;
  if (!headSame || (tailBytes > 0 && digest(recent.subarray(recent.length - tailBytes)) !== fp.tailHash)) return 'no';
  return more ? 'more' : 'exact';
}


/** The checkpoint's offset and fingerprint, to recognise a copy of its file; null for a checkpoint without a fingerprint. */
function checkpointCopy(checkpoint: Checkpoint | null): { offset: number; fp: FileFingerprint } | null {
  if (!checkpoint) return null;
  const fp = fingerprintOf(checkpoint);
  const offset = Number(checkpoint.offset);
  if (!fp || !Number.isSafeInteger(offset) || offset <= 0) return null;
  return { offset, fp };
}

/** Whether the open file holds `bytes` at `at` (their first and last KiB compared); false when unreadable. */
async function holdsAt(fh: FileHandle, at: number, bytes: Buffer): Promise<boolean> {
  if (bytes.length === 0) return true;
  const n = Math.min(bytes.length, FINGERPRINT_BYTES);
  try {
    const [first, last] = await Promise.all([readAt(fh, at, n), readAt(fh, at + bytes.length - n, n)]);
    return first.equals(bytes.subarray(0, n)) && last.equals(bytes.subarray(bytes.length - n));
  } catch {
    return false;
  }
}

/** A compressed rotation of another compressor than gzip counts as this truncation's copy when written this recently. */
const RECENT_COMPRESSED_MS = 10 * 60 * 1000;

/**
 * Following, the file at the path was truncated or rewritten in place: `copytruncate` copied it beside the path first,
 * so the lines written since our last read are in that copy. The newest rotation beside the path (rotationNames)
 * that holds what we read up to our offset (by its fingerprint), opened there; null when there is none (a plain
 * truncation). A copy compressed at once is not read: when it holds lines after our offset (gzip, told by
 * decompressing it; another compressor's, when written in the last minutes) they are named lost in a warning.
 */
async function openCopyOf(file: string, pos: FilePosition, held: { bytes: Buffer; since: number; slackMs: number }, log?: Logger): Promise<FilePosition | null> {
  const { bytes: heldBytes, since: heldSince, slackMs } = held;
  // what identifies the copy: the fingerprint before the offset, and the unterminated bytes held after it
  if ((pos.offset <= 0 || pos.tailBytes === 0) && heldBytes.length === 0) return null;
  const rotationName = rotationNames(path.basename(file));
  const found: { file: string; ino: number; dev: number; mtimeMs: number; size: number }[] = [];
  for await (const { path: candidate, st } of filesBeside(file, (n) => rotationName(n) !== undefined)) {
    if (st.ino === pos.ino && st.dev === pos.dev) continue;
    // without a fingerprint only the held bytes tell the copy, and an older rotation may start the same way (one
    // host's lines share their first ~100 bytes): then only a file made about when they were read counts (ctime
    // within copySlackMs before: logrotate may copy before our read and truncate after it, and the kernel's file
    // clock runs behind Date.now() by milliseconds)
    if (pos.tailBytes === 0 && st.ctimeMs < heldSince - slackMs) continue;
    found.push({ file: candidate, ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs, size: st.size });
  }
  found.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const copy = { offset: pos.offset, fp: { headHash: pos.headHash, headBytes: pos.headBytes, tailHash: pos.tailHash, tailBytes: pos.tailBytes } };
  for (const f of found) {
    const fh = await openFileIfInode(f.file, f.ino, f.dev);
    if (!fh) continue;
    let keep = false;
    try {
      const head = await readAt(fh, 0, 4);
      if (!isCompressed(head)) {
        keep = f.size >= pos.offset + heldBytes.length && (pos.tailBytes === 0 || (await holdsCheckpoint(fh, copy))) && (await holdsAt(fh, pos.offset, heldBytes));
        if (keep) return { fh, ino: f.ino, dev: f.dev, offset: pos.offset, ...copy.fp };
        continue;
      }
      // compressed: only the newest rotation can be this truncation's copy
      if (f !== found[0]) continue;
      if (pos.tailBytes === 0) continue;
      const lost = isGzip(head) ? (await gzipCopyOf(fh, copy)) === 'more' : Date.now() - f.mtimeMs < RECENT_COMPRESSED_MS;
      if (lost) log?.warn({ file: f.file }, 'the file was truncated under us and its copy compressed at once (copytruncate, compress): the lines written since the last read are lost to the aggregator');
    } catch {
      // unreadable: not the copy
    } finally {
      if (!keep) await fh.close().catch(() => undefined);
    }
  }
  return null;
}

/** A start that is not the checkpoint's offset although a checkpoint was there: worth telling the operator. */
export function restartedFromZero(reason: StartReason): boolean {
  return reason === 'rotated' || reason === 'truncated' || reason === 'replaced' || reason === 'invalid-checkpoint';
}

/**
 * Ingest one file from its checkpoint to EOF (or follow it). Resolves with the totals; rejects only
 * when the file cannot be opened or the store fails (lines already committed stay committed).
 */
export async function ingestFile(file: string, opts: FileSourceOptions): Promise<IngestResult> {
  const id = fileSourceId(file);
  const chunkBytes = opts.chunkBytes ?? 8 * 1024 * 1024;
  const maxLineBytes = opts.maxLineBytes ?? 4 * 1024 * 1024;
  const pollMs = opts.pollIntervalMs ?? 1000;
  const totals = emptyIngestResult();
  // The unterminated tail of one read stays at the front of `buf` and the next read lands right after it
  // (no concatenation copy). A tail is at most max(chunkBytes, maxLineBytes): a longer one without a
  // newline is handed over as oversize, and a tail after a newline lies within the last read. Taken before any file
  // is opened: one too large to allocate leaves nothing open.
  const buf = Buffer.allocUnsafe(chunkBytes + Math.max(chunkBytes, maxLineBytes));
  let checkpoint: Checkpoint | null = null;
  if (!opts.fromStart) checkpoint = await opts.store.checkpoints.get(`file:${id}`);
  let pos: FilePosition;
  let start: Omit<FileStart, 'file'>;
  try {
    ({ pos, start } = await openFrom(file, checkpoint, opts.fromStart ?? false));
  } catch (err) {
    throw new OutflowError('INPUT_INVALID', `cannot read ${file}: ${coerceError(err).message}`, 'check the path and permissions', { cause: err });
  }
  let rotated: Awaited<ReturnType<typeof openRotated>> = null;
  let between: RotatedFile[] = [];
  try {
    // rotated while we were down: the rest of the old file (lines written after our checkpoint, before the rotation) first
    const rest = start.reason === 'rotated' && checkpoint ? await openRotated(file, checkpoint).catch(() => null) : null;
    rotated = rest;
    if (rest) start.rotatedFrom = { file: rest.path, offset: rest.pos.offset, size: rest.size };
    // rotated more than once: the files between the checkpoint's and the one at the path, read whole after it. When the
    // checkpoint's file is gone (logrotate's compress + delaycompress made it `.2.gz`), the ones after it still count.
    const rotatedAfter = rest
      ? await lstat(rest.path)
          .then((st) => ({ mtimeMs: st.mtimeMs, found: { path: rest.path, ino: st.ino, dev: st.dev } }))
          .catch(() => null)
      : checkpointMtime(start.reason, checkpoint);
    between = rotatedAfter ? await rotatedBetween(file, rotatedAfter, pos, opts.log).catch(() => []) : [];
    if (between.length) start.rotatedBetween = between.map((f) => f.file);
    const fields = {
      file: id,
      offset: start.offset,
      size: start.size,
      reason: start.reason,
      ...(start.detail ? { detail: start.detail } : {}),
      ...(checkpoint ? { checkpoint_offset: checkpoint.offset } : {}),
      ...(rotated ? { rotated_file: rotated.path, rotated_offset: rotated.pos.offset, rotated_size: rotated.size } : {}),
      ...(between.length ? { rotated_between: between.map((f) => f.file) } : {}),
    };
    if (start.reason === 'replaced' && !opts.onStart) opts.log?.warn(fields, 'file was replaced in place (same inode, other bytes before the stored offset); reading it from the start');
    else opts.log?.info(fields, 'file source start');
    opts.onStart?.({ file: id, ...start });
  } catch (err) {
    // the caller's onStart (or its logger) failed: the files opened so far are not read
    await pos.fh.close().catch(() => undefined);
    await rotated?.pos.fh.close().catch(() => undefined);
    throw err;
  }
  let tail = 0;

  /**
   * Whether the file no longer holds what was read: the bytes before the offset (the fingerprint; without one, a
   * checkpoint stored before fingerprints, the line end before it) or the unterminated bytes after it, kept at the
   * front of `buf` (their first and last KiB).
   */
  const rewrittenSince = async (): Promise<'before' | 'held' | null> => {
    if (pos.offset > 0 && (await differs(pos.fh, pos.offset, pos.tailBytes > 0 ? pos : null))) return 'before';
    if (tail === 0 || (await holdsAt(pos.fh, pos.offset, buf.subarray(0, tail)))) return null;
    // the same file up to the offset only when a fingerprint says so (at 0, or without one, nothing does)
    return pos.offset > 0 && pos.tailBytes > 0 ? 'held' : 'before';
  };

  /**
   * When the unterminated bytes now held at the front of `buf` were first read (Date.now(); 0: none held): a file
   * beside the path made before then is no copy of them (openCopyOf, when no fingerprint tells it).
   */
  let heldSince = 0;

  /** `before`: bytes of the file that end at `offset` (the batch's; its last FINGERPRINT_BYTES are digested). */
  const send = async (lines: Iterable<string>, offset: number, before: Uint8Array) => {
    if (pos.headBytes < FINGERPRINT_BYTES && pos.headBytes < offset) {
      // the head grows with what was read until it is FINGERPRINT_BYTES long (once per file, unless it starts tiny);
      // a batch read from 0 holds it already
      const headBytes = Math.min(FINGERPRINT_BYTES, offset);
      const head = before.length === offset ? before.subarray(0, headBytes) : await readAt(pos.fh, 0, headBytes);
      pos.headHash = digest(head);
      pos.headBytes = head.length;
    }
    const tail = before.subarray(Math.max(0, before.length - FINGERPRINT_BYTES));
    const tailHash = digest(tail);
    // the file's mtime: when it is rotated away and gone by the next start, which rotations came after it
    const st = await pos.fh.stat();
    const cp: Checkpoint = { ino: pos.ino, dev: pos.dev, offset, headHash: pos.headHash, headBytes: pos.headBytes, tailHash, tailBytes: tail.length, mtimeMs: st.mtimeMs };
    const r = await opts.ingest.ingestLines(lines, { kind: 'file', id, checkpoint: cp });
    addIngestResults(totals, r);
    pos.tailHash = tailHash;
    pos.tailBytes = tail.length;
    // the size as the batch was taken (for a progress bar): the same fstat as the checkpoint's mtime
    opts.onBatch?.({ file: id, offset, size: st.size, result: r });
  };

  /**
   * Read to EOF. `final`: no more bytes will come to this descriptor (a one-shot read, a rotated file): hand over the
   * unterminated tail, except in a one-shot read of the file at the path (see endOfInput) unless `left` (a rotated
   * file nothing will read again). Returns true when the file was rewritten under a read (rewrittenSince): nothing of
   * that read was sent, and the caller decides how to read the file again.
   */
  const drain = async (final: boolean, left = false): Promise<boolean> => {
    for (;;) {
      if (opts.signal?.aborted) return false;
      const { bytesRead } = await pos.fh.read(buf, tail, chunkBytes, pos.offset + tail);
      if (bytesRead === 0) break;
      // Rewritten since it was checked (copytruncate, then lines past our offset, between the poll and this read):
      // what was read is not what follows the offset. Checked after the read, so a rewrite before it is seen; one
      // after it left the read good. Left unsent: the caller reads the file again.
      const rewritten = await rewrittenSince();
      if (rewritten === 'held') {
        // only the unterminated line after the offset changed (a writer rewriting its last partial line, NULs where
        // data had not landed): the file is the same up to the offset, so that line is read again from there
        tail = 0;
        heldSince = 0;
        continue;
      }
      if (rewritten === 'before') return true;
      const data = buf.subarray(0, tail + bytesRead);
      const lastNl = data.lastIndexOf(0x0a);
      if (lastNl < 0) {
        if (data.length > maxLineBytes) {
          // Hand the oversize fragment over (quarantined as too long); the rest of that line, up to its newline,
          // arrives as the next line and is quarantined as not JSON, so every byte stays in the quarantine.
          await send([decodeText(withoutBom(data, pos.offset === 0))], pos.offset + data.length, data);
          pos.offset += data.length;
          tail = 0;
        } else {
          if (tail === 0) heldSince = Date.now();
          tail = data.length;
        }
        continue;
      }
      const complete = withoutBom(data.subarray(0, lastNl), pos.offset === 0);
      const consumed = pos.offset + lastNl + 1;
      // Decoded lazily from `buf`, so the tail moves to the front only once the batch is ingested.
      const lines = new LinesOf(complete, textEncoding(complete));
      try {
        await send(lines, consumed, data.subarray(0, lastNl + 1));
      } finally {
        lines.invalidate();
      }
      tail = data.length - (lastNl + 1);
      heldSince = tail > 0 ? Date.now() : 0;
      buf.copyWithin(0, lastNl + 1, data.length);
      pos.offset = consumed;
    }
    if (final && tail) {
      const text = decodeText(withoutBom(buf.subarray(0, tail), pos.offset === 0));
      if (!left && !opts.follow && !opts.endOfInput && !wholeJson(text)) {
        // Still being written, most likely: the checkpoint stays at the line's start (the last batch's end).
        opts.log?.info({ file: id, offset: pos.offset, bytes: tail }, 'unterminated last line left for the next run');
        opts.onUnfinishedLine?.({ file: id, offset: pos.offset, bytes: tail });
        return false;
      }
      const end = pos.offset + tail;
      await send([text], end, buf.subarray(0, tail));
      pos.offset = end;
      tail = 0;
    }
    return false;
  };

  /** Read the open file again from 0 (truncated or replaced in place): the fingerprint starts over too. */
  const restart = () => {
    Object.assign(pos, NO_FINGERPRINT, { offset: 0 });
    tail = 0;
    heldSince = 0;
  };

  const graceMs = opts.rotateGraceMs ?? 2 * pollMs;
  /** A writer that never lets go of the rotated file must not keep the new one unread: leave it this long after rotation at most. */
  const maxGraceMs = 10 * graceMs;
  /** Following: since when the path has named another file while ours kept `rotatedSize` bytes (null: not rotated). */
  let rotatedSince: number | null = null;
  let rotatedFirstSeen = 0;
  let rotatedSize = -1;

  /**
   * Read a file other than the one at the path to its end (nothing will read it again), then come back; it is closed
   * whatever happens. `prepare` runs first (where to start in it, what to log), within that guarantee.
   */
  const drainAside = async (other: FilePosition, prepare?: (aside: FilePosition) => Promise<void> | void): Promise<void> => {
    const current = pos;
    pos = other;
    try {
      await prepare?.(other);
      // a rotated file or copy changed while read (rewritten by hand?): its rest is not the file at the path's
      if (await drain(true, true)) opts.log?.warn({ offset: pos.offset }, 'a rotated file changed while it was read: the rest of it is not read');
    } finally {
      await other.fh.close().catch(() => undefined);
      pos = current;
      tail = 0;
      heldSince = 0;
    }
  };

  /** Following, the path truncated or rewritten under us: the rest of copytruncate's copy first (openCopyOf). */
  const readCopyOf = async (): Promise<void> => {
    const copy = await openCopyOf(file, pos, { bytes: buf.subarray(0, tail), since: heldSince, slackMs: opts.copySlackMs ?? 60_000 }, opts.log).catch(() => null);
    if (!copy) return;
    await drainAside(copy, () => opts.log?.info({ file: id, offset: copy.offset }, 'a copy of the file holds what was read (copytruncate): the lines written since the last read are read from it'));
  };

  try {
    if (rotated) {
      await drainAside(rotated.pos);
      // stopped within it: the checkpoint still names the rotated file, where the next start resumes
      if (opts.signal?.aborted) return totals;
    }
    // the checkpoint's file not found beside the path: one of these may be a copy of it (copytruncate), which holds the
    // checkpoint's bytes up to its offset and is read on from there
    // (only where copytruncate leaves the path: the checkpoint's own inode, truncated or rewritten; another file whose
    // first and last KiB before the offset repeat the checkpoint's is not taken for a copy of it otherwise)
    let copyOf = !rotated && (start.reason === 'truncated' || start.reason === 'replaced') ? checkpointCopy(checkpoint) : null;
    for (const middle of between) {
      const opened = await openRotation(file, middle);
      if (!opened) {
        opts.log?.warn({ file: middle.file }, 'a file rotated while we were down is gone (deleted or compressed since): not read');
        continue;
      }
      await drainAside({ fh: opened.fh, ino: middle.ino, dev: middle.dev, offset: 0, ...NO_FINGERPRINT }, async (aside) => {
        if (!copyOf || !(await holdsCheckpoint(aside.fh, copyOf))) return;
        Object.assign(aside, { offset: copyOf.offset, ...copyOf.fp });
        opts.log?.info({ file: opened.path, offset: copyOf.offset }, 'a copy of the checkpoint\'s file (copytruncate): read on from the stored offset');
        copyOf = null;
      });
      // stopped within it: the checkpoint names it, and the next start resumes there (found by its inode)
      if (opts.signal?.aborted) return totals;
    }
    if (!opts.follow) {
      if (await drain(true)) opts.log?.warn({ file: id, offset: pos.offset }, 'file rewritten while it was read (copytruncate?): what was read after the stored offset is left for the next run, which reads it again');
      return totals;
    }
    while (!opts.signal?.aborted) {
      // One stat of the path per poll: while it names our inode, its size is our file's too.
      let st;
      try {
        st = await stat(file);
      } catch {
        st = null; // between rename and re-create: keep the old descriptor and look again
      }
      if (st && (st.ino !== pos.ino || st.dev !== pos.dev)) {
        // A writer may still hold the old file (to finish a line, or until it reopens): read it on until it has not
        // grown for graceMs, then leave it for the new one.
        const size = (await pos.fh.stat()).size;
        const now = performance.now();
        if (rotatedSince === null) rotatedFirstSeen = now;
        if (rotatedSince === null || size !== rotatedSize) {
          rotatedSince = now;
          rotatedSize = size;
        }
        if (now - rotatedSince >= graceMs || now - rotatedFirstSeen >= maxGraceMs) {
          // the rotated file itself changed under the read: its rest is not read (the new file is not concerned)
          if (await drain(true)) opts.log?.warn({ file: id, offset: pos.offset }, 'the rotated file changed while it was read: the rest of it is not read');
          await pos.fh.close();
          opts.log?.info({ file: id, old_ino: pos.ino, new_ino: st.ino }, 'file rotated; reading the new file from the start');
          ({ pos } = await openFrom(file, null, false));
          tail = 0;
          heldSince = 0;
          rotatedSince = null;
        }
      } else if (st && st.size < pos.offset + tail) {
        opts.log?.warn({ file: id, offset: pos.offset, size: st.size }, 'file truncated; reading from the start');
        await readCopyOf();
        restart();
      } else if (st && pos.tailBytes > 0 && st.size > pos.offset + tail) {
        // grown since the last read: still the bytes we read, or rewritten in place (cp over it) between two polls?
        const why = await differs(pos.fh, pos.offset, pos);
        if (why) {
          opts.log?.warn({ file: id, offset: pos.offset, detail: why }, 'file was replaced in place (same inode, other bytes before the offset); reading it from the start');
          // or truncated by copytruncate and written past our offset since
          await readCopyOf();
          restart();
        }
      }
      if (await drain(false)) {
        // as a file found replaced: the copy copytruncate made, if any, then the file from its start
        opts.log?.warn({ file: id, offset: pos.offset }, 'file rewritten while it was read; reading it from the start');
        await readCopyOf();
        restart();
        continue;
      }
      try {
        await sleep(pollMs, undefined, { signal: opts.signal });
      } catch {
        break;
      }
    }
    return totals;
  } finally {
    await pos.fh.close().catch(() => undefined);
  }
}
