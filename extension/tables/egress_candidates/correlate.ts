/**
 * The endpoint stage of SPEC §4: join flows × process lineage × code signing × the sensitive-access and
 * archive buffers, then ask every analytic whether the flow is a candidate. Pure over the in-memory
 * context (no tool is spawned, nothing waits), so a generate answers from whatever the collectors have.
 *
 * Precursors count only from the flow's lineage group, matched by process instance (pid, process_start),
 * so a reused pid never lends its history to a new process.
 */
import { ANALYTICS, type EndpointFacts, type PrecursorFacts, precursorInWindow } from '../../../src/analytics/index.js';
import { readsOrMovesData } from '../sensitive_file_events/precursor-operations.js';
import { classifyApp } from '../../../src/classify/allowlists.js';
import { teamKey } from '../../../src/classify/app-match.js';
import { teamVouched } from '../../../src/classify/signing-class.js';
import type { AnalyticsConfig } from '../../../src/config/analytics.js';
import type { OutflowConfig } from '../../../src/config/index.js';
import { ANALYTIC_IDS, type AnalyticId, type EgressCandidate, type ProcessChainLink } from '../../../src/schemas/egress-candidate.js';
import type {
  ArchiveEventRow,
  ExtensionContext,
  FlowRow,
  LineageGroup,
  ProcessRecord,
  SensitiveFileEventRow,
  SigningRow,
} from '../../runtime/context.js';
import { SERVER_NAMES_OBSERVED } from '../process_network_flows/flow-store.js';
import { LAUNCHD_PID } from '../../process-model/lineage.js';

/** The parts of the extension context the correlation reads. */
export type CorrelationInputs = Pick<ExtensionContext, 'processes' | 'flows' | 'signing' | 'sensitiveEvents' | 'archiveEvents'> & {
  config: Pick<OutflowConfig, 'analytics' | 'allowlists' | 'flows'>;
};

export interface CorrelationOptions {
  /** Only flows of these pids (a pushed `pid =` constraint). */
  pids?: ReadonlySet<number>;
  /** Only these analytics (a pushed `analytic =` constraint). */
  analytics?: readonly AnalyticId[];
}

export interface CorrelationStats {
  flows: number;
  /** Buffered events whose process could be placed in no lineage group (process never seen). */
  unattributedEvents: number;
}

/** An egress_candidates row: EgressCandidate with process_chain as the JSON text osquery carries. */
export type CandidateRow = Omit<EgressCandidate, 'process_chain'> & { process_chain: string };

/*
 * The objects below live for a whole generate and are built by constructors, like the rows
 * (CandidateRecord): V8 pretenured their object literals, and a tenured object keeps the young objects
 * it points to (strings, arrays) alive through scavenges until the next full GC, which then promotes
 * them. With the extension's heap that was two thirds of what a generate still promoted.
 */

class Identity {
  constructor(
    readonly signature_class: string,
    readonly team_id: string,
    readonly signing_id: string,
    readonly cdhash: string,
    readonly identity: string,
    /** Team key for allowlists: team id, or "APPLE" for platform code. */
    readonly team: string,
  ) {}
}

/** Signature classes of Apple's own code. */
const APPLE_CODE: ReadonlySet<string> = new Set(['apple_platform', 'apple']);

/** A process of a chain (the root is the last one). */
class ChainLink {
  constructor(
    readonly pid: number,
    readonly path: string,
    readonly identity: Identity,
  ) {}
}

class GroupInfo {
  /** process_chain column text, built once per group. */
  chainJson: string | undefined = undefined;

  constructor(
    readonly key: string,
    /** From the flow's process up to and including the group root (lineage's groupOf order). */
    readonly chain: ChainLink[],
    /** What made the root a root (lineage's groupOf); '' when the flow's process is unknown. */
    readonly rootKind: string,
  ) {}

  get root(): ChainLink {
    return this.chain[this.chain.length - 1]!;
  }

  get rootIdentity(): Identity {
    return this.root.identity;
  }
}

/**
 * The buffered events of every lineage group, indexed once per generate without copying an event: each
 * (group, list) pair owns the range [offsets[slot], offsets[slot + 1]) of `positions` (the events'
 * positions in their ring buffer, read back with RingBuffer.at) and `times` (their times, sorted, for
 * the binary searches). slot = bucket × LISTS + list.
 */
interface EventIndex {
  offsets: Int32Array;
  positions: Int32Array;
  times: Float64Array;
}

/** The lists of a group's events; STAGING is the subset of ARCHIVE written to a staging location. */
const TIER1 = 0;
const TIER2 = 1;
const ARCHIVE = 2;
const STAGING = 3;
const LISTS = 4;

/** Per-process-instance attribution of buffered events (resolved once per generate). */
class InstanceHit {
  constructor(
    readonly start: number,
    /** The group's bucket number, −1 for none. */
    readonly bucket: number,
    readonly unattributed: boolean,
    /** Another instance of the same pid (pid reuse), if any. */
    readonly next: InstanceHit | undefined,
  ) {}
}

const instanceKey = (pid: number, start: number) => `${pid}:${start}`;

const UNKNOWN_IDENTITY = new Identity('unknown', '', '', '', '', '');

/**
 * Identity of an executable: the signing cache first, else what eslogger told the process model
 * (signing id, team id, cdhash, platform flag) so a process is not anonymous while codesign is pending.
 */
