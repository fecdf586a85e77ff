import { StringInterner } from '../../../src/strings.js';
import { createHash } from 'node:crypto';
import type { Clock } from '../../../src/clock.js';
import { createNetworkClassifier, pcr, type NetworkClassifier, type Protocol, type Service } from '../../../src/classify/network.js';
import type { OutflowConfig } from '../../../src/config/index.js';
import type { DnsNameCache, FlowRow, FlowStore } from '../../runtime/context.js';
import type { ComponentHealth, HealthRegistry } from '../../runtime/health.js';

/**
 * Whether an empty server_name is evidence of a connection to a bare IP (the raw_ip reason). Names come from
 * DNS answers the dns_names collector captured, when it did; neither nettop nor ss prints one. An app that
 * resolved over DoH, a VPN's own resolver, or an answer older than the capture leave a named destination
 * unnamed, so an empty server_name still says nothing.
 */
export const SERVER_NAMES_OBSERVED = false;

/**
 * In-memory flow table behind `process_network_flows`. Collectors feed it one complete sample at a time;
 * the table reads rows(). Unknown process facts use -1 (ppid, uid, process_start) and '' (path).
 */

/** Process facts a collector resolved for an observation (from the process model). */
export interface FlowProcessInfo {
  processStart: number;
  ppid: number;
  uid: number;
  path: string;
  name: string;
}

export interface FlowObservation {
  pid: number;
  /** Name as the flow tool printed it (nettop truncates to 15 chars); used when the process is unknown. */
  processName: string;
  /** Undefined when the process model does not know the pid (row gets -1 / '' conventions). */
  process?: FlowProcessInfo;
  protocol: Protocol;
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  interface: string;
  /** Cumulative or delta per FlowSampleOptions.counters; null = the OS has no counter (reported as -1). */
  bytesIn: number | null;
  bytesOut: number | null;
  /** Service observed by the OS itself (nettop quic4/quic6) rather than guessed from a port. */
  observedService?: Service;
  /** The OS's identity of the socket (ss -e inode/cookie), when it gives one: a different one is another socket. */
  socketId?: string;
  /**
   * Cumulative mode: the socket's counters another process's flow already counted (the socket was handed over): a new
   * flow of this process counts from them, not from zero.
   */
  countedBefore?: { bytesIn: number | null; bytesOut: number | null };
}

export interface FlowSampleOptions {
  /** Unix seconds of the sample (our own clock; tool timestamps are not trusted). */
  at: number;
  /**
   * `cumulative`: counters are per-socket totals (ss, a nettop snapshot) — a value below the previous one
   * means the socket was replaced or the counter reset, and the new value counts from zero.
   * `delta`: counters are bytes since the previous sample (nettop -d); negatives are clamped to 0.
   */
  counters: 'cumulative' | 'delta';
}

export interface FlowSampleResult {
  created: number;
  updated: number;
  closed: number;
  /** New flows refused because the table was full of open flows. */
  dropped: number;
  /** Closed flows evicted before their retention ended, to make room. */
  evicted: number;
}

export interface MutableFlowStore extends FlowStore {
  /** Merge one complete sample: every open flow not in it is marked closed. */
  applySample(observations: readonly FlowObservation[], opts: FlowSampleOptions): FlowSampleResult;
  /** Drop closed flows past the retention (also done by applySample and rows()). */
  sweep(now: number): void;
  /** Open flows right now (tests, status). */
  readonly openCount: number;
  /** The collector feeding this store: until its first sample, the flows health row shows that collector's failure. */
  fedBy(source: ComponentHealth): void;
}

interface Entry {
  row: FlowRow;
  /** Last raw counter values seen (cumulative mode) to turn totals into increments. */
  rawIn: number | null;
  rawOut: number | null;
  /** Sample sequence number when last seen. */
  seenIn: number;
  socketId: string | undefined;
}

const UNKNOWN = -1;

/** Stable for the flow's whole life: the inputs are fixed at creation (SPEC: hash of pid, start, protocol, endpoints, first_seen). */
export function flowId(pid: number, processStart: number, protocol: string, local: string, localPort: number, remote: string, remotePort: number, firstSeen: number): string {
  return createHash('sha1').update(`${pid}|${processStart}|${protocol}|${local}|${localPort}|${remote}|${remotePort}|${firstSeen}`).digest('hex').slice(0, 20);
}

