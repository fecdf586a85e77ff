/**
 * The scheduler's other two jobs (SPEC §5), as plain functions of the store:
 * - rollup (hourly): bound prevalence state (compact keys that reached the common threshold into day
 *   sketches) and slide the 30-day window (expire older sightings, dedupe keys, idle hosts); it runs as an
 *   exclusive transaction (TransactionOptions.exclusive), so it never deadlocks with an ingest batch;
 * - retention (daily): drop old detections, finalized candidates and quarantined lines.
 * Windows use event time (the store's newest event), retention of quarantine uses wall-clock time.
 */
import { commonThreshold, prevalenceWindow } from '../../src/analytics/index.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { eventPresent, type CompactionResult, type Store } from '../store/store.js';

const DAY = 86_400;
/** How long a due candidate may wait for the next finalize run while the hourly rollup runs (s). */
const DUE_CANDIDATE_WAIT = 3600;
/** Active hosts are counted up to the start of a candidate's hour: up to this much before its line (s). */
const ACTIVE_HOURS_BACK = 3600;

export interface RollupOptions {
  analytics: AnalyticsConfig;
  /** How long result-row digests are kept to catch re-deliveries (hours, default 48). */
  dedupeHours?: number;
  /** The wall clock: the window never slides past it (eventPresent). */
  clock?: Clock;
}

export interface RollupResult {
  /** Newest event time the windows were computed from (null: empty store, nothing done). */
  newest: number | null;
  activeHosts: number;
  commonThreshold: number;
  compacted: CompactionResult;
  expired: CompactionResult;
  dedupeKeysExpired: number;
  hostsExpired: number;
}

export async function rollup(store: Store, opts: RollupOptions): Promise<RollupResult> {
  const cfg = opts.analytics;
  const newest = eventPresent((await store.clock.get()).newest, (opts.clock ?? systemClock).unix());
  const none: CompactionResult = { destinations: 0, pairs: 0, apps: 0 };
  if (newest === null) return { newest, activeHosts: 0, commonThreshold: 0, compacted: none, expired: none, dedupeKeysExpired: 0, hostsExpired: 0 };
  const window = prevalenceWindow(newest, cfg);
  const { from } = window;
  return store.transaction(async (tx) => {
    const activeHosts = await tx.hosts.activeCount(window);
    const threshold = commonThreshold(activeHosts, cfg);
    // A pending candidate is judged on the window that ends when its flow started (candidateStart: up to
    // finalize_delay before its line, which is up to finalize_delay behind `newest`), and a due one may wait for the
    // next finalize run while this runs (the jobs are independent): sightings are kept that much and an hour longer,
    // compaction folds them into sketches from there, and hosts (active-host counts end at the start of a
    // candidate's hour) an hour more. Day sketches one window longer: a late candidate's window may need a span's
    // point from before it.
    const keepFrom = from - 2 * cfg.finalize_delay - DUE_CANDIDATE_WAIT;
    const expired = await tx.prevalence.expire(keepFrom, { sketchesBefore: keepFrom - cfg.prevalence_window_days * DAY });
    const compacted = await tx.prevalence.compact(threshold, window, { keptFrom: keepFrom });
    const dedupeKeysExpired = await tx.results.expire(newest - (opts.dedupeHours ?? 48) * 3600);
    const hostsExpired = await tx.hosts.expire(keepFrom - ACTIVE_HOURS_BACK);
    return { newest, activeHosts, commonThreshold: threshold, compacted, expired, dedupeKeysExpired, hostsExpired };
  }, { exclusive: true });
}

export interface RetentionOptions {
  analytics: AnalyticsConfig;
  detectionsDays: number;
  quarantineDays: number;
  clock?: Clock;
}

export interface RetentionResult {
  detections: number;
  candidates: number;
  quarantine: number;
}

export async function retention(store: Store, opts: RetentionOptions): Promise<RetentionResult> {
  const wall = (opts.clock ?? systemClock).unix();
  const newest = eventPresent((await store.clock.get()).newest, wall);
  return store.transaction(async (tx) => ({
    detections: newest === null ? 0 : await tx.detections.expire(newest - opts.detectionsDays * DAY),
    // Finalized candidates are needed only while a later version of their flow may still arrive.
    candidates: newest === null ? 0 : await tx.candidates.expire(newest - opts.analytics.prevalence_window_days * DAY),
    quarantine: await tx.quarantine.expire(wall - opts.quarantineDays * DAY),
  }));
}
