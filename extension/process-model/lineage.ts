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

function shellName(p: ProcessRecord): string {
  return (p.path ? p.path.slice(p.path.lastIndexOf('/') + 1) : p.name).replace(/^-/, '');
}

export function isShell(p: ProcessRecord): boolean {
  return SHELLS.has(shellName(p));
}

/**
 * A shell that reads commands from a terminal rather than running a script. `-i` does not make a command (`-c`) or a
 * script operand interactive: `bash -ic 'curl …'` runs that command and exits, and a stealer that ran it would
 * otherwise start a lineage group of its own, apart from its own reads.
 */
export function isInteractiveShell(p: ProcessRecord): boolean {
  const shell = shellName(p);
  if (!SHELLS.has(shell)) return false;
  // a subshell (forked, never exec'd) belongs to the shell that forked it
  if (p.forkedOnly) return false;
  // an argv longer than the model keeps may hide a script after it (`bash -o vi ×32 steal.sh`); terminals start shells with a few
  if (p.argsCut) return false;
  if (p.tty === false) return false;
  // fed a script on a pipe, or a remote peer's commands on a socket (a reverse shell, -i or not): no terminal
  if (p.stdin === 'pipe' || p.stdin === 'socket') return false;
  return !(p.args && runsCommandOrScript(shell, p.args, p.argsFromListing === true));
}

/**
 * Whether a shell's argv runs a command, a script, or commands from standard input, rather than reading commands
 * from its terminal. Each shell family's own option syntax: an option's argument (`bash -o vi`, `fish
 * --init-command CMD`, `pwsh -ExecutionPolicy Bypass`) is no script.
 */
export function runsCommandOrScript(shell: string, args: readonly string[], fromListing = false): boolean {
  if (shell === 'fish') return fishRunsCommand(args);
  if (shell === 'pwsh') return pwshRunsCommand(args);
  return posixRunsCommand(args, fromListing);
}

/**
 * The last argument of a path value at `at`, from a ps listing: ps prints argv joined by spaces, so JetBrains'
 * `--rcfile /Applications/IntelliJ IDEA.app/…/jediterm-bash.in -i` comes back as `/Applications/IntelliJ`,
 * `IDEA.app/…`, `-i`. The words after an absolute path are taken for the rest of it only when an option cluster with
 * `i` follows them (the shell was asked to be interactive) and the last of them goes on into a directory; a word that
 * is an absolute or `./` path itself, a bare name, or one followed by no such option, is an operand, a script
 * (`bash --rcfile /dev/null /tmp/up.sh -i`, `… up.sh -i`). ps's text cannot tell `--rcfile "/tmp/a dir/x" -i` from
 * `--rcfile /tmp/a dir/x -i`: from ps alone the second passes for interactive (known gap).
 */
function listedPathValueEnd(args: readonly string[], at: number): number {
  if (!(args[at] ?? '').startsWith('/')) return at;
  let j = at + 1;
  while (j < args.length && !args[j]!.startsWith('-') && !args[j]!.startsWith('/') && !args[j]!.startsWith('./')) j++;
  const next = args[j];
  // the rest of a split path goes on into a directory (`IDEA.app/Contents/…`); a bare name (`up.sh`) is a script
  const last = args[j - 1]!;
  return j > at + 1 && last.includes('/') && next !== undefined && /^-[a-zA-Z]*i[a-zA-Z]*$/.test(next) && !/[cs]/.test(next) ? j - 1 : at;
}

/** Long options of bash and zsh that take the next argument (`--rcfile FILE`), so it is no script operand. */
const POSIX_LONG_WITH_ARGUMENT = new Set(['--rcfile', '--init-file']);
/** Long options that run a command (nushell `--commands`, and the like). */
const LONG_COMMAND = new Set(['--command', '--commands']);

/**
 * sh, bash, zsh, dash, ksh, tcsh and the rest: `-c` (in any cluster) runs a command; `-s` reads commands from
 * standard input (`curl … | sh -s -- --flag`); a cluster (`-il`, `+o`) whose last letter is `o` or `O` takes the next
 * argument (`-o vi`, `-O extglob`), as do `--rcfile`/`--init-file`; `--` or `-` ends the options; the first
 * operand is a script.
 */
function posixRunsCommand(args: readonly string[], fromListing: boolean): boolean {
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || a === '-') return i + 1 < args.length;
    if (a.startsWith('--')) {
      const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
      if (LONG_COMMAND.has(name)) return true;
      if (POSIX_LONG_WITH_ARGUMENT.has(a)) i = fromListing ? listedPathValueEnd(args, i + 1) : i + 1;
      continue;
    }
    if ((a.startsWith('-') || a.startsWith('+')) && a.length > 1) {
      const letters = a.slice(1);
      if (a.startsWith('-') && (letters.includes('c') || letters.includes('s'))) return true;
      const last = letters[letters.length - 1];
      if (last === 'o' || last === 'O') i++;
      continue;
    }
    return true;
  }
  return false;
}

/** fish's long options (GNU-style: any unique prefix names one) and whether each takes an argument. */
const FISH_LONG: ReadonlyMap<string, boolean> = new Map([
  ['command', true], ['debug', true], ['debug-output', true], ['debug-stack-frames', true], ['features', true], ['help', false],
  ['init-command', true], ['interactive', false], ['login', false], ['no-config', false], ['no-execute', false],
  ['print-debug-categories', false], ['print-rusage-self', false], ['private', false], ['profile', true], ['profile-startup', true], ['version', false],
]);
/** fish's short options that take an argument (its option string `+hPilNnvc:C:p:d:f:D:o:`). */
const FISH_SHORT_WITH_ARGUMENT = new Set(['c', 'C', 'p', 'd', 'f', 'D', 'o']);