function tupleKey(o: FlowObservation): string {
  return `${o.protocol}|${o.localAddress}|${o.localPort}|${o.remoteAddress}|${o.remotePort}`;
}

/** Apply a counter sample to a running total. Cumulative: increments with reset detection. */
function advance(total: number, lastRaw: number | null, raw: number | null, mode: FlowSampleOptions['counters']): { total: number; raw: number | null } {
  if (raw === null || !Number.isFinite(raw)) return { total, raw: lastRaw };
  const value = Math.max(0, raw);
  const base = total < 0 ? 0 : total;
  if (mode === 'delta') return { total: base + value, raw: null };
  if (lastRaw === null) return { total: base + value, raw: value };
  // never below lastRaw: applySample starts a new flow when a counter goes backwards (counterWentBack)
  return { total: base + value - lastRaw, raw: value };
}

/**
 * A cumulative counter below its last value: another socket on the same tuple (the peer closed, and this host
 * reconnected from the same port within a sample). Its flow is a new one: SPEC §2's flow_id is for one flow's life.
 */
function counterWentBack(entry: Entry, o: FlowObservation): boolean {
  // the socket's own identity, where the tool prints one, settles it: a reconnect whose counters already passed
  // the old socket's is another socket too
  if (o.socketId !== undefined && entry.socketId !== undefined && o.socketId !== entry.socketId) return true;
  const back = (raw: number | null, last: number | null) => raw !== null && Number.isFinite(raw) && last !== null && Math.max(0, raw) < last;
  return back(o.bytesOut, entry.rawOut) || back(o.bytesIn, entry.rawIn);
}

/**
 * Group a sample by `${pid}|tuple`. A tool may list one socket twice in a sample (ss with a socket shared
 * by several fds of one pid): those are summed so the cumulative bookkeeping sees one counter per flow.
 * A group's socketId is its sockets' ids, sorted and joined once the sample is grouped: one process can hold
 * thousands of sockets on one tuple (connected UDP sockets sharing a port with SO_REUSEPORT), and re-splitting
 * and re-sorting the joined ids at every socket cost O(n² log n) (16 000 sockets: 16 s a sample).
 */
export function groupSample(observations: readonly FlowObservation[]): Map<string, FlowObservation> {
  const byKey = new Map<string, FlowObservation>();
  /** Per group of several observations: its sockets' ids so far (undefined once one of them had none). */
  const idsOf = new Map<string, string[] | undefined>();
  for (const o of observations) {
    const key = `${o.pid}|${tupleKey(o)}`;
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, o);
      continue;
    }
    const sum = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : x + y);
    // the group's identity is its sockets', in an order that does not depend on the tool's listing order: a group
    // holding a socket without an id has none (its counters decide, as for a socket without one)
    const ids = idsOf.has(key) ? idsOf.get(key) : seen.socketId === undefined ? undefined : [seen.socketId];
    if (ids !== undefined && o.socketId !== undefined) ids.push(o.socketId);
    idsOf.set(key, o.socketId === undefined ? undefined : ids);
    const { countedBefore: _countedBefore, socketId: _socketId, ...rest } = seen;
    byKey.set(key, { ...rest, bytesIn: sum(seen.bytesIn, o.bytesIn), bytesOut: sum(seen.bytesOut, o.bytesOut) });
  }
  for (const [key, ids] of idsOf) if (ids !== undefined) byKey.get(key)!.socketId = ids.sort().join(',');
  return byKey;
}