function identityOf(signing: CorrelationInputs['signing'], path: string, rec: ProcessRecord | undefined, cache: Map<string, SigningRow | undefined>): Identity {
  let row: SigningRow | undefined;
  if (path) {
    if (cache.has(path)) row = cache.get(path);
    else {
      row = signing.lookup(path);
      cache.set(path, row);
    }
  }
  if (row && row.signature_class !== 'unknown') {
    // codesign prints no CDHash for code that is not signed at all; the kernel (eslogger) still hashes
    // what it ran, and that hash is the only stable identity such a binary has.
    const esHash = !row.cdhash && rec?.cdhash && !/^0+$/.test(rec.cdhash) ? rec.cdhash : '';
    return new Identity(
      row.signature_class,
      row.team_id,
      row.signing_id,
      row.cdhash || esHash,
      row.identity || (esHash ? `cdhash:${esHash}` : ''),
      teamVouched(row.signature_class) ? teamKey(row.team_id, row.signature_class === 'apple_platform') : '',
    );
  }
  if (rec && (rec.signingId || rec.cdhash)) {
    // codesign found a certificate chain that is not Apple's (classifyCodesign then names the code by
    // cdhash): the team id eslogger repeats is that certificate's own claim. Before any verdict, or when
    // the chain was unreadable, eslogger is all there is.
    const chainNotApple = row !== undefined && row.identity.startsWith('cdhash:');
    const team = chainNotApple ? '' : teamKey(rec.teamId, rec.platformBinary);
    const signingId = rec.signingId ?? '';
    const cdhash = rec.cdhash ?? '';
    const identity = signingId && team ? `team:${team}/${signingId}` : cdhash ? `cdhash:${cdhash}` : '';
    return new Identity(rec.platformBinary ? 'apple_platform' : 'unknown', rec.teamId ?? '', signingId, cdhash, identity, team);
  }
  if (row) return new Identity('unknown', row.team_id, row.signing_id, row.cdhash, row.identity, '');
  return UNKNOWN_IDENTITY;
}

/**
 * Index of the event of the time-sorted range times[lo, hi) inside [from, to] closest to `start` (ties:
 * the earlier one), −1 when none, found by binary search: the candidates are the last event at or
 * before `start` and the first one after it.
 */
function closestInWindow(times: Float64Array, lo: number, hi: number, from: number, to: number, start: number): number {
  const i = lowerBound(times, lo, hi, start + 1); // first event after start
  const b = i > lo && times[i - 1]! >= from && times[i - 1]! <= to ? i - 1 : -1;
  const a = i < hi && times[i]! <= to && times[i]! >= from ? i : -1;
  if (b < 0) return a;
  if (a < 0) return b;
  return times[a]! - start < start - times[b]! ? a : b;
}

/**
 * closestInWindow (same choice, the earlier on a tie) over only the archive events that are not `flow`'s own download
 * (isOwnDownload), by their position: a scan of the window, for the few flows that need it.
 */
function closestNotOwn(times: Float64Array, positions: Int32Array, lo: number, hi: number, from: number, to: number, start: number, archives: CorrelationInputs['archiveEvents'], flow: Readonly<FlowRow>, sampleSlack: number): number {
  let best = -1;
  let bestDistance = Infinity;
  for (let i = lowerBound(times, lo, hi, from); i < hi && times[i]! <= to; i++) {
    if (isOwnDownload(archives.at(positions[i]!)!, flow, sampleSlack)) continue;
    const t = times[i]!;
    const distance = Math.abs(t - start);
    if (t <= start ? distance <= bestDistance : distance < bestDistance) {
      best = i;
      bestDistance = distance;
    }
  }
  return best;
}

/** anyInWindow over only the archive events that are not `flow`'s own download. */
function anyNotOwn(times: Float64Array, positions: Int32Array, lo: number, hi: number, from: number, to: number, archives: CorrelationInputs['archiveEvents'], flow: Readonly<FlowRow>, sampleSlack: number): boolean {
  for (let i = lowerBound(times, lo, hi, from); i < hi && times[i]! <= to; i++) if (!isOwnDownload(archives.at(positions[i]!)!, flow, sampleSlack)) return true;
  return false;
}

function anyInWindow(times: Float64Array, lo: number, hi: number, from: number, to: number): boolean {
  const i = lowerBound(times, lo, hi, from);
  return i < hi && times[i]! <= to;
}

