/**
 * Copytruncate with a compressed copy: followed (openCopyOf / readCopyOf) and at start (the gzip copy check), and a
 * copy's descriptor when the log line about it throws.
 */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import type { IngestResult } from '../../fleet/ingest/ingest-service.js';
import { capturingLog, lineAt, openPaths, setupFileSource, sleep } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-copy-compressed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const setup = (name: string) => setupFileSource(dir, name);
const capturing = (onInfo?: (msg: string | undefined) => void) => capturingLog(onInfo);

describe('file source following a copytruncate', () => {
  it('copytruncate + compress (no delaycompress) between two polls: the lost lines are warned about, as docs/fleet.md says', async () => {
    const { file, store, ingest } = await setup('cz.log');
    writeFileSync(file, Array.from({ length: 8 }, (_, i) => lineAt(i)).join('\n') + '\n');
    const { log, warned } = capturing();
    const ac = new AbortController();
    const batches: IngestResult[] = [];
    const done = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, signal: ac.signal, log, onBatch: ({ result }) => batches.push(result) });
    while (batches.reduce((a, b) => a + b.accepted, 0) < 8) await sleep(10);
    // osquery writes two lines; logrotate (copytruncate, compress, no delaycompress) copies, truncates, gzips the copy
    appendFileSync(file, `${lineAt(8)}\n${lineAt(9)}\n`);
    writeFileSync(`${file}.1.gz`, gzipSync(readFileSync(file)));
    truncateSync(file, 0);
    expect(statSync(`${file}.1.gz`).size).toBeLessThan(8 * lineAt(0).length);
    await sleep(300);
    appendFileSync(file, `${lineAt(10)}\n`);
    await sleep(300);
    ac.abort();
    await done;
    await store.close();
    // lines 8 and 9 are lost: the doc promises a warning ("unless it was compressed at once: a warning")
    expect(warned.join('\n')).toMatch(/compressed.*cz\.log\.1\.gz/);
  }, 20_000);

  it('the copy opened by readCopyOf is closed when its log line throws', async () => {
    const { file, store, ingest } = await setup('leak.log');
    writeFileSync(file, `${lineAt(0)}\n`);
    const { log } = capturing((msg) => {
      if (msg?.startsWith('a copy of the file holds what was read')) throw new Error('logger failed');
    });
    const ac = new AbortController();
    let accepted = 0;
    const done = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, signal: ac.signal, log, onBatch: ({ result }) => (accepted += result.accepted) });
    while (accepted < 1) await sleep(10);
    appendFileSync(file, `${lineAt(1)}\n`);
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    await expect(done).rejects.toThrow(/logger failed/);
    ac.abort();
    await store.close();
    expect(openPaths().filter((p) => p === `${file}.1`)).toEqual([]);
  }, 20_000);
});

/**
 * A file whose first `read` lines were ingested (its mtime `ago` s back), then `appended` lines more, then copied by
 * logrotate (copytruncate, compress) into `.1.gz` stamped `copyDelay` s after that mtime, and truncated to one new
 * line. The next run's warnings (it reads the new line).
 */
async function afterGzipCopy(name: string, o: { ago: number; read: number; appended: number; copyDelay: number }): Promise<string[]> {
  const { file, store, ingest } = await setup(name);
  const S = Math.floor(Date.now() / 1000) - o.ago;
  writeFileSync(file, Array.from({ length: o.read }, (_, i) => `${lineAt(i)}\n`).join(''));
  utimesSync(file, S, S);
  await ingestFile(file, { ingest, store });
  for (let i = 0; i < o.appended; i++) appendFileSync(file, `${lineAt(o.read + i)}\n`);
  writeFileSync(`${file}.1.gz`, gzipSync(readFileSync(file)));
  utimesSync(`${file}.1.gz`, S + o.copyDelay, S + o.copyDelay);
  writeFileSync(file, `${lineAt(2)}\n`);
  const { log, warned } = capturing();
  expect(await ingestFile(file, { ingest, store, log })).toMatchObject({ accepted: 1 });
  await store.close();
  return warned;
}

describe('a gzip copy of the checkpoint\'s file at start', () => {
  it('at start: a gzip copy holding exactly what was read, written after the checkpoint (copytruncate a minute after the last line), is not reported as lost lines', async () => {
    const warned = await afterGzipCopy('exact-later.log', { ago: 120, read: 2, appended: 0, copyDelay: 60 });
    expect(warned.filter((w) => /lost/.test(w))).toEqual([]);
  });

  it('at start: a gzip copy written after the checkpoint that holds lines after the offset names them lost', async () => {
    const warned = await afterGzipCopy('more-later.log', { ago: 120, read: 1, appended: 1, copyDelay: 60 });
    expect(warned.join('\n')).toMatch(/compressed copy of the file read up to the stored offset holds lines after it.*more-later\.log\.1\.gz/);
  });

  it('a gzip copy holding exactly what was read (nothing after the offset) is not reported as lost lines', async () => {
    // copytruncate + compress in the checkpoint's second, after everything was read: nothing is lost
    const warned = await afterGzipCopy('exact-gz.log', { ago: 60, read: 2, appended: 0, copyDelay: 0 });
    expect(warned.filter((w) => /lost/.test(w))).toEqual([]);
  });
});
