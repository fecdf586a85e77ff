/**
 * Fleet-side prevalence definitions of SPEC §4 (pure; the aggregator supplies the counts).
 */
import type { AnalyticsConfig } from '../config/analytics.js';
import type { ChainAppFacts, FleetFacts } from './types.js';

const DAY = 86_400;

/** The prevalence window (prevalence_window_days, 30) ending at `end` (event time, unix s). */
export function prevalenceWindow(end: number, cfg: AnalyticsConfig): { from: number; to: number } {
  return { from: end - cfg.prevalence_window_days * DAY, to: end };
}

/**
 * When a candidate's host began using what it names: its flow's first_seen, but never after its line and at most
 * `finalize_delay` before it. Ingest dates the candidate's destination, pair and app sightings from here, and
 * finalization judges the candidate on the fleet as it was here (its window ends here).
 *
 * Why no further back: live finalization judges a candidate once the newest line is finalize_delay past it, so it
 * has seen every line dated up to then; a sighting dated at most finalize_delay before its own line is therefore
 * in the store, live, for every window it falls in. Dated further back, a later line could add a host to a window
 * already judged, and replaying the logs would count what live operation did not (SPEC §5: replay = live).
 */
export function candidateStart(flowFirstSeen: number, eventTime: number, cfg: Pick<AnalyticsConfig, 'finalize_delay'>): number {
  if (!(flowFirstSeen < eventTime)) return eventTime;
  const earliest = eventTime - cfg.finalize_delay;
  return flowFirstSeen >= earliest ? flowFirstSeen : earliest;
}

/**
 * Rare: seen by ≤ max(3, ⌈1% of active hosts⌉) hosts in the prevalence window; always below the common threshold
 * (where the two ceilings meet, e.g. fractions 0.095 and 0.1 at 180 hosts): counts are read capped at common, and a
 * destination at the cap is common, never rare. The config keeps rare.min_hosts below common.min_hosts, so this never
 * goes under rare.min_hosts.
 */
export function rareThreshold(activeHosts: number, cfg: AnalyticsConfig): number {
  return Math.min(Math.max(cfg.rare.min_hosts, Math.ceil(Math.max(0, activeHosts) * cfg.rare.fraction)), commonThreshold(activeHosts, cfg) - 1);
}

/** Common: seen by ≥ max(10, ⌈10% of active hosts⌉) hosts. */
export function commonThreshold(activeHosts: number, cfg: AnalyticsConfig): number {
  return Math.max(cfg.common.min_hosts, Math.ceil(Math.max(0, activeHosts) * cfg.common.fraction));
}

export function rareDestination(f: Pick<FleetFacts, 'destinationHosts' | 'activeHosts'>, cfg: AnalyticsConfig): boolean {
  return f.destinationHosts <= rareThreshold(f.activeHosts, cfg);
}

export function commonDestination(f: Pick<FleetFacts, 'destinationHosts' | 'activeHosts'>, cfg: AnalyticsConfig): boolean {
  return f.destinationHosts >= commonThreshold(f.activeHosts, cfg);
}

/** (app identity, destination key) was upload-shaped on ≥ 3 hosts: that app normally uploads there. */
export function uploadNormalPair(f: Pick<FleetFacts, 'pairUploadHosts'>, cfg: AnalyticsConfig): boolean {
  return f.pairUploadHosts >= cfg.upload_normal_min_hosts;
}

/**
 * Where a candidate's counts start when its prevalence window (`windowFrom`) reaches back before the oldest data
 * the store keeps (`prevalenceKeptFrom`, where the rollup last expired) and the store held data there; null when
 * its whole window is kept. A laptop's backlog delivered weeks later is the case that matters: its counts miss
 * every host seen only in the expired part, as a young store misses the hosts of before its first event, so its
 * baseline starts here. (A candidate finalized just after a rollup has a few minutes of its window cut, and a
 * raised prevalence_window_days cuts every window for a while: their baselines start here too, with plenty kept.)
 */
export function windowKeptFrom(f: Pick<FleetFacts, 'windowFrom' | 'baselineStart' | 'prevalenceKeptFrom'>): number | null {
  const kept = f.prevalenceKeptFrom;
  if (kept === null || f.baselineStart === null || kept <= f.baselineStart || f.windowFrom >= kept) return null;
  return kept;
}

/**
 * Days before the data kept (the rollup's bound) a baseline still looks for a gap of the data: a prevalence window
 * shorter than baseline_maturity_days looks that much further back (fleet/rules/finalize.ts), and retention keeps the
 * record of those days (fleet/rules/maintenance.ts).
 */
export function baselineLookBackDays(cfg: Pick<AnalyticsConfig, 'baseline_maturity_days' | 'prevalence_window_days'>): number {
  return Math.max(0, cfg.baseline_maturity_days - cfg.prevalence_window_days);
}

