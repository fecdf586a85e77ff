/** The stdin age flush must not follow the wall clock: a step back (NTP, VM resume) must not hold lines. */
import { PassThrough } from 'node:stream';
import { afterEach, expect, it, vi } from 'vitest';
import { emptyIngestResult, type IngestService } from '../../fleet/ingest/ingest-service.js';
import { ingestStream } from '../../fleet/ingest/stream-source.js';

afterEach(() => vi.restoreAllMocks());

it('commits within about idleFlushMs after the wall clock steps back an hour', async () => {
  const commits: number[] = [];
  const ingest: IngestService = {
    async ingestLines(lines) {
      commits.push([...lines].length);
      return emptyIngestResult();
    },
    totals: () => emptyIngestResult(),
  };
  const input = new PassThrough();
  const run = ingestStream(input, { ingest, batchLines: 5000, idleFlushMs: 200 });
  input.write('{"n":1}\n');
  await new Promise((r) => setTimeout(r, 20));
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000); // clock stepped back 1 h
  input.write('{"n":2}\n');
  await new Promise((r) => setTimeout(r, 1000)); // 5 × idleFlushMs of quiet
  const before = [...commits];
  input.end();
  await run;
  expect(before).toEqual([2]);
});
