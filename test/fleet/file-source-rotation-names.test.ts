/**
 * Which files beside the path are taken for its rotations (a review's cases). docs/fleet.md: "named as
 * rotations of the path, NAME.N, NAME-DATE or STEM-DATE.EXT".
 */
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fileSourceId, ingestFile, type FileStart } from '../../fleet/ingest/file-source.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { T0, destinationLine, hostsOf, memoryStore } from './fleet-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-rotation-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const [host] = hostsOf(1);
const line = (name: string, i: number) => destinationLine(host!, T0 + i, `${name}.example.com`);
const ago = (f: string, s: number) => utimesSync(f, new Date(Date.now() - s * 1000), new Date(Date.now() - s * 1000));

describe('file source: files beside the path that are not its rotations', () => {
  it('does not take an operator\'s backup copy (NAME.bak) for a rotation and read it whole', async () => {
    const file = path.join(dir, 'osqueryd.results.log');
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
