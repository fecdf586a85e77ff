/**
 * Finalization (SPEC §4 fleet stage, §5): every pending candidate whose event time is at least
 * `finalize_delay` older than the newest event time seen is judged once by its analytic's fleet
 * predicate (src/analytics) against prevalence AS OF its own event time, then either dropped
 * (recorded with the branch that did not fire) or turned into a detection — or folded into the open
 * detection of its suppression key.
 *
 * Determinism: candidates are processed in (event time, id) order, facts depend only on event times,
 * and detection ids are hashes — so the same logs give the same detections whatever order files
 * arrived in, as long as finalization runs after they are ingested (the CLI finalizes at the end).
 *
 *   const r = await finalizePending(store, { analytics: config.analytics });
 *   // committed: the sinks take them from the store's change feed (fleet/sinks/outbox.ts)
 */
import { ANALYTICS, candidateStart, commonThreshold, cutWindowWarming, rareThreshold, youngBaseline, type FleetFacts, type FleetVerdict } from '../../src/analytics/index.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import type { Detection } from '../../src/schemas/detection.js';
import type { Logger } from '../../src/log.js';
import { pairKey, type AppStats, type CandidateOutcome, type PrevalenceAnswer, type PrevalenceRequest, type PrevalenceStats, type Store, type StoredCandidate, type TimeWindow } from '../store/store.js';
import { buildDetection, chainIdentities, foldInto, groupRootIsLaunchdJob, suppressionKey, type EvidenceInput } from './evidence.js';

const DAY = 86_400;
const HOUR = 3600;

export interface FinalizeOptions {
  analytics: AnalyticsConfig;
  /** Finalize everything pending up to the newest event time (ignore finalize_delay): end of a replay. */
  flush?: boolean;
  /** Candidates per store round trip (default 5000). */
  batchSize?: number;
  log?: Logger;
}

export interface FinalizeResult {
  /** Event-time cutoff used (null: the store holds no events yet). */
  cutoff: number | null;
  /** Candidates judged. */
  examined: number;
  /** Verdicts that fired (new detections + folds). */
  fired: number;
  /** Verdicts held back only because the candidate's baseline (the store's, or a cut window's) is younger than baseline_maturity_days. */
  warming: number;
  /**
   * Of `warming`, candidates held only because too little of their window is kept (late: a backlog delivered after
   * the rollup expired the start of its window); a store as young as its data would judge them.
   */
  late: number;
  /** Detections created in this run (final state). */
  created: Detection[];
  /** Existing detections changed by this run (count/bytes/last_seen), excluding `created`. */
  updated: Detection[];
  durationMs: number;
}

/** Facts for one candidate, as of its event time. */
interface CandidateContext {
  stored: StoredCandidate;
  facts: FleetFacts;
  destination: PrevalenceStats;
  rare: number;
  common: number;
  /** The prevalence window the facts were read over. */
  window: TimeWindow;
}

const EMPTY_STATS: PrevalenceStats = { hosts: 0, firstSeen: null, lastSeen: null, saturated: false };

/** The store read for one window's candidates: their destinations, (identity, destination) pairs and chain apps. */
function prevalenceRequest(window: TimeWindow, items: readonly StoredCandidate[], chainApps: readonly string[], countCap?: number): PrevalenceRequest {
  return {
    window,
    ...(countCap === undefined ? {} : { countCap }),
    destinations: [...new Set(items.map((s) => s.destinationKey))],
    pairs: items.filter((s) => s.candidate.identity).map((s) => ({ identity: s.candidate.identity, key: s.destinationKey })),
    apps: [...new Set(chainApps)],
  };
}

/** A candidate's counts in its window's answer. */
function countsOf(s: StoredCandidate, chain: readonly string[], answer: PrevalenceAnswer): { destination: PrevalenceStats; counts: Pick<FleetFacts, 'destinationHosts' | 'destinationFirstSeen' | 'pairUploadHosts' | 'chainApps'> } {
  const destination = answer.destinations.get(s.destinationKey) ?? EMPTY_STATS;
  const pair = s.candidate.identity ? answer.pairs.get(pairKey(s.candidate.identity, s.destinationKey)) : undefined;
  return {
    destination,
    counts: {
      destinationHosts: destination.hosts,
      destinationFirstSeen: destination.firstSeen,
      pairUploadHosts: pair?.hosts ?? 0,
      chainApps: chain.map((identity) => {
        const a = answer.apps.get(identity);
        return { identity, firstSeen: a?.firstSeen ?? null, hosts: a?.hosts ?? 0 };
      }),
    },
  };
}

/**
 * Gather FleetFacts for a batch. A candidate is judged on the fleet as it was when its flow started
 * (candidateStart): its window ends there, so hosts that began using the destination or app after it do not
 * count. A campaign's hosts, hit minutes apart, each see only those hit before them; had the window ended
 * after the flow (as live finalization, finalize_delay later, could), a wave of infections would make its own
 * destination non-rare, its upload pair normal and its dropper "seen", and none of them would fire. The
 * candidate's own sightings start there too, so its host counts. Active hosts are counted per hour of event
 * time (they move slowly, and a count per candidate would cost O(fleet) each).
 */
