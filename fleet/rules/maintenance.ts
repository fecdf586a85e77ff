/**
 * The scheduler's other two jobs (SPEC §5), as plain functions of the store:
 * - rollup (hourly): bound prevalence state (compact keys that reached the common threshold into day
 *   sketches) and slide the 30-day window (expire older sightings, dedupe keys, idle hosts); it writes in
 *   exclusive transactions (TransactionOptions.exclusive), so it never deadlocks with an ingest batch, each of
 *   bounded size (slices), so ingest never waits long for it;
 * - retention (daily): drop old detections, finalized candidates, quarantined lines and the days with data
 *   (data_days) before the prevalence data kept.
 * Windows use event time (the store's newest event), retention of quarantine uses wall-clock time.
 */
import { baselineLookBackDays, commonThreshold, prevalenceWindow } from '../../src/analytics/index.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import { ROLLUP_SLICE_ROWS } from '../../src/config/fleet-serve.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { dataDay, eventPresent, sliceKeyRefs, type CompactionResult, type Store, type StoreRepos, type TimeWindow } from '../store/store.js';

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
  /** Most host rows one exclusive transaction folds or deletes (fleet.scheduler.rollup.slice_rows). */
  sliceRows?: number;
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

/** What a rollup at event time `newest` keeps: pure, the same for every slice of it. */
export interface RollupBounds {
  /** The prevalence window ending at `newest`: keys with `threshold` hosts in it are compacted. */
  window: TimeWindow;
  /** Sightings last seen before this go; compaction's sketch points reach back to it. */
  keepFrom: number;
  /** Day sketches of days before this one's go. */
  sketchesBefore: number;
  /** Result-row digests dated before this go. */
  dedupeBefore: number;
  /** Hosts last seen before this go. */
  hostsBefore: number;
}

export function rollupBounds(newest: number, cfg: AnalyticsConfig, dedupeHours = 48): RollupBounds {
  const window = prevalenceWindow(newest, cfg);
  // A pending candidate is judged on the window that ends when its flow started (candidateStart: up to
  // finalize_delay before its line, which is up to finalize_delay behind `newest`), and a due one may wait for the
  // next finalize run while this runs (the jobs are independent): sightings are kept that much and an hour longer,
  // compaction folds them into sketches from there, and hosts (active-host counts end at the start of a
  // candidate's hour) an hour more. Day sketches one window longer: a late candidate's window may need a span's
  // point from before it.
  const keepFrom = window.from - 2 * cfg.finalize_delay - DUE_CANDIDATE_WAIT;
  return {
    window,
    keepFrom,
    sketchesBefore: keepFrom - cfg.prevalence_window_days * DAY,
    dedupeBefore: newest - dedupeHours * 3600,
    hostsBefore: keepFrom - ACTIVE_HOURS_BACK,
  };
}

/**
 * Why the rollup is exclusive, and why it may stop between slices. Each of its writes deletes or compacts rows in an
 * order no single lock order serves together with ingest's (TransactionOptions.exclusive), so every write runs in an
 * exclusive transaction; but one transaction for all of it held every instance's ingest for as long as the first
 * rollup after a backfill took to compact tens of thousands of keys. So it first lists what there is to do (reads,
 * which take no row lock), then expires and compacts the listed keys a slice at a time (at most `sliceRows` host
 * rows each), one exclusive transaction per slice: ingest batches run between slices.
 *
 * A slice boundary is safe because the lists are only a plan: each slice judges its keys on the rows as they stand
 * when it runs (compact recounts a key's hosts and skips one compacted meanwhile; expire deletes by the same
 * conditions on the current rows, and spares a key a batch has since sighted again), and a key's whole step is one
 * slice. So at every commit each key is either done or untouched — the state a rollup over fewer keys leaves —
 * and what ingest relies on holds: a saturated key has no host rows and takes its sightings into its day sketches,
 * a key row is last seen no earlier than its host rows. A batch committed between slices is, for the keys already
 * done, a batch after the rollup, and for the others a batch before it. What the lists miss (a key a batch made
 * common, or a backlog row older than keepFrom, after the listing) waits for the next rollup, as when it arrives
 * just after one; such a backlog row of a key compacted later in this rollup goes with its host rows, with no point
 * in the sketches unless it was last seen on keepFrom's day (compaction folds spans from that day on), as expiry
 * would have dropped it. The threshold is read once, before the first slice, as the one transaction read it first.
 * keptFrom is recorded by the first slice, expiry's or compaction's, before any row goes or any span is cut at
 * keepFrom: finalization between slices may then take a late candidate's baseline from it a little early, never
 * count on rows already gone or folded.
 *
 * An error in a slice rolls that slice back; the slices before it stay, and the next rollup lists what is left
 * (compaction and expiry are idempotent). Every slice runs inside the caller's job lock (the scheduler's
 * withJobLock), and each transaction checks the job's fence (PostgreSQL) or lease (SQLite): a holder that lost the
 * job stops at its next slice, so two rollups never interleave their slices.
 */
