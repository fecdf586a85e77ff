import { open, readdir, readFile, readlink } from 'node:fs/promises';
import type { ExtensionContext, ProcessObservation } from '../runtime/context.js';
import { boundedArgs } from './model.js';
import { CORE_PROCESS_PATHS_SQL, MAX_EXEC_PATH, parseCoreProcessPaths } from './parse-core-processes.js';
import { mergePsListings, parseBtime, parseProcStat, parseProcStatusUid, parsePsArgs, parsePsIds, parsePsProcesses } from './parse-ps.js';

/**
 * USER_HZ: the unit of /proc/<pid>/stat starttime. Fixed at 100 by the kernel ABI on every mainstream
 * architecture (`getconf CLK_TCK`); Node has no sysconf and spawning getconf is not worth it.
 */
const CLK_TCK = 100;
const PROC = '/proc';
/**
 * Bytes of /proc/<pid>/cmdline read per process. argv is chosen by any process (up to 6 MiB on Linux): a
 * snapshot holds every observation at once, so reading it whole let a few processes with padded argv cost
 * hundreds of MB of heap per snapshot. The model keeps 64 arguments of 256 characters anyway.
 */
const MAX_CMDLINE_BYTES = 64 * 1024;

async function readHead(file: string, max: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(max);
    let n = 0;
    while (n < max) {
      const { bytesRead } = await fh.read(buf, n, max - n, null);
      if (!bytesRead) break;
      n += bytesRead;
    }
    return buf.toString('utf8', 0, n);
  } finally {
    await fh.close();
  }
}

const inflight = new WeakMap<ExtensionContext, Promise<void>>();

/**
 * Take one process snapshot (darwin: `ps`; linux: /proc), observe every process into ctx.processes and
 * mark instances that vanished since the previous snapshot as exited. Concurrent callers share one run.
 */
export function refreshProcessSnapshot(ctx: ExtensionContext): Promise<void> {
  const running = inflight.get(ctx);
  if (running) return running;
  const p = (ctx.platform === 'darwin' ? snapshotDarwin(ctx) : snapshotLinux(ctx))
    .then((observations) => apply(ctx, observations.list, observations.startedAt))
    .finally(() => inflight.delete(ctx));
  inflight.set(ctx, p);
  return p;
}

function apply(ctx: ExtensionContext, list: ProcessObservation[], startedAt: number): void {
  const seen = new Set<string>();
  for (const obs of list) {
    const r = ctx.processes.observe(obs);
    seen.add(`${r.pid}:${r.processStart}`);
  }
  const now = ctx.clock.unix();
  for (const r of ctx.processes.running()) {
    if (seen.has(`${r.pid}:${r.processStart}`)) continue;
    // A process that started after the snapshot began (eslogger saw it) is newer, not vanished.
    if (r.processStart >= startedAt) continue;
    ctx.processes.exited(r.pid, r.processStart, now);
  }
  ctx.processes.sweep(now);
}

/** What the darwin snapshots of a context saw that only a forged ps line explains (parse-ps.ts). */
export interface PsSuspicion {
  /** Forged-looking lines in the latest snapshot (0: it was clean). */
  lastForged: number;
  /** Totals since start. */
  forged: number;
  withheld: number;
}

const suspicion = new WeakMap<ExtensionContext, PsSuspicion>();

/** Forged-looking ps output seen by this context's snapshots (all zero on Linux and before the first one). */
export function psSuspicion(ctx: ExtensionContext): PsSuspicion {
  return suspicion.get(ctx) ?? { lastForged: 0, forged: 0, withheld: 0 };
}

/** Where the latest darwin snapshot took executable paths from (health detail of `processes`). */
export type KernelPathSource =
  | { kind: 'core'; paths: number; rejected: number }
  | { kind: 'no-core' }
  | { kind: 'core-failed'; error: string };

const kernelPathSources = new WeakMap<ExtensionContext, KernelPathSource>();

