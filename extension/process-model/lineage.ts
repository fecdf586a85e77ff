import type { LineageGroup, ProcessRecord } from '../runtime/context.js';

/** Links a lineage walk follows at most (a loop in a forged or stale ppid chain must end there). */
export const LINEAGE_MAX_DEPTH = 64;

/**
 * Lineage (SPEC §4) as pure functions over a read-only view of the process model, so they can be
 * unit-tested on hand-built trees.
 *
 * Parent rule: the original parent (ES `original_ppid`, or the ppid we saw before a reparent to launchd)
 * when known, else ppid. When that parent is launchd (pid 1) or no longer known, the responsible pid
 * owns the process (XPC helpers of an app, orphans whose parent is gone).
 *
 * Group root = nearest process, walking up from the process itself, that is
 *  - a GUI app: main executable of an outermost `.app` bundle (`X.app/Contents/MacOS/X`); helper apps
 *    nested inside another bundle (`Chrome.app/…/Helper.app/Contents/MacOS/…`) belong to their app;
 *  - an interactive shell under a terminal app (the shell has no `-c` script, a tty when known, and a
 *    terminal-app ancestor within a few hops, e.g. Terminal → login → zsh);
 *  - a launchd job: its parent is launchd and no responsible process other than itself owns it
 *    (a reparented orphan is not a job: it follows its original parent, or its responsible pid).
 * If the walk runs out of known ancestors first, the topmost known process is the root (`top`).
 */
export interface ProcessLookup {
  /** The instance of pid alive at unix time `at`. */
  getAt(pid: number, at: number): ProcessRecord | undefined;
}

export interface LineageOptions {
  /** True when this process is a terminal / IDE app whose interactive shells start a group. */
  isTerminalApp(p: ProcessRecord): boolean;
  /** Hops from a shell up to its terminal app (Terminal → login → zsh is 2). */
  maxTerminalHops?: number;
  /** Safety bound on the walk (pid reuse can produce cycles in stale data). */
  maxDepth?: number;
}

export const LAUNCHD_PID = 1;

const SHELLS = new Set(['sh', 'bash', 'zsh', 'fish', 'dash', 'ksh', 'mksh', 'tcsh', 'csh', 'nu', 'pwsh', 'xonsh', 'elvish', 'oksh', 'yash']);

export type ParentLink =
  | { kind: 'parent' | 'responsible'; parent: ProcessRecord }
  | { kind: 'launchd' }
  | { kind: 'unknown' };

/** The pid of p's parent: its original parent (before a reparenting to launchd), else its ppid. */
export function parentPidOf(p: ProcessRecord): number {
  return p.originalPpid !== null && p.originalPpid > 0 && p.originalPpid !== p.pid ? p.originalPpid : p.ppid;
}

/** The lineage parent of p (see the module comment), or why there is none. */
export function lineageParent(model: ProcessLookup, p: ProcessRecord): ParentLink {
  const parentPid = parentPidOf(p);
  if (parentPid > LAUNCHD_PID && parentPid !== p.pid) {
    const parent = model.getAt(parentPid, p.processStart);
    if (parent && parent !== p) return { kind: 'parent', parent };
  }
  const parentIsLaunchd = parentPid === LAUNCHD_PID;
  const orphaned = p.ppid === LAUNCHD_PID || parentIsLaunchd;
  if (orphaned && p.responsiblePid !== null && p.responsiblePid > LAUNCHD_PID && p.responsiblePid !== p.pid) {
    const owner = model.getAt(p.responsiblePid, p.processStart);
    if (owner && owner !== p) return { kind: 'responsible', parent: owner };
  }
  if (parentIsLaunchd) return { kind: 'launchd' };
  return { kind: 'unknown' };
}

/** Main executable of a bundle that is not nested inside another bundle. */
export function isGuiAppPath(path: string): boolean {
  const m = /\.app\/Contents\/MacOS\/[^/]+$/.exec(path);
  if (!m) return false;
  const bundlePrefix = path.slice(0, m.index);
  return !bundlePrefix.includes('.app/');
}

