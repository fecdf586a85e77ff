import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { ComponentHealth } from './health.js';
import { createIntervalCollector } from './interval-collector.js';

function collector(tick: (n: number) => void) {
  const health = new ComponentHealth('probe', () => 0);
  let n = 0;
  const c = createIntervalCollector({
    name: 'probe',
    intervalMs: 10,
    maxBackoffMs: 20,
    health,
    log: silentLogger(),
    tick: async () => tick(++n),
  });
  const ticks = () => n;
  return { c, health, ticks };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

describe('interval collector health', () => {
  it('a successful tick clears an earlier failure', async () => {
    const { c, health, ticks } = collector((n) => {
      if (n === 1) throw new Error('first sample failed');
    });
    c.start();
    await until(() => ticks() >= 3);
    await c.stop();
    expect([health.state, health.detail]).toEqual(['running', 'ok']);
  });

  it('a tick that reports its own state keeps it, also when it says the same thing again', async () => {
    const { c, health, ticks } = collector(() => {
      health.degraded('not root: only this user\'s sockets are attributed');
    });
    c.start();
    await until(() => ticks() >= 3);
    await c.stop();
    expect([health.state, health.detail]).toEqual(['degraded', 'not root: only this user\'s sockets are attributed']);
  });
});
