/**
 * Files rotated between the checkpoint's file and the current one (reviews' cases): found by name at start, read
 * later, after the checkpoint's file, so the path may rotate again meanwhile; ties in mtime; a checkpoint's file gone
 * to .2.gz; and which files beside the path are its rotations (docs/fleet.md: "NAME.N, NAME-DATE or STEM-DATE.EXT").
 */
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fileSourceId, ingestFile, type FileStart } from '../../fleet/ingest/file-source.js';
import { createIngestService, type IngestService } from '../../fleet/ingest/ingest-service.js';
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
