/**
 * The aggregator's periodic jobs, as data (SPEC §5): what runs, when by default, and what it calls.
 * scheduler.ts turns them into node-cron tasks with the overlap guard and the store's job lock.
 */
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import type { SchedulerConfig } from '../../src/config/fleet-serve.js';
import type { Clock } from '../../src/clock.js';
import type { Logger } from '../../src/log.js';
import type { FleetMetrics } from '../metrics.js';
import { finalizePending } from '../rules/finalize.js';
import { retention, rollup } from '../rules/maintenance.js';
import type { SinkSet } from '../sinks/index.js';
import { deliverDetections, prepareSinkCursors } from '../sinks/outbox.js';
import type { Detection, Store } from '../store/store.js';
import type { JobDefinition } from './scheduler.js';

export interface JobDeps {
  store: Store;
  analytics: AnalyticsConfig;
  retention: { detections_days: number; quarantine_days: number; dedupe_hours: number };
  /** fleet.scheduler.rollup.slice_rows (default ROLLUP_SLICE_ROWS). */
  rollupSliceRows?: number;
  sinks: SinkSet;
  log: Logger;
  clock: Clock;
  metrics?: FleetMetrics;
}

export type JobName = 'finalize' | 'rollup' | 'retention';

/**
 * Batches (of finalize's 5 000 candidates) one scheduled finalize run judges at most: a run holds every detection it
 * makes or changes until it ends, so a backlog (a store outage, a NATS stream replayed) is taken a minute at a time.
 */
export const FINALIZE_JOB_MAX_BATCHES = 20;

/** Count new and changed detections by analytic (what the sinks are then handed, from the store). */
function countDetections(metrics: FleetMetrics | undefined, created: readonly Detection[], updated: readonly Detection[]): void {
  for (const d of created) metrics?.detectionsEmitted.inc({ analytic: d.analytic, kind: 'new' });
  for (const d of updated) metrics?.detectionsEmitted.inc({ analytic: d.analytic, kind: 'update' });
}

export const FLEET_JOBS: readonly (Omit<JobDefinition<JobDeps>, 'cron'> & { name: JobName })[] = [
  {
    name: 'finalize',
    description: 'judge candidates older than finalize_delay (event time), then deliver new and changed detections to the sinks',
    async run(deps) {
      // Cursors first, so a sink configured just now still receives what this run finalizes.
      await prepareSinkCursors(deps.store, deps.sinks, deps.log);
      const r = await finalizePending(deps.store, { analytics: deps.analytics, log: deps.log, clock: deps.clock, maxBatches: FINALIZE_JOB_MAX_BATCHES });
      countDetections(deps.metrics, r.created, r.updated);
      const d = await deliverDetections(deps.store, deps.sinks, { log: deps.log, metrics: deps.metrics, analytics: deps.analytics, clock: deps.clock });
      return {
        cutoff: r.cutoff,
        examined: r.examined,
        fired: r.fired,
        warming: r.warming,
        late: r.late,
        created: r.created.length,
        updated: r.updated.length,
        delivered: Object.values(d.delivered).reduce((a, b) => a + b, 0),
        sink_failures: d.failures.length,
        ...(d.behind.length ? { sinks_behind: d.behind } : {}),
      };
    },
  },
  {
    name: 'rollup',
    description: 'compact prevalence keys past the common threshold; slide the 30-day window; expire dedupe keys and idle hosts',
    async run(deps) {
      const r = await rollup(deps.store, { analytics: deps.analytics, dedupeHours: deps.retention.dedupe_hours, clock: deps.clock, sliceRows: deps.rollupSliceRows });
      return { newest: r.newest, active_hosts: r.activeHosts, common_threshold: r.commonThreshold, compacted: r.compacted, expired: r.expired, dedupe_keys_expired: r.dedupeKeysExpired, hosts_expired: r.hostsExpired };
    },
  },
  {
    name: 'retention',
    description: 'delete old detections, finalized candidates, quarantined lines and days with data before the prevalence data kept',
    async run(deps) {
      const r = await retention(deps.store, {
        analytics: deps.analytics,
        detectionsDays: deps.retention.detections_days,
        quarantineDays: deps.retention.quarantine_days,
        clock: deps.clock,
      });
      return { detections_deleted: r.detections, candidates_deleted: r.candidates, quarantine_deleted: r.quarantine, data_days_deleted: r.dataDays };
    },
  },
];

/** The enabled jobs with their configured cron expressions. */
export function scheduledJobs(config: SchedulerConfig): JobDefinition<JobDeps>[] {
  return FLEET_JOBS.filter((j) => config[j.name].enabled).map((j) => ({ ...j, cron: config[j.name].cron }));
}
