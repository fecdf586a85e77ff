/**
 * One finalize run keeps every detection it created or changed in memory until it ends (finalize.ts `created` /
 * `updated`, then FinalizeResult), and reads on until nothing is due: a backlog (a store outage, a NATS consumer
 * created again replaying its stream, a host sending made-up destinations) would make one scheduled run hold all of
 * it, however small its batches. The scheduler's run stops after FINALIZE_JOB_MAX_BATCHES batches and the next run, a
 * minute later, goes on; the CLI's run, whose result it prints, judges all that is due.
 */
import { expect, it, vi } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fixedClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import * as finalizeModule from '../../fleet/rules/finalize.js';
import { FINALIZE_JOB_MAX_BATCHES, FLEET_JOBS } from '../../fleet/scheduler/jobs.js';
import { SinkSet } from '../../fleet/sinks/index.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, MiB, T0, candidateLine, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

const seen: finalizeModule.FinalizeOptions[] = [];
vi.mock('../../fleet/rules/finalize.js', async (importOriginal) => {
  const real = await importOriginal<typeof finalizeModule>();
  return { ...real, finalizePending: (store: Parameters<typeof real.finalizePending>[0], opts: finalizeModule.FinalizeOptions) => (seen.push(opts), real.finalizePending(store, opts)) };
});

const analytics = defaultAnalyticsConfig();
const at = T0 + 10 * DAY;
const clock = fixedClock(at + 2 * HOUR);
/** Of the 1 500 candidates below, those older than finalize_delay behind the newest line. */
const DUE = 1500 - analytics.finalize_delay - 1;

/** One host, n uploads to n made-up destinations: n rare destinations, n suppression keys, n detections. */
async function backlog(n: number) {
  const store = await memoryStore();
  const hosts = hostsOf(12);
  const ingest = createIngestService({ store, analytics, quarantineFile: null, clock });
  await ingest.ingestLines([...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)], { kind: 'test', id: 'status' });
  const lines = Array.from({ length: n }, (_, i) =>
    candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: `u.evil-${i}.com`, bytes_out: 30 * MiB, first_seen: at + i - 200 }, at + i, 7 + i),
  );
  await ingest.ingestLines(lines, { kind: 'test', id: 'backlog' });
  return store;
}

it('a run with maxBatches holds a bounded number of detections, and the next runs go on until the backlog is judged', async () => {
  const store = await backlog(1500);
  const batchSize = 50;
  const r = await finalizeModule.finalizePending(store, { analytics, clock, batchSize, maxBatches: 20 });
  expect(r.examined).toBe(20 * batchSize);
  expect(r.created.length + r.updated.length).toBeLessThanOrEqual(20 * batchSize);
  const next = await finalizeModule.finalizePending(store, { analytics, clock, batchSize, maxBatches: 20 });
  // the last lines are younger than finalize_delay: they stay pending, as in one unbounded run (below)
  expect(next.examined).toBe(DUE - 20 * batchSize);
  expect((await finalizeModule.finalizePending(store, { analytics, clock, batchSize, maxBatches: 20 })).examined).toBe(0);
  await store.close();
}, 120_000);

it('without maxBatches (the CLI) one run judges all that is due', async () => {
  const store = await backlog(1500);
  const r = await finalizeModule.finalizePending(store, { analytics, clock, batchSize: 50 });
  expect(r.examined).toBe(DUE);
  await store.close();
}, 120_000);

it('the scheduled finalize job runs with FINALIZE_JOB_MAX_BATCHES', async () => {
  const store = await memoryStore();
  const finalize = FLEET_JOBS.find((j) => j.name === 'finalize')!;
  seen.length = 0;
  await finalize.run({ store, analytics, retention: { detections_days: 90, quarantine_days: 14, dedupe_hours: 48 }, sinks: new SinkSet([], silentLogger()), log: silentLogger(), clock }, new Date());
  expect(seen.map((o) => o.maxBatches)).toEqual([FINALIZE_JOB_MAX_BATCHES]);
  expect(Number.isFinite(FINALIZE_JOB_MAX_BATCHES)).toBe(true);
  await store.close();
});
