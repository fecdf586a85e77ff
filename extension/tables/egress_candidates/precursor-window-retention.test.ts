/** Tier-2 reads and archive steps are kept at least as long as analytics.precursor_window names them. */
import { expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld, type WorldSpec } from './testing/world.js';

const P = { pid: 700, processStart: NOW - 7200, ppid: 1, path: '/Users/a/Downloads/update', tty: false };
const T = NOW - 60 - 2400; // 40 min before the flow start
const ev = { pid: 700, ppid: 1, process_start: P.processStart, time: T };
function run(spec: WorldSpec, prune: boolean): string[] {
  const config = parseConfig({ analytics: { precursor_window: 3600 } });
  const w = buildWorld({ config, processes: [P], signing: [{ path: P.path, cls: 'unsigned' }], ...spec,
    flows: [{ pid: 700, processStart: P.processStart, remote: '203.0.113.5', bytesOut: 2 * MiB, bytesIn: 8000, firstSeen: NOW - 60, lastSeen: NOW - 30 }] });
  if (prune) { w.sensitiveEvents.prune(NOW); w.archiveEvents.prune(NOW); } // as the collectors do
  return correlate(w).rows.map((r) => r.analytic);
}
const docs = { sensitive: [{ ...ev, path: P.path, file_path: '/Users/a/Documents/x.docx', category: 'documents', tier: 2 }] } as WorldSpec;
const zip = { archive: [{ ...ev, path: '/usr/bin/zip', tool: 'zip', archive_path: '/Users/a/x.zip', staging: 0 }] } as WorldSpec;
it('analytics.precursor_window = 1 h: a Documents read / a zip 40 min before the flow are precursors', () => {
  const fired = (prune: boolean) => ({ an0990: run(docs, prune).includes('AN0990'), an1415: run(zip, prune).includes('AN1415') });
  expect(fired(false)).toEqual({ an0990: true, an1415: true }); // control: before pruning
  expect(fired(true)).toEqual({ an0990: true, an1415: true });
});

/** A 10-minute-old upload and a Documents read `readBeforeStart` s before it, after the ring was pruned at NOW. */
function an0990Aged(window: number | undefined, readBeforeStart: number): boolean {
  const config = parseConfig(window === undefined ? {} : { analytics: { precursor_window: window } });
  const firstSeen = NOW - 600; // an upload open for 10 minutes, still sampled
  const sensitive = [{ pid: 700, ppid: 1, process_start: P.processStart, time: firstSeen - readBeforeStart, path: P.path,
    file_path: '/Users/a/Documents/x.docx', category: 'documents', tier: 2 }];
  const w = buildWorld({ config, processes: [P], signing: [{ path: P.path, cls: 'unsigned' }], sensitive, archive: [],
    flows: [{ pid: 700, processStart: P.processStart, remote: '203.0.113.5', bytesOut: 20 * MiB, bytesIn: 8000, firstSeen, lastSeen: NOW - 5 }] } as unknown as WorldSpec);
  w.sensitiveEvents.prune(NOW); // as the collector and every generate do
  return correlate(w).rows.some((r) => r.analytic === 'AN0990');
}


it('a Documents read inside precursor_window of a 10-minute-old flow is still a precursor after pruning', () => {
  // default window (900 s), read 14 min before the flow start: kept (events.retention 1800 has the slack)
  expect(an0990Aged(undefined, 840)).toBe(true);
  // window configured to 1 h, read 55 min before the flow start: inside the window, and the ring keeps window + flows.retention
  expect(an0990Aged(3600, 3300)).toBe(true);
});
