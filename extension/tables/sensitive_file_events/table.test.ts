import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../src/config/index.js';
import type { SensitiveFileEventRow } from '../../runtime/context.js';
import { parseQueryContext } from '../../sdk/query-context.js';
import { createSensitiveEventRing } from './buffer.js';
import { filterByPid } from './table.js';

const NOW = 1_772_500_000;
const read = (over: Partial<SensitiveFileEventRow>): SensitiveFileEventRow => ({
  time: NOW - 60, pid: 700, ppid: 1, uid: 501, process_start: NOW - 3600, path: '/Users/a/Downloads/update', signing_id: '', team_id: '', platform_binary: 0,
  operation: 'open', file_path: '/Users/a/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1, ...over,
});

describe('sensitive_file_events buffer', () => {
  it('a flood of 60 000 tier-2 reads does not evict a keychain read', () => {
    const config = defaultConfig();
    const ring = createSensitiveEventRing(config);
    ring.push(read({ time: NOW - 300 }));
    for (let i = 0; i < 60_000; i++) ring.push(read({ pid: 900, time: NOW - 250, file_path: `/Users/a/Documents/junk/${i}.txt`, category: 'documents', tier: 2 }));
    expect(ring.dropped).toBe(60_000 - config.events.max_events);
    expect(filterByPid(ring, NOW, parseQueryContext('{"constraints":[{"name":"pid","list":[{"op":2,"expr":"700"}]}]}'), config.events.retention).map((r) => r.category)).toEqual(['keychain']);
  });

  it('keeps tier-1 reads past events.retention for correlation, but the table shows events.retention only', () => {
    const config = defaultConfig();
    const ring = createSensitiveEventRing(config);
    ring.push(read({ time: NOW - 7200 }));
    ring.push(read({ time: NOW - 7200, tier: 2, category: 'documents', file_path: '/Users/a/Documents/a.pdf' }));
    ring.push(read({ time: NOW - 60 }));
    expect(filterByPid(ring, NOW, parseQueryContext(''), config.events.retention).map((r) => r.time)).toEqual([NOW - 60]);
    // pruned to its own limit: the old tier-2 read is gone, both tier-1 reads stay
    expect(ring.toArray().map((r) => [r.tier, r.time])).toEqual([[1, NOW - 7200], [1, NOW - 60]]);
    ring.prune(NOW - 120 + config.events.tier1_retention);
    expect(ring.toArray().map((r) => r.time)).toEqual([NOW - 60]);
  });
});