export async function rollup(store: Store, opts: RollupOptions): Promise<RollupResult> {
  const cfg = opts.analytics;
  const newest = eventPresent((await store.clock.get()).newest, (opts.clock ?? systemClock).unix());
  const none: CompactionResult = { destinations: 0, pairs: 0, apps: 0 };
  if (newest === null) return { newest, activeHosts: 0, commonThreshold: 0, compacted: none, expired: none, dedupeKeysExpired: 0, hostsExpired: 0 };
  const { window, keepFrom, sketchesBefore, dedupeBefore, hostsBefore } = rollupBounds(newest, cfg, opts.dedupeHours);
  const sliceRows = opts.sliceRows ?? ROLLUP_SLICE_ROWS;
  const exclusive = <T>(fn: (tx: StoreRepos) => Promise<T>): Promise<T> => store.transaction(fn, { exclusive: true });

  const activeHosts = await store.hosts.activeCount(window);
  const threshold = commonThreshold(activeHosts, cfg);
  // expiry before compaction, as in one transaction: compaction then folds only the sightings expiry kept
  const expired = { ...none };
  const expiring = sliceKeyRefs(await store.prevalence.expirableKeys(keepFrom, { sketchesBefore }), sliceRows);
  for (const keys of expiring) addCounts(expired, await exclusive((tx) => tx.prevalence.expire(keepFrom, { sketchesBefore, keys })));
  // Compaction folds spans into sketches from keepFrom's day on: a window before it (a late candidate's) no longer
  // counts a compacted key's hosts there, so keptFrom must be raised before any compaction commits, as expiry
  // raises it before any row goes. The first expiry slice did; with nothing to expire, the first compaction slice
  // (or, with nothing to compact either, the last transaction) records it.
  let keptFromRecorded = expiring.length > 0;
  const recordKeptFrom = async (tx: StoreRepos): Promise<void> => {
    if (!keptFromRecorded) await tx.prevalence.expire(keepFrom, { sketchesBefore, keys: [] });
  };
  const compacted = { ...none };
  for (const keys of sliceKeyRefs(await store.prevalence.commonKeys(threshold, window), sliceRows)) {
    const r = await exclusive(async (tx) => {
      await recordKeptFrom(tx);
      return tx.prevalence.compact(threshold, window, { keptFrom: keepFrom, keys });
    });
    keptFromRecorded = true;
    addCounts(compacted, r);
  }
  // Hosts last: on SQLite their expiry frees the host refs that expiry and compaction left unused.
  return exclusive(async (tx) => {
    await recordKeptFrom(tx);
    const dedupeKeysExpired = await tx.results.expire(dedupeBefore);
    const hostsExpired = await tx.hosts.expire(hostsBefore);
    return { newest, activeHosts, commonThreshold: threshold, compacted, expired, dedupeKeysExpired, hostsExpired };
  });
}

function addCounts(into: CompactionResult, r: CompactionResult): void {
  into.destinations += r.destinations;
  into.pairs += r.pairs;
  into.apps += r.apps;
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
  /** Days dropped from the days with data (EventClockRepo.expireDays). */
  dataDays: number;
}

export async function retention(store: Store, opts: RetentionOptions): Promise<RetentionResult> {
  const wall = (opts.clock ?? systemClock).unix();
  const newest = eventPresent((await store.clock.get()).newest, wall);
  return store.transaction(async (tx) => {
    const detections = newest === null ? 0 : await tx.detections.expire(newest - opts.detectionsDays * DAY);
    // Finalized candidates are needed only while a later version of their flow may still arrive; one folded into a
    // detection also while that detection is kept (after the detections above, so those rows go now): a re-delivered
    // copy (a log read again with --from-start) is then the version already counted, where a row deleted earlier made
    // it a new flow, counted again. Not by the row's own time: a detection is kept by its newest flow.
    const candidates = newest === null ? 0 : await tx.candidates.expire(newest - opts.analytics.prevalence_window_days * DAY);
    const quarantine = await tx.quarantine.expire(wall - opts.quarantineDays * DAY);
    // The days with data date a candidate's baseline from the first of them in its window (finalize.ts). Before the
    // oldest prevalence data kept (where the rollup last expired) a window counts nothing, and a window reaching
    // back there has its baseline start at that bound anyway (windowKeptFrom): the days before the bound's can go.
    // Its day and the day before stay, so such a window's first day with data still starts before the bound and
    // windowKeptFrom decides as before. Nothing goes before the first expiry. Last in the transaction: ingest
    // records its days last too (ingest-service.ts commitBatch), so neither waits for the other holding a lock.
    const keptFrom = await tx.prevalence.keptFrom();
    // A window shorter than baseline_maturity_days looks for a gap that much further back (finalize.ts gatherFacts).
    const dataDays = keptFrom === null ? 0 : await tx.clock.expireDays(dataDay(keptFrom) - 1 - baselineLookBackDays(opts.analytics));
    return { detections, candidates, quarantine, dataDays };
  });
}
