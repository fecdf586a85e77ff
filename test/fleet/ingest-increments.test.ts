/**
 * `fleet ingest` run again and again over a live osquery results log (cron, a systemd timer): a line osquery is
 * still writing is not lost, and an increment holding only other packs' lines is not a failure. (Both found by the
 * second review of 2026-11-28; each test failed before its fix.)
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { runIngestCommand } from '../../fleet/cli/ingest-command.js';
import { eventLine } from '../../scripts/simulate-fleet.js';
import { T0, destinationLine, hostsOf, memoryStore } from './fleet-helpers.js';

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'ingest-increments-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hosts = hostsOf(3);

describe('a one-shot read of a log being written', () => {
  it('a line osquery is still writing when `fleet ingest` runs is not lost: the next run reads it whole', async () => {
    const file = path.join(dir, 'partial.log');
    const whole = destinationLine(hosts[0]!, T0 + 5, 'files.late-line.example');
    const cut = 200;
    writeFileSync(file, `${destinationLine(hosts[1]!, T0, 'a.example.com')}\n${whole.slice(0, cut)}`);
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    await ingestFile(file, { ingest, store });
    // osquery finishes the line
    appendFileSync(file, `${whole.slice(cut)}\n`);
    await ingestFile(file, { ingest, store });
    const seen = await store.prevalence.destinations(['late-line.example'], { from: 0, to: 4_000_000_000 });
    expect(seen.get('late-line.example')!.hosts).toBe(1);
    expect(await store.quarantine.count()).toBe(0);
    await store.close();
  });

  it('says what it left, reads a whole line without its line end, and at the end of input (--flush) reads what is left as is', async () => {
    const file = path.join(dir, 'unfinished.log');
    const a = destinationLine(hosts[0]!, T0, 'a.example.com');
    const b = destinationLine(hosts[1]!, T0 + 1, 'b.example.com');
    writeFileSync(file, `${a}\n${b.slice(0, 100)}`);
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    const left: { offset: number; bytes: number }[] = [];
    const onUnfinishedLine = (u: { offset: number; bytes: number }) => left.push({ offset: u.offset, bytes: u.bytes });
    expect(await ingestFile(file, { ingest, store, onUnfinishedLine })).toMatchObject({ lines: 1, quarantined: 0 });
    expect(left).toEqual([{ offset: a.length + 1, bytes: 100 }]);
    // a line written whole, only its newline missing, is read now
    writeFileSync(file, `${a}\n${b}`);
    expect(await ingestFile(file, { ingest, store, onUnfinishedLine })).toMatchObject({ lines: 1, quarantined: 0 });
    expect(left).toHaveLength(1);
    // the end of input: a line that will never be finished is quarantined, not kept for ever
    appendFileSync(file, `\n${a.slice(0, 50)}`);
    expect(await ingestFile(file, { ingest, store, onUnfinishedLine, endOfInput: true })).toMatchObject({ lines: 1, quarantined: 1 });
    expect(left).toHaveLength(1);
    await store.close();
  });
});

describe('fleet ingest over a shared results log', () => {
  it('an incremental run over a shared osquery results log whose new lines are only of other packs exits 0', async () => {
    const file = path.join(dir, 'shared.log');
    const other = (t: number) => eventLine(hosts[0]!, 'pack/it-compliance/usb_devices', t, 1, { vendor: 'x' });
    writeFileSync(file, `${destinationLine(hosts[0]!, T0, 'a.example.com')}\n${other(T0 + 1)}\n`);
    const store = await memoryStore();
    const config = parseConfig({ fleet: { ingest: { quarantine_file: '' } } });
    let stderr = '';
    const run = async () => {
      stderr = '';
      const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
      try {
        return await runIngestCommand(store, [file], { config, log: silentLogger(), finalize: false, flush: false, fromStart: false, json: false, progress: 'never' });
      } finally {
        e.mockRestore();
      }
    };
    expect(await run()).toBe(0);
    // a minute later: Outflow's differential queries had nothing new (osquery logs no line then); another pack did
    appendFileSync(file, `${other(T0 + 61)}\n`);
    expect(await run()).toBe(0);
    expect(stderr).toContain('1 rows ignored are of other queries (other packs logging to the same file): "pack/Global/pack/it-compliance/usb_devices" (1).');
    expect(stderr).not.toMatch(/warning/);
    await store.close();
  });
});