export function isShell(p: ProcessRecord): boolean {
  const base = (p.path ? p.path.slice(p.path.lastIndexOf('/') + 1) : p.name).replace(/^-/, '');
  return SHELLS.has(base);
}

/**
 * A shell that reads commands from a terminal rather than running a script. `-i` does not make a command (`-c`) or a
 * script operand interactive: `bash -ic 'curl …'` runs that command and exits, and a stealer that ran it would
 * otherwise start a lineage group of its own, apart from its own reads.
 */
export function isInteractiveShell(p: ProcessRecord): boolean {
  if (!isShell(p)) return false;
  if (p.tty === false) return false;
  // fed a script on a pipe, or a remote peer's commands on a socket (a reverse shell, -i or not): no terminal
  if (p.stdin === 'pipe' || p.stdin === 'socket') return false;
  return !(p.args && runsCommandOrScript(p.args));
}

/** Long options of bash and zsh that take the next argument (`--rcfile FILE`), so it is no script operand. */
const LONG_OPTIONS_WITH_ARGUMENT = new Set(['--rcfile', '--init-file']);

/**
 * Whether a shell's argv runs a command (`-c`) or a script operand rather than reading commands. Options are read
 * as bash and zsh read them: a short-option cluster (`-il`, `+o`) whose last letter is `o` or `O` takes the next
 * argument (`-o vi`, `-O extglob`), as do `--rcfile`/`--init-file`; `--` or `-` ends the options; `-s` reads
 * commands from standard input, so its operands are positional parameters, not a script.
 */
export function runsCommandOrScript(args: readonly string[]): boolean {
  let fromStdin = false;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || a === '-') return !fromStdin && i + 1 < args.length;
    if (a.startsWith('--')) {
      if (LONG_OPTIONS_WITH_ARGUMENT.has(a)) i++;
      continue;
    }
    if ((a.startsWith('-') || a.startsWith('+')) && a.length > 1) {
      const letters = a.slice(1);
      if (a.startsWith('-') && letters.includes('c')) return true;
      if (letters.includes('s')) fromStdin = true;
      const last = letters[letters.length - 1];
      if (last === 'o' || last === 'O') i++;
      continue;
    }
    // the first operand: a script, unless -s made operands positional parameters
    return !fromStdin;
  }
  return false;
}

function underTerminalApp(model: ProcessLookup, shell: ProcessRecord, opts: LineageOptions): boolean {
  const hops = opts.maxTerminalHops ?? 4;
  let cur = shell;
  for (let i = 0; i < hops; i++) {
    const link = lineageParent(model, cur);
    if (link.kind !== 'parent' && link.kind !== 'responsible') return false;
    if (opts.isTerminalApp(link.parent)) return true;
    cur = link.parent;
  }
  return false;
}

export function groupOf(model: ProcessLookup, p: ProcessRecord, opts: LineageOptions): LineageGroup {
  const maxDepth = opts.maxDepth ?? LINEAGE_MAX_DEPTH;
  const chain: ProcessRecord[] = [p];
  const seen = new Set<ProcessRecord>([p]);
  let cur = p;
  for (let depth = 0; depth < maxDepth; depth++) {
    if (cur.pid === LAUNCHD_PID) return { root: cur, rootKind: 'top', chain };
    const link = lineageParent(model, cur);
    // A bundle's main executable is a GUI app (a root) when launchd / LaunchServices started it, not when a
    // known process exec'd it (a CLI copied into X.app/Contents/MacOS would otherwise escape its parent's group).
    if (cur.path && isGuiAppPath(cur.path) && link.kind !== 'parent') return { root: cur, rootKind: 'gui_app', chain };
    if (isInteractiveShell(cur) && underTerminalApp(model, cur, opts)) return { root: cur, rootKind: 'terminal_shell', chain };
    if (link.kind === 'launchd') return { root: cur, rootKind: 'launchd_job', chain };
    if (link.kind === 'unknown' || seen.has(link.parent)) return { root: cur, rootKind: 'top', chain };
    cur = link.parent;
    seen.add(cur);
    chain.push(cur);
  }
  return { root: cur, rootKind: 'top', chain };
}