export function createFlowStore(opts: { config: OutflowConfig; clock: Clock; health: HealthRegistry; names?: Pick<DnsNameCache, 'nameFor' | 'lateSlack'> }): MutableFlowStore {
  const { config, clock, health, names } = opts;
  const classifier: NetworkClassifier = createNetworkClassifier(config.network);
  const retention = config.flows.retention;
  const maxFlows = config.flows.max_flows;
  const component = health.component('flows');
  component.running('no sample yet');

  /** Open flows by `${processStart}|${pid}|tuple`. */
  const open = new Map<string, Entry>();
  /** The open key of each `${pid}|tuple` (a socket belongs to one process instance at a time). */
  const openKeyOf = new Map<string, string>();
  /** Closed flows by flow_id, in order of closing (oldest first) — the eviction order. */
  const closed = new Map<string, FlowRow>();
  let sampleSeq = 0;
  // Strings cut out of a tool's stdout are V8 slices that keep the whole stdout alive; a flow retained for 15 minutes
  // would pin the output of the tick that created it. Stored strings are copied once and shared (states, interfaces,
  // addresses and names repeat across flows).
  const interner = new StringInterner(50_000);
  const own = (s: string): string => interner.intern(s);

  const size = () => open.size + closed.size;

  /** The socket behind an open flow is gone (or replaced): the row stays, closed, for the retention. */
  const close = (key: string, entry: Entry) => {
    open.delete(key);
    const pidTuple = key.slice(key.indexOf('|') + 1);
    if (openKeyOf.get(pidTuple) === key) openKeyOf.delete(pidTuple);
    entry.row.closed = 1;
    closed.set(entry.row.flow_id, entry.row);
  };

  const sweep = (now: number) => {
    for (const [id, row] of closed) {
      if (now - row.last_seen <= retention) break; // closing order ≈ last_seen order
      closed.delete(id);
    }
  };

  const makeRow = (o: FlowObservation, at: number): FlowRow => {
    const p = o.process;
    const processStart = p ? p.processStart : UNKNOWN;
    const service = o.observedService ?? classifier.service(o.protocol, o.remotePort, o.localPort);
    return {
      flow_id: flowId(o.pid, processStart, o.protocol, o.localAddress, o.localPort, o.remoteAddress, o.remotePort, at),
      pid: o.pid,
      ppid: p ? p.ppid : UNKNOWN,
      uid: p ? p.uid : UNKNOWN,
      process_start: processStart,
      process_name: own(p?.name || o.processName),
      path: own(p?.path ?? ''),
      protocol: o.protocol,
      family: o.family,
      local_address: own(o.localAddress),
      local_port: o.localPort,
      remote_address: own(o.remoteAddress),
      remote_port: o.remotePort,
      remote_scope: classifier.scope(o.remoteAddress),
      service,
      service_evidence: o.observedService ? 'handshake' : 'port',
      server_name: names ? own(names.nameFor(o.remoteAddress, at)) : '',
      state: own(o.state),
      interface: own(o.interface),
      bytes_in: o.bytesIn === null ? UNKNOWN : 0,
      bytes_out: o.bytesOut === null ? UNKNOWN : 0,
      pcr: 0,
      first_seen: at,
      last_seen: at,
      duration: 0,
      closed: 0,
    };
  };

  const applySample = (observations: readonly FlowObservation[], sample: FlowSampleOptions): FlowSampleResult => {
    const { at, counters } = sample;
    const seq = ++sampleSeq;
    const result: FlowSampleResult = { created: 0, updated: 0, closed: 0, dropped: 0, evicted: 0 };
    sweep(at);
    for (const [pidTuple, o] of groupSample(observations)) {
      const start = o.process ? o.process.processStart : UNKNOWN;
      const key = `${start}|${pidTuple}`;
      let entry = open.get(key);
      if (!entry && start === UNKNOWN) {
        // The process model lost the instance mid-flow (evicted, a snapshot that missed it): the socket is
        // still the same one, so it keeps its row, flow_id and counters instead of closing and reopening.
        const knownKey = openKeyOf.get(pidTuple);
        if (knownKey !== undefined) entry = open.get(knownKey);
      }
      if (!entry && start !== UNKNOWN) {
        // The process became known after the flow was first seen: adopt the flow (same flow_id) rather
        // than splitting one connection into two rows.
        const unknownKey = `${UNKNOWN}|${pidTuple}`;
        const orphan = open.get(unknownKey);
        if (orphan) {
          open.delete(unknownKey);
          open.set(key, orphan);
          openKeyOf.set(pidTuple, key);
          const p = o.process!;
          Object.assign(orphan.row, { process_start: p.processStart, ppid: p.ppid, uid: p.uid, path: own(p.path), process_name: own(p.name) || orphan.row.process_name });
          entry = orphan;
        }
      }
      let replaced: FlowRow | undefined;
      if (entry && counters === 'cumulative' && counterWentBack(entry, o)) {
        // the key it is open under: this instance's, or the one an unknown process's flow was found by
        close(open.get(key) === entry ? key : (openKeyOf.get(pidTuple) ?? key), entry);
        result.closed++;
        replaced = entry.row;
        entry = undefined;
      }
      if (!entry) {
        // A socket that replaced another on its tuple takes no room from the flow it closed (with a full table that
        // one would be the first evicted): it evicts an older closed flow if there is one, else the table is one over.
        if (size() >= maxFlows) {
          const oldest = closed.entries().next();
          if (!oldest.done && oldest.value[1] !== replaced) {
            closed.delete(oldest.value[0]);
            result.evicted++;
            component.drop(1);
          } else if (!replaced) {
            result.dropped++;
            component.drop(1);
            continue;
          }
        }
        // counters another flow already counted (a handed-over socket) are this flow's starting point, when they are below
        const base = (raw: number | null, before: number | null | undefined) => (counters === 'cumulative' && !replaced && raw !== null && before !== null && before !== undefined && before <= raw ? before : null);
        entry = { row: makeRow(o, at), rawIn: base(o.bytesIn, o.countedBefore?.bytesIn), rawOut: base(o.bytesOut, o.countedBefore?.bytesOut), seenIn: seq, socketId: o.socketId };
        open.set(key, entry);
        openKeyOf.set(pidTuple, key);
        result.created++;
      } else {
        result.updated++;
        // A path learnt after the flow was first seen (macOS: core's kernel path comes at the next snapshot for a
        // process that started during one) fills an empty one. A known path is never replaced: after an exec
        // the socket's bytes may be the new image's, and `exec cat >&3` must not turn an upload into Apple's.
        const p = o.process;
        if (p?.path && !entry.row.path) Object.assign(entry.row, { path: own(p.path), process_name: own(p.name) || entry.row.process_name });
        // The answer that preceded the connection may be read just after the sample that first saw it. Answers
        // learnt once the previous sample was past the late slack cannot name it: most unnamed flows (DoH, bare
        // addresses) stop asking there instead of once per sample for their whole life.
        const r = entry.row;
        if (names && !r.server_name && r.last_seen <= r.first_seen + names.lateSlack) r.server_name = own(names.nameFor(r.remote_address, r.first_seen));
      }
      const r = entry.row;
      entry.seenIn = seq;
      if (o.socketId !== undefined) entry.socketId = o.socketId;
      const nextIn = advance(r.bytes_in, entry.rawIn, o.bytesIn, counters);
      const nextOut = advance(r.bytes_out, entry.rawOut, o.bytesOut, counters);
      r.bytes_in = nextIn.total;
      entry.rawIn = nextIn.raw;
      r.bytes_out = nextOut.total;
      entry.rawOut = nextOut.raw;
      r.pcr = pcr(r.bytes_in, r.bytes_out);
      if (o.state && o.state !== r.state) r.state = own(o.state);
      if (o.interface && o.interface !== r.interface) r.interface = own(o.interface);
      r.last_seen = Math.max(r.last_seen, at);
      r.duration = r.last_seen - r.first_seen;
    }
    for (const [key, entry] of open) {
      if (entry.seenIn === seq) continue;
      close(key, entry);
      result.closed++;
    }
    component.event(result.created + result.updated, at);
    if (result.dropped > 0) {
      component.degraded(`flow table full (flows.max_flows = ${maxFlows} open flows); ${component.dropped} flows dropped so far — raise flows.max_flows`);
    } else {
      component.running(`${open.size} open, ${closed.size} closed flows`);
    }
    return result;
  };

  return {
    applySample,
    sweep,
    fedBy: (source) => component.awaitFirstDataFrom(source),
    rows() {
      sweep(clock.unix());
      const out: FlowRow[] = [];
      for (const e of open.values()) out.push({ ...e.row });
      for (const r of closed.values()) out.push({ ...r });
      return out;
    },
    forEachRow(fn) {
      sweep(clock.unix());
      for (const e of open.values()) fn(e.row);
      for (const r of closed.values()) fn(r);
    },
    get size() {
      return size();
    },
    get openCount() {
      return open.size;
    },
  };
}
