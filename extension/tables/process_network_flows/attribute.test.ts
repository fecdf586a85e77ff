import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import type { ExtensionContext } from '../../runtime/context.js';
import { createContext } from '../../runtime/create-context.js';
import { resolveProcesses } from './attribute.js';

const NOW = 1_772_531_000;

function setup() {
  const ctx = createContext({ platform: 'darwin', config: parseConfig({}), log: silentLogger(), clock: fixedClock(NOW) });
  const visible = new Set<number>();
  let snapshots = 0;
  const refresh = async (c: ExtensionContext) => {
    snapshots++;
    for (const pid of visible) c.processes.observe({ pid, processStart: NOW - 100, ppid: 1, uid: 501, path: `/usr/bin/p${pid}`, source: 'ps', seenAt: NOW });
  };
  return { ctx, visible, refresh, snapshots: () => snapshots };
}

describe('resolveProcesses', () => {
  it('joins known pids without a snapshot', async () => {
    const { ctx, refresh, snapshots } = setup();
    ctx.processes.observe({ pid: 10, processStart: NOW - 5, ppid: 1, uid: 0, path: '/opt/x/bin/agent', source: 'ps', seenAt: NOW });
    const got = await resolveProcesses(ctx, [10, 10], NOW, refresh);
    expect(got.get(10)).toEqual({ processStart: NOW - 5, ppid: 1, uid: 0, path: '/opt/x/bin/agent', name: 'agent' });
    expect(snapshots()).toBe(0);
  });

  it('takes one snapshot per tick for new pids, and does not retry pids no snapshot can see', async () => {
    const { ctx, visible, refresh, snapshots } = setup();
    visible.add(20);
    const first = await resolveProcesses(ctx, [20, 21, 22], NOW, refresh);
    expect(snapshots()).toBe(1);
    expect([...first.keys()]).toEqual([20]);
    // 21 and 22 are still invisible: no new ps run for them
    await resolveProcesses(ctx, [20, 21, 22], NOW + 5, refresh);
    expect(snapshots()).toBe(1);
    // a new unknown pid triggers one snapshot, which also catches 21 if it became visible
    visible.add(21);
    visible.add(23);
    const third = await resolveProcesses(ctx, [21, 22, 23], NOW + 10, refresh);
    expect(snapshots()).toBe(2);
    expect([...third.keys()].sort()).toEqual([21, 23]);
  });

  it('a failing snapshot leaves the flows unattributed instead of failing the tick', async () => {
    const { ctx } = setup();
    const got = await resolveProcesses(ctx, [30], NOW, async () => {
      throw new Error('ps exploded');
    });
    expect(got.size).toBe(0);
  });
});

describe('resolveProcesses: the name a flow shows', () => {
  it('a process with an empty task name (prctl PR_SET_NAME "") is named by its executable\'s file name', async () => {
    const { ctx, refresh } = setup();
    ctx.processes.observe({ pid: 11, processStart: NOW - 5, ppid: 1, uid: 1000, path: '/usr/bin/rsync', name: '', source: 'ps', seenAt: NOW });
    const got = await resolveProcesses(ctx, [11], NOW, refresh);
    expect(got.get(11)?.name).toBe('rsync');
  });
});
