/**
 * Rotation edges of the file source: a rotation while the aggregator was down, a writer that
 * still holds the rotated file for a moment, a line half-written at the rename.
 */
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSourceId, ingestFile, type FileStart } from '../../fleet/ingest/file-source.js';
import type { IngestResult } from '../../fleet/ingest/ingest-service.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { lineAt, setupFileSource, sleep } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-rotation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const setup = (name: string) => setupFileSource(dir, name);

function follower(file: string, deps: Awaited<ReturnType<typeof setup>>, rotateGraceMs: number) {
  const ac = new AbortController();
  const batches: IngestResult[] = [];
  const done = ingestFile(file, { ingest: deps.ingest, store: deps.store, follow: true, pollIntervalMs: 20, rotateGraceMs, signal: ac.signal, onBatch: ({ result }) => batches.push(result) });
  const accepted = () => batches.reduce((a, b) => a + b.accepted, 0);
  return {
    accepted,
    async waitFor(n: number) {
      const deadline = Date.now() + 10_000;
      while (accepted() < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} accepted rows (have ${accepted()})`);
        await sleep(10);
      }
    },
    async stop() {
      ac.abort();
      return done;
    },
  };
}

describe('file source: rotation while the aggregator was down', () => {
  it('reads the rest of the rotated file first, then the new file from the start', async () => {
    const deps = await setup('down.log');
    const { file, store, ingest } = deps;
    writeFileSync(file, `${lineAt(0)}\n${lineAt(1)}\n`);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ accepted: 2 });
    // stopped; osquery keeps logging, then logrotate renames the file and a new one is created
    appendFileSync(file, `${lineAt(2)}\n${lineAt(3)}\n`);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(4)}\n`);
    const starts: FileStart[] = [];
    const r = await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(r).toMatchObject({ accepted: 3, quarantined: 0 });
    expect(starts).toMatchObject([{ reason: 'rotated', offset: 0, rotatedFrom: { file: `${fileSourceId(file)}.1` } }]);
    // the checkpoint now names the new file: nothing is read twice
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ accepted: 0, lines: 0 });
    await store.close();
  });

  it('finds a rotated file by its inode whatever its name (a dated one)', async () => {
    const { file, store, ingest } = await setup('dated.log');
    writeFileSync(file, `${lineAt(10)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${lineAt(11)}\n`);
    renameSync(file, path.join(dir, 'dated-2026-11-28T10-00-00.000.log'));
    writeFileSync(file, `${lineAt(12)}\n`);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ accepted: 2, quarantined: 0 });
    await store.close();
  });

  it('does not resume a file beside it that is not the bytes the checkpoint was taken on: it is read whole, as another file', async () => {
    const { file, store, ingest } = await setup('rewritten.log');
    writeFileSync(file, `${lineAt(20)}\n${lineAt(21)}\n`);
    await ingestFile(file, { ingest, store });
    renameSync(file, `${file}.1`);
    // the old inode, rewritten in place after the rotation (or another file that took the freed inode): its bytes past
    // our offset are not the rest of what we read, and none of its lines were read
    writeFileSync(`${file}.1`, `${lineAt(22)}\n${lineAt(23)}\n${lineAt(24)}\n`);
    writeFileSync(file, `${lineAt(25)}\n`);
    const starts: FileStart[] = [];
    expect(await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) })).toMatchObject({ accepted: 4, quarantined: 0 });
    expect(starts[0]).toMatchObject({ reason: 'rotated', rotatedBetween: [`${fileSourceId(file)}.1`] });
    expect(starts[0]!.rotatedFrom).toBeUndefined();
    await store.close();
  });

  it('rotated twice while down: reads the rest of the checkpoint\'s file, then the file rotated after it, then the new one', async () => {
    const { file, store, ingest } = await setup('twice.log');
    writeFileSync(file, `${lineAt(40)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${lineAt(41)}\n`);
    // an older rotation, from before the checkpoint's file: already read back then, and not read again
    writeFileSync(`${file}.3`, `${lineAt(39)}\n`);
    utimesSync(`${file}.3`, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(42)}\n${lineAt(43)}\n`);
    // logrotate again: .1 → .2, the path → .1, a new file
    renameSync(`${file}.1`, `${file}.2`);
    renameSync(file, `${file}.1`);
    utimesSync(`${file}.2`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    writeFileSync(file, `${lineAt(44)}\n`);
    const starts: FileStart[] = [];
    const r = await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(r).toMatchObject({ accepted: 4, quarantined: 0 });
    expect(starts).toMatchObject([{ reason: 'rotated', rotatedFrom: { file: `${fileSourceId(file)}.2` }, rotatedBetween: [`${fileSourceId(file)}.1`] }]);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ accepted: 0, lines: 0 });
    await store.close();
  });

  it('rotated twice while down, the middle file compressed: it is left (a warning), the rest is read', async () => {
    const { file, store, ingest } = await setup('gz.log');
    writeFileSync(file, `${lineAt(50)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${lineAt(51)}\n`);
    renameSync(file, path.join(dir, 'gz-2026-11-28T09-00-00.000.log'));
    utimesSync(path.join(dir, 'gz-2026-11-28T09-00-00.000.log'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    writeFileSync(path.join(dir, 'gz-2026-11-28T10-00-00.000.log.gz'), gzipSync(`${lineAt(52)}\n`));
    writeFileSync(file, `${lineAt(53)}\n`);
    const warned: string[] = [];
    const log = Object.create(silentLogger()) as Logger;
    log.warn = ((o: unknown, msg?: string) => void warned.push(`${msg} ${JSON.stringify(o)}`)) as Logger['warn'];
    const starts: FileStart[] = [];
    expect(await ingestFile(file, { ingest, store, log, onStart: (s) => starts.push(s) })).toMatchObject({ accepted: 2, quarantined: 0 });
    expect(starts[0]!.rotatedBetween).toBeUndefined();
    expect(warned.join('\n')).toMatch(/compressed: not read.*gz-2026-11-28T10-00-00\.000\.log\.gz/);
    await store.close();
  });

  it('stopped within the middle file: the next start resumes there, then reads the new file', async () => {
    const { file, store, ingest } = await setup('stop.log');
    writeFileSync(file, `${lineAt(60)}\n`);
    await ingestFile(file, { ingest, store });
    renameSync(file, `${file}.2`);
    utimesSync(`${file}.2`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    writeFileSync(`${file}.1`, Array.from({ length: 40 }, (_, i) => lineAt(61 + i)).join('\n') + '\n');
    writeFileSync(file, `${lineAt(200)}\n`);
    const ac = new AbortController();
    const first = await ingestFile(file, { ingest, store, chunkBytes: 4096, signal: ac.signal, onBatch: ({ file: f }) => f === fileSourceId(file) && ac.abort() });
    expect(first.accepted).toBeGreaterThan(0);
    expect(first.accepted).toBeLessThan(40);
    const second = await ingestFile(file, { ingest, store });
    expect(first.accepted + second.accepted).toBe(41);
    await store.close();
  });

  it('hands over an unterminated last line of the rotated file (nothing will read it again)', async () => {
    const { file, store, ingest } = await setup('cut.log');
    writeFileSync(file, `${lineAt(30)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, lineAt(31)); // complete JSON, no newline: the writer's last line
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(32)}\n`);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ accepted: 2, quarantined: 0 });
    await store.close();
  });
});

describe('file source: following a rotation', () => {
  it('reads lines a writer still puts in the rotated file within the grace period', async () => {
    const deps = await setup('late.log');
    const { file, store } = deps;
    writeFileSync(file, `${lineAt(40)}\n`);
    const f = follower(file, deps, 1500);
    await f.waitFor(1);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(41)}\n`);
    await sleep(200);
    appendFileSync(`${file}.1`, `${lineAt(42)}\n`); // the writer, still on the old inode
    await f.waitFor(3);
    expect(await f.stop()).toMatchObject({ accepted: 3, quarantined: 0 });
    await store.close();
  }, 30_000);

  it('copytruncate between two polls: the lines written since the last read are read from the copy, then the file from 0 (truncated)', async () => {
    const deps = await setup('copytrunc-follow.log');
    const { file, store } = deps;
    writeFileSync(file, `${lineAt(70)}\n`);
    const f = follower(file, deps, 1500);
    await f.waitFor(1);
    // within one turn of the event loop, so no poll sees the file in between: osquery writes two lines, logrotate
    // copies the file to .1 and truncates it, osquery writes on
    appendFileSync(file, `${lineAt(71)}\n${lineAt(72)}\n`);
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    // the next poll finds it shorter than the offset read
    await sleep(200);
    appendFileSync(file, `${lineAt(73)}\n`);
    await f.waitFor(4);
    expect(await f.stop()).toMatchObject({ accepted: 4, quarantined: 0 });
    await store.close();
  }, 30_000);

  it('copytruncate between two polls while a line is half-read: the copy is read from the offset, not joined to the half line', async () => {
    const deps = await setup('copytrunc-half.log');
    const { file, store } = deps;
    // the first read takes line 85 and half of 86 (osquery is still writing it): the half waits in the buffer
    writeFileSync(file, `${lineAt(85)}\n${lineAt(86).slice(0, 100)}`);
    const f = follower(file, deps, 1500);
    await f.waitFor(1);
    appendFileSync(file, `${lineAt(86).slice(100)}\n`);
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    appendFileSync(file, `${lineAt(87)}\n${lineAt(88)}\n${lineAt(89)}\n`);
    await f.waitFor(5);
    expect(await f.stop()).toMatchObject({ accepted: 5, quarantined: 0 });
    await store.close();
  }, 30_000);

  it('copytruncate between two polls with more written after it than before (replaced in place): read from the copy all the same', async () => {
    const deps = await setup('copytrunc-grown.log');
    const { file, store } = deps;
    writeFileSync(file, `${lineAt(80)}\n`);
    const f = follower(file, deps, 1500);
    await f.waitFor(1);
    appendFileSync(file, `${lineAt(81)}\n`);
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    appendFileSync(file, `${lineAt(82)}\n${lineAt(83)}\n${lineAt(84)}\n`);
    await f.waitFor(5);
    expect(await f.stop()).toMatchObject({ accepted: 5, quarantined: 0 });
    await store.close();
  }, 30_000);

  it('one rotation with compress (no delaycompress): the compressed copy of the file read to its end is not warned about', async () => {
    const deps = await setup('gz-follow.log');
    const { file, store } = deps;
    writeFileSync(file, `${lineAt(93)}\n`);
    const warned: string[] = [];
    const log = Object.create(silentLogger()) as Logger;
    log.warn = ((o: unknown, msg?: string) => void warned.push(`${msg} ${JSON.stringify(o)}`)) as Logger['warn'];
    const ac = new AbortController();
    let accepted = 0;
    const done = ingestFile(file, { ingest: deps.ingest, store, follow: true, pollIntervalMs: 20, rotateGraceMs: 100, signal: ac.signal, log, onBatch: ({ result }) => (accepted += result.accepted) });
    while (accepted < 1) await sleep(10);
    // logrotate: rename, create, then gzip .1 to .1.gz (gzip keeps its mtime) and remove .1
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(94)}\n`);
    const st = statSync(`${file}.1`);
    writeFileSync(`${file}.1.gz`, gzipSync(readFileSync(`${file}.1`)));
    utimesSync(`${file}.1.gz`, st.atime, st.mtime);
    rmSync(`${file}.1`);
    for (let i = 0; i < 500 && accepted < 2; i++) await sleep(10);
    await sleep(200);
    ac.abort();
    expect(await done).toMatchObject({ accepted: 2, quarantined: 0 });
    expect(warned).toEqual([]);
    await store.close();
  }, 30_000);

  it('waits for a line half-written at the rename to be finished', async () => {
    const deps = await setup('half.log');
    const { file, store } = deps;
    writeFileSync(file, `${lineAt(50)}\n`);
    const f = follower(file, deps, 1500);
    await f.waitFor(1);
    appendFileSync(file, lineAt(51).slice(0, 60));
    await sleep(100);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(52)}\n`);
    await sleep(200);
    appendFileSync(`${file}.1`, `${lineAt(51).slice(60)}\n`);
    await f.waitFor(3);
    expect(await f.stop()).toMatchObject({ accepted: 3, quarantined: 0 });
    await store.close();
  }, 30_000);

  it('leaves a rotated file a writer never lets go of, at most ten grace periods after the rotation', async () => {
    const deps = await setup('busy.log');
    const { file, store } = deps;
    writeFileSync(file, `${lineAt(70)}\n`);
    const f = follower(file, deps, 40);
    await f.waitFor(1);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(71)}\n`);
    // another process keeps logging to the old file, faster than the grace period, for 1.5 s
    const writer = (async () => {
      for (let i = 72; i < 170; i++) {
        appendFileSync(`${file}.1`, `${lineAt(i)}\n`);
        await sleep(15);
      }
    })();
    // the new file's line comes well before the writer stops (10 × 40 ms after the rotation, plus polls)
    const deadline = Date.now() + 1200;
    let seenNew = false;
    while (!seenNew && Date.now() < deadline) {
      const cp = await store.checkpoints.get(`file:${fileSourceId(file)}`);
      seenNew = cp !== null && cp.ino !== undefined && Number(cp.ino) === statSync(file).ino;
      await sleep(20);
    }
    await writer;
    await f.stop();
    expect(seenNew).toBe(true);
    await store.close();
  }, 30_000);

  it('leaves a rotated file that stopped growing for the new one', async () => {
    const deps = await setup('idle.log');
    const { file, store } = deps;
    writeFileSync(file, `${lineAt(60)}\n`);
    const f = follower(file, deps, 100);
    await f.waitFor(1);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(61)}\n`);
    await f.waitFor(2);
    appendFileSync(file, `${lineAt(62)}\n`);
    await f.waitFor(3);
    expect(await f.stop()).toMatchObject({ accepted: 3, quarantined: 0 });
    const cp = await store.checkpoints.get(`file:${fileSourceId(file)}`);
    expect(cp!.offset).toBe(`${lineAt(61)}\n${lineAt(62)}\n`.length);
    await store.close();
  }, 30_000);
});