async function gatherFacts(store: Store, batch: StoredCandidate[], cfg: AnalyticsConfig, baselineStart: number | null): Promise<{ contexts: CandidateContext[]; apps: Map<string, Map<string, AppStats>>; hostnames: Map<string, string> }> {
  const span = cfg.prevalence_window_days * DAY;
  const activeByHour = new Map<number, number>();
  for (const s of batch) {
    const hour = Math.floor(s.eventTime / HOUR);
    if (!activeByHour.has(hour)) {
      const end = hour * HOUR + HOUR - 1;
      activeByHour.set(hour, await store.hosts.activeCount({ from: end - span, to: end }));
    }
  }

  // Candidates whose flows started in the same second share a window (and its reads).
  const byWindow = new Map<string, { window: TimeWindow; cap: number; items: StoredCandidate[] }>();
  for (const s of batch) {
    const to = candidateStart(s.candidate.first_seen, s.eventTime);
    const w = `${to}`;
    let g = byWindow.get(w);
    if (!g) {
      g = { window: { from: to - span, to }, cap: 0, items: [] };
      byWindow.set(w, g);
    }
    // a window may hold candidates of two hours with different active-host counts: count up to the larger threshold
    g.cap = Math.max(g.cap, commonThreshold(activeByHour.get(Math.floor(s.eventTime / HOUR))!, cfg));
    g.items.push(s);
  }

  const contexts: CandidateContext[] = [];
  const appsByCandidate = new Map<string, Map<string, AppStats>>();
  const groups = [...byWindow.values()];
  const chains = new Map(batch.map((s) => [s.id, chainIdentities(s.candidate)]));
  // All windows in one store call: the backend reads each key once, not once per window.
  const chainOf = (s: StoredCandidate) => chains.get(s.id)!;
  const answers = await store.prevalence.statsMany(groups.map((g) => prevalenceRequest(g.window, g.items, g.items.flatMap(chainOf), g.cap)));
  // Read after the counts: it only grows, in the transaction that expires, so a rollup that expired anything the
  // counts above miss has already raised it.
  const prevalenceKeptFrom = await store.prevalence.keptFrom();
  for (const [gi, g] of groups.entries()) {
    const answer = answers[gi]!;
    for (const s of g.items) {
      const active = activeByHour.get(Math.floor(s.eventTime / HOUR))!;
      const { destination, counts } = countsOf(s, chainOf(s), answer);
      const facts: FleetFacts = {
        now: s.eventTime,
        baselineStart,
        prevalenceKeptFrom,
        windowFrom: g.window.from,
        activeHosts: active,
        destinationKey: s.destinationKey,
        ...counts,
        groupRootIsLaunchdJob: groupRootIsLaunchdJob(s.candidate),
      };
      contexts.push({ stored: s, facts, destination, rare: rareThreshold(active, cfg), common: commonThreshold(active, cfg), window: g.window });
      appsByCandidate.set(s.id, answer.apps);
    }
  }
  const hosts = await store.hosts.get([...new Set(batch.map((s) => s.hostId))]);
  const hostnames = new Map([...hosts].map(([id, h]) => [id, h.hostname]));
  // Back to (event time, id) order: folding order decides which flow opens a detection.
  const order = new Map(batch.map((s, i) => [s.id, i]));
  contexts.sort((a, b) => order.get(a.stored.id)! - order.get(b.stored.id)!);
  return { contexts, apps: appsByCandidate, hostnames };
}

/**
 * The verdicts need host counts only up to the common threshold, and gatherFacts reads them capped there. A
 * detection's evidence is read by people, who take "10 hosts" at its word: so the candidates that fire get their
 * counts read again without the cap (the destination, the pair and every app of the chain), over the same
 * windows. Detections are few, so this costs little; the verdicts already made do not change (a capped count
 * is already at or past the threshold it was compared with).
 */
async function exactCounts(store: Store, fired: CandidateContext[], apps: Map<string, Map<string, AppStats>>): Promise<void> {
  // gatherFacts gives the candidates of one window the same window object
  const byWindow = new Map<TimeWindow, CandidateContext[]>();
  for (const ctx of fired) {
    const items = byWindow.get(ctx.window);
    if (items) items.push(ctx);
    else byWindow.set(ctx.window, [ctx]);
  }
  const groups = [...byWindow];
  const chainOf = (ctx: CandidateContext) => ctx.facts.chainApps.map((a) => a.identity);
  const answers = await store.prevalence.statsMany(groups.map(([window, items]) => prevalenceRequest(window, items.map((c) => c.stored), items.flatMap(chainOf))));
  for (const [gi, [, items]] of groups.entries()) {
    const answer = answers[gi]!;
    for (const ctx of items) {
      const { destination, counts } = countsOf(ctx.stored, chainOf(ctx), answer);
      ctx.destination = destination;
      ctx.facts = { ...ctx.facts, ...counts };
      apps.set(ctx.stored.id, answer.apps);
    }
  }
}

