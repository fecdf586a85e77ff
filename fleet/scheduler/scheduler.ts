/**
 * Runs the jobs of jobs.ts on their cron schedules. The only module that imports node-cron.
 *
 * Each run goes through, in order:
 *  1. an in-process overlap guard: a tick that arrives while the same job is still running is skipped
 *     (and counted), never queued, so a slow finalize cannot pile up behind itself;
 *  2. the store's job lock (`withJobLock`): only one process on the store runs a job at a time (PostgreSQL:
 *     a session advisory lock; SQLite: a lease row that fences the job's write transactions);
 *  3. the job itself, timed from when it holds the lock (the wait is logged as lock_wait_ms); the duration is logged
 *     and exported to metrics. A failing job is logged
 *     and counted and never stops the scheduler or the other jobs.
 */
import { EventEmitter } from 'node:events';
import { createTask, validate, type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { coerceError, InputError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import type { FleetMetrics } from '../metrics.js';

export interface JobDefinition<Deps> {
  name: string;
  /** node-cron expression; six fields (with seconds) are allowed. */
  cron: string;
  description: string;
  /** `now` is the tick's wall time; jobs that reason on event time read it from the store. */
  run(deps: Deps, now: Date): Promise<Record<string, unknown> | void>;
}

/** A cross-instance mutual exclusion; resolves `{ acquired: false }` when another holder has it. */
export type JobLock = <T>(name: string, fn: () => Promise<T>) => Promise<{ acquired: true; value: T } | { acquired: false }>;

export type JobOutcome =
  | { job: string; status: 'ok'; durationMs: number; result: Record<string, unknown> | void }
  | { job: string; status: 'error'; durationMs: number; error: Error }
  | { job: string; status: 'skipped_overlap' }
  | { job: string; status: 'skipped_locked' };

/** Why a job runs: its tick, a tick that came late (see start), or a call to runNow. */
export type RunReason = 'scheduled' | 'late' | 'manual';

export interface SchedulerEvents {
  'job:started': [{ job: string; reason: RunReason }];
  'job:finished': [JobOutcome];
}

export interface SchedulerOptions<Deps> {
  jobs: readonly JobDefinition<Deps>[];
  deps: Deps;
  log: Logger;
  lock: JobLock;
  metrics?: FleetMetrics;
  clock?: Clock;
  timezone?: string;
}

/** What a valid expression looks like: the Scheduler's hint, and doctor's fix. */
export const CRON_HINT = 'use five fields (minute hour day month weekday) or six with seconds first';

/** The jobs whose cron expression node-cron refuses, as config issues (the Scheduler refuses them; doctor reports them). */
export function invalidCronIssues(jobs: readonly { name: string; cron: string }[]): { path: string; message: string }[] {
  return jobs.filter((j) => !validate(j.cron)).map((j) => ({ path: `fleet.scheduler.${j.name}.cron`, message: `"${j.cron}" is not a cron expression` }));
}

export class Scheduler<Deps> extends EventEmitter<SchedulerEvents> {
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Map<string, Promise<JobOutcome>>();
  /** Wall-clock span (ms) of each job's latest run: a late slot that fell inside it needs no run of its own. */
  private readonly lastRuns = new Map<string, { started: number; finished: number }>();
  private readonly byName = new Map<string, JobDefinition<Deps>>();
  private stopped = false;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly opts: SchedulerOptions<Deps>) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log.child({ component: 'scheduler' });
    const bad = invalidCronIssues(opts.jobs);
    if (bad.length) throw new InputError('invalid scheduler cron expression', bad, CRON_HINT, 'CONFIG_INVALID');
    for (const j of opts.jobs) {
      if (this.byName.has(j.name)) throw new Error(`job ${j.name} defined twice`);
      this.byName.set(j.name, j);
    }
  }

  get jobNames(): string[] {
    return [...this.byName.keys()];
  }

  start(): void {
    if (this.tasks.length || this.stopped) return;
    const cronLogger = this.cronLogger();
    for (const job of this.opts.jobs) {
      const task = createTask(
        job.cron,
        () => {
          // our own guard, lock and error handling live in runJob; node-cron only supplies ticks
          void this.runJob(job, 'scheduled');
        },
        { name: `outflow:${job.name}`, timezone: this.opts.timezone, logger: cronLogger },
      );
      // node-cron drops a tick that fires more than a second late (synchronous SQLite work at the slot's second, a
      // clock step): a lost rollup is an hour, a lost retention a day. A late tick runs the job now; several late
      // slots at once run it once.
      task.on('execution:missed', (ctx: { date: Date }) => {
        // a run in progress (or one a late slot just started) stands for it, and so does a run the slot fell in (the
        // job's own synchronous run held the event loop past its next slot: the next tick runs it, not this one)
        const ran = this.lastRuns.get(job.name);
        const slot = ctx.date.getTime();
        if (this.stopped || this.running.has(job.name) || (ran !== undefined && slot >= ran.started - 1000 && slot <= ran.finished)) return;
        this.log.warn({ job: job.name }, 'job tick came late; running it now');
        void this.runJob(job, 'late');
      });
      void task.start();
      this.tasks.push(task);
      this.log.info({ job: job.name, cron: job.cron }, 'job scheduled');
    }
  }

  /** Run a job now through the same guard and lock as a scheduled tick (CLI, tests, shutdown). */
  runNow(name: string): Promise<JobOutcome> {
    const job = this.byName.get(name);
    if (!job) return Promise.reject(new Error(`unknown job ${name}; known: ${this.jobNames.join(', ')}`));
    return this.runJob(job, 'manual');
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  /** Stop firing ticks and wait for the runs in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.tasks.splice(0)) await t.destroy();
    await Promise.allSettled([...this.running.values()]);
  }

  private runJob(job: JobDefinition<Deps>, reason: RunReason): Promise<JobOutcome> {
    if (this.running.has(job.name)) {
      const outcome: JobOutcome = { job: job.name, status: 'skipped_overlap' };
      this.opts.metrics?.jobRuns.inc({ job: job.name, outcome: outcome.status });
      this.log.warn({ job: job.name, reason }, 'job still running from the previous tick; skipped');
      this.emit('job:finished', outcome);
      return Promise.resolve(outcome);
    }
    const started = Date.now();
    const p = this.execute(job, reason).finally(() => {
      this.running.delete(job.name);
      this.lastRuns.set(job.name, { started, finished: Date.now() });
    });
    this.running.set(job.name, p);
    return p;
  }

  private async execute(job: JobDefinition<Deps>, reason: RunReason): Promise<JobOutcome> {
    this.emit('job:started', { job: job.name, reason });
    const started = performance.now();
    // The job's own time starts once the store's lock is held: waiting for it (a PostgreSQL job lock waits up to
    // job_fence_wait_ms for the previous holder) is logged apart, so a slow lock does not read as a slow job.
    // (releasing it, which on SQLite waits for the write lock as taking it does, is not the job's time either)
    let ranFrom: number | null = null;
    let ranUntil: number | null = null;
    const timing = () => {
      const now = performance.now();
      const from = ranFrom ?? now;
      return { durationMs: (ranUntil ?? now) - from, lockWaitMs: from - started };
    };
    let outcome: JobOutcome;
    try {
      const locked = await this.opts.lock(job.name, async () => {
        ranFrom = performance.now();
        try {
          return await job.run(this.opts.deps, this.clock.now());
        } finally {
          ranUntil = performance.now();
        }
      });
      const { durationMs, lockWaitMs } = timing();
      if (!locked.acquired) {
        outcome = { job: job.name, status: 'skipped_locked' };
        this.log.debug({ job: job.name, lock_wait_ms: round(lockWaitMs) }, 'job lock held by another instance; skipped');
      } else {
        outcome = { job: job.name, status: 'ok', durationMs, result: locked.value };
        this.log.info({ job: job.name, reason, duration_ms: round(durationMs), lock_wait_ms: round(lockWaitMs), ...(locked.value ?? {}) }, 'job finished');
      }
    } catch (err) {
      // failed before it ran (the lock itself): no duration of a job run, the time went to the lock
      const { durationMs, lockWaitMs } = timing();
      outcome = { job: job.name, status: 'error', durationMs, error: coerceError(err) };
      this.log.error({ job: job.name, reason, duration_ms: round(durationMs), lock_wait_ms: round(lockWaitMs), err: outcome.error }, 'job failed');
    }
    this.opts.metrics?.jobRuns.inc({ job: job.name, outcome: outcome.status });
    // only a run of the job is a job duration: a lock that failed before the job started must not hide the last one
    if ((outcome.status === 'ok' || outcome.status === 'error') && ranFrom !== null) {
      this.opts.metrics?.jobDuration.observe({ job: job.name }, outcome.durationMs / 1000);
      this.opts.metrics?.jobLastDuration.set({ job: job.name }, outcome.durationMs / 1000);
    }
    this.emit('job:finished', outcome);
    return outcome;
  }

  /** node-cron logs through console (stdout) by default; route it to our logger instead. */
  private cronLogger(): CronLogger {
    const log = this.log.child({ source: 'node-cron' });
    return {
      info: (m) => log.debug(m),
      warn: (m) => log.warn(m),
      error: (m, err) => log.error({ err: m instanceof Error ? m : err }, m instanceof Error ? m.message : m),
      debug: (m) => log.debug(m instanceof Error ? m.message : m),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** For stores without coordination needs (tests, a single SQLite process). */
export const processLocalLock: JobLock = async (_name, fn) => ({ acquired: true, value: await fn() });