/** The long option a (possibly shortened) name means, as getopt reads it: exact, else the one option it prefixes. */
function longOption(options: ReadonlyMap<string, boolean>, name: string): string | undefined {
  if (options.has(name)) return name;
  let found: string | undefined;
  for (const o of options.keys()) {
    if (!o.startsWith(name)) continue;
    if (found !== undefined) return undefined;
    found = o;
  }
  return found;
}

/** fish: `-c`/`--command` (or `--comm…`) runs a command; `-C`/`--init-command` (VS Code's shell integration) is no command; the first operand is a script. */
function fishRunsCommand(args: readonly string[]): boolean {
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return i + 1 < args.length;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const option = longOption(FISH_LONG, eq >= 0 ? a.slice(2, eq) : a.slice(2));
      if (option === 'command') return true;
      if (eq < 0 && option !== undefined && FISH_LONG.get(option)) i++;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      const letters = a.slice(1);
      for (let k = 0; k < letters.length; k++) {
        const l = letters[k]!;
        if (l === 'c') return true;
        if (FISH_SHORT_WITH_ARGUMENT.has(l)) {
          // the rest of the cluster is the argument (`-Ccmd`), else the next argument is
          if (k === letters.length - 1) i++;
          break;
        }
      }
      continue;
    }
    return true;
  }
  return false;
}

/**
 * PowerShell's parameters as its command-line parser matches them: a key names a parameter when it is a prefix of
 * the name at least as long as the shortest unambiguous one (`-c`, `-comm` and `-command` are -Command), or one of
 * its aliases. `what`: runs (a command or a file: the rest of argv belongs to it), value (takes the next argument),
 * noexit, or a switch. A parameter pwsh does not know starts the file argument ("the first parameter we fail to
 * recognize marks the beginning of the file string"): `pwsh -u.ps1` runs ./-u.ps1. The server modes
 * (-NamedPipeServerMode, -SocketServerMode, -ServerMode, -SSHServerMode) read a peer, not the terminal: not listed.
 */
type PwshParameterKind = 'runs' | 'value' | 'noexit' | 'switch';
const PWSH_PARAMETERS: readonly { name: string; shortest: string; aliases: readonly string[]; what: PwshParameterKind }[] = [
  { name: 'command', shortest: 'c', aliases: [], what: 'runs' },
  { name: 'commandwithargs', shortest: 'commandwithargs', aliases: ['cwa'], what: 'runs' },
  { name: 'configurationname', shortest: 'config', aliases: [], what: 'value' },
  { name: 'configurationfile', shortest: 'configurationfile', aliases: [], what: 'value' },
  { name: 'custompipename', shortest: 'cus', aliases: [], what: 'value' },
  { name: 'encodedcommand', shortest: 'e', aliases: ['ec'], what: 'runs' },
  { name: 'executionpolicy', shortest: 'ex', aliases: ['ep'], what: 'value' },
  { name: 'file', shortest: 'f', aliases: [], what: 'runs' },
  { name: 'inputformat', shortest: 'inp', aliases: ['if'], what: 'value' },
  { name: 'noexit', shortest: 'noe', aliases: [], what: 'noexit' },
  { name: 'outputformat', shortest: 'o', aliases: ['of'], what: 'value' },
  { name: 'settingsfile', shortest: 'settings', aliases: [], what: 'value' },
  { name: 'windowstyle', shortest: 'w', aliases: [], what: 'value' },
  { name: 'workingdirectory', shortest: 'wo', aliases: ['wd'], what: 'value' },
  { name: 'help', shortest: 'h', aliases: ['?'], what: 'switch' },
  { name: 'interactive', shortest: 'i', aliases: [], what: 'switch' },
  { name: 'login', shortest: 'l', aliases: [], what: 'switch' },
  { name: 'mta', shortest: 'mta', aliases: [], what: 'switch' },
  { name: 'nologo', shortest: 'nol', aliases: [], what: 'switch' },
  { name: 'noninteractive', shortest: 'noni', aliases: [], what: 'switch' },
  { name: 'noprofile', shortest: 'nop', aliases: [], what: 'switch' },
  { name: 'noprofileloadtime', shortest: 'noprofileloadtime', aliases: [], what: 'switch' },
  { name: 'sta', shortest: 'sta', aliases: [], what: 'switch' },
  { name: 'version', shortest: 'v', aliases: [], what: 'switch' },
];

function pwshParameter(key: string): PwshParameterKind {
  for (const p of PWSH_PARAMETERS) if (p.aliases.includes(key) || (p.name.startsWith(key) && key.length >= p.shortest.length)) return p.what;
  return 'runs';
}

/**
 * pwsh: `-Command`/`-EncodedCommand`/`-File`, or a bare operand (a script path), run something and exit: everything
 * after them is the command's text or the script's arguments. `-NoExit` before them keeps the session open (VS Code
 * starts `pwsh -NoExit -Command '. shellIntegration.ps1'`). Names are case-insensitive, with `-` or `--`; an unknown
 * one begins the file argument.
 */
function pwshRunsCommand(args: readonly string[]): boolean {
  let noExit = false;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!.toLowerCase();
    if (!a.startsWith('-') || a === '-' || a === '--') return !noExit;
    // `-ExecutionPolicy:Bypass` is no form pwsh reads: an unknown parameter, so the file argument
    const what = pwshParameter(a.replace(/^--?/, ''));
    if (what === 'runs') return !noExit;
    if (what === 'noexit') noExit = true;
    else if (what === 'value') i++;
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
