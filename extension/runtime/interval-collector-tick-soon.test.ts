import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { ComponentHealth } from './health.js';
import { createIntervalCollector } from './interval-collector.js';

/** A collector whose ticks are stamped (Date.now()) and, on request, held open until released. */
function probe(intervalMs: number, opts: { failFirst?: boolean } = {}) {
  const health = new ComponentHealth('probe', () => 0);
  const starts: number[] = [];
  let hold: Promise<void> | undefined;
  const c = createIntervalCollector({
    name: 'probe',
    intervalMs,
    maxBackoffMs: intervalMs * 4,
    health,
    log: silentLogger(),
    tick: async () => {
      starts.push(Date.now());
      await hold;
      if (opts.failFirst && starts.length === 1) throw new Error('tool missing');
    },
  });
  return {
    c,
    starts,
    holdNext() {
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('IntervalCollector.tickSoon', () => {
  it('brings a tick due in 60 s forward to the delay asked for', async () => {
    const { c, starts } = probe(60_000);
    c.start();
    await until(() => starts.length === 1);
    await sleep(20);
    const asked = Date.now();
    expect(c.tickSoon(30)).toBe(true);
    await until(() => starts.length === 2, 2000);
    // at the delay, not at once
    expect(starts[1]! - asked).toBeGreaterThanOrEqual(25);
    // the one after comes at its interval again
    await sleep(100);
    expect(starts).toHaveLength(2);
    await c.stop();
  });

  it('never starts a tick sooner than the delay after the last one began', async () => {
    const { c, starts } = probe(60_000);
    c.start();
    await until(() => starts.length === 1);
    expect(c.tickSoon(300)).toBe(true);
    await until(() => starts.length === 2, 2000);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(295);
    await c.stop();
  });

  it('does not delay a tick that is due sooner than asked', async () => {
    const { c, starts } = probe(200);
    c.start();
    await until(() => starts.length === 1);
    expect(c.tickSoon(60_000)).toBe(false);
    await sleep(20);
    expect(c.tickSoon(60_000)).toBe(false);
    await until(() => starts.length === 2, 2000);
    await c.stop();
  });

  it('asked during a tick, the next one waits for that tick to end', async () => {
    const { c, starts, holdNext } = probe(60_000);
    const release = holdNext();
    c.start();
    await until(() => starts.length === 1);
    expect(c.tickSoon(20)).toBe(true);
    await sleep(50);
    expect(starts).toHaveLength(1);
    release();
    await until(() => starts.length === 2, 2000);
    await c.stop();
  });

  it('asked during a long tick, the next one comes the delay after the request, not the delay after the tick ends', async () => {
    // curl's exec seen while a slow nettop run (and its ps refresh) is under way: the sample promised 1 s after the exec
    const { c, starts, holdNext } = probe(60_000);
    const release = holdNext();
    c.start();
    await until(() => starts.length === 1);
    expect(c.tickSoon(1000)).toBe(true);
    await sleep(1500);
    const released = Date.now();
    release();
    await until(() => starts.length === 2, 5000);
    // due 1 s after the request, 0.5 s ago: right after the tick ends (not 1 s after it)
    expect(starts[1]! - released).toBeLessThan(900);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(995);
    await c.stop();
  });

  it('is ignored while ticks fail (the back-off stands) and after stop', async () => {
    const failing = probe(60_000, { failFirst: true });
    failing.c.start();
    await until(() => failing.starts.length === 1);
    await sleep(20);
    expect(failing.c.tickSoon(10)).toBe(false);
    await sleep(100);
    expect(failing.starts).toHaveLength(1);
    await failing.c.stop();
    expect(failing.c.tickSoon(10)).toBe(false);
  });
});
