/**
 * The endpoint stage of SPEC §4: join flows × process lineage × code signing × the sensitive-access and
 * archive buffers, then ask every analytic whether the flow is a candidate. Pure over the in-memory
 * context (no tool is spawned, nothing waits), so a generate answers from whatever the collectors have.
 *
 * Precursors count only from the flow's lineage group, matched by process instance (pid, process_start),
 * so a reused pid never lends its history to a new process.
 */
import { ANALYTICS, type EndpointFacts, type PrecursorFacts, precursorInWindow } from '../../../src/analytics/index.js';
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

/** The parts of the extension context the correlation reads. */
export type CorrelationInputs = Pick<ExtensionContext, 'processes' | 'flows' | 'signing' | 'sensitiveEvents' | 'archiveEvents'> & {
  config: Pick<OutflowConfig, 'analytics' | 'allowlists'>;
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

interface Identity {
  signature_class: string;
  team_id: string;
  signing_id: string;
  cdhash: string;
  identity: string;
  /** Team key for allowlists: team id, or "APPLE" for platform code. */
  team: string;
}

interface GroupInfo {
  key: string;
  root: { pid: number; path: string };
  rootIdentity: Identity;
  chain: { pid: number; path: string; identity: Identity }[];
  /** process_chain column text, built once per group. */
  chainJson?: string;
  /** The process records of the chain (empty when the flow's process is unknown to the model). */
  records: ProcessRecord[];
  rootKind: LineageGroup['rootKind'] | 'unknown';
}

interface GroupEvents {
  tier1: SensitiveFileEventRow[];
  tier2: SensitiveFileEventRow[];
  archive: ArchiveEventRow[];
  /** Archive events written to a staging location (a subset of `archive`). */
  staging: ArchiveEventRow[];
  /** The event times of each list once sorted: binary searches read these, not the rows. */
  tier1Times: Float64Array;
  tier2Times: Float64Array;
  archiveTimes: Float64Array;
  stagingTimes: Float64Array;
  /** Position in the bucket list, and each list's length once counted (lists are allocated exactly). */
  index: number;
  tier1Count: number;
  tier2Count: number;
  archiveCount: number;
  stagingCount: number;
}

const NO_TIMES = new Float64Array(0);

/** Per-process-instance attribution of buffered events (resolved once per generate). */
interface InstanceHit {
  start: number;
  bucket: GroupEvents | undefined;
  unattributed: boolean;
  /** Another instance of the same pid (pid reuse), if any. */
  next: InstanceHit | undefined;
}

const instanceKey = (pid: number, start: number) => `${pid}:${start}`;

const UNKNOWN_IDENTITY: Identity = { signature_class: 'unknown', team_id: '', signing_id: '', cdhash: '', identity: '', team: '' };

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
    return {
      signature_class: row.signature_class,
      team_id: row.team_id,
      signing_id: row.signing_id,
      cdhash: row.cdhash || esHash,
      identity: row.identity || (esHash ? `cdhash:${esHash}` : ''),
      team: teamVouched(row.signature_class) ? teamKey(row.team_id, row.signature_class === 'apple_platform') : '',
    };
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
    return {
      signature_class: rec.platformBinary ? 'apple_platform' : 'unknown',
      team_id: rec.teamId ?? '',
      signing_id: signingId,
      cdhash,
      identity,
      team,
    };
  }
  if (row) return { ...UNKNOWN_IDENTITY, team_id: row.team_id, signing_id: row.signing_id, cdhash: row.cdhash, identity: row.identity };
  return UNKNOWN_IDENTITY;
}

/**
 * Index of the event of a time-sorted list inside [from, to] closest to `start` (ties: the earlier
 * one), −1 when none, found by binary search: the candidates are the last event at or before `start`
 * and the first one after it.
 */
function closestInWindow(times: Float64Array, from: number, to: number, start: number): number {
  const i = lowerBound(times, start + 1); // first event after start
  const b = i > 0 && times[i - 1]! >= from && times[i - 1]! <= to ? i - 1 : -1;
  const a = i < times.length && times[i]! <= to && times[i]! >= from ? i : -1;
  if (b < 0) return a;
  if (a < 0) return b;
  return times[a]! - start < start - times[b]! ? a : b;
}

