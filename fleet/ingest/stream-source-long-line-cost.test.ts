/**
 * stdin / named-pipe ingest (`… | outflow fleet serve` with fleet.ingest.stdin, `outflow fleet ingest -` or a FIFO):
 * every line is a host's result line, and a compromised host chooses it whole, up to fleet.ingest.max_line_bytes
 * (4 MiB). A pipe hands it over in its writer's chunks (8-64 KiB). The line read so far must not be joined and split
 * again at every chunk: that is O(line² / chunk), ~0.4 s per 4 MiB line in 16 KiB chunks, ~1 s in 8 KiB chunks, ~2 s in 4 KiB chunks.
 */
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { describe, expect, it } from 'vitest';
import { emptyIngestResult, type IngestService } from './ingest-service.js';
import { ingestStream } from './stream-source.js';

function fakeIngest(got: string[]): IngestService {
  return {
    ingestLines: async (lines: Iterable<unknown>) => {
      for (const l of lines) got.push(l as string);
      return emptyIngestResult();
    },
  } as unknown as IngestService;
}

function chunked(bytes: Buffer, sizes: (i: number) => number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes(i));
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('ingestStream on long lines in small chunks', () => {
  it('reads four 4 MiB lines arriving in 4 KiB chunks (PIPE_BUF) in well under two seconds', async () => {
    const maxLineBytes = 4 * 1024 * 1024;
    const line = `{"name":"${'x'.repeat(maxLineBytes - 20)}"}`;
    const chunks = chunked(Buffer.from(`${line}\n`.repeat(4)), () => 4096);
    const got: string[] = [];
    const started = performance.now();
    await ingestStream(Readable.from(chunks), { ingest: fakeIngest(got), maxLineBytes });
    const elapsed = performance.now() - started;
    expect(got.map((l) => l.length)).toEqual([line.length, line.length, line.length, line.length]);
    expect(elapsed).toBeLessThan(1500);
  }, 120_000);
});

/** The lines ingestStream handed on as it was (the line so far joined and split at every chunk): the reference. */
function linesBefore(chunks: readonly Buffer[], maxLine: number): string[] {
  const decoder = new StringDecoder('utf8');
  const batch: string[] = [];
  let partial = '';
  let skipping = false;
  let atStart = true;
  for (const buf of chunks) {
    let text = partial + decoder.write(buf);
    if (atStart && text.length > 0) {
      atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const parts = text.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (skipping) {
        skipping = false;
        continue;
      }
      batch.push(p.endsWith('\r') ? p.slice(0, -1) : p);
    }
    if (partial.length - (partial.endsWith('\r') ? 1 : 0) > maxLine) {
      if (!skipping) batch.push(partial.slice(0, maxLine + 1));
      skipping = true;
      partial = '';
    }
  }
  partial += decoder.end();
  if (partial && !skipping) batch.push(partial);
  return batch;
}

describe('ingestStream, linear in a line', () => {
  it('hands on the lines of every stream as the join-and-split version did (CRLF, BOM, UTF-8 cut across chunks, lines past the cap)', async () => {
    let seed = 2024;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['a', 'b', '\n', '\r', '\r\n', 'é', '€', '😀', '\ufeff', ' '];
    for (let run = 0; run < 3000; run++) {
      const text = Array.from({ length: rand(60) }, () => alphabet[rand(alphabet.length)]).join('');
      const bytes = Buffer.from(text);
      const chunks = chunked(bytes, () => 1 + rand(9));
      const maxLine = 1 + rand(12);
      const got: string[] = [];
      await ingestStream(Readable.from(chunks), { ingest: fakeIngest(got), maxLineBytes: maxLine, batchLines: 1 + rand(4) });
      expect(got, JSON.stringify({ text, sizes: chunks.map((c) => c.length), maxLine })).toEqual(linesBefore(chunks, maxLine));
    }
  }, 120_000);
});