/** undefined on Linux (/proc/<pid>/exe is the kernel's path) and before the first darwin snapshot. */
export function kernelPathSource(ctx: ExtensionContext): KernelPathSource | undefined {
  return kernelPathSources.get(ctx);
}

/**
 * Kernel paths from osquery core's `processes` table, for the instances a later ps listing proves were
 * already running when the query began (so the answer for their pid was theirs, not a successor's).
 */
async function corePaths(ctx: ExtensionContext): Promise<{ paths: Map<number, string>; asked: number } | undefined> {
  if (!ctx.core) {
    kernelPathSources.set(ctx, { kind: 'no-core' });
    return undefined;
  }
  // Whole seconds, like ps's lstart: an instance listed with an earlier start second was alive before this.
  const asked = Math.floor(ctx.clock.unix());
  try {
    const parsed = parseCoreProcessPaths(await ctx.core.query(CORE_PROCESS_PATHS_SQL));
    if (parsed.rejected) ctx.health.component('processes').drop(parsed.rejected);
    kernelPathSources.set(ctx, { kind: 'core', paths: parsed.paths.size, rejected: parsed.rejected });
    return { paths: parsed.paths, asked };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    if (kernelPathSources.get(ctx)?.kind !== 'core-failed') ctx.log.warn({ err }, "osquery core's processes table did not answer: process paths are ps's argv[0] claims until it does");
    kernelPathSources.set(ctx, { kind: 'core-failed', error });
    return undefined;
  }
}

async function snapshotDarwin(ctx: ExtensionContext): Promise<{ list: ProcessObservation[]; startedAt: number }> {
  const startedAt = ctx.clock.unix();
  // Before ps, not beside it: ps then proves which instances held their pid for the whole query.
  const core = await corePaths(ctx);
  const [ids, procs, argv] = await Promise.all([
    // No column a process chooses: the authority on which processes exist (a forged line in the other
    // two listings can neither hide a process nor invent one). One more spawn per snapshot is the price.
    ctx.tools.run('ps', ['-axww', '-o', 'pid=,ppid=,uid=,lstart=']),
    // comm is argv[0], chosen by each process: a few ~1 MiB ones push this listing past tools.max_output_bytes.
    // Its failure costs the paths of this snapshot, never the snapshot (ids decides which processes exist).
    ctx.tools.run('ps', ['-axww', '-o', 'pid=,ppid=,uid=,lstart=,comm=']).catch((err: unknown) => {
      ctx.log.warn({ err }, 'ps comm listing failed: this snapshot has no paths');
      return undefined;
    }),
    // args are a nicety (lineage: is a shell running a script?); their failure must not lose the snapshot.
    ctx.tools.run('ps', ['-axww', '-o', 'pid=,args=']).catch(() => undefined),
  ]);
  const idRows = parsePsIds(ids.stdout);
  const snap = mergePsListings(idRows.rows, parsePsProcesses(procs?.stdout ?? ''), argv ? parsePsArgs(argv.stdout) : undefined);
  const skipped = idRows.skipped + snap.skipped;
  if (skipped) ctx.health.component('processes').drop(skipped);
  const prev = psSuspicion(ctx);
  if (snap.forged && !prev.lastForged) {
    ctx.log.warn({ forged_lines: snap.forged, withheld: snap.withheld }, 'ps printed lines only a process name or argument holding a newline explains; their paths/args are withheld');
  }
  suspicion.set(ctx, { lastForged: snap.forged, forged: prev.forged + snap.forged, withheld: prev.withheld + snap.withheld });
  const seenAt = ctx.clock.unix();
  const list: ProcessObservation[] = snap.processes.map((r) => {
    // comm is argv[0] on macOS (ps skips the kernel's exec_path): up to ~1 MiB of text the process chose.
    // Longer than MAXPATHLEN is no executable path: not believed (a path learnt before is kept).
    const comm = r.comm !== undefined && r.comm.length <= MAX_EXEC_PATH ? r.comm : undefined;
    // No comm: the process exists but its path is not believed this time (a path learnt before is kept).
    // While core answers, a comm path is argv[0]'s claim about an instance core's answer did not cover (it
    // started in the query's second or later, or core listed it without a path): a name only until core does.
    // Taken as a path, it stood until the next snapshot, and a flow first seen meanwhile keeps it for good.
    const isPath = !core && (comm?.startsWith('/') ?? false);
    return {
      pid: r.pid,
      processStart: r.start,
      ppid: r.ppid,
      uid: r.uid,
      ...(comm === undefined ? {} : isPath ? { path: comm } : { name: core && comm.startsWith('/') ? comm.slice(comm.lastIndexOf('/') + 1) : comm }),
      ...(r.args ? { args: r.args } : {}),
      source: 'ps' as const,
      seenAt,
    };
  });
  if (core) {
    // After the ps observations, so the kernel's path wins over argv[0] for the same instance.
    for (const r of snap.processes) {
      const path = core.paths.get(r.pid);
      // seenAt is when core was asked: its answer is no newer, and an exec eslogger reported since wins (model.ts).
      if (path !== undefined && r.start < core.asked) list.push({ pid: r.pid, processStart: r.start, path, source: 'osquery', seenAt: core.asked });
    }
  }
  return { list, startedAt };
}