function anyInWindow(times: Float64Array, from: number, to: number): boolean {
  const i = lowerBound(times, from);
  return i < times.length && times[i]! <= to;
}

/** Sorted times: the first index with time ≥ t. */
function lowerBound(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length;
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
}

/**
 * Bytes of the flows overlapping [from, to] in O(log n): a flow overlaps unless it starts after `to`
 * or ends before `from`, and (from ≤ to, first_seen ≤ last_seen) no flow does both, so the answer is
 * Σ(first_seen ≤ to) − Σ(last_seen < from), each a prefix sum over a sorted array.
 */
export function groupVolume(flows: readonly FlowRow[]): GroupVolume {
  const n = flows.length;
  const bytes = new Float64Array(n);
  for (let i = 0; i < n; i++) bytes[i] = flows[i]!.bytes_out;
  // Times and prefix sums in plain typed arrays: an index sort by a numeric key, no row copies. Ties
  // need no order (a prefix is only ever read at the end of a run of equal times).
  const sortedBy = (key: Float64Array) => {
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => key[a]! - key[b]!);
    const times = new Float64Array(n);
    const prefix = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const j = order[i]!;
      times[i] = key[j]!;
      prefix[i + 1] = prefix[i]! + bytes[j]!;
    }
    return { times, prefix };
  };
  const firstSeen = new Float64Array(n);
  const lastSeen = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    firstSeen[i] = flows[i]!.first_seen;
    lastSeen[i] = flows[i]!.last_seen;
  }
  const first = sortedBy(firstSeen);
  const last = sortedBy(lastSeen);
  /** Number of times ≤ t (upper bound). */
  const countAtMost = (times: Float64Array, t: number) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    activeBetween(from, to) {
      return first.prefix[countAtMost(first.times, to)]! - last.prefix[countAtMost(last.times, from - 1)]!;
    },
  };
}

/** Sorts the list by time (stable; buffers are nearly in order already) and returns its times. */
function sortedTimes(list: { time: number }[]): Float64Array {
  if (list.length === 0) return NO_TIMES;
  const times = new Float64Array(list.length);
  let sorted = true;
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!.time;
    if (i > 0 && t < times[i - 1]!) {
      sorted = false;
      break;
    }
    times[i] = t;
  }
  if (!sorted) {
    list.sort((x, y) => x.time - y.time);
    for (let i = 0; i < list.length; i++) times[i] = list[i]!.time;
  }
  return times;
}

