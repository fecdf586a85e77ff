import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { ComponentHealth } from './health.js';
import { createIntervalCollector } from './interval-collector.js';

afterEach(() => {
  vi.useRealTimers();
});

/**
 * setTimeout runs on the monotonic clock; the wall clock can be stepped (NTP correcting a clock that ran ahead, a date
 * set by hand). An early sample asked for after the wall clock stepped back must still come early, and never put off
 * the regular one.
 */
describe('IntervalCollector.tickSoon across a wall-clock step', () => {
  it('the wall clock stepped back an hour: the sample asked for comes at the delay, not an hour later', async () => {
    vi.useFakeTimers({ now: 1_772_500_000_000 });
    let ticks = 0;
    const c = createIntervalCollector({
      name: 'nettop',
      intervalMs: 5000,
      health: new ComponentHealth('nettop', () => 0),
      log: silentLogger(),
      tick: async () => {
        ticks++;
      },
    });
    c.start();
    await vi.advanceTimersByTimeAsync(2000);
    expect(ticks).toBe(1);
    vi.setSystemTime(Date.now() - 3_600_000);
    expect(c.tickSoon(1000)).toBe(true);
    await vi.advanceTimersByTimeAsync(1100);
    expect(ticks).toBe(2);
    // and the regular interval after it
    await vi.advanceTimersByTimeAsync(5000);
    expect(ticks).toBe(3);
    await c.stop();
  });
});
