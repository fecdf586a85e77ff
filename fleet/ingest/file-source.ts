/**
 * Files source: osquery's filesystem logger / Fleet's filesystem destination write one result line per
 * `\n`. We read from the stored checkpoint, hand complete lines to the ingest service in chunks, and
 * store the byte offset after the last complete line IN THE SAME TRANSACTION as the state those lines
 * produced — a crash never loses or double-applies a line (and dedupe covers the rest).
 *
 * Following (`follow: true`, used by `fleet serve`): at EOF we poll the path. A different inode
 * means the file was rotated (rename + new file): the old descriptor is drained to EOF first, then
 * the new file is read from 0. A size below our offset on the same inode means truncation
 * (copytruncate): we restart at 0. On start, a checkpoint whose inode no longer matches the path
 * (rotated while we were down) restarts at 0 of the new file.
 */
import { isAscii } from 'node:buffer';
import { statSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
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
  /** A line without `\n` longer than this is handed over as is (and quarantined as too long). */
  maxLineBytes?: number;
  signal?: AbortSignal;
  log?: Logger;
  /** After every batch: bytes consumed in the current file, its size, and the batch result. */
  onBatch?: (progress: { file: string; offset: number; size: number; result: IngestResult }) => void;
}

interface FilePosition {
  fh: FileHandle;
  ino: number;
  dev: number;
  offset: number;
}

/**
 * Result logs are almost always ASCII (osquery escapes nothing, but paths and names rarely leave ASCII):
 * for ASCII bytes latin1 decoding gives the same string and is a plain copy, ~5x cheaper than UTF-8
 * decoding (measured 8 MiB: ~5 ms vs ~25 ms), which was a tenth of ingest time.
 */
function textEncoding(bytes: Buffer): 'latin1' | 'utf8' {
  return isAscii(bytes) ? 'latin1' : 'utf8';
}

function decodeText(bytes: Buffer): string {
  return bytes.toString(textEncoding(bytes));
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

export function fileSourceId(file: string): string {
  return path.resolve(file);
}

async function openAt(file: string, offset: number): Promise<FilePosition> {
  const fh = await open(file, 'r');
  const st = await fh.stat();
  return { fh, ino: st.ino, dev: st.dev, offset };
}

/** Where to start: the checkpoint when it still describes this file, else 0. */
async function startOffset(file: string, checkpoint: Checkpoint | null): Promise<{ offset: number; reason: string }> {
  if (!checkpoint) return { offset: 0, reason: 'no checkpoint' };
  const st = await stat(file);
  const ino = Number(checkpoint.ino);
  const offset = Number(checkpoint.offset);
  if (!Number.isFinite(offset) || offset < 0) return { offset: 0, reason: 'invalid checkpoint' };
  if (ino !== st.ino) return { offset: 0, reason: 'rotated (inode changed)' };
  if (st.size < offset) return { offset: 0, reason: 'truncated' };
  return { offset, reason: 'resumed' };
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
  let checkpoint: Checkpoint | null = null;
  if (!opts.fromStart) checkpoint = await opts.store.checkpoints.get(`file:${id}`);
  let start: { offset: number; reason: string };
  try {
    start = await startOffset(file, checkpoint);
  } catch (err) {
    throw new OutflowError('INPUT_INVALID', `cannot read ${file}: ${coerceError(err).message}`, 'check the path and permissions', { cause: err });
  }
  opts.log?.info({ file: id, offset: start.offset, reason: start.reason }, 'file source start');
  let pos: FilePosition;
  try {
    pos = await openAt(file, start.offset);
  } catch (err) {
    throw new OutflowError('INPUT_INVALID', `cannot open ${file}: ${coerceError(err).message}`, 'check the path and permissions', { cause: err });
  }
  // The unterminated tail of one read stays at the front of `buf` and the next read lands right after it
  // (no concatenation copy). A tail is at most max(chunkBytes, maxLineBytes): a longer one without a
  // newline is handed over as oversize, and a tail after a newline lies within the last read.
  const buf = Buffer.allocUnsafe(chunkBytes + Math.max(chunkBytes, maxLineBytes));
  let tail = 0;

  const send = async (lines: Iterable<string>, offset: number) => {
    const cp: Checkpoint = { ino: pos.ino, dev: pos.dev, offset };
    const r = await opts.ingest.ingestLines(lines, { kind: 'file', id, checkpoint: cp });
    addIngestResults(totals, r);
    if (opts.onBatch) {
      const size = (await pos.fh.stat()).size;
      opts.onBatch({ file: id, offset, size, result: r });
    }
  };

  /** Read to EOF; returns true when something was read. At final EOF, flushes a last unterminated line. */
  const drain = async (final: boolean): Promise<boolean> => {
    let any = false;
    for (;;) {
      if (opts.signal?.aborted) return any;
      const { bytesRead } = await pos.fh.read(buf, tail, chunkBytes, pos.offset + tail);
      if (bytesRead === 0) break;
      any = true;
      const data = buf.subarray(0, tail + bytesRead);
      const lastNl = data.lastIndexOf(0x0a);
      if (lastNl < 0) {
        if (data.length > maxLineBytes) {
          // Hand the oversize fragment over (quarantined as too long); the rest of that line, up to its newline,
          // arrives as the next line and is quarantined as not JSON, so every byte stays in the quarantine.
          await send([decodeText(data)], pos.offset + data.length);
          pos.offset += data.length;
          tail = 0;
        } else {
          tail = data.length;
        }
        continue;
      }
      const complete = data.subarray(0, lastNl);
      const consumed = pos.offset + lastNl + 1;
      // Decoded lazily from `buf`, so the tail moves to the front only once the batch is ingested.
      const lines = new LinesOf(complete, textEncoding(complete));
      try {
        await send(lines, consumed);
      } finally {
        lines.invalidate();
      }
      tail = data.length - (lastNl + 1);
      buf.copyWithin(0, lastNl + 1, data.length);
      pos.offset = consumed;
    }
    if (final && tail) {
      const end = pos.offset + tail;
      await send([decodeText(buf.subarray(0, tail))], end);
      pos.offset = end;
      tail = 0;
    }
    return any;
  };

  try {
    if (!opts.follow) {
      await drain(true);
      return totals;
    }
    while (!opts.signal?.aborted) {
      await drain(false);
      let st;
      try {
        st = await stat(file);
      } catch {
        st = null; // between rename and re-create: keep the old descriptor and look again
      }
      if (st && (st.ino !== pos.ino || st.dev !== pos.dev)) {
        await drain(true);
        await pos.fh.close();
        opts.log?.info({ file: id, old_ino: pos.ino, new_ino: st.ino }, 'file rotated; reading the new file from the start');
        pos = await openAt(file, 0);
        tail = 0;
        continue;
      }
      if (st && st.size < pos.offset + tail) {
        opts.log?.warn({ file: id, offset: pos.offset, size: st.size }, 'file truncated; reading from the start');
        pos.offset = 0;
        tail = 0;
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
