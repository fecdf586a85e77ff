import { afterEach, describe, expect, it, vi } from 'vitest';
import { ToolError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { ComponentHealth } from './health.js';
import { createIntervalCollector, reportFailure } from './interval-collector.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('interval collector: failing ticks', () => {
  it('a missing tool is unavailable and a refused one permission_denied, with the hint in the detail; other failures are degraded', () => {
    const health = new ComponentHealth('nettop', () => 0);
    reportFailure(health, new ToolError('TOOL_NOT_FOUND', 'nettop not found at /usr/bin/nettop', 'nettop', {}, 'install the tool or set tools.dir; see `outflow doctor`'));
    expect([health.state, health.detail]).toEqual(['unavailable', 'nettop not found at /usr/bin/nettop; install the tool or set tools.dir; see `outflow doctor`']);
    reportFailure(health, new ToolError('TOOL_PERMISSION', 'nettop at /usr/bin/nettop is not executable by this user', 'nettop', {}, 'run the extension as root (osqueryd does) or fix the file mode'));
    expect(health.state).toBe('permission_denied');
    reportFailure(health, new ToolError('TOOL_TIMEOUT', 'nettop did not finish within 15000 ms', 'nettop'));
    expect([health.state, health.detail]).toEqual(['degraded', 'nettop did not finish within 15000 ms']);
    reportFailure(health, new Error('nettop printed no header line'));
    expect([health.state, health.detail]).toEqual(['degraded', 'nettop printed no header line']);
  });

  it('backs off exponentially while ticks fail, up to the cap, and returns to the interval after a success', async () => {
    vi.useFakeTimers({ now: 1_772_500_000_000 });
    const health = new ComponentHealth('ss', () => 0);
    const at: number[] = [];
    const c = createIntervalCollector({
      name: 'ss',
      intervalMs: 100,
      maxBackoffMs: 1000,
      health,
      log: silentLogger(),
      tick: async () => {
        at.push(Date.now());
        if (at.length <= 5) throw new ToolError('TOOL_NOT_FOUND', 'ss not found at /usr/bin/ss', 'ss');
      },
    });
    c.start();
    for (let i = 0; i < 100 && at.length < 8; i++) await vi.advanceTimersByTimeAsync(50);
    await c.stop();
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // after failures 1..5: 200, 400, 800, then capped at 1000; after the success, the interval again
    expect(gaps.slice(0, 7)).toEqual([200, 400, 800, 1000, 1000, 100, 100]);
    expect(health.state).toBe('running');
  });
});
