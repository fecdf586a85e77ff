import type { Clock } from '../../src/clock.js';
import type { Logger } from '../../src/log.js';
import type { OutflowConfig } from '../../src/config/index.js';
import { fingerprintNumber } from '../../src/fingerprint.js';
import { resolveAllowlists, matchesResolved } from '../../src/classify/allowlists.js';
import { teamKey } from '../../src/classify/app-match.js';
import type { LineageGroup, ProcessModel, ProcessObservation, ProcessRecord } from '../runtime/context.js';
import { detached } from '../../src/strings.js';
import { groupOf, lineageParent, LAUNCHD_PID, LINEAGE_MAX_DEPTH, parentPidOf } from './lineage.js';

/**
 * Args kept per process: enough to recognise a command, bounded in memory. Every source goes through this
 * (ps, /proc, eslogger): argv is set by any unprivileged process, and a snapshot of a few processes with MiBs
 * of arguments, kept 30 minutes after exit, would otherwise exhaust the extension's heap.
 */
const MAX_MODEL_ARGS = 64;
const MAX_MODEL_ARG_CHARS = 256;
/**
 * Characters of argv kept per process, all arguments together. Only lineage reads args (is a shell running a
 * script or `-c`?), from the first arguments; 64 × 256 per instance made the table ~8 KB a record, ~400 MB at
 * max_processes under a build.
 */
const MAX_MODEL_ARGS_TOTAL = 1024;

/** Paths the kernel gave one instance (execs) that kernelPathSince remembers beyond its first. */
const MAX_KERNEL_PATHS = 8;

/**
 * A hash of argv as a process listing prints it (joined by spaces, whitespace runs as one space, trimmed), over every
 * argument: ps prints the kernel's argv that way and is split again on whitespace, so the exact argv of an exec and
 * ps's copy of it hash alike, while the model keeps only the first arguments of either (boundedArgs).
 */
export function commandLineHash(args: readonly string[]): number {
  return fingerprintNumber(args.join(' ').replace(/\s+/g, ' ').trim());
}

export function boundedArgs(args: readonly string[]): string[] {
  const max = Math.min(args.length, MAX_MODEL_ARGS);
  let n = 0;
  for (let budget = MAX_MODEL_ARGS_TOTAL; n < max && budget > 0; n++) budget -= Math.min(args[n]!.length, MAX_MODEL_ARG_CHARS);
  const out = new Array<string>(n);
  // always a copy: a V8 slice pins its whole parent (a MiB-long argument, or the ps listing or eslogger line
  // the argument was cut from) for as long as the record lives (30 min after exit)
  for (let i = 0; i < n; i++) out[i] = detached(args[i]!.length > MAX_MODEL_ARG_CHARS ? args[i]!.slice(0, MAX_MODEL_ARG_CHARS) : args[i]!);
  return out;
}

export interface ProcessModelOptions {
  config: OutflowConfig;
  clock: Clock;
  log: Logger;
}

/**
 * ps/proc report start times with 1 s resolution and eslogger's µs times are truncated; /proc start times
 * are derived from clock ticks. Observations within this many seconds of a known instance are that instance.
 */
const START_TOLERANCE_S = 1;

/** makeRoom sweeps at most this often (s); the refresh loop sweeps every 5 s anyway. */
const SWEEP_MIN_INTERVAL_S = 5;

/**
 * The process table shared by every collector, keyed by instance (pid, processStart). A new start time
 * for a known pid means the pid was reused: the older instance is marked exited, never overwritten.
 * Exited instances stay for `processes.exited_retention` so precursors and flows of short-lived processes
 * can still be attributed; the whole table is bounded by `processes.max_processes`.
 */