/** In the sorted range times[lo, hi): the first index with time ≥ t (hi when none). */
function lowerBound(times: Float64Array, lo: number, hi: number, t: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface GroupVolume {
  /** Sum of bytes_out of the flows active at some point in [from, to]. */
  activeBetween(from: number, to: number): number;
  /**
   * The largest activeBetween(x, x + width) over x in [from, to]: the busiest window of `width` seconds that
   * starts in that range (for a flow: the busiest group_window that overlaps it, from = first_seen − width,
   * to = last_seen).
   */
  busiestWindow(from: number, to: number): number;
}

/**
 * Bytes of the flows overlapping [from, to] in O(log n): a flow overlaps unless it starts after `to`
 * or ends before `from`, and (from ≤ to, first_seen ≤ last_seen) no flow does both, so the answer is
 * Σ(first_seen ≤ to) − Σ(last_seen < from), each a prefix sum over a sorted array.
 */
const byFirstSeen = (x: Readonly<FlowRow>, y: Readonly<FlowRow>) => x.first_seen - y.first_seen;
const byLastSeen = (x: Readonly<FlowRow>, y: Readonly<FlowRow>) => x.last_seen - y.last_seen;

/** Entries a busiestWindow query scans; past this many it builds the group's sparse table once. */
const SPARSE_TABLE_FROM = 64;

export function groupVolume(flows: readonly Readonly<FlowRow>[], width = 0): GroupVolume {
  const n = flows.length;
  // One array of the flows, sorted by first_seen, then by last_seen, and one Float64Array: times by
  // first_seen [0, n), their prefix sums of bytes_out [n, 2n], the same by last_seen [2n+1, 3n+1) and
  // [3n+1, 4n+1]. Ties need no order (a prefix is only ever read at the end of a run of equal times).
  const sorted = flows.slice();
  const data = new Float64Array(4 * n + 2);
  const fill = (at: number, byFirst: boolean) => {
    sorted.sort(byFirst ? byFirstSeen : byLastSeen);
    for (let i = 0; i < n; i++) {
      const f = sorted[i]!;
      data[at + i] = byFirst ? f.first_seen : f.last_seen;
      data[at + n + i + 1] = data[at + n + i]! + f.bytes_out;
    }
  };
  fill(0, true);
  const last = 2 * n + 1;
  fill(last, false);
  /** Number of times ≤ t in data[at, at + n) (upper bound). */
  const countAtMost = (at: number, t: number) => {
    let lo = at;
    let hi = at + n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (data[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo - at;
  };
  const activeBetween = (from: number, to: number) => data[n + countAtMost(0, to)]! - data[last + n + countAtMost(last, from - 1)]!;
  // activeBetween(x, x + width) only grows as x passes first_seen − width of some flow (it enters the window), and
  // only shrinks as x passes a last_seen: its largest values over a range of x are at the range's start or at those
  // points. atEntry[j] is its value at the j-th flow's entry (flows by first_seen), made once per group; a run of
  // them is scanned, or for a long run (a flow open for hours among thousands) read from a sparse table in O(1).
  let atEntry: Float64Array | undefined;
  let table: Float64Array[] | undefined;
  const entries = (): Float64Array => {
    if (!atEntry) {
      atEntry = new Float64Array(n);
      for (let j = 0; j < n; j++) atEntry[j] = activeBetween(data[j]! - width, data[j]!);
    }
    return atEntry;
  };
  const rangeMax = (lo: number, hi: number): number => {
    const values = entries();
    if (hi - lo <= SPARSE_TABLE_FROM) {
      let best = values[lo]!;
      for (let j = lo + 1; j < hi; j++) if (values[j]! > best) best = values[j]!;
      return best;
    }
    if (!table) {
      table = [values];
      for (let span = 2; span <= n; span *= 2) {
        const prev = table[table.length - 1]!;
        const next = new Float64Array(n - span + 1);
        for (let j = 0; j + span <= n; j++) next[j] = Math.max(prev[j]!, prev[j + span / 2]!);
        table.push(next);
      }
    }
    const level = 31 - Math.clz32(hi - lo);
    return Math.max(table[level]![lo]!, table[level]![hi - (1 << level)]!);
  };
  return {
    activeBetween,
    busiestWindow(from, to) {
      const best = activeBetween(from, from + width);
      // the flows entering a window that starts in (from, to]: first_seen in (from + width, to + width]
      const lo = countAtMost(0, from + width);
      const hi = countAtMost(0, to + width);
      return hi > lo ? Math.max(best, rangeMax(lo, hi)) : best;
    },
  };
}

/**
 * Sorts the range [lo, hi) of an EventIndex by time, stably (ties keep buffer order, which is position
 * order within a range). Buffers arrive nearly in time order, so this is a check in all but rare cases.
 */
function sortRange(positions: Int32Array, times: Float64Array, lo: number, hi: number): void {
  let sorted = true;
  for (let i = lo + 1; i < hi && sorted; i++) sorted = !(times[i]! < times[i - 1]!);
  if (sorted) return;
  const order = Array.from(positions.subarray(lo, hi).keys());
  const pos = positions.slice(lo, hi);
  const t = times.slice(lo, hi);
  order.sort((x, y) => t[x]! - t[y]! || x - y);
  for (let i = 0; i < order.length; i++) {
    positions[lo + i] = pos[order[i]!]!;
    times[lo + i] = t[order[i]!]!;
  }
}

export function correlate(inputs: CorrelationInputs, opts: CorrelationOptions = {}): { rows: CandidateRow[]; stats: CorrelationStats } {
  // evaluate() returns only what the rows need: its maps, caches and indexes are garbage before the
  // first row is built, so a scavenge during the rows copies rows, not the whole working set.
  const v = evaluate(inputs, opts);
  const rows = new Array<CandidateRow>(v.rowCount);
  for (let i = 0; i < v.rowCount; i++) {
    const r = v.rowFlow[i]!;
    const cls = v.flowClass[r]!;
    rows[i] = new CandidateRecord(
      v.wanted[v.rowAnalytic[i]!]!,
      v.texts[v.rowText[i]!]!,
      v.flows[r]!,
      v.groups[r]!.chain[0]!.identity,
      v.groups[r]!,
      (cls & BROWSER) !== 0,
      (cls & SANCTIONED) !== 0,
      v.flowSensitive[r]! >= 0 ? inputs.sensitiveEvents.at(v.flowSensitive[r]!) : undefined,
      v.flowArchive[r]! >= 0 ? inputs.archiveEvents.at(v.flowArchive[r]!) : undefined,
    );
  }
  return { rows, stats: v.stats };
}

/** The passing (flow, analytic) pairs of a generate, and per flow what its rows are built from. */
interface Verdicts {
  flows: Readonly<FlowRow>[];
  groups: GroupInfo[];
  /** BROWSER | SANCTIONED bits. */
  flowClass: Uint8Array;
  /** Position of the precursor event in its buffer, −1 for none. */
  flowSensitive: Int32Array;
  flowArchive: Int32Array;
  wanted: readonly AnalyticId[];
  texts: string[];
  /** Per row: index into flows, into wanted, into texts. */
  rowFlow: Int32Array;
  rowAnalytic: Uint8Array;
  rowText: Int32Array;
  rowCount: number;
  stats: CorrelationStats;
}

function evaluate(inputs: CorrelationInputs, opts: CorrelationOptions): Verdicts {
  const cfg: AnalyticsConfig = inputs.config.analytics;
  const { processes, signing } = inputs;
  const signingCache = new Map<string, SigningRow | undefined>();
  const rootKeyOf = new Map<ProcessRecord, string>();
  const groupOfRecord = new Map<ProcessRecord, LineageGroup>();
  const identityCache = new Map<ProcessRecord, Identity>();

  const groupFor = (rec: ProcessRecord): LineageGroup => {
    let g = groupOfRecord.get(rec);
    if (!g) {
      g = processes.group(rec);
      groupOfRecord.set(rec, g);
    }
    return g;
  };
  const rootKey = (rec: ProcessRecord): string => {
    let k = rootKeyOf.get(rec);
    if (k === undefined) {
      const root = groupFor(rec).root;
      k = instanceKey(root.pid, root.processStart);
      rootKeyOf.set(rec, k);
    }
    return k;
  };
  const recIdentity = (rec: ProcessRecord): Identity => {
    let id = identityCache.get(rec);
    if (!id) {
      id = identityOf(signing, rec.path, rec, signingCache);
      identityCache.set(rec, id);
    }
    return id;
  };

  /**
   * The process instance that produced an event: exactly (pid, start) when the event carries a start
   * time (never another instance of a reused pid), else the instance of pid alive at the event time.
   */
  const eventProcess = (pid: number, start: number, time: number): ProcessRecord | undefined =>
    start > 0 ? processes.get(pid, start) : processes.getAt(pid, time);

  // Bucket every buffered event by the lineage group of its process instance: a bucket number per
  // group key, and per event its slot (bucket × LISTS + list) in Int32Arrays, not the event in arrays.
  const bucketOfKey = new Map<string, number>();
  const counts: number[] = [];
  let unattributed = 0;
  const bucket = (key: string): number => {
    let b = bucketOfKey.get(key);
    if (b === undefined) {
      b = bucketOfKey.size;
      bucketOfKey.set(key, b);
      for (let l = 0; l < LISTS; l++) counts.push(0);
    }
    return b;
  };
  const eventGroupKey = (e: { pid: number; ppid: number; process_start: number; time: number }): string | undefined => {
    const rec = eventProcess(e.pid, e.process_start, e.time);
    if (rec) return rootKey(rec);
    // The process came and went between samples: its parent's group is the best attribution we have.
    const parent = e.ppid > 1 ? processes.getAt(e.ppid, e.time) : undefined;
    if (parent) return rootKey(parent);
    unattributed++;
    return e.process_start > 0 ? instanceKey(e.pid, e.process_start) : undefined;
  };
  // Many events share a process instance: resolve each (pid, start) once. Keyed by pid (a small
  // integer key), then a short chain of the instances that pid has had.
  const perPid = new Map<number, InstanceHit>();
  const bucketFor = (e: { pid: number; ppid: number; process_start: number; time: number }): number => {
    const start = e.process_start;
    if (start <= 0) {
      const key = eventGroupKey(e);
      return key ? bucket(key) : -1;
    }
    const first = perPid.get(e.pid);
    let hit = first;
    while (hit !== undefined && hit.start !== start) hit = hit.next;
    if (hit === undefined) {
      const before = unattributed;
      const key = eventGroupKey(e);
      hit = new InstanceHit(start, key ? bucket(key) : -1, unattributed !== before, first);
      perPid.set(e.pid, hit);
    } else if (hit.unattributed) unattributed++;
    return hit.bucket;
  };
  // One scan of each buffer attributes and counts; the index is then filled from the typed arrays.
  const { sensitiveEvents, archiveEvents } = inputs;
  const sensitiveSlot = new Int32Array(sensitiveEvents.size).fill(-1);
  const sensitiveTime = new Float64Array(sensitiveEvents.size);
  let at = 0;
  sensitiveEvents.forEach((e) => {
    const i = at++;
    if (e.tier !== 1 && e.tier !== 2) return;
    if (!readsOrMovesData(e.operation)) return;
    const b = bucketFor(e);
    if (b < 0) return;
    const slot = b * LISTS + (e.tier === 1 ? TIER1 : TIER2);
    sensitiveSlot[i] = slot;
    sensitiveTime[i] = e.time;
    counts[slot]!++;
  });
  // An archive event's slot is its ARCHIVE slot, or its STAGING slot when it is in both lists.
  const archiveSlot = new Int32Array(archiveEvents.size).fill(-1);
  const archiveTime = new Float64Array(archiveEvents.size);
  at = 0;
  archiveEvents.forEach((e) => {
    const i = at++;
    const b = bucketFor(e);
    if (b < 0) return;
    counts[b * LISTS + ARCHIVE]!++;
    if (e.staging === 1) counts[b * LISTS + STAGING]!++;
    archiveSlot[i] = b * LISTS + (e.staging === 1 ? STAGING : ARCHIVE);
    archiveTime[i] = e.time;
  });
  const slots = counts.length;
  const offsets = new Int32Array(slots + 1);
  for (let slot = 0; slot < slots; slot++) offsets[slot + 1] = offsets[slot]! + counts[slot]!;
  const events: EventIndex = { offsets, positions: new Int32Array(offsets[slots]!), times: new Float64Array(offsets[slots]!) };
  const fill = offsets.slice(0, slots);
  const place = (slot: number, position: number, time: number) => {
    const j = fill[slot]!++;
    events.positions[j] = position;
    events.times[j] = time;
  };
  for (let i = 0; i < sensitiveSlot.length; i++) if (sensitiveSlot[i]! >= 0) place(sensitiveSlot[i]!, i, sensitiveTime[i]!);
  for (let i = 0; i < archiveSlot.length; i++) {
    const slot = archiveSlot[i]!;
    if (slot < 0) continue;
    if (slot % LISTS === STAGING) {
      place(slot - STAGING + ARCHIVE, i, archiveTime[i]!);
      place(slot, i, archiveTime[i]!);
    } else place(slot, i, archiveTime[i]!);
  }
  for (let slot = 0; slot < slots; slot++) sortRange(events.positions, events.times, offsets[slot]!, offsets[slot + 1]!);

  // Resolve each flow's process and group once. Group egress volume: external bytes out of the group's
  // flows active within group_window of this flow (symmetric, so every flow of a burst is marked, not
  // only the one that crossed the line). Flow counters are cumulative, so a long open flow counts its
  // whole volume: an upper bound, documented. The store's rows are read in place (this pass keeps
  // references only until correlate returns and never writes to them).
  // Sized for every flow up front (no growth garbage), truncated after the pass.
  const resolvedFlows = new Array<Readonly<FlowRow>>(inputs.flows.size);
  const resolvedRecs = new Array<ProcessRecord | undefined>(inputs.flows.size);
  const resolvedGroups = new Array<GroupInfo>(inputs.flows.size);
  let resolvedCount = 0;
  const groupInfoCache = new Map<ProcessRecord, GroupInfo>();
  const externalByGroup = new Map<string, Readonly<FlowRow>[]>();
  inputs.flows.forEachRow((flow) => {
    // Every analytic's first gate is "external"; the flow store already maps network.internal_ranges
    // to `private`, so non-public flows can never be candidates and are not worth resolving.
    if (flow.remote_scope !== 'public') return;
    const wantedFlow = !opts.pids || opts.pids.has(flow.pid);
    if (!wantedFlow && flow.bytes_out <= 0) return;
    const rec = flow.process_start > 0 ? (processes.get(flow.pid, flow.process_start) ?? undefined) : processes.getAt(flow.pid, flow.first_seen);
    if (flow.bytes_out > 0) {
      const key = rec ? rootKey(rec) : instanceKey(flow.pid, flow.process_start);
      let list = externalByGroup.get(key);
      if (!list) externalByGroup.set(key, (list = []));
      list.push(flow);
    }
    if (!wantedFlow) return;
    let group: GroupInfo;
    if (rec) {
      let info = groupInfoCache.get(rec);
      if (!info) {
        const g = groupFor(rec);
        const chain = g.chain.map((p) => new ChainLink(p.pid, p.path, recIdentity(p)));
        info = new GroupInfo(rootKey(rec), chain, g.rootKind);
        groupInfoCache.set(rec, info);
      }
      // The flow keeps the image that had the socket when it was first seen (flow-store.ts): after an exec onto
      // the inherited socket (`exec cat >&3`) the instance runs another image, and the upload stays the uploader's.
      // Only an exec the kernel reported after the flow was first seen says so (a path that differs otherwise may be
      // an argv[0] claim the kernel's path has since replaced), and only for a flow path the kernel had given: one first
      // seen while the instance's path was ps's argv[0] (no core answer) is a claim, exec or not. Only onto Apple's own
      // code, which writes what it is given: code of anyone else that took over a socket an Apple tool opened (bash's
      // /dev/tcp, then exec) writes its own upload, and is judged by its own identity.
      // The kernel gave the instance the flow's own path by then (a late eslogger line dated earlier that gave another
      // path does not make ps's claim the kernel's word). An exec dated the flow's own first second counts as after it:
      // the sampler saw the socket under the earlier image, and an uploader that execs at once (connect, then
      // `exec cat >&3`) would otherwise take the Apple tool's name whenever its first sample fell in that second.
      if (
        flow.path &&
        flow.path !== rec.path &&
        rec.execAt !== undefined &&
        rec.execAt >= flow.first_seen &&
        (processes.kernelPathSince(rec, flow.path) ?? Infinity) <= flow.first_seen &&
        // in that second, only onto an image that ran before it: a fork that execs an Apple tool at once (Dropbox → curl)
        // shows its parent's image for that second too, and curl's own connection is curl's, not the parent's
        (rec.execAt > flow.first_seen || processes.kernelPathSince(rec, flow.path)! < rec.execAt) &&
        APPLE_CODE.has(info.chain[0]!.identity.signature_class)
      ) {
        const own = new ChainLink(rec.pid, flow.path, identityOf(signing, flow.path, undefined, signingCache));
        info = new GroupInfo(info.key, [own, ...info.chain.slice(1)], info.rootKind);
      }
      group = info;
    } else {
      const id = identityOf(signing, flow.path, undefined, signingCache);
      const link = new ChainLink(flow.pid, flow.path, id);
      group = new GroupInfo(instanceKey(flow.pid, flow.process_start), [link], '');
    }
    resolvedFlows[resolvedCount] = flow;
    resolvedRecs[resolvedCount] = rec;
    resolvedGroups[resolvedCount++] = group;
  });
  resolvedFlows.length = resolvedRecs.length = resolvedGroups.length = resolvedCount;

  const volumes = new Map<string, GroupVolume>();
  const groupBytesOut = (key: string, flow: Readonly<FlowRow>): number => {
    const list = externalByGroup.get(key);
    if (!list) return Math.max(0, flow.bytes_out);
    let v = volumes.get(key);
    if (!v) volumes.set(key, (v = groupVolume(list, cfg.high_throughput.group_window)));
    // the busiest group_window that overlaps this flow: every flow of a burst is marked, and flows spread wider
    // than the window are not summed as one
    return v.busiestWindow(flow.first_seen - cfg.high_throughput.group_window, flow.last_seen);
  };
  /** Each group's largest external flow (bytes out, then the smallest flow id): it always carries the group rule. */
  const tops = new Map<string, Readonly<FlowRow> | null>();
  const groupTop = (key: string, flow: Readonly<FlowRow>): boolean => {
    let top = tops.get(key);
    if (top === undefined) {
      const list = externalByGroup.get(key);
      if (!list) return true;
      // the largest flow among those whose own window reaches the group threshold: the group's largest flow
      // overall may lie outside every such window (flows.retention > group_window)
      top = null;
      for (const f of list) {
        if (top !== null && (f.bytes_out < top.bytes_out || (f.bytes_out === top.bytes_out && f.flow_id > top.flow_id))) continue;
        if (groupBytesOut(key, f) < cfg.high_throughput.group_bytes_out) continue;
        top = f;
      }
      tops.set(key, top);
    }
    return top === flow;
  };

  // Two passes. This one asks the analytics about every flow and records each passing (flow, analytic)
  // in typed arrays; correlate() then builds all rows at once. Every row lives until the generate
  // returns: rows built while this pass still allocated would sit through more scavenges and, with the
  // extension's 4 MB semi-space, be promoted to the old generation (~2 MB of old-space garbage per
  // generate, a full GC every few generates). Built in one burst of ~2.5 MB at the end, they are mostly
  // copied by one scavenge at most and die young.
  /** BROWSER | SANCTIONED bits of each flow process. */
  const classOfRecord = new Map<ProcessRecord, number>();
  const wanted = opts.analytics ?? ANALYTIC_IDS;
  /** The `reasons` texts, and the text of each evidence list (lists are shared between flows: endpoint.ts). */
  const texts: string[] = [];
  const textOf = new Map<readonly string[], number>();
  const { offsets: eventOffsets, times: eventTimes, positions: eventPositions } = events;
  const sampleSlack = inputs.config.flows.sample_interval;
  const flowCount = resolvedFlows.length;
  /** Per resolved flow: identity, browser/sanctioned bits, precursor event positions (−1: none). */
  const flowClass = new Uint8Array(flowCount);
  const flowSensitive = new Int32Array(flowCount).fill(-1);
  const flowArchive = new Int32Array(flowCount).fill(-1);
  /** Per row: its flow, the analytic (index into `wanted`) and the reasons text (index into `texts`). */
  const rowFlow = new Int32Array(flowCount * wanted.length);
  const rowAnalytic = new Uint8Array(flowCount * wanted.length);
  const rowText = new Int32Array(flowCount * wanted.length);
  let rowCount = 0;
  const facts = new FlowFacts();
  for (let r = 0; r < flowCount; r++) {
    const flow = resolvedFlows[r]!;
    const rec = resolvedRecs[r];
    const group = resolvedGroups[r]!;
    // The chain starts with the flow's own process (its record's identity, or the unknown process's).
    const identity = group.chain[0]!.identity;
    // cached per record only for the record's own image (a flow from before an exec has another identity)
    const cacheable = rec !== undefined && group.chain[0]!.path === rec.path;
    let cls = cacheable ? classOfRecord.get(rec) : undefined;
    if (cls === undefined) {
      cls = appClass(inputs, rec, identity, group, processes, recIdentity);
      if (cacheable) classOfRecord.set(rec, cls);
    }
    const browser = (cls & BROWSER) !== 0;
    const sanctioned = (cls & SANCTIONED) !== 0;
    flowClass[r] = cls;

    const b = bucketOfKey.get(group.key);
    const from = flow.first_seen - cfg.precursor_window;
    let sensitive: SensitiveFileEventRow | undefined;
    let archive: ArchiveEventRow | undefined;
    let staging = false;
    let closePrecursor = false;
    if (b !== undefined) {
      // Tier 1 beats tier 2; within a tier the read closest to the flow start is the precursor.
      const s = b * LISTS;
      let t = closestInWindow(eventTimes, eventOffsets[s + TIER1]!, eventOffsets[s + TIER1 + 1]!, from, flow.last_seen, flow.first_seen);
      if (t < 0) t = closestInWindow(eventTimes, eventOffsets[s + TIER2]!, eventOffsets[s + TIER2 + 1]!, from, flow.last_seen, flow.first_seen);
      if (t >= 0) {
        flowSensitive[r] = eventPositions[t]!;
        sensitive = sensitiveEvents.at(eventPositions[t]!);
      }
      // A download's own file is no archive step: the archive a download-shaped flow's own process creates while the
      // flow runs (an app's update fetched by Sparkle, `curl -O x.tar.gz`) is what the flow brought in, not data staged
      // for it. Another process's archive, one made before the flow, or any archive of an upload still counts.
      // Download-shaped is upload-shaped's mirror (pcr ≤ −min_pcr): a download's request side is a few percent of it,
      // and an upload would have to be padded with nine times its size in return to drop its archive. first_seen is
      // the first sample that saw the socket: the file curl -O creates just after the connect may precede it by up
      // to flows.sample_interval.
      const archiveLo = eventOffsets[s + ARCHIVE]!;
      const archiveHi = eventOffsets[s + ARCHIVE + 1]!;
      // no closure per flow on this path: the two scans below take the flow and test isOwnDownload themselves
      const ownDownload = archiveHi > archiveLo && flow.pcr <= -cfg.upload_shaped.min_pcr;
      const a = ownDownload
        ? closestNotOwn(eventTimes, eventPositions, archiveLo, archiveHi, from, flow.last_seen, flow.first_seen, archiveEvents, flow, sampleSlack)
        : closestInWindow(eventTimes, archiveLo, archiveHi, from, flow.last_seen, flow.first_seen);
      if (a >= 0) {
        flowArchive[r] = eventPositions[a]!;
        archive = archiveEvents.at(eventPositions[a]!);
      }
      staging =
        archive !== undefined &&
        (ownDownload
          ? anyNotOwn(eventTimes, eventPositions, eventOffsets[s + STAGING]!, eventOffsets[s + STAGING + 1]!, from, flow.last_seen, archiveEvents, flow, sampleSlack)
          : anyInWindow(eventTimes, eventOffsets[s + STAGING]!, eventOffsets[s + STAGING + 1]!, from, flow.last_seen));
      // the precursor above is the strongest; a nearer one of another tier (or an archive step) still makes it close
      const closeFrom = Math.max(from, flow.first_seen - cfg.precursor_high_gap);
      closePrecursor =
        anyInWindow(eventTimes, eventOffsets[s + TIER1]!, eventOffsets[s + TIER1 + 1]!, closeFrom, flow.last_seen) ||
        anyInWindow(eventTimes, eventOffsets[s + TIER2]!, eventOffsets[s + TIER2 + 1]!, closeFrom, flow.last_seen) ||
        (ownDownload
          ? anyNotOwn(eventTimes, eventPositions, archiveLo, archiveHi, closeFrom, flow.last_seen, archiveEvents, flow, sampleSlack)
          : anyInWindow(eventTimes, archiveLo, archiveHi, closeFrom, flow.last_seen));
    }
    facts.set(flow, browser, sanctioned, identity.signature_class, sensitive, archive, staging, groupBytesOut(group.key, flow), groupTop(group.key, flow), closePrecursor);

    // The analytics that pass a flow share one evidence list (endpoint.ts): look its text up once.
    let reasonsOf: readonly string[] | undefined;
    let text = -1;
    for (let w = 0; w < wanted.length; w++) {
      const verdict = ANALYTICS[wanted[w]!].endpoint(facts, cfg);
      if (!verdict.pass) continue;
      if (verdict.reasons !== reasonsOf) {
        reasonsOf = verdict.reasons;
        let known = textOf.get(reasonsOf);
        if (known === undefined) {
          known = texts.push(reasonsOf.join(',')) - 1;
          textOf.set(reasonsOf, known);
        }
        text = known;
      }
      rowFlow[rowCount] = r;
      rowAnalytic[rowCount] = w;
      rowText[rowCount++] = text;
    }
  }

  return {
    flows: resolvedFlows,
    groups: resolvedGroups,
    flowClass,
    flowSensitive,
    flowArchive,
    wanted,
    texts,
    rowFlow,
    rowAnalytic,
    rowText,
    rowCount,
    stats: { flows: flowCount, unattributedEvents: unattributed },
  };
}

const BROWSER = 1;
const SANCTIONED = 2;

/** Whether the flow's own process instance created this archive file while the flow ran (see ownDownload). */
function isOwnDownload(e: ArchiveEventRow, flow: Readonly<FlowRow>, sampleSlack: number): boolean {
  return e.operation === 'create' && e.pid === flow.pid && e.process_start === flow.process_start && e.time >= flow.first_seen - sampleSlack;
}

/**
 * The EndpointFacts of one flow after another, rewritten in place: three objects per flow were a fifth
 * of a generate's garbage. The analytics only read facts while they are asked (endpoint.ts keeps
 * verdicts keyed by facts and flow, never facts).
 */
class FlowFacts implements EndpointFacts {
  flow!: Readonly<FlowRow>;
  external = false;
  browser = false;
  sanctioned = false;
  signatureClass = '';
  groupBytesOut15m = 0;
  groupTop = false;
  closePrecursor = false;
  readonly serverNameObservable = SERVER_NAMES_OBSERVED;
  archive: { time: number; gap: number; staging: boolean } | null = null;
  /** The primary precursor: the sensitive read if any, else the archive event. */
  readonly precursor: PrecursorFacts = { kind: 'none', tier: 0, gap: 0, time: 0 };
  private readonly archiveFacts = { time: 0, gap: 0, staging: false };

  set(
    flow: Readonly<FlowRow>,
    browser: boolean,
    sanctioned: boolean,
    signatureClass: string,
    sensitive: SensitiveFileEventRow | undefined,
    archive: ArchiveEventRow | undefined,
    staging: boolean,
    groupBytesOut15m: number,
    groupTop: boolean,
    closePrecursor: boolean,
  ): void {
    this.flow = flow;
    this.closePrecursor = closePrecursor;
    this.external = flow.remote_scope === 'public';
    this.browser = browser;
    this.sanctioned = sanctioned;
    this.signatureClass = signatureClass;
    this.groupBytesOut15m = groupBytesOut15m;
    this.groupTop = groupTop;
    const p = this.precursor;
    if (sensitive) {
      p.kind = 'sensitive_access';
      p.tier = sensitive.tier;
      p.gap = flow.first_seen - sensitive.time;
      p.time = sensitive.time;
    } else if (archive) {
      p.kind = 'archive';
      p.tier = 0;
      p.gap = flow.first_seen - archive.time;
      p.time = archive.time;
    } else {
      p.kind = 'none';
      p.tier = p.gap = p.time = 0;
    }
    if (archive) {
      const a = this.archiveFacts;
      a.time = archive.time;
      a.gap = flow.first_seen - archive.time;
      a.staging = staging;
      this.archive = a;
    } else this.archive = null;
  }
}

/** Platform code's team key (teamKey): Apple's own, which every Apple tool shares. */
const APPLE_TEAM = 'APPLE';

/**
 * Browser / sanctioned by code identity only (team id + signing-id prefix). The flow process counts as
 * its owner's app when:
 *  - it is an XPC service launched on that app's behalf: its responsible process is the app, launchd started
 *    it (no parent process of its own), and Apple or the app's own team signed it. A program the app ran
 *    inherits the app as its responsible process too (curl run by Dropbox, an unsigned binary Chrome ran),
 *    and is not exempted; nor is a WebKit process another app's WKWebView owns (its owner is that app), or
 *  - the group root is that app and the flow process is signed by the same (non-Apple) team — the
 *    vendor's own helper under another signing id. Apple platform code shares one "team", so an Apple
 *    tool (curl, ditto) under an allowlisted Apple app is never exempted this way.
 */
function appClass(
  inputs: CorrelationInputs,
  rec: ProcessRecord | undefined,
  identity: Identity,
  group: GroupInfo,
  processes: CorrelationInputs['processes'],
  recIdentity: (r: ProcessRecord) => Identity,
): number {
  const cls = classifyApp(inputs.config, identity.team, identity.signing_id);
  let browser = cls.browser;
  let sanctioned = cls.sanctioned;
  if (browser && sanctioned) return BROWSER | SANCTIONED;
  if (rec && identity.team && rec.responsiblePid !== null && rec.responsiblePid > 1 && rec.responsiblePid !== rec.pid && launchdChild(rec)) {
    const owner = processes.getAt(rec.responsiblePid, rec.processStart);
    if (owner && owner !== rec) {
      const oid = recIdentity(owner);
      if (identity.team === APPLE_TEAM || identity.team === oid.team) {
        const ocls = classifyApp(inputs.config, oid.team, oid.signing_id);
        browser ||= ocls.browser;
        sanctioned ||= ocls.sanctioned;
      }
    }
  }
  // The vendor's own app anywhere between the process and its group root (the root, or an app that a known
  // process started and that therefore is no root of its own: Dropbox started from Terminal).
  if (identity.team && identity.team !== APPLE_TEAM) {
    for (let i = 1; i < group.chain.length && !(browser && sanctioned); i++) {
      const a = group.chain[i]!.identity;
      if (a.team !== identity.team) continue;
      const acls = classifyApp(inputs.config, a.team, a.signing_id);
      browser ||= acls.browser;
      sanctioned ||= acls.sanctioned;
    }
  }
  return (browser ? BROWSER : 0) | (sanctioned ? SANCTIONED : 0);
}


/**
 * Whether launchd started the process, as its original parent says: an XPC service, a launchd job. A ppid of 1
 * alone is not enough: a child whose parent exited is reparented to launchd, and an unknown original parent could
 * be the app whose exemption the process would then borrow. (eslogger, the only source of a responsible pid,
 * reports the original parent with it.)
 */
function launchdChild(rec: ProcessRecord): boolean {
  return rec.originalPpid === LAUNCHD_PID;
}

/**
 * An egress_candidates row. Built by a constructor, not an object literal: V8 allocates a literal's
 * objects straight in the old generation once it sees them survive scavenges (allocation-site
 * pretenuring), and every row does survive until the generate returns. Tenured rows made a generate
 * of 5 000 flows ~2× slower (building the rows took ~30 ms instead of ~4 ms: old-space allocation and
 * a write barrier per field; then full GCs of the dead rows), and whether V8 tenured them depended on
 * where the warm-up scavenges fell, so the latency was bimodal from one process to the next. V8 does not
 * pretenure objects built by `new`. Fields are assigned in column order (the row's key order).
 */
class CandidateRecord implements CandidateRow {
  declare analytic: CandidateRow['analytic'];
  declare flow_id: CandidateRow['flow_id'];
  declare pid: CandidateRow['pid'];
  declare ppid: CandidateRow['ppid'];
  declare uid: CandidateRow['uid'];
  declare process_start: CandidateRow['process_start'];
  declare process_name: CandidateRow['process_name'];
  declare path: CandidateRow['path'];
  declare protocol: CandidateRow['protocol'];
  declare family: CandidateRow['family'];
  declare local_address: CandidateRow['local_address'];
  declare local_port: CandidateRow['local_port'];
  declare remote_address: CandidateRow['remote_address'];
  declare remote_port: CandidateRow['remote_port'];
  declare remote_scope: CandidateRow['remote_scope'];
  declare service: CandidateRow['service'];
  declare service_evidence: CandidateRow['service_evidence'];
  declare server_name: CandidateRow['server_name'];
  declare state: CandidateRow['state'];
  declare interface: CandidateRow['interface'];
  declare bytes_in: CandidateRow['bytes_in'];
  declare bytes_out: CandidateRow['bytes_out'];
  declare pcr: CandidateRow['pcr'];
  declare first_seen: CandidateRow['first_seen'];
  declare last_seen: CandidateRow['last_seen'];
  declare duration: CandidateRow['duration'];
  declare closed: CandidateRow['closed'];
  declare signature_class: CandidateRow['signature_class'];
  declare team_id: CandidateRow['team_id'];
  declare signing_id: CandidateRow['signing_id'];
  declare cdhash: CandidateRow['cdhash'];
  declare identity: CandidateRow['identity'];
  declare group_root_pid: CandidateRow['group_root_pid'];
  declare group_root_path: CandidateRow['group_root_path'];
  declare group_root_identity: CandidateRow['group_root_identity'];
  declare group_root_kind: CandidateRow['group_root_kind'];
  declare process_chain: CandidateRow['process_chain'];
  declare browser: CandidateRow['browser'];
  declare sanctioned: CandidateRow['sanctioned'];
  declare precursor_kind: CandidateRow['precursor_kind'];
  declare precursor_time: CandidateRow['precursor_time'];
  declare precursor_path: CandidateRow['precursor_path'];
  declare precursor_category: CandidateRow['precursor_category'];
  declare precursor_tier: CandidateRow['precursor_tier'];
  declare precursor_pid: CandidateRow['precursor_pid'];
  declare precursor_gap: CandidateRow['precursor_gap'];
  declare archive_time: CandidateRow['archive_time'];
  declare archive_path: CandidateRow['archive_path'];
  declare archive_tool: CandidateRow['archive_tool'];
  declare archive_pid: CandidateRow['archive_pid'];
  declare reasons: CandidateRow['reasons'];

  constructor(
    analytic: AnalyticId,
    reasons: string,
    flow: Readonly<FlowRow>,
    identity: Identity,
    group: GroupInfo,
    browser: boolean,
    sanctioned: boolean,
    sensitive: SensitiveFileEventRow | undefined,
    archive: ArchiveEventRow | undefined,
  ) {
    if (group.chainJson === undefined) {
      const chain: ProcessChainLink[] = group.chain.map((l) => ({ pid: l.pid, path: l.path, identity: l.identity.identity, signature_class: l.identity.signature_class }));
      group.chainJson = JSON.stringify(chain);
    }
    // The primary precursor (precursorFacts): the sensitive read if any, else the archive event.
    let precursorKind: PrecursorFacts['kind'] = 'none';
    let precursorTime = 0;
    let precursorPath = '';
    let precursorCategory = '';
    let precursorTier = 0;
    let precursorPid = 0;
    if (sensitive) {
      precursorKind = 'sensitive_access';
      precursorTime = sensitive.time;
      precursorPath = sensitive.file_path;
      precursorCategory = sensitive.category;
      precursorTier = sensitive.tier;
      precursorPid = sensitive.pid;
    } else if (archive) {
      precursorKind = 'archive';
      precursorTime = archive.time;
      precursorPath = archive.archive_path || archive.path;
      precursorCategory = `archive:${archive.tool}`;
      precursorPid = archive.pid;
    }
    this.analytic = analytic;
    this.flow_id = flow.flow_id;
    this.pid = flow.pid;
    this.ppid = flow.ppid;
    this.uid = flow.uid;
    this.process_start = flow.process_start;
    this.process_name = flow.process_name;
    this.path = flow.path;
    this.protocol = flow.protocol;
    this.family = flow.family;
    this.local_address = flow.local_address;
    this.local_port = flow.local_port;
    this.remote_address = flow.remote_address;
    this.remote_port = flow.remote_port;
    this.remote_scope = flow.remote_scope;
    this.service = flow.service;
    this.service_evidence = flow.service_evidence;
    this.server_name = flow.server_name;
    this.state = flow.state;
    this.interface = flow.interface;
    this.bytes_in = flow.bytes_in;
    this.bytes_out = flow.bytes_out;
    this.pcr = flow.pcr;
    this.first_seen = flow.first_seen;
    this.last_seen = flow.last_seen;
    this.duration = flow.duration;
    this.closed = flow.closed;
    this.signature_class = identity.signature_class;
    this.team_id = identity.team_id;
    this.signing_id = identity.signing_id;
    this.cdhash = identity.cdhash;
    this.identity = identity.identity;
    this.group_root_pid = group.root.pid;
    this.group_root_path = group.root.path;
    this.group_root_identity = group.rootIdentity.identity;
    this.group_root_kind = group.rootKind;
    this.process_chain = group.chainJson;
    this.browser = browser ? 1 : 0;
    this.sanctioned = sanctioned ? 1 : 0;
    this.precursor_kind = precursorKind;
    this.precursor_time = precursorTime;
    this.precursor_path = precursorPath;
    this.precursor_category = precursorCategory;
    this.precursor_tier = precursorTier;
    this.precursor_pid = precursorPid;
    this.precursor_gap = precursorKind === 'none' ? 0 : flow.first_seen - precursorTime;
    this.archive_time = archive ? archive.time : 0;
    this.archive_path = archive ? archive.archive_path || archive.path : '';
    this.archive_tool = archive ? archive.tool : '';
    this.archive_pid = archive ? archive.pid : 0;
    this.reasons = reasons;
  }
}

/** Exported for tests: the window test the table applies (same definition the analytics use). */
export { precursorInWindow };
