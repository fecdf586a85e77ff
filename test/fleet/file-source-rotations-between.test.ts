/**
 * Files rotated between the checkpoint's file and the current one (reviews' cases): found by name at start, read
 * later, after the checkpoint's file, so the path may rotate again meanwhile; ties in mtime; a checkpoint's file gone
 * to .2.gz; and which files beside the path are its rotations (docs/fleet.md: "NAME.N, NAME-DATE or STEM-DATE.EXT").
 */
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../src/log.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fileSourceId, ingestFile, type FileStart } from '../../fleet/ingest/file-source.js';
import { createIngestService, type IngestService } from '../../fleet/ingest/ingest-service.js';
import type { Store } from '../../fleet/store/store.js';
import { T0, destinationLine, hostsOf, memoryStore } from './fleet-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-rotation-catchup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const [host] = hostsOf(1);
const line = (name: string, i: number) => destinationLine(host!, T0 + i, `${name}.example.com`);
const ago = (f: string, s: number) => utimesSync(f, new Date(Date.now() - s * 1000), new Date(Date.now() - s * 1000));

describe('file source: the files between, opened by name after a rotation during catch-up', () => {
  it('reads the middle file once and the current file once when logrotate runs while the old file is read', async () => {
    const file = path.join(dir, 'osqueryd.results.log');
    const store = await memoryStore();
    const real = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    const seen: string[] = [];
    let rotateNow = false;
    const ingest = {
      ...real,
      async ingestLines(lines: Iterable<string>, src: Parameters<IngestService['ingestLines']>[1]) {
        const list = [...lines];
        for (const l of list) seen.push(/"server_name":"([a-z]+)\.example\.com"/.exec(l)?.[1] ?? '?');
        const r = await real.ingestLines(list, src);
        if (rotateNow) {
          // logrotate (daily, or by size) runs while the aggregator is still catching up on the checkpoint's file
          rotateNow = false;
          renameSync(`${file}.2`, `${file}.3`);
          renameSync(`${file}.1`, `${file}.2`);
          renameSync(file, `${file}.1`);
          writeFileSync(file, `${line('newest', 9)}\n`);
        }
        return r;
      },
    } as IngestService;
    writeFileSync(file, `${line('first', 0)}\n`);
    await ingestFile(file, { ingest, store });
    // aggregator down: the file gets one more line, is rotated twice
    appendFileSync(file, `${line('old', 1)}\n`);
    renameSync(file, `${file}.2`);
    ago(`${file}.2`, 120);
    writeFileSync(`${file}.1`, `${line('middle', 2)}\n`);
    ago(`${file}.1`, 60);
    writeFileSync(file, `${line('current', 3)}\n`);
    seen.length = 0;
    rotateNow = true;
    await ingestFile(file, { ingest, store });
    // every line written while down is read exactly once
    expect(seen).toEqual(['old', 'middle', 'current']);
    await store.close();
  });

  it('files between with equal mtimes (coarse timestamps, a restored copy) are read oldest first: .2 before .1', async () => {
    const file = path.join(dir, 'tie.log');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    writeFileSync(file, `${line('first', 0)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${line('old', 1)}\n`);
    renameSync(file, `${file}.3`);
    writeFileSync(`${file}.2`, `${line('older', 2)}\n`);
    writeFileSync(`${file}.1`, `${line('newer', 3)}\n`);
    writeFileSync(file, `${line('current', 4)}\n`);
    ago(`${file}.3`, 120);
    const t = new Date(Date.now() - 60_000);
    utimesSync(`${file}.2`, t, t);
    utimesSync(`${file}.1`, t, t);
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.rotatedBetween).toEqual([`${fileSourceId(file)}.2`, `${fileSourceId(file)}.1`]);
    await store.close();
  });

  it('logrotate compress + delaycompress: the checkpoint\'s file is gone into .2.gz, the .1 after it is still read', async () => {
    const file = path.join(dir, 'delay.log');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    writeFileSync(file, `${line('first', 0)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${line('lost', 1)}\n`);
    // first rotation: the path → .1, a new file; second: .1 → .2 compressed (a new inode), the path → .1, a new file
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('middle', 2)}\n`);
    writeFileSync(`${file}.2.gz`, gzipSync(readFileSync(`${file}.1`)));
    rmSync(`${file}.1`);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('current', 3)}\n`);
    ago(`${file}.2.gz`, 60);
    const starts: FileStart[] = [];
    const r = await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(r).toMatchObject({ accepted: 2, quarantined: 0 });
    // the new file may have the freed inode of the one deleted after compression: rotated, or replaced in place
    expect(['rotated', 'replaced']).toContain(starts[0]!.reason);
    expect(starts[0]!.rotatedBetween).toEqual([`${fileSourceId(file)}.1`]);
    expect(starts[0]!.rotatedFrom).toBeUndefined();
    await store.close();
  });

  it('a rotation older than the checkpoint\'s file (read on an earlier run) is not read again', async () => {
    const file = path.join(dir, 'tie-again.log');
    const store = await memoryStore();
    const real = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    const seen: string[] = [];
    const ingest = {
      ...real,
      async ingestLines(lines: Iterable<string>, src: Parameters<IngestService['ingestLines']>[1]) {
        const list = [...lines];
        for (const l of list) seen.push(/"server_name":"([a-z]+)\.example\.com"/.exec(l)?.[1] ?? '?');
        return real.ingestLines(list, src);
      },
    } as IngestService;
    // run 1: file A
    writeFileSync(file, `${line('a', 0)}\n`);
    await ingestFile(file, { ingest, store });
    // rotated once; run 2 reads the rest of A (.1), then B
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('b', 1)}\n`);
    await ingestFile(file, { ingest, store });
    expect(seen).toEqual(['a', 'b']);
    // down: B gets a line, logrotate runs again (A → .2, B → .1, new C); coarse timestamps: .2 and .1 tie
    appendFileSync(file, `${line('c', 2)}\n`);
    renameSync(`${file}.1`, `${file}.2`);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('d', 3)}\n`);
    const t = new Date(Date.now() - 60_000);
    utimesSync(`${file}.2`, t, t);
    utimesSync(`${file}.1`, t, t);
    seen.length = 0;
    await ingestFile(file, { ingest, store });
    // A (.2) was read whole in runs 1 and 2: only B's rest and C are new
    expect(seen).toEqual(['c', 'd']);
    await store.close();
  });
});

