/** stdin lines and max_line_bytes: a CRLF split across chunks is not part of the line. */
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { ingestStream } from '../../fleet/ingest/stream-source.js';
import { emptyIngestResult, type IngestService } from '../../fleet/ingest/ingest-service.js';

function fakeIngest(got: string[]): IngestService {
  return { ingestLines: async (lines: Iterable<unknown>) => { for (const l of lines) got.push(l as string); return emptyIngestResult(); } } as unknown as IngestService;
}

it('a CRLF line exactly max_line_bytes long, split between \\r and \\n across chunks, is handed on whole (not cut as too long)', async () => {
  const line = 'x'.repeat(10);
  const got: string[] = [];
  await ingestStream(Readable.from([Buffer.from(`${line}\r`), Buffer.from('\nnext\r\n')]), { ingest: fakeIngest(got), maxLineBytes: 10 });
  // the ingest service rejects input.length > maxLineBytes (ingest-service.ts:873): `${line}\r` (11) would be quarantined
  expect(got).toEqual([line, 'next']);
});

it('control: the same bytes in one chunk', async () => {
  const line = 'x'.repeat(10);
  const got: string[] = [];
  await ingestStream(Readable.from([Buffer.from(`${line}\r\nnext\r\n`)]), { ingest: fakeIngest(got), maxLineBytes: 10 });
  expect(got).toEqual([line, 'next']);
});
