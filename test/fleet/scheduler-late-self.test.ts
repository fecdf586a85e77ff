/** Late ticks against the job's own run: a slot that fell inside it is not run again right after it. */
import { expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createFleetMetrics } from '../../fleet/metrics.js';
import { Scheduler, processLocalLock, type JobDefinition } from '../../fleet/scheduler/scheduler.js';
import { MemoryStream } from './serve-fixtures.js';

function spin(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* synchronous store work */ }
}

it('slots that fell inside the job\'s own (synchronous) run are skipped as overlapping, not run again right after it', async () => {
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 50));
  const starts: { reason: string; at: number }[] = [];
  const outcomes: string[] = [];
  let spun = false;
  const jobs: JobDefinition<object>[] = [
    {
      name: 'finalize',
      cron: '* * * * * *',
      description: 'every second; its first run does 2.5 s of synchronous store work',
      run: async () => {
        if (!spun) { spun = true; spin(2500); }
      },
    },
  ];
  const metrics = createFleetMetrics();
  const s = new Scheduler({ jobs, deps: {}, lock: processLocalLock, metrics, log: createLogger({ destination: new MemoryStream(), level: 'debug' }) });
  s.on('job:started', (e) => starts.push({ reason: e.reason, at: Date.now() }));
  s.on('job:finished', (o) => outcomes.push(o.status));
  s.start();
  try {
    await new Promise((r) => setTimeout(r, 4500));
  } finally {
    await s.stop();
  }
  expect(spun).toBe(true);
  // the ticks that fell inside finalize's own run are what the overlap guard skips; no 'late' re-run of them
  expect({ late: starts.filter((x) => x.reason === 'late').length, skipped_overlap: outcomes.filter((o) => o === 'skipped_overlap').length }).toEqual({ late: 0, skipped_overlap: expect.any(Number) });
}, 20_000);
