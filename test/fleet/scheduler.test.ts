import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { SchedulerConfigSchema } from '../../src/config/fleet-serve.js';
import { createFleetMetrics } from '../../fleet/metrics.js';
import { openStore } from '../../fleet/store/open.js';
import { FLEET_JOBS, scheduledJobs } from '../../fleet/scheduler/jobs.js';
import { Scheduler, processLocalLock, type JobDefinition, type JobLock, type JobOutcome } from '../../fleet/scheduler/scheduler.js';
import { MemoryStream, waitFor } from './serve-fixtures.js';

type Deps = { calls: string[] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const schedulers: Scheduler<Deps>[] = [];
afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop();
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function make(jobs: JobDefinition<Deps>[], lock: JobLock = processLocalLock) {
  const logs = new MemoryStream();
  const metrics = createFleetMetrics();
  const deps: Deps = { calls: [] };
  const scheduler = new Scheduler({ jobs, deps, lock, metrics, log: createLogger({ destination: logs, level: 'debug' }) });
  const outcomes: JobOutcome[] = [];
  scheduler.on('job:finished', (o) => outcomes.push(o));
  schedulers.push(scheduler);
  return { scheduler, deps, logs, metrics, outcomes };
}

const logLines = (logs: MemoryStream) => logs.lines() as { msg: string; job?: string; duration_ms?: number; err?: { message: string }; level: number }[];

describe('scheduler', () => {
  it('fires jobs on their cron schedule (seconds field) and logs and exports each duration', async () => {
    const { scheduler, deps, logs, metrics } = make([
      { name: 'tick', cron: '* * * * * *', description: 'every second', run: async (d) => void d.calls.push('tick') },
    ]);
    scheduler.start();
    await waitFor(() => deps.calls.length >= 2, 'two ticks', 5000);
    const finished = logLines(logs).filter((l) => l.msg === 'job finished' && l.job === 'tick');
    expect(finished.length).toBeGreaterThanOrEqual(2);
    expect(typeof finished[0]!.duration_ms).toBe('number');
    expect(metrics.jobRuns.get({ job: 'tick', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(metrics.jobDuration.count({ job: 'tick' })).toBeGreaterThanOrEqual(2);
    expect(metrics.registry.render()).toMatch(/^outflow_job_duration_seconds_count\{job="tick"\} [2-9]/m);
    expect(metrics.jobLastDuration.get({ job: 'tick' })).toBeGreaterThanOrEqual(0);
  });

  it('skips a tick while the same job is still running (overlap guard), never queues it', async () => {
    const gate = deferred();
    let runs = 0;
    const { scheduler, metrics, logs } = make([
      {
        name: 'slow',
        cron: '* * * * * *',
        description: 'blocks until released',
        run: async () => {
          runs += 1;
          await gate.promise;
        },
      },
    ]);
    const first = scheduler.runNow('slow');
    expect(scheduler.isRunning('slow')).toBe(true);
    const second = await scheduler.runNow('slow');
    expect(second.status).toBe('skipped_overlap');
    // cron ticks during the run are skipped too
    scheduler.start();
    await waitFor(() => metrics.jobRuns.get({ job: 'slow', outcome: 'skipped_overlap' }) >= 2, 'a skipped cron tick', 5000);
    expect(runs).toBe(1);
    gate.resolve();
    expect((await first).status).toBe('ok');
    expect(logLines(logs).some((l) => l.msg === 'job still running from the previous tick; skipped' && l.job === 'slow')).toBe(true);
  });

  it('logs and counts a failing job and keeps running it and the others', async () => {
    const { scheduler, deps, logs, metrics } = make([
      {
        name: 'boom',
        cron: '* * * * * *',
        description: 'always fails',
        run: async () => {
          throw new Error('database is locked');
        },
      },
      { name: 'fine', cron: '* * * * * *', description: 'works', run: async (d) => void d.calls.push('fine') },
    ]);
    scheduler.start();
    await waitFor(() => metrics.jobRuns.get({ job: 'boom', outcome: 'error' }) >= 2 && deps.calls.length >= 2, 'two failures and two good runs', 6000);
    const failures = logLines(logs).filter((l) => l.msg === 'job failed');
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures[0]).toMatchObject({ job: 'boom', err: { message: 'database is locked' }, level: 50 });
    expect(metrics.jobDuration.count({ job: 'boom' })).toBeGreaterThanOrEqual(2);
  });

  it('does not run a job whose lock another instance holds', async () => {
    const heldElsewhere: JobLock = async () => ({ acquired: false });
    const { scheduler, deps, metrics } = make([{ name: 'locked', cron: '0 0 1 1 *', description: 'x', run: async (d) => void d.calls.push('ran') }], heldElsewhere);
    expect((await scheduler.runNow('locked')).status).toBe('skipped_locked');
    expect(deps.calls).toEqual([]);
    expect(metrics.jobRuns.get({ job: 'locked', outcome: 'skipped_locked' })).toBe(1);
  });

  it('times the job itself: waiting for the store\'s lock is logged apart, not counted in its duration', async () => {
    // a PostgreSQL job lock waits up to job_fence_wait_ms for the previous holder's transaction
    const slowLock: JobLock = async (_name, fn) => {
      await new Promise((r) => setTimeout(r, 300));
      return { acquired: true, value: await fn() };
    };
    const { scheduler, logs, metrics } = make([{ name: 'quick', cron: '0 0 1 1 *', description: 'x', run: async (d) => void d.calls.push('ran') }], slowLock);
    const outcome = await scheduler.runNow('quick');
    expect(outcome.status).toBe('ok');
    expect((outcome as { durationMs: number }).durationMs).toBeLessThan(250);
    expect(metrics.jobLastDuration.get({ job: 'quick' })).toBeLessThan(0.25);
    const done = (logLines(logs) as { msg: string; job?: string; duration_ms?: number; lock_wait_ms?: number }[]).find((l) => l.msg === 'job finished' && l.job === 'quick')!;
    expect(done.duration_ms).toBeLessThan(250);
    expect(done.lock_wait_ms).toBeGreaterThanOrEqual(290);
  });

  it('the time spent releasing the store lock (SQLite lease delete waiting on busy_timeout, PG unlock) is not the job\'s duration', async () => {
    const slowRelease: JobLock = async (_name, fn) => {
      const value = await fn();
      await sleep(300); // the lease release waits for the write lock
      return { acquired: true, value };
    };
    const { scheduler, metrics } = make([{ name: 'quick', cron: '0 0 1 1 *', description: 'x', run: async (d) => void d.calls.push('ran') }], slowRelease);
    const outcome = await scheduler.runNow('quick');
    expect(outcome.status).toBe('ok');
    expect((outcome as { durationMs: number }).durationMs).toBeLessThan(250);
    expect(metrics.jobLastDuration.get({ job: 'quick' })).toBeLessThan(0.25);
  });

  it('a run whose lock failed before the job started is not observed as a 0 s job run (histogram, last-duration gauge)', async () => {
    let fail = false;
    const lock: JobLock = async (_name, fn) => {
      if (fail) {
        await sleep(200);
        throw new Error('store unreachable');
      }
      return { acquired: true, value: await fn() };
    };
    const { scheduler, metrics } = make([{ name: 'j', cron: '0 0 1 1 *', description: 'x', run: async () => void (await sleep(150)) }], lock);
    expect((await scheduler.runNow('j')).status).toBe('ok');
    const last = metrics.jobLastDuration.get({ job: 'j' });
    expect(last).toBeGreaterThan(0.1);
    fail = true;
    expect((await scheduler.runNow('j')).status).toBe('error');
    // the job never ran: its last run time stays that of the run that did
    expect(metrics.jobLastDuration.get({ job: 'j' })).toBe(last);
    expect(metrics.jobDuration.count({ job: 'j' })).toBe(1);
  });

  it('stop() stops the ticks and waits for the run in progress', async () => {
    const gate = deferred();
    let finished = false;
    const { scheduler, deps } = make([
      {
        name: 'work',
        cron: '* * * * * *',
        description: 'x',
        run: async (d) => {
          d.calls.push('start');
          await gate.promise;
          finished = true;
        },
      },
    ]);
    scheduler.start();
    await waitFor(() => deps.calls.length === 1, 'first tick', 5000);
    const stopping = scheduler.stop();
    setTimeout(() => gate.resolve(), 50);
    await stopping;
    expect(finished).toBe(true);
    const before = deps.calls.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(deps.calls.length).toBe(before);
  });

  it('rejects an invalid cron expression naming the config key', () => {
    expect(() => make([{ name: 'finalize', cron: 'every minute', description: 'x', run: async () => undefined }])).toThrow(/fleet\.scheduler\.finalize\.cron/);
  });
});

describe('scheduler with the store job lock', () => {
  it('two schedulers sharing one store never run the same job at once', async () => {
    const store = await openStore(':memory:');
    try {
      const gate = deferred();
      let runs = 0;
      const job: JobDefinition<Deps> = {
        name: 'finalize',
        cron: '0 0 1 1 *',
        description: 'x',
        run: async () => {
          runs += 1;
          await gate.promise;
        },
      };
      const lock: JobLock = (name, fn) => store.withJobLock(name, fn);
      const a = make([job], lock);
      const b = make([job], lock);
      const first = a.scheduler.runNow('finalize');
      expect((await b.scheduler.runNow('finalize')).status).toBe('skipped_locked');
      gate.resolve();
      expect((await first).status).toBe('ok');
      expect(runs).toBe(1);
      // released: the other instance gets it next time
      expect((await b.scheduler.runNow('finalize')).status).toBe('ok');
    } finally {
      await store.close();
    }
  });
});

describe('fleet jobs as data', () => {
  it('are finalize (every minute), rollup (hourly) and retention (daily) by default', () => {
    const jobs = scheduledJobs(SchedulerConfigSchema.parse({}));
    expect(jobs.map((j) => [j.name, j.cron])).toEqual([
      ['finalize', '* * * * *'],
      ['rollup', '7 * * * *'],
      ['retention', '17 3 * * *'],
    ]);
    expect(FLEET_JOBS.every((j) => j.description.length > 10)).toBe(true);
  });

  it('reject an unknown time zone in config', () => {
    const r = SchedulerConfigSchema.safeParse({ timezone: 'Mars/Olympus' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['timezone']);
    expect(SchedulerConfigSchema.parse({ timezone: 'Europe/Paris' }).timezone).toBe('Europe/Paris');
  });

  it('honour per-job enabled and cron overrides', () => {
    const jobs = scheduledJobs(SchedulerConfigSchema.parse({ finalize: { cron: '*/10 * * * * *' }, retention: { enabled: false } }));
    expect(jobs.map((j) => [j.name, j.cron])).toEqual([
      ['finalize', '*/10 * * * * *'],
      ['rollup', '7 * * * *'],
    ]);
  });
});
