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
import type { Detection, Store } from '../store/store.js';
import type { JobDefinition } from './scheduler.js';

export interface JobDeps {
  store: Store;
  analytics: AnalyticsConfig;
  retention: { detections_days: number; quarantine_days: number; dedupe_hours: number };
  sinks: SinkSet;
  log: Logger;
  clock: Clock;
  metrics?: FleetMetrics;
}

export type JobName = 'finalize' | 'rollup' | 'retention';

/** Hand new and changed detections to the sinks (after they are committed) and count them. */
export async function emitDetections(deps: Pick<JobDeps, 'sinks' | 'metrics'>, created: readonly Detection[], updated: readonly Detection[]): Promise<number> {
  for (const d of created) deps.metrics?.detectionsEmitted.inc({ analytic: d.analytic, kind: 'new' });
  for (const d of updated) deps.metrics?.detectionsEmitted.inc({ analytic: d.analytic, kind: 'update' });
  const failures = await deps.sinks.write([...created, ...updated]);
  return failures.length;
}

export const FLEET_JOBS: readonly (Omit<JobDefinition<JobDeps>, 'cron'> & { name: JobName })[] = [
  {
    name: 'finalize',
    description: 'judge candidates older than finalize_delay (event time) and emit detections',
    async run(deps) {
      const r = await finalizePending(deps.store, { analytics: deps.analytics, log: deps.log });
      const sinkFailures = await emitDetections(deps, r.created, r.updated);
      return { cutoff: r.cutoff, examined: r.examined, fired: r.fired, warming: r.warming, created: r.created.length, updated: r.updated.length, sink_failures: sinkFailures };
    },
  },
  {
    name: 'rollup',
    description: 'compact prevalence keys past the common threshold; slide the 30-day window; expire dedupe keys and idle hosts',
    async run(deps) {
      const r = await rollup(deps.store, { analytics: deps.analytics, dedupeHours: deps.retention.dedupe_hours });
      return { newest: r.newest, active_hosts: r.activeHosts, common_threshold: r.commonThreshold, compacted: r.compacted, expired: r.expired, dedupe_keys_expired: r.dedupeKeysExpired, hosts_expired: r.hostsExpired };
    },
  },
  {
    name: 'retention',
    description: 'delete old detections, finalized candidates and quarantined lines',
    async run(deps) {
      const r = await retention(deps.store, {
        analytics: deps.analytics,
        detectionsDays: deps.retention.detections_days,
        quarantineDays: deps.retention.quarantine_days,
        clock: deps.clock,
      });
      return { detections_deleted: r.detections, candidates_deleted: r.candidates, quarantine_deleted: r.quarantine };
    },
  },
];

/** The enabled jobs with their configured cron expressions. */
export function scheduledJobs(config: SchedulerConfig): JobDefinition<JobDeps>[] {
  return FLEET_JOBS.filter((j) => config[j.name].enabled).map((j) => ({ ...j, cron: config[j.name].cron }));
}