describe('file source: files beside the path that are not its rotations', () => {
  it('does not take an operator\'s backup copy (NAME.bak) for a rotation and read it whole', async () => {
    const file = path.join(dir, 'bak.results.log');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    writeFileSync(file, `${line('first', 0)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${line('old', 1)}\n`);
    renameSync(file, `${file}.2`);
    ago(`${file}.2`, 120);
    writeFileSync(`${file}.1`, `${line('middle', 2)}\n`);
    ago(`${file}.1`, 60);
    writeFileSync(file, `${line('current', 3)}\n`);
    // an operator's copy, made before restarting the aggregator
    writeFileSync(`${file}.bak`, readFileSync(`${file}.2`));
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.rotatedBetween).toEqual([`${fileSourceId(file)}.1`]);
    await store.close();
  });

  it('does not read the aggregator\'s own quarantine file beside the log (it appends to it while reading it)', async () => {
    const file = path.join(dir, 'q.results.log');
    const quarantine = `${file}.quarantine`;
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: quarantine });
    writeFileSync(file, `${line('first', 0)}\nnot json\n`);
    await ingestFile(file, { ingest, store, endOfInput: true });
    expect(statSync(quarantine).size).toBeGreaterThan(0);
    ago(file, 300);
    renameSync(file, `${file}.2`);
    writeFileSync(`${file}.1`, `${line('middle', 2)}\n`);
    writeFileSync(file, `${line('current', 3)}\n`);
    const starts: FileStart[] = [];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 5000);
    const r = await ingestFile(file, { ingest, store, signal: ac.signal, onStart: (s) => starts.push(s) });
    clearTimeout(timer);
    // a one-shot read of three small files ends by itself, quarantining nothing new
    expect({ stoppedByTimeout: ac.signal.aborted, quarantined: r.quarantined, quarantineBytes: statSync(quarantine).size }).toMatchObject({ stoppedByTimeout: false, quarantined: 0 });
    expect(starts[0]!.rotatedBetween).toEqual([`${fileSourceId(file)}.1`]);
    await store.close();
  }, 20_000);
});

