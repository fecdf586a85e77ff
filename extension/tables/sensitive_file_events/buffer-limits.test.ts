import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import type { ArchiveEventRow, SensitiveFileEventRow } from '../../runtime/context.js';
import { parseQueryContext } from '../../sdk/query-context.js';
import { createArchiveEventRing } from '../archive_events/buffer.js';
import { createSensitiveEventRing } from './buffer.js';
import { filterByPid } from './table.js';

const NOW = 1_772_500_000;
const read = (over: Partial<SensitiveFileEventRow>): SensitiveFileEventRow => ({
  time: NOW - 60, pid: 700, ppid: 1, uid: 501, process_start: NOW - 3600, path: '/Users/a/Downloads/update', signing_id: '', team_id: '', platform_binary: 0,
  operation: 'open', file_path: '/Users/a/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1, ...over,
});
const archive = (over: Partial<ArchiveEventRow>): ArchiveEventRow => ({
  time: NOW - 60, pid: 710, ppid: 700, uid: 501, process_start: NOW - 100, path: '/usr/bin/ditto', tool: 'ditto', operation: 'exec',
  archive_path: '/tmp/.x/docs.zip', args: 'ditto -c -k /Users/a/Documents /tmp/.x/docs.zip', staging: 1, ...over,
});
const all = parseQueryContext('');

describe('event buffers: retention by age', () => {
  it('keeps tier-1 reads at least events.retention when tier1_retention is configured shorter', () => {
    const config = parseConfig({ events: { retention: 1800, tier1_retention: 600 }, analytics: { precursor_window: 300 }, flows: { retention: 300 } });
    const ring = createSensitiveEventRing(config);
    ring.push(read({ time: NOW - 1000 }));
    ring.push(read({ time: NOW - 1000, tier: 2, category: 'documents', file_path: '/Users/a/Documents/a.pdf' }));
    expect(filterByPid(ring, NOW, all, config.events.retention).map((r) => r.tier)).toEqual([1, 2]);
  });

  it('keeps tier-2 reads and archive steps for precursor_window + flows.retention when that is longer than events.retention', () => {
    // a flow that started flows.retention ago still finds every read of its precursor window
    const config = parseConfig({ events: { retention: 600 }, analytics: { precursor_window: 1200 }, flows: { retention: 900 } });
    const reads = createSensitiveEventRing(config);
    const archives = createArchiveEventRing(config);
    reads.push(read({ time: NOW - 2200, tier: 2, category: 'documents', file_path: '/Users/a/Documents/b.pdf' }));
    reads.push(read({ time: NOW - 2000, tier: 2, category: 'documents', file_path: '/Users/a/Documents/a.pdf' }));
    archives.push(archive({ time: NOW - 2200 }));
    archives.push(archive({ time: NOW - 2000 }));
    expect([reads.prune(NOW), archives.prune(NOW)]).toEqual([1, 1]);
    expect(reads.toArray().map((r) => r.time)).toEqual([NOW - 2000]);
    expect(archives.toArray().map((r) => r.time)).toEqual([NOW - 2000]);
    // the tables themselves show events.retention only
    expect(filterByPid(archives, NOW, all, config.events.retention)).toEqual([]);
  });

  it('shows a row exactly events.retention old, not one a second older', () => {
    const config = parseConfig({});
    const archives = createArchiveEventRing(config);
    archives.push(archive({ time: NOW - config.events.retention - 1, pid: 711 }));
    archives.push(archive({ time: NOW - config.events.retention, pid: 712 }));
    expect(filterByPid(archives, NOW, all, config.events.retention).map((r) => r.pid)).toEqual([712]);
  });
});

describe('event buffers: limits by count', () => {
  it('tier-1 reads fill a ring of events.tier1_max_events; beyond it, the oldest move to the shared ring', () => {
    const config = parseConfig({ events: { max_events: 4, tier1_max_events: 2 } });
    const ring = createSensitiveEventRing(config);
    for (const t of [1, 2, 3]) ring.push(read({ time: NOW - 100 + t }));
    // reserved first, then the shared ring: the first keychain read was handed over
    expect(ring.toArray().map((r) => r.time)).toEqual([NOW - 98, NOW - 97, NOW - 99]);
    expect(ring.dropped).toBe(0);
    for (let i = 0; i < 4; i++) ring.push(read({ time: NOW - 50, tier: 2, category: 'documents', file_path: `/Users/a/Documents/${i}.pdf` }));
    // the shared ring is full: the handed-over read goes first
    expect(ring.toArray().map((r) => r.tier)).toEqual([1, 1, 2, 2, 2, 2]);
    expect([ring.size, ring.dropped]).toEqual([6, 1]);
  });
});

describe('event buffers: the tier-1 ring holds reads and moves', () => {
  it('a flood of files created or written under a tier-1 path does not push a keychain read out', () => {
    // a stealer making thousands of files under ~/Library/Keychains (rows, no precursors) to evict its own read
    const config = parseConfig({ events: { max_events: 5, tier1_max_events: 5 } });
    const ring = createSensitiveEventRing(config);
    ring.push(read({ time: NOW - 100 }));
    for (let i = 0; i < 50; i++) {
      const operation = i % 2 ? 'create' : 'write';
      ring.push(read({ time: NOW - 90 + i, operation, file_path: `/Users/a/Library/Keychains/junk-${i}` }));
    }
    const rows = ring.toArray();
    expect(rows.filter((r) => r.operation === 'open')).toEqual([read({ time: NOW - 100 })]);
    // the flood itself is kept as far as the shared ring goes
    expect(rows.filter((r) => r.operation !== 'open')).toHaveLength(5);
  });

  it('a read still overflows into the shared ring when the tier-1 ring is full of reads', () => {
    const config = parseConfig({ events: { max_events: 5, tier1_max_events: 2 } });
    const ring = createSensitiveEventRing(config);
    for (let i = 0; i < 4; i++) ring.push(read({ time: NOW - 100 + i, file_path: `/Users/a/Library/Keychains/k-${i}.keychain-db` }));
    expect(ring.toArray().map((r) => r.time).sort()).toEqual([NOW - 100, NOW - 99, NOW - 98, NOW - 97]);
  });
});
