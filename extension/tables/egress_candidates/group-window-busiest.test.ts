/**
 * SPEC §4 high-throughput: ≥ 100 MiB per lineage group in 15 min. The group's flows are summed over the busiest
 * 15-minute window that overlaps the flow, not over everything within 15 min before its start or after its end
 * (a 30-minute span plus the flow's own).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const P = { pid: 1100, processStart: NOW - 90_000, ppid: 1, path: '/Users/a/Library/agent/agentd', tty: false };
// 40 MiB out, 30 MiB in: not upload-shaped, not no-return; only the group high-throughput rule can yield a row
const flow = (i: number, firstSeen: number) => ({ pid: P.pid, processStart: P.processStart, remote: `198.51.100.${i}`, bytesOut: 40 * MiB, bytesIn: 30 * MiB, firstSeen, lastSeen: firstSeen + 10 });
const rows = (starts: number[]) => {
  const config = parseConfig({ flows: { retention: 3600 } }); // keep every flow in the flow store
  const w = buildWorld({ config, processes: [P], signing: [{ path: P.path, cls: 'unsigned' }], flows: starts.map((t, i) => flow(i + 1, t)) });
  return correlate(w).rows.map((r) => [r.analytic, r.remote_address, r.reasons.split(',')[0]]);
};

describe('group high-throughput window', () => {
  it('three 40 MiB flows 800 s apart (no 15-min window holds more than 80 MiB) are not high-throughput', () => {
    expect(rows([NOW - 1610, NOW - 810, NOW - 10])).toEqual([]);
  });

  it('three 40 MiB flows 400 s apart (120 MiB in one 15-min window) mark every flow of the burst', () => {
    expect(rows([NOW - 810, NOW - 410, NOW - 10])).toEqual([
      ['AN0082', '198.51.100.1', 'group_high_throughput'],
      ['AN0082', '198.51.100.2', 'group_high_throughput'],
      ['AN0082', '198.51.100.3', 'group_high_throughput'],
    ]);
  });
});