/**
 * Where a candidate's baseline starts (FleetFacts.baselineStart): the store's first event (`storeStart`), unless its
 * prevalence window begins in a gap of the store's data (no event on the window's first whole day: the day it begins
 * in may hold events only before it): then at the start of the first day with data after that, if later. A store
 * that held a pilot's logs, then nothing for longer than the window, holds in the window of the first candidates after the gap an hour of data, not a month: their baseline
 * starts with that hour, and rarity waits baseline_maturity_days as in a new store. A window that begins with data
 * keeps the store's start, gaps inside it or not. `dataDays`: the days (floor(event time / 86400)) that hold events,
 * ascending, at least from the window's first day on; none from there on (a store whose days were not recorded)
 * keeps the store's start.
 */
export function candidateBaselineStart(storeStart: number | null, windowFrom: number, dataDays: readonly number[]): number | null {
  if (storeStart === null) return null;
  const first = Math.ceil(windowFrom / DAY);
  // a few dozen days at most (retention keeps the window and its look-back)
  const day = dataDays.find((d) => d >= first);
  if (day === undefined || day === first) return storeStart;
  return Math.max(storeStart, day * DAY);
}

/** Warming for the baseline's age (candidateBaselineStart): it holds less than baseline_maturity_days of events. */
export function youngBaseline(f: Pick<FleetFacts, 'now' | 'baselineStart'>, cfg: AnalyticsConfig): boolean {
  if (cfg.baseline_maturity_days <= 0) return false;
  return f.baselineStart === null || f.now - f.baselineStart < cfg.baseline_maturity_days * DAY;
}

/**
 * Warming for what is kept of the candidate's window (windowKeptFrom): less than baseline_maturity_days, or for an
 * event older than the data kept, nothing. What is kept of a cut window is always shorter than the window, so with a
 * window no longer than the maturity it needs all of the window but a day.
 */
export function cutWindowWarming(f: Pick<FleetFacts, 'now' | 'windowFrom' | 'baselineStart' | 'prevalenceKeptFrom'>, cfg: AnalyticsConfig): boolean {
  const kept = windowKeptFrom(f);
  if (cfg.baseline_maturity_days <= 0 || kept === null) return false;
  return f.now - kept < Math.min(cfg.baseline_maturity_days, cfg.prevalence_window_days - 1) * DAY;
}

/** Rarity cannot decide anything until the candidate's baseline holds baseline_maturity_days of events. */
export function baselineWarming(f: Pick<FleetFacts, 'now' | 'windowFrom' | 'baselineStart' | 'prevalenceKeptFrom'>, cfg: AnalyticsConfig): boolean {
  return youngBaseline(f, cfg) || cutWindowWarming(f, cfg);
}

/**
 * Identity first seen fleet-wide ≤ unseen_app_days ago (null = not in the store yet, i.e. new) and on
 * ≤ the rare threshold of hosts. Empty identities (unknown code) never count: unknown is not new.
 */
export function unseenApp(app: ChainAppFacts, f: Pick<FleetFacts, 'now' | 'activeHosts'>, cfg: AnalyticsConfig): boolean {
  if (!app.identity) return false;
  const recent = app.firstSeen === null || f.now - app.firstSeen <= cfg.unseen_app_days * DAY;
  return recent && app.hosts <= rareThreshold(f.activeHosts, cfg);
}

/** The first link of the chain (flow process first, then ancestors) whose identity is previously unseen. */
export function firstUnseenApp(f: Pick<FleetFacts, 'now' | 'activeHosts' | 'chainApps'>, cfg: AnalyticsConfig): ChainAppFacts | undefined {
  return f.chainApps.find((a) => unseenApp(a, f, cfg));
}

/**
 * Destination novelty for the severity modifier: +1 rare or first seen ≤ new_destination_days (7), −1 common or
 * seen ≥ seen_long_days (30), else
 * 0. Prevalence before age: rare +1, then common −1, then new +1, then established −1. A destination most of
 * the fleet started using this week (a roll-out) is common, not new; one host's destination stays rare
 * however old it is.
 */
export function destinationNovelty(f: Pick<FleetFacts, 'now' | 'activeHosts' | 'destinationHosts' | 'destinationFirstSeen'>, cfg: AnalyticsConfig): 1 | 0 | -1 {
  if (rareDestination(f, cfg)) return 1;
  if (commonDestination(f, cfg)) return -1;
  const age = f.destinationFirstSeen === null ? 0 : f.now - f.destinationFirstSeen;
  if (age <= cfg.new_destination_days * DAY) return 1;
  if (age >= cfg.seen_long_days * DAY) return -1;
  return 0;
}
