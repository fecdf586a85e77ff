/**
 * Finalization (SPEC §4 fleet stage, §5): every pending candidate whose event time is more than
 * `finalize_delay` older than the newest event time seen is judged once by its analytic's fleet
 * predicate (src/analytics) against prevalence as of its flow's start (gatherFacts), then either dropped
 * (recorded with the branch that did not fire) or turned into a detection — or folded into the open
 * detection of its suppression key.
 *
 * Determinism: candidates are processed in (event time, id) order, facts depend only on event times
 * (windows end at the line at the latest, and no sighting is dated more than finalize_delay before its own
 * line), and detection ids are hashes — so the same logs give the same detections whatever order files
 * arrived in, and live operation gives what a replay gives.
 *
 *   const r = await finalizePending(store, { analytics: config.analytics });
 *   // committed: the sinks take them from the store's change feed (fleet/sinks/outbox.ts)
 */
import { ANALYTICS, baselineLookBackDays, candidateBaselineStart, candidateStart, commonThreshold, cutWindowWarming, prevalenceWindow, rareThreshold, youngBaseline, type FleetFacts, type FleetVerdict } from '../../src/analytics/index.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import type { Detection } from '../../src/schemas/detection.js';
import { systemClock, type Clock } from '../../src/clock.js';
import type { Logger } from '../../src/log.js';
import { dataDay, emptyStats, eventPresent, pairKey, type AppStats, type CandidateOutcome, type PrevalenceAnswer, type PrevalenceRequest, type PrevalenceStats, type Store, type StoredCandidate, type TimeWindow } from '../store/store.js';
import { buildDetection, chainIdentities, foldInto, groupRootIsLaunchdJob, suppressionKey, suppressionSpan, type EvidenceInput } from './evidence.js';

const HOUR = 3600;
const DAY = 86_400;