/** Run 1 reads A; A is rotated to .1 and B made; A and B get these mtimes (unix s); run 2 reads A's rest and B. */
async function readRotatedOnce(file: string, store: Store, ingest: IngestService, seen: string[], mtimeA: number, mtimeB: number): Promise<void> {
  writeFileSync(file, `${line('a', 0)}\n`);
  await ingestFile(file, { ingest, store });
  renameSync(file, `${file}.1`);
  writeFileSync(file, `${line('b', 1)}\n`);
  utimesSync(`${file}.1`, mtimeA, mtimeA);
  utimesSync(file, mtimeB, mtimeB);
  await ingestFile(file, { ingest, store });
  expect(seen).toEqual(['a', 'b']);
}

function recorder(store: Store) {
  const real = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
  const seen: string[] = [];
  const ingest = {
    ...real,
    async ingestLines(lines: Iterable<string>, src: Parameters<IngestService['ingestLines']>[1]) {
      const list = [...lines];
      for (const l of list) seen.push(/"server_name":"([a-z]+)\.example\.com"/.exec(l)?.[1] ?? '?');
      return real.ingestLines(list, src);
    },
  } as IngestService;
  return { ingest, seen };
}

describe('file source: rotations after the checkpoint\'s recorded mtime', () => {
  it('freed inode taken by a new file SHORTER than the offset (reason truncated): the .1 between is still read', async () => {
    const file = path.join(dir, 'freed.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    writeFileSync(file, [0, 1, 2, 3, 4].map((i) => `${line('first', i)}\n`).join(''));
    await ingestFile(file, { ingest, store });
    // logrotate compress + delaycompress, twice while down: A → .1 → .2.gz (A deleted), B → .1, new C
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('middle', 5)}\n`);
    writeFileSync(`${file}.2.gz`, gzipSync(readFileSync(`${file}.1`)));
    rmSync(`${file}.1`);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('current', 6)}\n`);
    // C took A's freed inode (ext4 reuses it; made deterministic here): the checkpoint names C's inode
    const id = `file:${fileSourceId(file)}`;
    const cp = (await store.checkpoints.get(id))!;
    const st = statSync(file);
    await store.checkpoints.put(id, { ...cp, ino: st.ino, dev: st.dev });
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.reason).toBe('truncated'); // C is shorter than the checkpoint's offset
    // the same case with a longer C (reason replaced) reads .1; a short new file — the usual one — loses it
    expect(seen).toEqual(['middle', 'current']);
    await store.close();
  });

  it('copytruncate (reason replaced): the copy .1 is read on from the stored offset, not again from its start', async () => {
    const file = path.join(dir, 'copytruncate.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    writeFileSync(file, `${line('a', 0)}\n`);
    await ingestFile(file, { ingest, store });
    // down: one more line, then logrotate copytruncate (copy to .1, truncate in place), then two new lines
    appendFileSync(file, `${line('b', 1)}\n`);
    copyFileSync(file, `${file}.1`);
    writeFileSync(file, '');
    appendFileSync(file, `${line('c', 2)}\n${line('d', 3)}\n`);
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.reason).toBe('replaced');
    // 'a' was read by the first run; .1 still holds the checkpoint's bytes up to its offset
    expect(seen).toEqual(['b', 'c', 'd']);
    await store.close();
  });

  it('a genuine in-place rewrite (cp bigger.log over it) does not read an older rotation last written in the same instant', async () => {
    const file = path.join(dir, 'rewrite.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    // coarse timestamps (1 s: HFS+, ext3, NFSv3): A (.1) and B last written in the same second
    const t = Math.floor(Date.now() / 1000) - 60;
    await readRotatedOnce(file, store, ingest, seen, t, t);
    // cp bigger.log results.log: same inode, other bytes
    writeFileSync(file, `${line('x', 2)}\n${line('y', 3)}\n${line('z', 4)}\n`);
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.reason).toBe('replaced');
    expect(starts[0]!.rotatedBetween ?? []).toEqual([]);
    expect(seen).toEqual(['x', 'y', 'z']);
    await store.close();
  });

  it('a genuine in-place rewrite does not warn about a compressed older rotation last written in the same instant', async () => {
    const file = path.join(dir, 'rewrite-gz.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    const t = Math.floor(Date.now() / 1000) - 60;
    await readRotatedOnce(file, store, ingest, seen, t, t);
    // logrotate compressed .1 (keeping its mtime), then cp bigger.log results.log
    writeFileSync(`${file}.1.gz`, gzipSync(readFileSync(`${file}.1`)));
    utimesSync(`${file}.1.gz`, t, t);
    rmSync(`${file}.1`);
    writeFileSync(file, `${line('x', 2)}\n${line('y', 3)}\n${line('z', 4)}\n`);
    const warned: string[] = [];
    const log = Object.create(silentLogger()) as Logger;
    log.warn = ((o: unknown, msg?: string) => void warned.push(`${msg} ${JSON.stringify(o)}`)) as Logger['warn'];
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, log, onStart: (s) => starts.push(s) });
    expect(starts[0]!.reason).toBe('replaced');
    expect(seen).toEqual(['x', 'y', 'z']);
    // it was read before it was compressed: nothing of it is lost, so nothing to warn about
    expect(warned.filter((w) => /compressed/.test(w))).toEqual([]);
    await store.close();
  });

  it('copytruncate + compress on 1 s timestamps: a gzip copy made in the checkpoint\'s second is warned about (its new lines are lost)', async () => {
    const file = path.join(dir, 'coarse-copy-gz.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    const S = Math.floor(Date.now() / 1000) - 60;
    writeFileSync(file, `${line('a', 0)}\n`);
    utimesSync(file, S, S);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${line('b', 1)}\n`);
    utimesSync(file, S, S);
    // copy, truncate, compress the copy (no delaycompress), mtime kept
    writeFileSync(`${file}.1.gz`, gzipSync(readFileSync(file)));
    utimesSync(`${file}.1.gz`, S, S);
    writeFileSync(file, `${line('c', 2)}\n`);
    const warned: string[] = [];
    const log = Object.create(silentLogger()) as Logger;
    log.warn = ((o: unknown, msg?: string) => void warned.push(`${msg} ${JSON.stringify(o)}`)) as Logger['warn'];
    seen.length = 0;
    await ingestFile(file, { ingest, store, log });
    expect(seen).toEqual(['c']);
    expect(warned.join('\n')).toMatch(/copy of the checkpoint's file.*lost.*coarse-copy-gz\.log\.1\.gz/);
    await store.close();
  });

  it('the recorded mtime keeps its fraction: a rotation older than the checkpoint\'s file within the same ms is not read again', async () => {
    const file = path.join(dir, 'floor.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    const s = Math.floor(Date.now() / 1000) - 60;
    // A: last written 0.3 ms before B
    await readRotatedOnce(file, store, ingest, seen, s + 0.0004, s + 0.0007);
    // B gets a line and is rotated away and gone (compress without delaycompress: B → .2.gz), new C at the path
    appendFileSync(file, `${line('c', 2)}\n`);
    writeFileSync(`${file}.2.gz`, gzipSync(readFileSync(file)));
    rmSync(file);
    writeFileSync(file, `${line('d', 3)}\n`);
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s2) => starts.push(s2) });
    expect(['rotated', 'replaced']).toContain(starts[0]!.reason);
    // A (.1) is older than B by mtime and was read on the earlier runs
    expect(starts[0]!.rotatedBetween ?? []).toEqual([]);
    expect(seen).toEqual(['d']);
    await store.close();
  });

  it('coarse timestamps: a rotation last written in the same second as the checkpoint is read', async () => {
    const file = path.join(dir, 'coarse.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    // 1 s timestamps (HFS+, ext3, NFSv3): A's last write, its checkpoint, and B's lines all fall in second S
    const S = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    writeFileSync(file, `${line('a', 0)}\n`);
    utimesSync(file, S, S);
    await ingestFile(file, { ingest, store });
    // down: logrotate compress (no delaycompress) twice: A → .2.gz (A deleted), B → .1, new C at the path
    renameSync(file, `${file}.2`);
    writeFileSync(file, `${line('b', 1)}\n`);
    utimesSync(file, S, S);
    writeFileSync(`${file}.2.gz`, gzipSync(readFileSync(`${file}.2`)));
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('c', 2)}\n`);
    rmSync(`${file}.2`); // after C exists: C cannot take A's inode, the start is 'rotated'
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.reason).toBe('rotated');
    // B (.1) was never read: with newerOnly it is taken as older than the checkpoint's file and its line is lost
    expect(seen).toEqual(['b', 'c']);
    await store.close();
  });

  it('a rotation that is not a copy but repeats the first KiB and the KiB before the offset is not resumed at the offset', async () => {
    const file = path.join(dir, 'repeat.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    // a log whose lines repeat (the same queries, the same answers): each file opens and closes with the same 5 lines
    const head = [0, 1, 2, 3, 4].map((i) => `${line('h', i)}\n`).join('');
    const tail = [5, 6, 7, 8, 9].map((i) => `${line('t', i)}\n`).join('');
    writeFileSync(file, `${head}${line('ma', 10)}\n${tail}`);
    await ingestFile(file, { ingest, store });
    // down: A → .2 → .2.gz (A deleted), B → .1 (its own middle line mb, same length as ma), new C at the path
    renameSync(file, `${file}.2`);
    writeFileSync(file, `${head}${line('mb', 10)}\n${tail}${line('d', 11)}\n`);
    writeFileSync(`${file}.2.gz`, gzipSync(readFileSync(`${file}.2`)));
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line('c', 12)}\n`);
    rmSync(`${file}.2`);
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.rotatedBetween).toEqual([`${file}.1`]);
    // B is a file of its own, never read: mb (a line nobody ingested) must be among what is read
    expect(seen).toContain('mb');
    await store.close();
  });

  it('logrotate compress + delaycompress (Debian\'s default), down for 4 rotations: the .1 that took the checkpoint file\'s freed inode is read', async () => {
    const file = path.join(dir, 'reuse.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    writeFileSync(file, `${line('a', 0)}\n`);
    await ingestFile(file, { ingest, store });
    // one logrotate run (create, compress, delaycompress, rotate 7): shift .N.gz, .1 → .2, the path → .1, create the
    // new file, then compress .2 → .2.gz (mtime kept, as logrotate does) and unlink .2 (its inode is freed)
    const rotate = (next: string) => {
      for (let n = 6; n >= 2; n--) if (existsSync(`${file}.${n}.gz`)) renameSync(`${file}.${n}.gz`, `${file}.${n + 1}.gz`);
      if (existsSync(`${file}.1`)) renameSync(`${file}.1`, `${file}.2`);
      renameSync(file, `${file}.1`);
      writeFileSync(file, `${line(next, next.charCodeAt(0))}\n`);
      if (existsSync(`${file}.2`)) {
        const st = statSync(`${file}.2`);
        writeFileSync(`${file}.2.gz`, gzipSync(readFileSync(`${file}.2`)));
        utimesSync(`${file}.2.gz`, st.atime, st.mtime);
        rmSync(`${file}.2`);
      }
    };
    // down for four daily rotations: A → .1 → .2.gz (A's inode freed at the 2nd), B, C compressed in turn; the file
    // created at the 3rd rotation (D) gets A's freed inode (ext4 does: checked on this machine's /tmp) and is
    // rotated to .1 at the 4th; E at the path
    rotate('b');
    rotate('c');
    rotate('d');
    rotate('e');
    // D took A's freed inode (made deterministic as in file-source-rotations-between.test.ts)
    const id = `file:${fileSourceId(file)}`;
    const cp = (await store.checkpoints.get(id))!;
    const d = statSync(`${file}.1`);
    await store.checkpoints.put(id, { ...cp, ino: d.ino, dev: d.dev });
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(starts[0]!.reason).toBe('rotated');
    // b and c are compressed (warned about, lost); d sits uncompressed in .1, written after the checkpoint
    expect(seen).toEqual(['d', 'e']);
    await store.close();
  });

  it('copytruncate on 1 s timestamps: the copy made in the checkpoint\'s second is read on from the offset', async () => {
    const file = path.join(dir, 'coarse-copy.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    // HFS+/ext3/NFSv3: the last write before the checkpoint, the next line and logrotate's copy all fall in second S
    // (cron: `fleet ingest` every minute and an hourly logrotate both start at :00)
    const S = Math.floor(Date.now() / 1000) - 60;
    writeFileSync(file, `${line('a', 0)}\n`);
    utimesSync(file, S, S);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${line('b', 1)}\n`);
    utimesSync(file, S, S);
    // logrotate copytruncate: copy to .1 (new file, mtime = S on a 1 s filesystem), truncate in place, new line
    copyFileSync(file, `${file}.1`);
    utimesSync(`${file}.1`, S, S);
    writeFileSync(file, '');
    appendFileSync(file, `${line('c', 2)}\n`);
    seen.length = 0;
    const starts: FileStart[] = [];
    await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) });
    expect(['truncated', 'replaced']).toContain(starts[0]!.reason);
    // b was written after the checkpoint and is only in the copy
    expect(seen).toEqual(['b', 'c']);
    await store.close();
  });
});

