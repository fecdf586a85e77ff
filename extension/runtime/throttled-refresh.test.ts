import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttledRefresh } from './throttled-refresh.js';

describe('throttledRefresh', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(10_000);
  });
  afterEach(() => vi.useRealTimers());

  it('runs at most once per interval, and once more when the interval is over for a refresh asked in between', () => {
    const run = vi.fn();
    const t = throttledRefresh(run, { stopped: () => false });
    t.refresh();
    t.refresh();
    t.refresh();
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(999);
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5000);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('a refresh that runs (forced) replaces the pending one, so nothing later overwrites what it reported', () => {
    const said: string[] = [];
    let state = 'streaming';
    const t = throttledRefresh(() => said.push(state), { stopped: () => false });
    t.refresh();
    t.refresh(); // pending
    state = 'exited';
    t.refresh(true);
    state = 'streaming again?';
    vi.advanceTimersByTime(2000);
    expect(said).toEqual(['streaming', 'exited']);
  });

  it('schedules nothing once stopped, and cancel drops a pending refresh', () => {
    const run = vi.fn();
    let stopped = false;
    const t = throttledRefresh(run, { stopped: () => stopped });
    t.refresh();
    t.refresh();
    t.cancel();
    vi.advanceTimersByTime(2000);
    expect(run).toHaveBeenCalledTimes(1);
    stopped = true;
    t.refresh(true);
    t.refresh();
    vi.advanceTimersByTime(2000);
    expect(run).toHaveBeenCalledTimes(2);
  });
});