export async function finalizePending(store: Store, opts: FinalizeOptions): Promise<FinalizeResult> {
  const started = performance.now();
  const cfg = opts.analytics;
  const batchSize = opts.batchSize ?? 5000;
  const suppressionSpan = Math.round(cfg.suppression_hours * HOUR);
  const clock = await store.clock.get();
  const result: FinalizeResult = { cutoff: null, examined: 0, fired: 0, warming: 0, late: 0, created: [], updated: [], durationMs: 0 };
  if (clock.newest === null) {
    result.durationMs = performance.now() - started;
    return result;
  }
  const cutoff = opts.flush ? clock.newest : clock.newest - cfg.finalize_delay;
  result.cutoff = cutoff;
  const created = new Map<string, Detection>();
  const updated = new Map<string, Detection>();

  for (;;) {
    const batch = await store.candidates.pendingUpTo(cutoff, batchSize);
    if (batch.length === 0) break;
    const { contexts, apps, hostnames } = await gatherFacts(store, batch, cfg, clock.earliest);

    const verdicts = new Map<string, FleetVerdict>();
    for (const ctx of contexts) {
      const v = ANALYTICS[ctx.stored.candidate.analytic].finalize(ctx.stored.candidate, ctx.facts, cfg);
      verdicts.set(ctx.stored.id, v);
      if (!v.fire && v.baselineWarming && v.branch === 'baseline_warming') {
        result.warming++;
        if (cutWindowWarming(ctx.facts, cfg) && !youngBaseline(ctx.facts, cfg)) result.late++;
      }
    }
    const fired = contexts.filter((c) => verdicts.get(c.stored.id)!.fire);
    if (fired.length) await exactCounts(store, fired, apps);
    const firingKeys = fired.map((c) => suppressionKey(c.stored.hostId, c.stored.candidate, c.stored.destinationKey));
    const minTime = contexts.length ? contexts[0]!.stored.eventTime : cutoff;
    const open = firingKeys.length ? await store.detections.openBySuppressionKey(firingKeys, minTime - suppressionSpan) : new Map<string, Detection>();
    for (const d of created.values()) if (!open.has(d.suppression_key) || open.get(d.suppression_key)!.created_at <= d.created_at) open.set(d.suppression_key, d);
    for (const d of updated.values()) if (!open.has(d.suppression_key) || open.get(d.suppression_key)!.created_at <= d.created_at) open.set(d.suppression_key, d);

    const outcomes: CandidateOutcome[] = [];
    const changed = new Map<string, Detection>();
    for (const ctx of contexts) {
      const s = ctx.stored;
      const v = verdicts.get(s.id)!;
      result.examined++;
      if (!v.fire) {
        outcomes.push({ id: s.id, detectionId: s.detectionId, countedBytesOut: s.countedBytesOut, countedBytesIn: s.countedBytesIn, branch: v.branch, version: s.version });
        continue;
      }
      result.fired++;
      const key = suppressionKey(s.hostId, s.candidate, s.destinationKey);
      const input: EvidenceInput = {
        stored: s,
        verdict: v,
        facts: ctx.facts,
        analytic: ANALYTICS[s.candidate.analytic],
        hostname: hostnames.get(s.hostId) ?? '',
        destination: ctx.destination,
        apps: apps.get(s.id) ?? new Map(),
        rareThreshold: ctx.rare,
        commonThreshold: ctx.common,
      };
      const existing = open.get(key);
      if (existing && Math.abs(s.eventTime - existing.created_at) < suppressionSpan) {
        const counted = foldInto(existing, input);
        changed.set(existing.id, existing);
        if (!created.has(existing.id)) updated.set(existing.id, existing);
        outcomes.push({ id: s.id, detectionId: existing.id, ...counted, branch: v.branch, version: s.version });
      } else {
        const det = buildDetection(input);
        open.set(key, det);
        changed.set(det.id, det);
        created.set(det.id, det);
        outcomes.push({ id: s.id, detectionId: det.id, countedBytesOut: Math.max(0, s.candidate.bytes_out), countedBytesIn: Math.max(0, s.candidate.bytes_in), branch: v.branch, version: s.version });
      }
    }
    // Candidates were read outside this transaction, so a newer version of a flow may have been ingested
    // since: each outcome names the version judged, and the store finalizes only that version (the newer
    // one stays pending for the next run).
    await store.transaction(async (tx) => {
      if (changed.size) await tx.detections.upsert([...changed.values()]);
      await tx.candidates.markFinalized(outcomes);
    });
    if (batch.length < batchSize) break;
  }

  result.created = [...created.values()];
  result.updated = [...updated.values()].filter((d) => !created.has(d.id));
  result.durationMs = performance.now() - started;
  opts.log?.info({ cutoff, examined: result.examined, fired: result.fired, created: result.created.length, updated: result.updated.length, duration_ms: Math.round(result.durationMs) }, 'finalize done');
  return result;
}
