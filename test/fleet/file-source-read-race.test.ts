/**
 * A file rewritten between the source's checks and its read: copytruncate, then new lines past the offset, land after
 * the poll found the file unchanged and before the read at the offset. The read then holds other lines than the ones
 * after the offset, and must not be taken as them. The rewrite is injected into the FileHandle's read.
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';

const race = vi.hoisted(() => ({ file: '', rewrite: null as null | (() => void) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...orig,
    open: async (...a: Parameters<typeof orig.open>) => {
      const fh = await orig.open(...a);
      if (a[0] === race.file) {
        const read = fh.read.bind(fh) as (...args: unknown[]) => Promise<unknown>;
        (fh as { read: unknown }).read = (...args: unknown[]) => {
          const rewrite = race.rewrite;
          // the rewrite lands just before a read past the first line (the poll before it found the file as read)
          if (rewrite && typeof args[3] === 'number' && args[3] > 0) {
            race.rewrite = null;
            rewrite();
          }
          return read(...args);
        };
      }
      return fh;
    },
  };
});

import { ingestFile } from '../../fleet/ingest/file-source.js';
import type { IngestResult } from '../../fleet/ingest/ingest-service.js';
import { lineAt, setupFileSource, sleep } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-read-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('following: a copytruncate and new lines between the poll and the read are not read as the lines after the offset', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'race.log');
  race.file = file;
  writeFileSync(file, `${lineAt(0)}\n`);
  const ac = new AbortController();
  const batches: IngestResult[] = [];
  const done = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, signal: ac.signal, onBatch: ({ result }) => batches.push(result) });
  const accepted = () => batches.reduce((a, b) => a + b.accepted, 0);
  while (accepted() < 1) await sleep(5);
  race.rewrite = () => {
    // osquery wrote line 1; logrotate copies and truncates; osquery writes lines 2 to 4 (past the old offset)
    appendFileSync(file, `${lineAt(1)}\n`);
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    appendFileSync(file, `${lineAt(2)}\n${lineAt(3)}\n${lineAt(4)}\n`);
  };
  for (let i = 0; i < 500 && accepted() < 5; i++) await sleep(10);
  await sleep(100);
  ac.abort();
  const r = await done;
  await store.close();
  // every line once: 0, then 1 from the copy, then 2 to 4 from the file read again from its start
  expect(r).toMatchObject({ accepted: 5, quarantined: 0 });
}, 30_000);
