/**
 * A gzip rotation is decompressed through the descriptor opened without blocking and checked (a regular file, that
 * inode), not opened again by name: a named pipe put at that name in between would hold the file source (and a libuv
 * thread) until a writer came (the swap is injected into node:fs/promises' open).
 */

import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';

const swap = vi.hoisted(() => ({ gz: '' }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  const { execFileSync: run } = await import('node:child_process');
  const { renameSync: mv } = await import('node:fs');
  return {
    ...orig,
    open: async (...a: Parameters<typeof orig.open>) => {
      const fh = await orig.open(...a);
      if (swap.gz && a[0] === swap.gz) {
        // the .gz is moved away and a named pipe takes its name, right after the regular file was opened and checked
        mv(swap.gz, `${swap.gz}.moved`);
        run('mkfifo', [swap.gz]);
        swap.gz = '';
      }
      return fh;
    },
  };
});

import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { T0, destinationLine, hostsOf, memoryStore } from './fleet-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-gzip-fifo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const [host] = hostsOf(1);
const line = (i: number) => destinationLine(host!, T0 + i, `n${i}.example.com`);

it('a named pipe put at a gzip rotation\'s name while it is checked does not hold the file source', async () => {
  const file = path.join(dir, 'p.log');
  const store = await memoryStore();
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
  const S = Math.floor(Date.now() / 1000) - 60;
  writeFileSync(file, `${line(0)}\n`);
  utimesSync(file, S, S);
  await ingestFile(file, { ingest, store });
  writeFileSync(`${file}.1.gz`, gzipSync(readFileSync(file)));
  utimesSync(`${file}.1.gz`, S, S);
  writeFileSync(file, `${line(1)}\n`); // truncated in place (same inode): newerOnly with a copyOf
  swap.gz = `${file}.1.gz`;
  const run = ingestFile(file, { ingest, store });
  const outcome = await Promise.race([run.then(() => 'done', (e: Error) => `failed: ${e.message}`), new Promise((r) => setTimeout(() => r('still blocked after 3 s'), 3000))]);
  // release the blocked open (a writer that closes at once: EOF) before asserting
  try {
    closeSync(openSync(`${file}.1.gz`, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    /* no reader waiting */
  }
  await run.catch(() => undefined);
  await store.close();
  expect(outcome).toBe('done');
}, 20_000);
