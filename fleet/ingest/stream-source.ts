/**
 * stdin (or any byte stream) source: NDJSON lines in batches of `batchLines`. A stream has no
 * position to resume from, so there is no checkpoint; dedupe makes re-feeding the same lines harmless.
 */
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
}

export async function ingestStream(stream: Readable, opts: StreamSourceOptions): Promise<IngestResult> {
  const batchLines = opts.batchLines ?? 5000;
  const source = { kind: opts.kind ?? 'stdin', id: opts.id ?? '-' };
  const totals = emptyIngestResult();
  const decoder = new StringDecoder('utf8');
  const maxLine = opts.maxLineBytes ?? 4 * 1024 * 1024;
  let partial = '';
  /** The line being read was handed on cut (see maxLineBytes): its rest, up to the next newline, is dropped. */
  let skipping = false;
  let batch: string[] = [];
  let bytesRead = 0;
  const flush = async () => {
    if (!batch.length) return;
    const lines = batch;
    batch = [];
    const r = await opts.ingest.ingestLines(lines, source);
    addIngestResults(totals, r);
    opts.onBatch?.(r, bytesRead);
  };
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytesRead += buf.length;
    const text = partial + decoder.write(buf);
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (skipping) {
        skipping = false;
        continue;
      }
      batch.push(p.endsWith('\r') ? p.slice(0, -1) : p);
      if (batch.length >= batchLines) await flush();
    }
    // (a \r at its end may be the first half of a CRLF whose \n is in the next chunk: not part of the line)
    if (partial.length - (partial.endsWith('\r') ? 1 : 0) > maxLine) {
      // one character past the limit is enough for the service to reject it as too long
      if (!skipping) batch.push(partial.slice(0, maxLine + 1));
      skipping = true;
      partial = '';
      if (batch.length >= batchLines) await flush();
    }
  }
  partial += decoder.end();
  if (partial && !skipping) batch.push(partial);
  await flush();
  return totals;
}