describe('file source: copytruncate caught between its copy and its truncate', () => {
  /** The path holds a, b, c; .1 is a copy of it that took the freed inode of the copy the checkpoint named. */
  async function stageCopyBeforeTruncate(file: string, store: Store, ingest: IngestService) {
    writeFileSync(file, `${line('a', 0)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${line('b', 1)}\n${line('c', 2)}\n`);
    copyFileSync(file, `${file}.1`);
    ago(file, 30);
    const id = `file:${fileSourceId(file)}`;
    const copy = statSync(`${file}.1`);
    const cp = (await store.checkpoints.get(id))!;
    await store.checkpoints.put(id, { ...cp, ino: copy.ino, dev: copy.dev, headHash: 'other-bytes', tailHash: 'other-bytes', mtimeMs: copy.mtimeMs - 60_000 });
  }

  it('reads the copy and then the path (its lines twice, which changes no state) rather than risk losing them to the truncate', async () => {
    const file = path.join(dir, 'copy-race.log');
    const store = await memoryStore();
    const { ingest, seen } = recorder(store);
    await stageCopyBeforeTruncate(file, store, ingest);
    seen.length = 0;
    await ingestFile(file, { ingest, store });
    expect(seen).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect((await store.prevalence.destinations(['example.com'], { from: T0 - 86_400, to: T0 + 86_400 })).get('example.com')!.hosts).toBe(1);
    // logrotate's truncate, then a new line: the copy holds the checkpoint's bytes and is not read again
    writeFileSync(file, '');
    appendFileSync(file, `${line('d', 3)}\n`);
    seen.length = 0;
    await ingestFile(file, { ingest, store });
    expect(seen).toEqual(['d']);
    await store.close();
  });

  it('following: logrotate truncates the path right after the copy is read: the copy\'s lines are in', async () => {
    const file = path.join(dir, 'copy-race-follow.log');
    const store = await memoryStore();
    const real = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    const seen: string[] = [];
    let armed = false;
    const ingest = {
      ...real,
      async ingestLines(lines: Iterable<string>, src: Parameters<IngestService['ingestLines']>[1]) {
        const list = [...lines];
        for (const l of list) seen.push(/"server_name":"([a-z]+)\.example\.com"/.exec(l)?.[1] ?? '?');
        const r = await real.ingestLines(list, src);
        if (armed) {
          // logrotate's truncate comes right after its copy, then osquery's next line
          armed = false;
          writeFileSync(file, '');
          appendFileSync(file, `${line('d', 3)}\n`);
        }
        return r;
      },
    } as IngestService;
    await stageCopyBeforeTruncate(file, store, ingest);
    seen.length = 0;
    armed = true;
    const ac = new AbortController();
    const run = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, signal: ac.signal, chunkBytes: line('a', 0).length + 1 });
    for (let i = 0; i < 250 && !seen.includes('d'); i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await run;
    expect(seen).toEqual(expect.arrayContaining(['a', 'b', 'c', 'd']));
    await store.close();
  });
});
