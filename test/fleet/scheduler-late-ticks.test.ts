import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createFleetMetrics } from '../../fleet/metrics.js';
import { Scheduler, processLocalLock, type JobDefinition } from '../../fleet/scheduler/scheduler.js';
import { MemoryStream } from './serve-fixtures.js';

type Deps = { calls: string[] };

function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* synchronous work, as better-sqlite3 does for a finalize run or an ingest batch */
  }
}

/**
 * Ticks node-cron calls missed (more than a second late): the event loop busy with synchronous SQLite work at the
 * slot's second, or the wall clock stepping past it. A late tick runs the job instead of losing it.
 */
describe('scheduler: a tick that comes late while the event loop is busy', () => {
  it('a retention tick that arrives while a finalize run blocks the loop for >1 s still runs, and is counted', async () => {
    // Wait until just after a second boundary, so the timing below is deterministic.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50));
    const t0 = Math.floor(Date.now() / 1000); // current second S
    const target = (t0 + 2) % 60; // retention's (daily-style) slot: second S+2
    const logs = new MemoryStream();
    const metrics = createFleetMetrics();
    const deps: Deps = { calls: [] };
    let spun = false;
    const jobs: JobDefinition<Deps>[] = [
      {
        name: 'finalize',
        cron: '* * * * * *',
        description: 'every second; its run at S+1 does 3.5 s of synchronous store work',
        run: async (d) => {
          d.calls.push('finalize');
          if (!spun && Math.floor(Date.now() / 1000) === t0 + 1) {
            spun = true;
            spin(3500);
          }
        },
      },
      { name: 'retention', cron: `${target} * * * * *`, description: 'once a minute at S+2', run: async (d) => void d.calls.push('retention') },
    ];
    const scheduler = new Scheduler({ jobs, deps, lock: processLocalLock, metrics, log: createLogger({ destination: logs, level: 'debug' }) });
    scheduler.start();
    try {
      // wait until well past the retention slot (S+2) and the end of the spin (S+4.5)
      await new Promise((r) => setTimeout(r, 4000));
      expect(spun).toBe(true);
      // retention's slot fell inside the busy period: it runs late, once, and is counted
      expect({ retention: deps.calls.filter((c) => c === 'retention').length, runs: metrics.registry.render().match(/outflow_job_runs_total\{[^}]*retention[^}]*\}.*/g) ?? [] }).toEqual({
        retention: 1,
        runs: expect.arrayContaining([expect.stringContaining('retention')]),
      });
      expect((logs.lines() as { msg: string; job?: string }[]).some((l) => l.job === 'retention' && /came late/.test(l.msg))).toBe(true);
    } finally {
      await scheduler.stop();
    }
  }, 20_000);
});

describe('scheduler: why ticks come late (context for the test above)', () => {
  it('store calls inside a job resolve in microtasks only: a timer due meanwhile waits for the whole job (context for the test above)', async () => {
    const { openStore } = await import('../../fleet/store/open.js');
    const store = await openStore(':memory:');
    try {
      let timerFired = false;
      let timerFiredDuringJob = false;
      setTimeout(() => (timerFired = true), 0);
      await store.withJobLock('finalize', async () => {
        for (let i = 0; i < 3000; i++) {
          await store.transaction((tx) => tx.checkpoints.put(`file:x${i % 50}`, { ino: 1, dev: 1, offset: i }));
          await store.checkpoints.get(`file:x${i % 50}`);
          if (timerFired) timerFiredDuringJob = true;
        }
      });
      expect(timerFiredDuringJob).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describe('scheduler: a wall-clock step', () => {
  it('the daily retention (17 3 * * *) still runs when the clock steps forward 5 s before 03:17', async () => {
    const { vi } = await import('vitest');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    try {
      vi.setSystemTime(new Date('2026-03-01T03:16:50Z'));
      const deps: Deps = { calls: [] };
      const metrics = createFleetMetrics();
      const scheduler = new Scheduler({
        jobs: [{ name: 'retention', cron: '17 3 * * *', description: 'daily', run: async (d) => void d.calls.push('retention') }],
        deps,
        lock: processLocalLock,
        metrics,
        log: createLogger({ destination: new MemoryStream(), level: 'debug' }),
        timezone: 'UTC',
      });
      scheduler.start();
      vi.setSystemTime(new Date('2026-03-01T03:16:55Z')); // NTP step / VM resume: +5 s
      await vi.advanceTimersByTimeAsync(60_000); // wall clock now 03:17:55
      const ran = deps.calls.length;
      await scheduler.stop();
      expect(ran).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