export interface FinalizeOptions {
  analytics: AnalyticsConfig;
  /** Finalize everything pending up to the newest event time (ignore finalize_delay): end of a replay. */
  flush?: boolean;
  /** Candidates per store round trip (default 5000). */
  batchSize?: number;
  /**
   * Batches one run judges at most, unless flushing (default: no bound). A run keeps every detection it creates or
   * changes until it ends: the scheduler's minutely job passes one (FINALIZE_JOB_MAX_BATCHES), so a backlog is taken over
   * several runs, the next one a minute later. The CLI's own run, whose result it prints, judges all that is due.
   */
  maxBatches?: number;
  log?: Logger;
  /** The wall clock: the cutoff never passes it (eventPresent). */
  clock?: Clock;
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

/** Facts for one candidate, as of its flow's start (see gatherFacts). */
interface CandidateContext {
  stored: StoredCandidate;
  facts: FleetFacts;
  destination: PrevalenceStats;
  rare: number;
  common: number;
  /** The prevalence window the facts were read over: it ends when the candidate's flow started. */
  window: TimeWindow;
  /** The window ending at the candidate's line: roll-outs are told apart there. */
  ahead: TimeWindow;
}

const EMPTY_STATS: PrevalenceStats = emptyStats();

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

/** One candidate's question to the store: its keys over `window`, counted up to `cap` (undefined: exactly). */
interface WindowAsk {
  stored: StoredCandidate;
  window: TimeWindow;
  cap: number | undefined;
}

/**
 * Every ask's answer in one store call: asks of the same window share a request (the backend reads each key once
 * for the whole call). A window's cap is the largest of its asks' (a window may hold candidates of two hours with
 * different common thresholds).
 */
async function readWindows(store: Store, asks: readonly WindowAsk[], chainOf: (s: StoredCandidate) => readonly string[]): Promise<PrevalenceAnswer[]> {
  const groups = new Map<string, { window: TimeWindow; cap: number | undefined; items: StoredCandidate[]; asks: number[] }>();
  for (const [i, a] of asks.entries()) {
    const id = `${a.window.from}:${a.window.to}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { window: a.window, cap: a.cap, items: [], asks: [] }));
    else g.cap = g.cap === undefined || a.cap === undefined ? undefined : Math.max(g.cap, a.cap);
    g.items.push(a.stored);
    g.asks.push(i);
  }
  const list = [...groups.values()];
  const answers = await store.prevalence.statsMany(list.map((g) => prevalenceRequest(g.window, g.items, g.items.flatMap(chainOf), g.cap)));
  const out = new Array<PrevalenceAnswer>(asks.length);
  for (const [gi, g] of list.entries()) for (const i of g.asks) out[i] = answers[gi]!;
  return out;
}

/** A candidate's counts in one window's answer. */
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
 * A candidate's counts as of its flow's start, except where the fleet had adopted the same thing at scale (the
 * common threshold) by the candidate's line: a roll-out, counted there. The destination and the pair count as
 * adopted when the pair is, i.e. when this same app uploads there from that many hosts (an MDM agent's inventory),
 * not when other apps merely contact the destination (colleagues' browsers loading a phishing mail's images would
 * otherwise hide an upload); an app of the chain when it runs on that many hosts. The app map (chain evidence)
 * follows the same choice per identity.
 */
function rolloutAwareCounts(s: StoredCandidate, chain: readonly string[], start: PrevalenceAnswer, ahead: PrevalenceAnswer, common: number) {
  const a = countsOf(s, chain, start);
  const b = countsOf(s, chain, ahead);
  const adopted = (hosts: number) => hosts >= common;
  // the destination goes with the pair
  const { destination, counts } = adopted(b.counts.pairUploadHosts) ? b : a;
  let apps = start.apps;
  const chainApps = a.counts.chainApps.map((x, i) => {
    const y = b.counts.chainApps[i]!;
    if (!adopted(y.hosts)) return x;
    if (apps === start.apps) apps = new Map(start.apps);
    const stats = ahead.apps.get(y.identity);
    if (stats) apps.set(y.identity, stats);
    return y;
  });
  return { destination, apps, counts: { ...counts, chainApps } };
}

/** What a candidate is counted over: its two windows (CandidateContext), and the common threshold that tells roll-outs. */
type CountedCandidate = Pick<CandidateContext, 'stored' | 'window' | 'ahead' | 'common'>;

/**
 * Each candidate's rolloutAwareCounts over its window and its `ahead` window, all in one store call (readWindows);
 * counted up to the common threshold when `capped`, else exactly.
 */
async function readCounts(store: Store, items: readonly CountedCandidate[], chainOf: (s: StoredCandidate) => readonly string[], capped: boolean) {
  const asks = items.flatMap((c): WindowAsk[] => {
    const cap = capped ? c.common : undefined;
    return [
      { stored: c.stored, window: c.window, cap },
      { stored: c.stored, window: c.ahead, cap },
    ];
  });
  const answers = await readWindows(store, asks, chainOf);
  return items.map((c, i) => rolloutAwareCounts(c.stored, chainOf(c.stored), answers[2 * i]!, answers[2 * i + 1]!, c.common));
}

/**
 * Gather FleetFacts for a batch. A candidate is judged on the fleet as it was when its flow started
 * (candidateStart): its window ends there, so hosts that began using the destination or app after it do not
 * count. A campaign's hosts, hit minutes apart, each see only those hit before them; had the window ended
 * after the flow (as live finalization, finalize_delay later, could), a wave of infections would make its own
 * destination non-rare, its upload pair normal and its dropper "seen", and none of them would fire. The
 * candidate's own sightings start there too, so its host counts.
 *
 * One exception, for roll-outs: counts are also read over the window ending at the candidate's line, and what the
 * fleet had adopted at scale there is counted there (rolloutAwareCounts). An MDM push reaching a tenth of the fleet
 * within a minute or two is then judged as a roll-out, not as rare on its first hosts; a campaign below the common
 * threshold still is. That window ends at the line, not later: live finalization has every line up to line time +
 * finalize_delay, and a sighting is dated at most finalize_delay before its own line, so a replay counts there
 * exactly what live finalization did. Active hosts are counted per hour of event time (they move slowly, and a
 * count per candidate would cost O(fleet) each).
 */
async function gatherFacts(store: Store, batch: StoredCandidate[], cfg: AnalyticsConfig, storeStart: number | null): Promise<{ contexts: CandidateContext[]; apps: Map<string, Map<string, AppStats>>; hostnames: Map<string, string> }> {
  // As of when each candidate became due: its earliest unjudged report. The version judged may be newer (a flow
  // reported again while open), and its line younger than finalize_delay: lines dated up to it may still arrive.
  const asOf = (s: StoredCandidate) => s.dueTime ?? s.eventTime;
  const activeByHour = new Map<number, number>();
  for (const s of batch) {
    const hour = Math.floor(asOf(s) / HOUR);
    if (!activeByHour.has(hour)) {
      // ends before the candidate's hour: live finalization (newest ≥ line + finalize_delay) has every line of then
      activeByHour.set(hour, await store.hosts.activeCount(prevalenceWindow(hour * HOUR - 1, cfg)));
    }
  }

  // Two windows per candidate, all read in one store call (readCounts): as of its flow's start, and as of its line.
  const judged = batch.map((s) => {
    const active = activeByHour.get(Math.floor(asOf(s) / HOUR))!;
    const window = prevalenceWindow(candidateStart(s.candidate.first_seen, asOf(s), cfg), cfg);
    return { stored: s, active, common: commonThreshold(active, cfg), window, ahead: prevalenceWindow(asOf(s), cfg) };
  });
  const chains = new Map(batch.map((s) => [s.id, chainIdentities(s.candidate)]));
  const chainOf = (s: StoredCandidate) => chains.get(s.id)!;
  const counted = await readCounts(store, judged, chainOf, true);
  // The days with data from the earliest window of the batch on, read once: each candidate's baseline starts at the
  // first of them in its window when the window begins in a gap of the data (candidateBaselineStart). Read before
  // keptFrom: retention drops days only below a keptFrom already recorded, so none is missing above the one read next.
  // A gap is looked for at the window's start, baseline_maturity_days before its end when the window is shorter (a
  // window sliding past a gap would otherwise end the warming after window days, not maturity days): lookBack before it.
  const lookBack = baselineLookBackDays(cfg) * DAY;
  const firstDay = judged.length && storeStart !== null ? dataDay(judged.reduce((m, j) => Math.min(m, j.window.from), Infinity) - lookBack) : null;
  const dataDays = firstDay === null ? [] : await store.clock.dataDaysFrom(firstDay);
  // Read after the counts: it only grows, in the transaction that expires, so a rollup that expired anything the
  // counts above miss has already raised it.
  const prevalenceKeptFrom = await store.prevalence.keptFrom();
  // A window cut at the data kept (windowKeptFrom) looks for a gap no earlier than retention keeps days (maintenance.ts
  // retention, the same lookBack before keptFrom): whether retention has run yet must not change a verdict.
  const gapFrom = (w: TimeWindow): number => Math.max(w.from, prevalenceKeptFrom ?? -Infinity) - lookBack;

  const contexts: CandidateContext[] = [];
  const appsByCandidate = new Map<string, Map<string, AppStats>>();
  for (const [i, { stored: s, active, common, window, ahead }] of judged.entries()) {
    const { destination, counts, apps } = counted[i]!;
    const facts: FleetFacts = {
      // as of the flow's start, like the counts: the age of what it names, and of the baseline
      now: window.to,
      baselineStart: candidateBaselineStart(storeStart, gapFrom(window), dataDays),
      prevalenceKeptFrom,
      windowFrom: window.from,
      activeHosts: active,
      destinationKey: s.destinationKey,
      ...counts,
      groupRootIsLaunchdJob: groupRootIsLaunchdJob(s.candidate),
    };
    contexts.push({ stored: s, facts, destination, rare: rareThreshold(active, cfg), common, window, ahead });
    appsByCandidate.set(s.id, apps);
  }
  const hosts = await store.hosts.get([...new Set(batch.map((s) => s.hostId))]);
  const hostnames = new Map([...hosts].map(([id, h]) => [id, h.hostname]));
  return { contexts, apps: appsByCandidate, hostnames };
}

/**
 * The verdicts need host counts only up to the common threshold, and gatherFacts reads them capped there. A
 * detection's evidence is read by people, who take "10 hosts" at its word: so the candidates that fire get their
 * counts read again without the cap (the destination, the pair and every app of the chain), over the same
 * windows and with the same roll-out choice. Detections are few, so this costs little; the verdicts already made
 * do not change (a capped count is already at or past the threshold it was compared with).
 */
async function exactCounts(store: Store, fired: CandidateContext[], apps: Map<string, Map<string, AppStats>>): Promise<void> {
  const chains = new Map(fired.map((ctx) => [ctx.stored, ctx.facts.chainApps.map((a) => a.identity)]));
  const counted = await readCounts(store, fired, (s) => chains.get(s)!, false);
  for (const [i, ctx] of fired.entries()) {
    const { destination, counts, apps: chainApps } = counted[i]!;
    ctx.destination = destination;
    ctx.facts = { ...ctx.facts, ...counts };
    apps.set(ctx.stored.id, chainApps);
  }
}

function byCreation(a: Detection, b: Detection): number {
  return a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Puts `d` in a key's detections (oldest first), in place of the version with its id. */
function keepWindow(windows: Detection[], d: Detection): void {
  const at = windows.findIndex((w) => w.id === d.id);
  if (at >= 0) windows.splice(at, 1);
  windows.push(d);
  windows.sort(byCreation);
}

/**
 * The detection whose suppression window holds a flow at `t`: the newest one created at or before `t` within `span`;
 * else a flow that arrived late, earlier than a detection's creation, folds into the first one created within `span`
 * after it. A flow is compared with every window of its key, not only the newest, so a day-late line lands in the
 * window of its day. A window stays anchored at its detection's creation: a late flow folded in before it does not
 * move it back, so how late lines split between detections can differ from a time-ordered replay. A flow seen again
 * more than 24 h after the detection that counted it (a day-long upload) is counted in a new window too.
 */
function windowOf(windows: readonly Detection[], t: number, span: number): Detection | undefined {
  for (let i = windows.length - 1; i >= 0; i--) {
    const d = windows[i]!;
    if (d.created_at <= t) return t - d.created_at < span ? d : windows.find((w) => w.created_at > t && w.created_at - t < span);
  }
  return windows.find((w) => w.created_at - t < span);
}

export async function finalizePending(store: Store, opts: FinalizeOptions): Promise<FinalizeResult> {
  const started = performance.now();
  const cfg = opts.analytics;
  const batchSize = opts.batchSize ?? 5000;
  const maxBatches = opts.flush ? Infinity : (opts.maxBatches ?? Infinity);
  let batches = 0;
  const span = suppressionSpan(cfg);
  const clock = await store.clock.get();
  const result: FinalizeResult = { cutoff: null, examined: 0, fired: 0, warming: 0, late: 0, created: [], updated: [], durationMs: 0 };
  if (clock.newest === null) {
    result.durationMs = performance.now() - started;
    return result;
  }
  // Strictly before the present − finalize_delay (unless flushing): more lines of that second may still arrive, and a
  // candidate among them dates its sightings finalize_delay back. The present is the newest event time, but not past
  // the wall clock: a host whose clock runs ahead would otherwise have everyone's candidates judged at once. A flush
  // (the end of a replay) takes everything, that host's candidates too.
  const cutoff = opts.flush ? clock.newest : eventPresent(clock.newest, (opts.clock ?? systemClock).unix())! - cfg.finalize_delay - 1;
  result.cutoff = cutoff;
  const created = new Map<string, Detection>();
  const updated = new Map<string, Detection>();

  // A flush takes every row reported by the newest event: also a firing open flow's version held by
  // open_flow_update_interval, which may be due past it (judged time + hold). Not a version reported while it runs, dated
  // after that clock (an ingest beside it): it waits for the next run, so the flush ends however fast they arrive.
  const reported = opts.flush ? { reportedUpTo: cutoff } : undefined;
  for (;;) {
    const batch = await store.candidates.pendingUpTo(cutoff, batchSize, reported);
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
    // by candidate id: the open-detection lookup and the fold below use the same key
    const keyOf = new Map(fired.map((c) => [c.stored.id, suppressionKey(c.stored.hostId, c.stored.candidate, c.stored.destinationKey)]));
    const minTime = contexts.length ? contexts[0]!.stored.eventTime : cutoff;
    const open = keyOf.size ? await store.detections.openBySuppressionKey([...keyOf.values()], minTime - span) : new Map<string, Detection[]>();
    for (const key of keyOf.values()) if (!open.has(key)) open.set(key, []);
    // this run's earlier batches: their versions are newer than the stored ones
    for (const d of [...created.values(), ...updated.values()]) {
      const windows = open.get(d.suppression_key);
      if (windows) keepWindow(windows, d);
    }

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
      const key = keyOf.get(s.id)!;
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
      const windows = open.get(key)!;
      // a newer version of a flow already counted stays in that detection while it is in reach, so it replaces its
      // bytes there instead of counting the flow again in a nearer window
      const countedIn = s.detectionId === null ? undefined : windows.find((w) => w.id === s.detectionId && Math.abs(s.eventTime - w.created_at) < span);
      const existing = countedIn ?? windowOf(windows, s.eventTime, span);
      if (existing) {
        const counted = foldInto(existing, input);
        changed.set(existing.id, existing);
        if (!created.has(existing.id)) updated.set(existing.id, existing);
        outcomes.push({ id: s.id, detectionId: existing.id, ...counted, branch: v.branch, version: s.version });
      } else {
        const det = buildDetection(input);
        keepWindow(windows, det);
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
    if (batch.length < batchSize || ++batches >= maxBatches) break;
  }

  result.created = [...created.values()];
  result.updated = [...updated.values()].filter((d) => !created.has(d.id));
  result.durationMs = performance.now() - started;
  opts.log?.info({ cutoff, examined: result.examined, fired: result.fired, created: result.created.length, updated: result.updated.length, duration_ms: Math.round(result.durationMs) }, 'finalize done');
  return result;
}
