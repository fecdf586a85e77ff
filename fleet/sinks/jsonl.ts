import { constants, mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { OutflowError } from '../../src/errors.js';
import { renderAll, type Detection, type Render, type Sink, type WriteContext } from './sink.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../file-modes.js';

function toLines(detections: readonly Detection[], render: Render, context?: WriteContext): string {
  let out = '';
  for (const r of renderAll(detections, render, context)) out += JSON.stringify(r) + '\n';
  return out;
}

/**
 * Whether the regular file at `file` ends in the middle of a line: a fragment a process killed mid-append left. Read
 * through a descriptor of its own (the sink's is append-only, so that a FIFO's writer still sees its reader go).
 */
async function endsMidLine(file: string): Promise<boolean> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
  if (!fh) return false;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size === 0) return false;
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, st.size - 1);
    return last[0] !== 0x0a;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Append `text` (whole lines) so that a failure leaves no part of it in a regular file: an append cut short (the
 * disk full mid-batch) is truncated away, since the outbox offers the same batch again and the fragment would run
 * into its first line. Pipes and devices get the text as it is.
 */
async function appendWhole(fh: FileHandle, text: string): Promise<void> {
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.appendFile(text);
    return;
  }
  try {
    await fh.appendFile(text);
  } catch (err) {
    // only what this append added (a copytruncate since then left the file shorter: nothing of ours to cut)
    const after = await fh.stat().catch(() => null);
    if (after && after.size > st.size) await fh.truncate(st.size).catch(() => undefined);
    throw err;
  }
}

/**
 * JSON lines appended to a file (opened in append mode, so log shippers and logrotate copytruncate work),
 * synced to disk before a write resolves.
 */
export class JsonlFileSink implements Sink {
  readonly name: string;
  private handle: Promise<FileHandle> | undefined;

  constructor(
    private readonly file: string,
    private readonly render: Render,
    name = `file:${file}`,
  ) {
    this.name = name;
  }

  async write(detections: readonly Detection[], context?: WriteContext): Promise<void> {
    if (!detections.length) return;
    let handle = this.handle;
    let midLine = false;
    try {
      if (!handle) {
        mkdirSync(path.dirname(this.file), { recursive: true, mode: PRIVATE_DIR_MODE });
        handle = this.handle = open(this.file, 'a', PRIVATE_FILE_MODE);
        await handle;
        // a fragment left by a process killed mid-append is ended first: one line no reader can parse, not two
        midLine = await endsMidLine(this.file);
      }
      const fh = await handle;
      await appendWhole(fh, `${midLine ? '\n' : ''}${toLines(detections, this.render, context)}`);
      // Resolving moves the sink's cursor past these detections (outbox.ts): they must survive a power cut.
      await fh.datasync().catch((err: NodeJS.ErrnoException) => {
        // a FIFO or character device (a log shipper's pipe) has nothing to sync
        if (err.code !== 'EINVAL' && err.code !== 'ENOTSUP' && err.code !== 'EROFS') throw err;
      });
    } catch (err) {
      // the next write reopens (the path may be fixed by then): close this descriptor so a sink that
      // keeps failing (disk full) does not leak one per attempt
      if (this.handle === handle) this.handle = undefined;
      await handle?.then((fh) => fh.close()).catch(() => undefined);
      throw new OutflowError('SINK_FAILED', `cannot append detections to ${this.file}`, 'check the sink path, free space and permissions', { cause: err });
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close();
  }
}

/** Streams that already have our 'error' listener (one per stream, however many sinks share it). */
const guarded = new WeakSet<Writable>();

/** JSON lines on a stream (stdout by default); resolves once the stream accepted the bytes. */
export class JsonlStreamSink implements Sink {
  constructor(
    private readonly stream: Writable,
    private readonly render: Render,
    readonly name = 'stdout',
  ) {
    // A reader that goes away (EPIPE) makes the stream emit 'error'; unheard, that kills the aggregator.
    // The write callbacks already carry the error, so the failing batch is reported (and counted) there.
    if (!guarded.has(stream)) {
      guarded.add(stream);
      stream.on('error', () => undefined);
    }
  }

  write(detections: readonly Detection[], context?: WriteContext): Promise<void> {
    if (!detections.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.stream.write(toLines(detections, this.render, context), (err) =>
        err ? reject(new OutflowError('SINK_FAILED', `cannot write detections to ${this.name}`, undefined, { cause: err })) : resolve(),
      );
    });
  }

  async close(): Promise<void> {
    // stdout belongs to the process; never end it here
  }
}