let cachedBtime: number | undefined;

async function bootTime(): Promise<number> {
  if (cachedBtime === undefined) {
    const bt = parseBtime(await readFile(`${PROC}/stat`, 'utf8'));
    if (bt === undefined) throw new Error('/proc/stat has no btime line');
    cachedBtime = bt;
  }
  return cachedBtime;
}

/**
 * One process from /proc: stat (ppid, start), status (uid), exe (path; needs root for other users'
 * processes — then only the task name is known), cmdline. Undefined when the process is gone.
 */
export async function readProcProcess(pid: number, seenAt = Math.floor(Date.now() / 1000)): Promise<ProcessObservation | undefined> {
  const dir = `${PROC}/${pid}`;
  let statText: string;
  try {
    statText = await readFile(`${dir}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const stat = parseProcStat(statText);
  if (!stat) return undefined;
  const btime = await bootTime();
  const [status, exe, cmdline] = await Promise.all([
    readFile(`${dir}/status`, 'utf8').catch(() => ''),
    readlink(`${dir}/exe`).catch(() => ''),
    readHead(`${dir}/cmdline`, MAX_CMDLINE_BYTES).catch(() => ''),
  ]);
  const uid = parseProcStatusUid(status);
  const path = exe.replace(/ \(deleted\)$/, '');
  const args = cmdline ? boundedArgs(cmdline.replace(/\0$/, '').split('\0')) : undefined;
  return {
    pid,
    processStart: btime + Math.floor(stat.starttime / CLK_TCK),
    ppid: stat.ppid,
    ...(uid !== undefined ? { uid } : {}),
    ...(path ? { path } : {}),
    name: stat.comm,
    ...(args && args[0] !== '' ? { args } : {}),
    source: 'proc',
    seenAt,
  };
}

async function snapshotLinux(ctx: ExtensionContext): Promise<{ list: ProcessObservation[]; startedAt: number }> {
  const startedAt = ctx.clock.unix();
  const entries = await readdir(PROC);
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number);
  const seenAt = ctx.clock.unix();
  const list: ProcessObservation[] = [];
  // Bounded concurrency: thousands of parallel reads would spike file descriptors for nothing.
  const CONCURRENCY = 32;
  for (let i = 0; i < pids.length; i += CONCURRENCY) {
    const chunk = await Promise.all(pids.slice(i, i + CONCURRENCY).map((pid) => readProcProcess(pid, seenAt)));
    for (const obs of chunk) if (obs) list.push(obs);
  }
  return { list, startedAt };
}