export function createProcessModel(opts: ProcessModelOptions): ProcessModel {
  const { config, clock, log } = opts;
  const retention = config.processes.exited_retention;
  const maxProcesses = config.processes.max_processes;
  const allowlists = resolveAllowlists(config);
  /** pid → instances ordered by processStart ascending. */
  const byPid = new Map<number, ProcessRecord[]>();
  /** Exited instances in the order they exited: the first to go when the table is full or aged. */
  const exitedOrder = new Set<ProcessRecord>();
  let count = 0;
  let evictedRunning = 0;
  /**
   * Instances whose path came from the kernel (eslogger's exec events, osquery core's proc_pidpath): each path the
   * kernel gave it and the earliest time it was given (kernelPathSince), and the second eslogger last reported it
   * (`eslAt`, -Infinity when only core did). On macOS ps's comm column is argv[0], which the process chooses: it must
   * never replace that path. Core's answer is only as new as the query that asked for it (an osquery observation's
   * seenAt): an exec eslogger reported in or after that second may postdate core's proc_pidpath, so core's older path
   * must not replace the exec'd image's. By path: eslogger's lines are read late, so an exec dated before a flow was
   * sampled may be learnt after it, when the flow had taken ps's argv[0] claim; the claim is the kernel's word only
   * when the kernel gave that same path.
   */
  const kernelPaths = new WeakMap<ProcessRecord, { path: string; since: number; others?: Map<string, number>; eslAt: number }>();
  /** Called once `r.path` is the path the kernel gave (obs.path): the record's own (detached) string is kept. */
  const noteKernelPath = (r: ProcessRecord, obs: ProcessObservation) => {
    const path = r.path;
    const eslAt = obs.source === 'eslogger' ? obs.seenAt : -Infinity;
    const given = kernelPaths.get(r);
    // one path per instance but for execs: the record's own string, no map
    if (!given) {
      kernelPaths.set(r, { path, since: obs.seenAt, eslAt });
      return;
    }
    given.eslAt = Math.max(given.eslAt, eslAt);
    if (given.path === path) given.since = Math.min(given.since, obs.seenAt);
    else {
      given.others ??= new Map();
      const since = given.others.get(path);
      // bounded, most recently given last: a process exec'ing image after image forgets the paths it left longest ago,
      // never the one it runs now (whose flows, first seen from now on, take it as their path)
      given.others.delete(path);
      if (since === undefined && given.others.size >= MAX_KERNEL_PATHS) given.others.delete(given.others.keys().next().value as string);
      given.others.set(path, since === undefined ? obs.seenAt : Math.min(since, obs.seenAt));
    }
  };

  const fromKernel = (obs: ProcessObservation) => obs.source === 'eslogger' || obs.source === 'osquery';
  const isTerminalApp = (p: ProcessRecord) => matchesResolved(allowlists.terminals, teamKey(p.teamId, p.platformBinary), p.signingId);
  const lookup = { getAt };

  function instances(pid: number): ProcessRecord[] | undefined {
    return byPid.get(pid);
  }

  function find(pid: number, start: number): ProcessRecord | undefined {
    const list = instances(pid);
    if (!list) return undefined;
    let best: ProcessRecord | undefined;
    for (const r of list) {
      const d = Math.abs(r.processStart - start);
      if (d === 0) return r;
      if (d <= START_TOLERANCE_S && (!best || d < Math.abs(best.processStart - start))) best = r;
    }
    return best;
  }

  function markExited(r: ProcessRecord, at: number): void {
    if (r.exitedAt !== null) return;
    r.exitedAt = Math.max(at, r.processStart);
    exitedOrder.add(r);
  }

  function remove(r: ProcessRecord): void {
    const list = byPid.get(r.pid);
    if (!list) return;
    const i = list.indexOf(r);
    if (i < 0) return;
    list.splice(i, 1);
    if (!list.length) byPid.delete(r.pid);
    exitedOrder.delete(r);
    keptUntil.delete(r);
    count--;
  }

  /**
   * Instances a precursor still needs after they exit (keepUntil), and until when. Strong references, one per
   * instance, dropped with the record; makeRoom still evicts them when the table is full.
   */
  const keptUntil = new Map<ProcessRecord, number>();

  function keepUntil(pid: number, processStart: number, until: number): void {
    const r = find(pid, processStart);
    if (r && (keptUntil.get(r) ?? -Infinity) < until) keptUntil.set(r, until);
  }

  /** When sweep last ran (a full table would otherwise run one, and its O(table) ancestor walk, per new process). */
  let lastSweep = -Infinity;

  function makeRoom(now: number): void {
    if (count < maxProcesses) return;
    if (now < lastSweep || now - lastSweep >= SWEEP_MIN_INTERVAL_S) sweep(now);
    for (const r of exitedOrder) {
      if (count < maxProcesses) return;
      remove(r);
    }
    if (count < maxProcesses) return;
    // Only running instances left: drop the one seen longest ago (most likely gone unnoticed).
    let oldest: ProcessRecord | undefined;
    for (const list of byPid.values()) for (const r of list) if (!oldest || r.lastSeen < oldest.lastSeen) oldest = r;
    if (oldest) {
      remove(oldest);
      evictedRunning++;
      if (evictedRunning === 1 || evictedRunning % 1000 === 0) log.warn({ evicted_running: evictedRunning, max_processes: maxProcesses }, 'process table full; evicting running processes');
    }
  }

  function observe(obs: ProcessObservation): ProcessRecord {
    let r = find(obs.pid, obs.processStart);
    if (obs.forkedFrom && lateFork(obs, r)) obs = lineageOf(obs);
    // a fork runs its parent's image with its parent's argv and open files until it execs
    const parent = obs.forkedFrom ? find(obs.forkedFrom.pid, obs.forkedFrom.processStart) : undefined;
    if (!r) {
      makeRoom(obs.seenAt);
      const path = detached(obs.path ?? '');
      r = {
        pid: obs.pid,
        processStart: obs.processStart,
        ppid: obs.ppid ?? 0,
        originalPpid: obs.originalPpid ?? null,
        responsiblePid: obs.responsiblePid ?? null,
        uid: obs.uid ?? -1,
        path,
        name: detached(obs.name ?? path.slice(path.lastIndexOf('/') + 1)),
        args: null,
        signingId: obs.signingId ?? null,
        teamId: obs.teamId ?? null,
        cdhash: obs.cdhash ? obs.cdhash.toLowerCase() : null,
        platformBinary: obs.platformBinary ?? null,
        tty: obs.tty ?? null,
        // every optional fact present from the start, and cleared by assigning undefined, never `delete`: records keep
        // one hidden class (a deleted property sends an object to dictionary mode, about twice the heap per record)
        stdin: obs.stdin,
        forkedOnly: obs.forkedFrom && !obs.exec ? true : undefined,
        execAt: obs.exec ? obs.seenAt : undefined,
        argsCut: undefined,
        commandLineHash: undefined,
        argsFromListing: undefined,
        firstSeen: obs.seenAt,
        lastSeen: obs.seenAt,
        exitedAt: null,
      };
      if (obs.args) setArgs(r, obs.args, obs.source);
      if (parent) inherit(r, parent);
      let list = byPid.get(obs.pid);
      if (!list) byPid.set(obs.pid, (list = []));
      // A newer instance of the pid means every older one has exited (pid reuse).
      for (const older of list) if (older.processStart < r.processStart) markExited(older, r.processStart);
      if (fromKernel(obs) && obs.path) noteKernelPath(r, obs);
      list.push(r);
      list.sort((a, b) => a.processStart - b.processStart);
      count++;
      // An older instance showing up late (e.g. a delayed ES event) is already gone if a newer one exists.
      const newer = list.find((x) => x.processStart > r!.processStart);
      if (newer) markExited(r, newer.processStart);
      return r;
    }
    merge(r, obs);
    if (parent) inherit(r, parent);
    return r;
  }

  /**
   * A fork line read after the child's exec (lines can arrive out of order), or after the kernel (core's processes
   * table) reported another image for it, is late: its child image is the parent's, which the instance has left.
   * (A ps path is argv[0], no evidence either way.)
   */
  function lateFork(obs: ProcessObservation, known: ProcessRecord | undefined): boolean {
    return known !== undefined && (known.execAt !== undefined || (kernelPaths.has(known) && obs.path !== undefined && known.path !== obs.path));
  }

  /** Only the instance's lineage from a late fork line (its uid and responsible process at fork time are the parent's too). */
  function lineageOf(obs: ProcessObservation): ProcessObservation {
    const { pid, processStart, ppid, originalPpid, source, seenAt } = obs;
    return { pid, processStart, ppid, originalPpid, source, seenAt };
  }

  /**
   * A fork's record takes its parent's argv and stdin where it has none (ps may have listed the child before
   * eslogger's fork line was read, with argv of its own): a subshell of a pipe-fed shell is fed so too.
   */
  function inherit(r: ProcessRecord, parent: ProcessRecord): void {
    if (r.args === null && parent.args !== null) {
      r.args = parent.args;
      r.commandLineHash = parent.commandLineHash;
      r.argsCut = parent.argsCut;
      r.argsFromListing = parent.argsFromListing;
    }
    if (r.stdin === undefined && parent.stdin !== undefined) r.stdin = parent.stdin;
  }

  /** `args` bounded, whether arguments were dropped, whether a listing split them, and the hash of the whole command line. */
  function setArgs(r: ProcessRecord, given: readonly string[], source: ProcessObservation['source'], hash = commandLineHash(given)): void {
    const args = boundedArgs(given);
    r.args = args;
    // /proc's cmdline is split on NUL, the exact argv; ps's on whitespace
    r.argsFromListing = source === 'ps' ? true : undefined;
    r.argsCut = given.length > args.length ? true : undefined;
    r.commandLineHash = hash;
  }

  /**
   * ps prints argv joined by spaces, and is split again on whitespace: `--init-file "/Applications/Visual Studio
   * Code.app/…"` comes back as more arguments. A listing of the same command line keeps the record's argv (the
   * kernel's, when an exec gave it), and so does one taken before the last exec the model applied (ps's time is when
   * it returned); another one replaces it and ends a subshell mark: the instance exec'd, though ES may have dropped
   * the exec.
   */
  function mergeArgs(r: ProcessRecord, obs: ProcessObservation): void {
    const given = obs.args!;
    const listing = obs.source === 'ps' || obs.source === 'proc';
    if (listing && r.args !== null && r.execAt !== undefined && obs.seenAt <= r.execAt + 2 * config.processes.sample_interval) return;
    // every ps snapshot passes every process here: the command line is hashed once
    const hash = commandLineHash(given);
    if (listing && r.args !== null && hash === r.commandLineHash) return;
    if (r.forkedOnly && !obs.forkedFrom && r.args !== null && hash !== r.commandLineHash) r.forkedOnly = undefined;
    setArgs(r, given, obs.source, hash);
  }

  function merge(r: ProcessRecord, obs: ProcessObservation): void {
    if (obs.ppid !== undefined && obs.ppid !== r.ppid) {
      // Reparented to launchd after the parent died: remember who the parent was.
      if (obs.ppid === LAUNCHD_PID && r.ppid > LAUNCHD_PID && r.originalPpid === null) r.originalPpid = r.ppid;
      r.ppid = obs.ppid;
    }
    if (obs.originalPpid !== undefined) r.originalPpid = obs.originalPpid;
    if (obs.responsiblePid !== undefined) r.responsiblePid = obs.responsiblePid;
    if (obs.uid !== undefined) r.uid = obs.uid;
    // a ps comm (a path or a bare name) is argv[0]: it names the instance only while the kernel has not
    const argv0Only = obs.source === 'ps' && kernelPaths.has(r);
    const staleCore = obs.source === 'osquery' && (kernelPaths.get(r)?.eslAt ?? -Infinity) >= obs.seenAt;
    if (obs.path && !argv0Only && !staleCore) {
      if (obs.path !== r.path) {
        r.path = detached(obs.path);
        // a new image: the instance exec'd (an exec event ES dropped, seen through its path)
        if (fromKernel(obs)) r.forkedOnly = undefined;
      }
      if (fromKernel(obs)) noteKernelPath(r, obs);
      if (obs.name === undefined) r.name = detached(obs.path.slice(obs.path.lastIndexOf('/') + 1));
    }
    if (obs.name !== undefined && obs.name !== '' && !argv0Only && obs.name !== r.name) r.name = detached(obs.name);
    if (obs.args !== undefined) mergeArgs(r, obs);
    if (obs.signingId !== undefined) r.signingId = obs.signingId;
    if (obs.teamId !== undefined) r.teamId = obs.teamId;
    if (obs.cdhash !== undefined) r.cdhash = obs.cdhash ? obs.cdhash.toLowerCase() : null;
    if (obs.platformBinary !== undefined) r.platformBinary = obs.platformBinary;
    if (obs.tty !== undefined) r.tty = obs.tty;
    if (obs.stdin !== undefined) r.stdin = obs.stdin;
    if (obs.exec) {
      r.forkedOnly = undefined;
      r.execAt = obs.seenAt;
    } else if (obs.forkedFrom) r.forkedOnly = true;
    if (obs.seenAt > r.lastSeen) r.lastSeen = obs.seenAt;
    // A snapshot listing the instance proves it alive (an earlier exit mark came from a missed sample).
    if (r.exitedAt !== null && (obs.source === 'ps' || obs.source === 'proc') && obs.seenAt > r.exitedAt + 2) {
      const list = byPid.get(r.pid)!;
      if (list[list.length - 1] === r) {
        r.exitedAt = null;
        exitedOrder.delete(r);
      }
    }
  }

  function exited(pid: number, processStart: number | undefined, at: number): void {
    const r = processStart === undefined ? get(pid) : find(pid, processStart);
    if (r) markExited(r, at);
  }

  function get(pid: number, processStart?: number): ProcessRecord | undefined {
    if (processStart !== undefined) return find(pid, processStart);
    const list = instances(pid);
    return list ? list[list.length - 1] : undefined;
  }

  function getAt(pid: number, at: number): ProcessRecord | undefined {
    const list = instances(pid);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (r.processStart > at + START_TOLERANCE_S) continue;
      if (r.exitedAt !== null && r.exitedAt < at) return undefined;
      return r;
    }
    return undefined;
  }

  function parentOf(p: ProcessRecord): ProcessRecord | undefined {
    const parentPid = parentPidOf(p);
    if (parentPid <= 0 || parentPid === p.pid) return undefined;
    const parent = getAt(parentPid, p.processStart);
    return parent === p ? undefined : parent;
  }

  function group(p: ProcessRecord): LineageGroup {
    return groupOf(lookup, p, { isTerminalApp });
  }

  function* all(): Iterable<ProcessRecord> {
    for (const list of byPid.values()) yield* list;
  }

  function running(): ProcessRecord[] {
    const out: ProcessRecord[] = [];
    for (const list of byPid.values()) for (const r of list) if (r.exitedAt === null) out.push(r);
    return out;
  }

  /**
   * Exited instances lineage still walks through: ancestors of running instances and of exited instances still
   * within the retention, and instances kept for a precursor (keepUntil) with their ancestors.
   */
  function pinnedExited(now: number, cutoff: number): Set<ProcessRecord> {
    const out = new Set<ProcessRecord>();
    // Every link groupOf may follow (a parent, or the responsible process of an orphan), as deep as it walks
    // (LINEAGE_MAX_DEPTH):
    // with 8 parent hops, `sh -c` nested 9 deep (or a reader launchd adopted) lost its group's root at 30 min.
    // Each instance is walked once, so the whole pass stays O(table).
    const walked = new Set<ProcessRecord>();
    const withAncestors = (r: ProcessRecord) => {
      let cur = r;
      for (let hop = 0; hop < LINEAGE_MAX_DEPTH && !walked.has(cur); hop++) {
        walked.add(cur);
        const link = lineageParent(lookup, cur);
        if (link.kind !== 'parent' && link.kind !== 'responsible') break;
        if (link.parent.exitedAt !== null) out.add(link.parent);
        cur = link.parent;
      }
    };
    // running instances, and exited ones still kept: a closed flow of an exited process stays in the flow table (and is
    // reported on every candidates run) while its record is kept, and its group root must not change meanwhile
    for (const list of byPid.values()) for (const r of list) if (r.exitedAt === null || r.exitedAt >= cutoff) withAncestors(r);
    for (const [r, until] of keptUntil) {
      if (until < now) {
        keptUntil.delete(r);
        continue;
      }
      if (r.exitedAt !== null) out.add(r);
      withAncestors(r);
    }
    return out;
  }

  function sweep(now: number): void {
    lastSweep = now;
    const cutoff = now - retention;
    let pinned: Set<ProcessRecord> | undefined;
    for (const r of exitedOrder) {
      if ((r.exitedAt ?? now) >= cutoff) continue;
      // an exited launcher stays while a process it started runs: otherwise that process's group root changes
      // (its own bundle, or `top`) in the middle of its flows once the launcher ages out. A credential reader
      // stays while its read can still explain an upload (keepUntil), or the read loses its group.
      pinned ??= pinnedExited(now, cutoff);
      if (pinned.has(r)) continue;
      remove(r);
    }
  }

  return {
    observe,
    exited,
    get,
    getAt,
    parentOf,
    group,
    all,
    running,
    sweep: (now = clock.unix()) => sweep(now),
    keepUntil,
    kernelPathSince: (p: ProcessRecord, path: string) => {
      const given = kernelPaths.get(p);
      return given?.path === path ? given.since : given?.others?.get(path);
    },
    get size() {
      return count;
    },
    get evictedRunning() {
      return evictedRunning;
    },
  };
}
