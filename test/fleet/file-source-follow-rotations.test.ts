/**
 * Following a rotation: an ordinary single rotation reads the old file to its end and then the new one, and nothing
 * else beside them: no older rotation read again (one written late, a leftover of another naming scheme), no warning
 * about compressed ones (reviews' cases; follow mode once looked for files rotated between two polls, see
 * docs/fleet.md).
 */
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSourceId, ingestFile } from '../../fleet/ingest/file-source.js';
import type { IngestResult } from '../../fleet/ingest/ingest-service.js';
import { capturingLog, lineAt, openPaths, setupFileSource, sleep } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-follow-rotations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
async function until(cond: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

async function follow(name: string) {
  const { file, store, ingest } = await setupFileSource(dir, name);
  const infos: string[] = [];
  const { log, warned } = capturingLog((msg, o) => void infos.push(`${msg} ${JSON.stringify(o)}`));
  const batches: IngestResult[] = [];
  const ac = new AbortController();
  let done: Promise<IngestResult> | undefined;
  const start = () => {
    done = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, rotateGraceMs: 60, signal: ac.signal, log, onBatch: ({ result }) => batches.push(result) });
  };
  const lines = () => batches.reduce((a, b) => a + b.lines, 0);
  const rotations = () => infos.filter((m) => m.startsWith('file rotated;')).length;
  const checkpointIno = async () => Number((await store.checkpoints.get(`file:${fileSourceId(file)}`))?.ino);
  const stop = async () => {
    ac.abort();
    const r = await done!;
    await store.close();
    return r;
  };
  /** After the caller's renames: logrotate's `create` of the new file holding `line`, then its first batch (the old file drained). */
  const newFile = async (line: string) => {
    writeFileSync(file, `${line}\n`);
    const ino = statSync(file).ino;
    await until(async () => (await checkpointIno()) === ino, 'a batch of the new file');
  };
  return { file, start, lines, rotations, checkpointIno, newFile, warned, infos, stop };
}

describe('following a rotation: an ordinary single rotation', () => {
  it('a single rotation after a quiet hour does not read the older rotation again (the writer finished its last line in the old file after the rename)', async () => {
    const f = await follow('quiet.log');
    const { file } = f;
    writeFileSync(file, `${lineAt(1)}\n`);
    f.start();
    await until(() => f.lines() >= 1, 'line 1');
    // rotation 1 (logrotate create): rename, create the new file, the writer finishes one more line in the old one
    renameSync(file, `${file}.1`);
    writeFileSync(file, '');
    appendFileSync(`${file}.1`, `${lineAt(2)}\n`);
    await until(() => f.rotations() >= 1 && openPaths().includes(file) && !openPaths().includes(`${file}.1`), 'the follower moved to the new file');
    // a quiet hour: nothing written to the new file. Rotation 2 (one ordinary logrotate run): .1 -> .2, file -> .1, create
    renameSync(`${file}.1`, `${file}.2`);
    renameSync(file, `${file}.1`);
    // the old file is drained before the first batch of the new file
    await f.newFile(lineAt(3));
    const r = await f.stop();
    expect(r.lines).toBe(3);
  }, 30_000);

  it('one rotation with compress of an empty file (ifempty, the default): no warning of lost lines', async () => {
    const f = await follow('empty-gz.log');
    const { file } = f;
    writeFileSync(file, '');
    f.start();
    await until(() => openPaths().includes(file), 'the follower opened the (empty) file');
    // logrotate: rename, create, gzip .1 to .1.gz (keeping its mtime), remove .1
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(10)}\n`);
    const st = statSync(`${file}.1`);
    writeFileSync(`${file}.1.gz`, gzipSync(readFileSync(`${file}.1`)));
    utimesSync(`${file}.1.gz`, st.atime, st.mtime);
    rmSync(`${file}.1`);
    await until(() => f.lines() >= 1, 'the new file\'s line');
    const r = await f.stop();
    expect(r.lines).toBe(1);
    expect(f.warned.join('; ')).toBe('');
  }, 30_000);

  it('one rotation with compress, gzip still writing .1.gz when the grace period ends: no warning of lost lines', async () => {
    const f = await follow('big-gz.log');
    const { file } = f;
    writeFileSync(file, Array.from({ length: 200 }, (_, i) => lineAt(20 + i)).join('\n') + '\n');
    f.start();
    await until(() => f.lines() >= 200, 'the first lines');
    // logrotate: rename, create, then gzip .1 into .1.gz: a large file takes longer than the grace period, so the
    // follower finds .1.gz half written (its stream not ended yet); .1 is still there, unchanged
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(300)}\n`);
    const gz = gzipSync(readFileSync(`${file}.1`));
    writeFileSync(`${file}.1.gz`, gz.subarray(0, gz.length >> 1));
    await until(() => f.lines() >= 201, 'the new file\'s line');
    const r = await f.stop();
    expect(r.lines).toBe(201);
    expect(f.warned.join('; ')).toBe('');
  }, 30_000);
});

describe('following a rotation: leftovers of another naming scheme', () => {
  it('dateext after a numbered layout: a leftover NAME.1 (read long ago) is not read again at a dated rotation', async () => {
    const f = await follow('mixed.log');
    const { file } = f;
    writeFileSync(file, `${lineAt(1)}\n`);
    f.start();
    await until(() => f.lines() >= 1, 'line 1');
    // logrotate before dateext was turned on: file -> file.1
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(2)}\n`);
    await until(() => f.rotations() >= 1 && f.lines() >= 2, 'the new file after the numbered rotation');
    const dayAgo = new Date(Date.now() - 86_400_000);
    utimesSync(`${file}.1`, dayAgo, dayAgo);
    // dateext from now on: one ordinary rotation, file -> file-20261128 (the numbered leftover stays)
    renameSync(file, `${file}-20261128`);
    await f.newFile(lineAt(3));
    const r = await f.stop();
    expect(r.lines).toBe(3);
  }, 30_000);

  it('dateext after a numbered compressed layout: a leftover NAME.1.gz is not warned about as lost at a dated rotation', async () => {
    const f = await follow('mixed-gz.log');
    const { file } = f;
    writeFileSync(`${file}.1.gz`, gzipSync(`${lineAt(50)}\n`));
    const dayAgo = new Date(Date.now() - 86_400_000);
    utimesSync(`${file}.1.gz`, dayAgo, dayAgo);
    writeFileSync(file, `${lineAt(1)}\n`);
    f.start();
    await until(() => f.lines() >= 1, 'line 1');
    renameSync(file, `${file}-20261128`);
    await f.newFile(lineAt(2));
    const r = await f.stop();
    expect(r.lines).toBe(2);
    expect(f.warned.join('; ')).toBe('');
  }, 30_000);

  it('dateext with dateformat .%Y%m (monthly): the older rotation NAME.202610 is not read again at the next rotation', async () => {
    const f = await follow('monthly.log');
    const { file } = f;
    writeFileSync(file, `${lineAt(1)}\n`);
    f.start();
    await until(() => f.lines() >= 1, 'line 1');
    renameSync(file, `${file}.202610`);
    writeFileSync(file, `${lineAt(2)}\n`);
    await until(() => f.rotations() >= 1 && f.lines() >= 2, 'the new file after the October rotation');
    renameSync(file, `${file}.202611`);
    await f.newFile(lineAt(3));
    const r = await f.stop();
    expect(r.lines).toBe(3);
  }, 30_000);
});
