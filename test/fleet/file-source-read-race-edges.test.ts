/**
 * A file rewritten under the source's read: said in one-shot runs and recovered by the next,
 * checked from a checkpoint stored before fingerprints, and a half-read first line not joined to the new lines. Same
 * injection as file-source-read-race.test.ts: a rewrite lands inside the FileHandle's read; `race.when` picks it.
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';

type ReadArgs = [Buffer, number, number, number];
const race = vi.hoisted(() => ({
  file: '',
  when: null as null | ((a: ReadArgs) => boolean),
  rewrite: null as null | (() => void),
  reads: [] as [number, number][],
  done: [] as [number, number][],
}));
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...orig,
    open: async (...a: Parameters<typeof orig.open>) => {
      const fh = await orig.open(...a);
      if (a[0] === race.file) {
        const read = fh.read.bind(fh) as (...args: unknown[]) => Promise<unknown>;
        (fh as { read: unknown }).read = (...args: unknown[]) => {
          race.reads.push([args[2] as number, args[3] as number]);
          if (race.rewrite && race.when?.(args as ReadArgs)) {
            const rewrite = race.rewrite;
            race.rewrite = null;
            rewrite();
          }
          return read(...args).then((r) => {
            race.done.push([args[2] as number, args[3] as number]);
            return r;
          });
        };
      }
      return fh;
    },
  };
});

import { fileSourceId, ingestFile } from '../../fleet/ingest/file-source.js';
import type { IngestResult } from '../../fleet/ingest/ingest-service.js';
import { capturingLog, lineAt, setupFileSource, sleep } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-read-race-edges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** copytruncate (the line written since the last read in the copy), then the writer's new lines past the old offset */
const copytruncate = (file: string, since: string, after: number[]) => () => {
  appendFileSync(file, since);
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  appendFileSync(file, after.map((i) => `${lineAt(i)}\n`).join(''));
};

it('one-shot: a read dropped because the file was rewritten under it says so (the run reads nothing of it)', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'oneshot.log');
  race.file = file;
  writeFileSync(file, `${lineAt(0)}\n`);
  await ingestFile(file, { ingest, store });
  const offset = statSync(file).size;
  appendFileSync(file, `${lineAt(1)}\n`);
  race.when = (a) => a[3] === offset; // drain's read at the offset (the fingerprint reads are at 0 here)
  race.rewrite = copytruncate(file, '', [2, 3, 4]);
  const infos: string[] = [];
  const { log, warned } = capturingLog((msg, o) => void infos.push(`${msg} ${JSON.stringify(o)}`));
  const r = await ingestFile(file, { ingest, store, log });
  const said = [...warned, ...infos.filter((m) => !m.startsWith('file source start'))];
  await store.close();
  expect({ lines: r.lines, said }).toMatchObject({ lines: 0, said: [expect.stringMatching(/replaced|truncated|rewritten/)] });
});

it('one-shot: the run after a dropped read reads the copy from the offset, then the file from 0 (every line once)', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'oneshot-next.log');
  race.file = file;
  writeFileSync(file, `${lineAt(0)}\n`);
  const r0 = await ingestFile(file, { ingest, store });
  const offset = statSync(file).size;
  appendFileSync(file, `${lineAt(1)}\n`);
  race.when = (a) => a[3] === offset;
  race.rewrite = copytruncate(file, '', [2, 3, 4]);
  const r1 = await ingestFile(file, { ingest, store });
  const r2 = await ingestFile(file, { ingest, store });
  await store.close();
  expect([r0.accepted, r1.accepted, r2.accepted, r2.quarantined]).toEqual([1, 0, 4, 0]);
});

it('one-shot from a checkpoint stored before fingerprints: the read after a rewrite is not taken as the lines after the offset', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'prefp.log');
  race.file = file;
  writeFileSync(file, `${lineAt(0)}\n`);
  await ingestFile(file, { ingest, store });
  const id = `file:${fileSourceId(file)}`;
  const cp = (await store.checkpoints.get(id))!;
  // as an older version stored it: no fingerprint (a \n before the offset is all the start checks)
  await store.checkpoints.put(id, { ino: cp.ino!, dev: cp.dev!, offset: cp.offset!, mtimeMs: cp.mtimeMs! });
  const offset = Number(cp.offset);
  appendFileSync(file, `${lineAt(1)}\n`);
  race.when = (a) => a[3] === offset;
  // new lines of another length: the byte before the old offset is no longer a line end
  race.rewrite = copytruncate(file, '', [12, 13, 14]);
  const r = await ingestFile(file, { ingest, store });
  await store.close();
  expect(r).toMatchObject({ quarantined: 0 });
});

it('following: a copytruncate while the first line of the file is half-read (offset 0, a tail in the buffer) is not joined to the new lines', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'half-at-0.log');
  race.file = file;
  race.done = [];
  // osquery is still writing the first line when the follower reads it: it waits in the buffer (tail), offset 0
  writeFileSync(file, lineAt(85).slice(0, 100));
  const ac = new AbortController();
  const batches: IngestResult[] = [];
  const done = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, rotateGraceMs: 1500, signal: ac.signal, onBatch: ({ result }) => batches.push(result) });
  while (!race.done.some(([len, at]) => at === 0 && len > 1024)) await sleep(5); // drain's read of the half line is done
  // then the line's end, logrotate's copytruncate, and more new lines than the half line was long, between two polls
  copytruncate(file, `${lineAt(85).slice(100)}\n`, [86, 87, 88, 89])();
  const accepted = () => batches.reduce((a, b) => a + b.accepted + b.quarantined, 0);
  for (let i = 0; i < 300 && accepted() < 5; i++) await sleep(10);
  await sleep(100);
  ac.abort();
  const r = await done;
  await store.close();
  // received: 4 accepted, 0 quarantined: L85's first 100 bytes (host H-0001) + L86 from its byte 100 parse as one line
  expect(r).toMatchObject({ accepted: 5, quarantined: 0 });
}, 30_000);

