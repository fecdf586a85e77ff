/**
 * A live pipe fed by a steady trickle (`tail -F` of a Fleet result log: lines from many hosts, a few a second) is never
 * quiet for idleFlushMs: its lines must still be committed within idleFlushMs of being read, not wait for batch_lines
 * (5000), hours at a few lines a minute.
 */
import { PassThrough } from 'node:stream';
import { expect, it } from 'vitest';
import { emptyIngestResult, type IngestService } from '../../fleet/ingest/ingest-service.js';
import { ingestStream } from '../../fleet/ingest/stream-source.js';

it('commits the lines of a steady trickle within about idleFlushMs of reading them', async () => {
  const commits: { at: number; lines: number }[] = [];
  const ingest: IngestService = {
    async ingestLines(lines) {
      commits.push({ at: Date.now(), lines: [...lines].length });
      return emptyIngestResult();
    },
    totals: () => emptyIngestResult(),
  };
  const input = new PassThrough();
  const run = ingestStream(input, { ingest, batchLines: 5000, idleFlushMs: 1000 });
  const t0 = Date.now();
  // a line every 100 ms for 4 s: never 1 s quiet
  for (let i = 0; i < 40; i++) {
    input.write(`{"n":${i}}\n`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = commits.map((c) => c.at - t0);
  input.end();
  await run;
  // the first line was read ~4 s ago: it should have been committed after ~1 s, not only at the end of the pipe
  expect({ firstCommitWithinMs: before.length ? (before[0]! < 2500 ? 'under 2500' : before[0]) : 'none before the pipe ended' }).toEqual({ firstCommitWithinMs: 'under 2500' });
});
