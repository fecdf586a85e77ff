/**
 * stdin (or any byte stream) source: NDJSON lines in batches of `batchLines`. A stream has no
 * position to resume from, so there is no checkpoint; dedupe makes re-feeding the same lines harmless.
 */
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { addIngestResults, emptyIngestResult, type IngestResult, type IngestService } from './ingest-service.js';

export interface StreamSourceOptions {
  ingest: IngestService;
  /** Source id in quarantine rows and metrics (default `-`). */
  id?: string;
  kind?: string;
  batchLines?: number;
  /**
   * Longest line kept whole (fleet.ingest.max_line_bytes, counted in characters). A longer one is handed on cut
   * there, for the ingest service to quarantine as too long, and the rest of it up to its newline is dropped, so a
   * stream without newlines cannot grow a line without bound.
   */
  maxLineBytes?: number;
  onBatch?: (result: IngestResult, bytesRead: number) => void;
  /**
   * Hand on the lines read so far once the oldest of them was read this long ago (ms), without waiting for batchLines
   * of them: a live pipe (`tail -F … | outflow fleet serve`) may take hours to fill a batch, and never ends; a steady
   * trickle is never quiet for long.
   */
  idleFlushMs?: number;
}

const IDLE = Symbol('idle');

export async function ingestStream(stream: Readable, opts: StreamSourceOptions): Promise<IngestResult> {
  const batchLines = opts.batchLines ?? 5000;
  const source = { kind: opts.kind ?? 'stdin', id: opts.id ?? '-' };
  const totals = emptyIngestResult();
  const decoder = new StringDecoder('utf8');
  const maxLine = opts.maxLineBytes ?? 4 * 1024 * 1024;
  /**
   * The line being read so far, in the pieces its chunks brought (joined when its newline comes): a line of
   * max_line_bytes arriving in small chunks (a pipe writer's 8-64 KiB writes) was otherwise joined and split
   * again at every chunk, O(line² / chunk) — 0.15-0.4 s per 4 MiB line.
   */
  let pieces: string[] = [];
  let pieceChars = 0;
  /** The line being read was handed on cut (see maxLineBytes): its rest, up to the next newline, is dropped. */
  let skipping = false;
  let batch: string[] = [];
  /** When the oldest line in `batch` was read (performance.now(): monotonic, unmoved by a wall-clock step). */
  let batchSince = 0;
  const add = (line: string) => {
    if (!batch.length) batchSince = performance.now();
    batch.push(line);
  };
  let bytesRead = 0;
  /** Nothing decoded yet: a UTF-8 byte-order mark there is dropped (JSON.parse refuses it; POST /v1/ingest drops it too). */
  let atStart = true;
  const flush = async () => {
    if (!batch.length) return;
    const lines = batch;
    batch = [];
    const r = await opts.ingest.ingestLines(lines, source);
    addIngestResults(totals, r);
    opts.onBatch?.(r, bytesRead);
  };
  const idleMs = opts.idleFlushMs ?? 0;
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  const nextChunk = async (): Promise<IteratorResult<unknown>> => {
    const next = chunks.next();
    if (!batch.length || idleMs <= 0) return next;
    next.catch(() => undefined); // awaited below; not unhandled while the idle flush runs
    const wait = batchSince + idleMs - performance.now();
    if (wait <= 0) {
      await flush();
      return next;
    }
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([next, new Promise<typeof IDLE>((resolve) => (timer = setTimeout(() => resolve(IDLE), wait)))]);
    clearTimeout(timer);
    if (r !== IDLE) return r;
    await flush();
    return next;
  };
  try {
    for (let r = await nextChunk(); !r.done; r = await nextChunk()) {
      await readChunk(r.value);
    }
  } finally {
    await chunks.return?.();
  }
  const partial = pieces.join('') + decoder.end();
  if (partial && !skipping) batch.push(partial);
  await flush();
  return totals;

  async function readChunk(chunk: unknown): Promise<void> {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytesRead += buf.length;
    let text = decoder.write(buf);
    // (nothing is pending before the first text: the start of the stream is the start of this text)
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text.indexOf('\n') === -1) {
      if (text.length > 0) {
        pieces.push(text);
        pieceChars += text.length;
      }
    } else {
      const parts = (pieces.length ? pieces.join('') + text : text).split('\n');
      const rest = parts.pop()!;
      pieces = rest.length > 0 ? [rest] : [];
      pieceChars = rest.length;
      for (const p of parts) {
        if (skipping) {
          skipping = false;
          continue;
        }
        add(p.endsWith('\r') ? p.slice(0, -1) : p);
        if (batch.length >= batchLines) await flush();
      }
    }
    // (a \r at its end may be the first half of a CRLF whose \n is in the next chunk: not part of the line)
    const endsInCr = pieces.length > 0 && pieces[pieces.length - 1]!.endsWith('\r');
    if (pieceChars - (endsInCr ? 1 : 0) > maxLine) {
      // one character past the limit is enough for the service to reject it as too long
      if (!skipping) add(pieces.join('').slice(0, maxLine + 1));
      skipping = true;
      pieces = [];
      pieceChars = 0;
      if (batch.length >= batchLines) await flush();
    }
  }
}