export function correlate(inputs: CorrelationInputs, opts: CorrelationOptions = {}): { rows: CandidateRow[]; stats: CorrelationStats } {
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

  // Bucket every buffered event by the lineage group of its process instance.
  const byGroup = new Map<string, GroupEvents>();
  let unattributed = 0;
  const buckets: GroupEvents[] = [];
  const bucket = (key: string): GroupEvents => {
    let b = byGroup.get(key);
    if (!b) {
      b = {
        tier1: [],
        tier2: [],
        archive: [],
        staging: [],
        tier1Times: NO_TIMES,
        tier2Times: NO_TIMES,
        archiveTimes: NO_TIMES,
        stagingTimes: NO_TIMES,
        index: buckets.length,
        tier1Count: 0,
        tier2Count: 0,
        archiveCount: 0,
        stagingCount: 0,
      };
      byGroup.set(key, b);
      buckets.push(b);
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
  const bucketFor = (e: { pid: number; ppid: number; process_start: number; time: number }): GroupEvents | undefined => {
    const start = e.process_start;
    if (start <= 0) {
      const key = eventGroupKey(e);
      return key ? bucket(key) : undefined;
    }
    const first = perPid.get(e.pid);
    let hit = first;
    while (hit !== undefined && hit.start !== start) hit = hit.next;
    if (hit === undefined) {
      const before = unattributed;
      const key = eventGroupKey(e);
      hit = { start, bucket: key ? bucket(key) : undefined, unattributed: unattributed !== before, next: first };
      perPid.set(e.pid, hit);
    } else if (hit.unattributed) unattributed++;
    return hit.bucket;
  };
  // Two passes over the buffers: attribute and count, then fill lists allocated at their final size
  // (growing 100 lists by push to 50 000 events was most of the bucketing garbage).
  const sensitiveBucket = new Int32Array(inputs.sensitiveEvents.size).fill(-1);
  const archiveBucket = new Int32Array(inputs.archiveEvents.size).fill(-1);
  let at = 0;
  inputs.sensitiveEvents.forEach((e) => {
    const i = at++;
    if (e.tier !== 1 && e.tier !== 2) return;
    const b = bucketFor(e);
    if (!b) return;
    sensitiveBucket[i] = b.index;
    if (e.tier === 1) b.tier1Count++;
    else b.tier2Count++;
  });
  at = 0;
  inputs.archiveEvents.forEach((e) => {
    const i = at++;
    const b = bucketFor(e);
    if (!b) return;
    archiveBucket[i] = b.index;
    b.archiveCount++;
    if (e.staging === 1) b.stagingCount++;
  });
  for (const b of buckets) {
    b.tier1 = new Array<SensitiveFileEventRow>(b.tier1Count);
    b.tier2 = new Array<SensitiveFileEventRow>(b.tier2Count);
    b.archive = new Array<ArchiveEventRow>(b.archiveCount);
    b.staging = new Array<ArchiveEventRow>(b.stagingCount);
    b.tier1Count = b.tier2Count = b.archiveCount = b.stagingCount = 0;
  }
  at = 0;
  inputs.sensitiveEvents.forEach((e) => {
    const bi = sensitiveBucket[at++]!;
    if (bi < 0) return;
    const b = buckets[bi]!;
    if (e.tier === 1) b.tier1[b.tier1Count++] = e;
    else b.tier2[b.tier2Count++] = e;
  });
  at = 0;
  inputs.archiveEvents.forEach((e) => {
    const bi = archiveBucket[at++]!;
    if (bi < 0) return;
    const b = buckets[bi]!;
    b.archive[b.archiveCount++] = e;
    if (e.staging === 1) b.staging[b.stagingCount++] = e;
  });
  // Buffers arrive nearly in time order; the sort makes binary search exact when they do not.
  for (const b of byGroup.values()) {
    b.tier1Times = sortedTimes(b.tier1);
    b.tier2Times = sortedTimes(b.tier2);
    b.archiveTimes = sortedTimes(b.archive);
    b.stagingTimes = sortedTimes(b.staging);
  }

  // Resolve each flow's process and group once. Group egress volume: external bytes out of the group's
  // flows active within group_window of this flow (symmetric, so every flow of a burst is marked, not
  // only the one that crossed the line). Flow counters are cumulative, so a long open flow counts its
  // whole volume: an upper bound, documented.
  const flows = inputs.flows.rows();
  const resolved: { flow: FlowRow; rec: ProcessRecord | undefined; group: GroupInfo }[] = [];
  const groupInfoCache = new Map<ProcessRecord, GroupInfo>();
  const externalByGroup = new Map<string, FlowRow[]>();
  for (const flow of flows) {
    // Every analytic's first gate is "external"; the flow store already maps network.internal_ranges
    // to `private`, so non-public flows can never be candidates and are not worth resolving.
    if (flow.remote_scope !== 'public') continue;
    const wantedFlow = !opts.pids || opts.pids.has(flow.pid);
    if (!wantedFlow && flow.bytes_out <= 0) continue;
    const rec = flow.process_start > 0 ? (processes.get(flow.pid, flow.process_start) ?? undefined) : processes.getAt(flow.pid, flow.first_seen);
    if (flow.bytes_out > 0) {
      const key = rec ? rootKey(rec) : instanceKey(flow.pid, flow.process_start);
      let list = externalByGroup.get(key);
      if (!list) externalByGroup.set(key, (list = []));
      list.push(flow);
    }
    if (!wantedFlow) continue;
    let group: GroupInfo;
    if (rec) {
      let info = groupInfoCache.get(rec);
      if (!info) {
        const g = groupFor(rec);
        info = {
          key: rootKey(rec),
          root: { pid: g.root.pid, path: g.root.path },
          rootIdentity: recIdentity(g.root),
          chain: g.chain.map((p) => ({ pid: p.pid, path: p.path, identity: recIdentity(p) })),
          records: g.chain,
          rootKind: g.rootKind,
        };
        groupInfoCache.set(rec, info);
      }
      group = info;
    } else {
      const id = identityOf(signing, flow.path, undefined, signingCache);
      group = {
        key: instanceKey(flow.pid, flow.process_start),
        root: { pid: flow.pid, path: flow.path },
        rootIdentity: id,
        chain: [{ pid: flow.pid, path: flow.path, identity: id }],
        records: [],
        rootKind: 'unknown',
      };
    }
    resolved.push({ flow, rec, group });
  }

  const volumes = new Map<string, GroupVolume>();
  const groupBytesOut = (key: string, flow: FlowRow): number => {
    const list = externalByGroup.get(key);
    if (!list) return Math.max(0, flow.bytes_out);
    let v = volumes.get(key);
    if (!v) volumes.set(key, (v = groupVolume(list)));
    return v.activeBetween(flow.first_seen - cfg.high_throughput.group_window, flow.last_seen + cfg.high_throughput.group_window);
  };

  const classOfRecord = new Map<ProcessRecord, { browser: boolean; sanctioned: boolean }>();
  const wanted = opts.analytics ?? ANALYTIC_IDS;
  const rows: CandidateRow[] = [];
  for (const { flow, rec, group } of resolved) {
    const identity = rec ? recIdentity(rec) : group.chain[0]!.identity;
    let cls = rec ? classOfRecord.get(rec) : undefined;
    if (!cls) {
      cls = appClass(inputs, rec, identity, group, processes, recIdentity);
      if (rec) classOfRecord.set(rec, cls);
    }
    const { browser, sanctioned } = cls;

    const events = byGroup.get(group.key);
    const from = flow.first_seen - cfg.precursor_window;
    let sensitive: SensitiveFileEventRow | undefined;
    let archive: ArchiveEventRow | undefined;
    let staging = false;
    if (events) {
      // Tier 1 beats tier 2; within a tier the read closest to the flow start is the precursor.
      const t1 = closestInWindow(events.tier1Times, from, flow.last_seen, flow.first_seen);
      if (t1 >= 0) sensitive = events.tier1[t1];
      else {
        const t2 = closestInWindow(events.tier2Times, from, flow.last_seen, flow.first_seen);
        if (t2 >= 0) sensitive = events.tier2[t2];
      }
      const a = closestInWindow(events.archiveTimes, from, flow.last_seen, flow.first_seen);
      if (a >= 0) archive = events.archive[a];
      staging = archive !== undefined && anyInWindow(events.stagingTimes, from, flow.last_seen);
    }
    const precursor: PrecursorFacts = sensitive
      ? { kind: 'sensitive_access', tier: sensitive.tier, gap: flow.first_seen - sensitive.time, time: sensitive.time }
      : archive
        ? { kind: 'archive', tier: 0, gap: flow.first_seen - archive.time, time: archive.time }
        : { kind: 'none', tier: 0, gap: 0, time: 0 };

    const facts: EndpointFacts = {
      flow,
      external: flow.remote_scope === 'public',
      browser,
      sanctioned,
      signatureClass: identity.signature_class,
      precursor,
      groupBytesOut15m: groupBytesOut(group.key, flow),
      archive: archive ? { time: archive.time, gap: flow.first_seen - archive.time, staging } : null,
    };

    // The analytics that pass a flow share one evidence list (endpoint.ts): join it once.
    let reasonsOf: readonly string[] | undefined;
    let reasons = '';
    for (const id of wanted) {
      const verdict = ANALYTICS[id].endpoint(facts, cfg);
      if (!verdict.pass) continue;
      if (verdict.reasons !== reasonsOf) {
        reasonsOf = verdict.reasons;
        reasons = reasonsOf.join(',');
      }
      // A fresh literal per row: spreading a 46-field object is several times slower in V8.
      rows.push(candidateRow(id, reasons, flow, identity, group, browser, sanctioned, sensitive, archive, precursor));
    }
  }
  return { rows, stats: { flows: resolved.length, unattributedEvents: unattributed } };
}

/**
 * Browser / sanctioned by code identity only (team id + signing-id prefix). The flow process counts as
 * its owner's app when:
 *  - its responsible process (an XPC service launched on an app's behalf) is that app, or
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
): { browser: boolean; sanctioned: boolean } {
  const cls = classifyApp(inputs.config, identity.team, identity.signing_id);
  let browser = cls.browser;
  let sanctioned = cls.sanctioned;
  if (browser && sanctioned) return { browser, sanctioned };
  if (rec && rec.responsiblePid !== null && rec.responsiblePid > 1 && rec.responsiblePid !== rec.pid) {
    const owner = processes.getAt(rec.responsiblePid, rec.processStart);
    if (owner && owner !== rec) {
      const oid = recIdentity(owner);
      const ocls = classifyApp(inputs.config, oid.team, oid.signing_id);
      browser ||= ocls.browser;
      sanctioned ||= ocls.sanctioned;
    }
  }
  const root = group.records[group.records.length - 1];
  if (root && root !== rec && identity.team && identity.team !== 'APPLE' && group.rootIdentity.team === identity.team) {
    const rcls = classifyApp(inputs.config, group.rootIdentity.team, group.rootIdentity.signing_id);
    browser ||= rcls.browser;
    sanctioned ||= rcls.sanctioned;
  }
  return { browser, sanctioned };
}

function candidateRow(
  analytic: AnalyticId,
  reasons: string,
  flow: FlowRow,
  identity: Identity,
  group: GroupInfo,
  browser: boolean,
  sanctioned: boolean,
  sensitive: SensitiveFileEventRow | undefined,
  archive: ArchiveEventRow | undefined,
  precursor: PrecursorFacts,
): CandidateRow {
  if (group.chainJson === undefined) {
    const chain: ProcessChainLink[] = group.chain.map((l) => ({ pid: l.pid, path: l.path, identity: l.identity.identity, signature_class: l.identity.signature_class }));
    group.chainJson = JSON.stringify(chain);
  }
  let precursorPath = '';
  let precursorCategory = '';
  let precursorTier = 0;
  let precursorPid = 0;
  if (precursor.kind === 'sensitive_access' && sensitive) {
    precursorPath = sensitive.file_path;
    precursorCategory = sensitive.category;
    precursorTier = sensitive.tier;
    precursorPid = sensitive.pid;
  } else if (precursor.kind === 'archive' && archive) {
    precursorPath = archive.archive_path || archive.path;
    precursorCategory = `archive:${archive.tool}`;
    precursorPid = archive.pid;
  }
  return {
    analytic,
    flow_id: flow.flow_id,
    pid: flow.pid,
    ppid: flow.ppid,
    uid: flow.uid,
    process_start: flow.process_start,
    process_name: flow.process_name,
    path: flow.path,
    protocol: flow.protocol,
    family: flow.family,
    local_address: flow.local_address,
    local_port: flow.local_port,
    remote_address: flow.remote_address,
    remote_port: flow.remote_port,
    remote_scope: flow.remote_scope,
    service: flow.service,
    service_evidence: flow.service_evidence,
    server_name: flow.server_name,
    state: flow.state,
    interface: flow.interface,
    bytes_in: flow.bytes_in,
    bytes_out: flow.bytes_out,
    pcr: flow.pcr,
    first_seen: flow.first_seen,
    last_seen: flow.last_seen,
    duration: flow.duration,
    closed: flow.closed,
    signature_class: identity.signature_class,
    team_id: identity.team_id,
    signing_id: identity.signing_id,
    cdhash: identity.cdhash,
    identity: identity.identity,
    group_root_pid: group.root.pid,
    group_root_path: group.root.path,
    group_root_identity: group.rootIdentity.identity,
    process_chain: group.chainJson,
    browser: browser ? 1 : 0,
    sanctioned: sanctioned ? 1 : 0,
    precursor_kind: precursor.kind,
    precursor_time: precursor.time,
    precursor_path: precursorPath,
    precursor_category: precursorCategory,
    precursor_tier: precursorTier,
    precursor_pid: precursorPid,
    precursor_gap: precursor.kind === 'none' ? 0 : precursor.gap,
    reasons,
  };
}

/** Exported for tests: the window test the table applies (same definition the analytics use). */
export { precursorInWindow };
