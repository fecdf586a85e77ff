import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, lstatSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ToolError } from '../../src/errors.js';
import { checkRootOnlyPath, runningAsRoot } from '../../src/root-only-path.js';

/**
 * The only place the extension starts processes. Every tool is allowlisted with an absolute path per
 * platform; no shell is ever involved; every run has a timeout and an output cap. With a tool dir
 * (OUTFLOW_TOOL_DIR / config tools.dir) tools resolve from that directory instead — that is how the darwin
 * backend is exercised on Linux with fake tools. Running as root (under osqueryd), tools run from such a
 * directory only when it is root's alone (rootOnlyPathProblems): whoever could write there would be root.
 *
 * Every tool runs in a process group of its own, and the runner knows which are alive: a timeout, an output
 * cap or an abort kills the tool's whole group (a wrapper's children too), and killAll() reaps whatever still
 * runs when the extension stops. Without it a hung ps or eslogger outlived the extension, reparented to
 * launchd, since its timeout timer died with us, and piled up with every restart.
 */
export type Platform = 'darwin' | 'linux';

export const TOOL_PATHS = {
  darwin: {
    nettop: '/usr/bin/nettop',
    ps: '/bin/ps',
    codesign: '/usr/bin/codesign',
    spctl: '/usr/sbin/spctl',
    eslogger: '/usr/bin/eslogger',
    tcpdump: '/usr/sbin/tcpdump',
    scutil: '/usr/sbin/scutil',
  },
  linux: {
    ss: '/usr/bin/ss',
    ps: '/usr/bin/ps',
    'dpkg-query': '/usr/bin/dpkg-query',
    rpm: '/usr/bin/rpm',
    tcpdump: '/usr/bin/tcpdump',
  },
} as const satisfies Record<Platform, Record<string, string>>;

export type ToolName = keyof (typeof TOOL_PATHS)['darwin'] | keyof (typeof TOOL_PATHS)['linux'];

export interface RunOptions {
  timeoutMs?: number;
  maxBytes?: number;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Exit codes that are not failures (default [0]). */
  okExitCodes?: number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

export interface ToolRunnerOptions {
  platform: Platform;
  toolDir?: string;
  defaultTimeoutMs?: number;
  defaultMaxBytes?: number;
}

/** Minimal environment for tools: predictable output (C locale, UTC), nothing inherited that could change it. */
const BASE_ENV: Record<string, string> = { LC_ALL: 'C', LANG: 'C', TZ: 'UTC', PATH: '/usr/bin:/bin:/usr/sbin:/sbin' };

export class ToolRunner {
  readonly platform: Platform;
  readonly toolDir: string | undefined;
  /** Why no tool runs from toolDir: it is not root's alone and this process is root. */
  readonly toolDirProblem: string | undefined;
  /** Tools started and not yet exited. */
  private readonly live = new Set<ChildProcess>();
  private readonly asRoot: boolean;
  /** Tool files in toolDir found root's alone, and the real path each is run from (as root, checked before its first run). */
  private readonly trustedTools = new Map<string, string>();
  private readonly defaultTimeoutMs: number;
  private readonly defaultMaxBytes: number;

  /** Fake tools (tests) read their scenario from OUTFLOW_FAKE_* variables; real tools never see them. */
  private toolEnv(extra?: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = { ...BASE_ENV };
    if (this.toolDir) {
      for (const [k, v] of Object.entries(process.env)) if (k.startsWith('OUTFLOW_FAKE_') && v !== undefined) env[k] = v;
    }
    return { ...env, ...extra };
  }

  constructor(opts: ToolRunnerOptions) {
    this.platform = opts.platform;
    this.toolDir = opts.toolDir ? path.resolve(opts.toolDir) : undefined;
    this.asRoot = runningAsRoot();
    if (this.toolDir && this.asRoot) {
      const checked = checkRootOnlyPath(this.toolDir);
      if (checked.problems.length) this.toolDirProblem = checked.problems.join('; ');
      // the directory as the check resolved it: a link on the given path replaced later changes nothing
      else this.toolDir = checked.real;
    }
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 15_000;
    this.defaultMaxBytes = opts.defaultMaxBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Absolute path of an allowlisted tool for this platform. Throws TOOL_NOT_ALLOWED for anything else, and
   * TOOL_PERMISSION (health: permission_denied) for every tool while the tool dir is unsafe.
   */
  resolve(tool: ToolName): string {
    const table = TOOL_PATHS[this.platform] as Record<string, string>;
    const abs = table[tool];
    if (!abs) throw new ToolError('TOOL_NOT_ALLOWED', `${tool} is not an allowed tool on ${this.platform}`, tool);
    if (!this.toolDir) return abs;
    if (this.toolDirProblem) {
      throw new ToolError(
        'TOOL_PERMISSION',
        `refusing to run ${tool} as root from tools.dir ${this.toolDir}: ${this.toolDirProblem}`,
        tool,
        {},
        'tools.dir (OUTFLOW_TOOL_DIR) is meant for tests: unset it, or make that directory and every directory above it owned by root and writable by root only',
      );
    }
    const file = path.join(this.toolDir, path.basename(abs));
    if (!this.asRoot) return file;
    const trusted = this.trustedTools.get(file);
    if (trusted) return trusted;
    // Nothing there at all (not even a dangling link): only root can put it in this root-only directory; the run
    // then fails as not found, and the next resolve checks what root put there.
    if (!lexists(file)) return file;
    const checked = checkRootOnlyPath(file);
    if (checked.problems.length || checked.real === undefined) {
      throw new ToolError('TOOL_PERMISSION', `refusing to run ${tool} as root from ${file}: ${checked.problems.join('; ')}`, tool, {}, 'make the tool file root-owned and writable by root only, or unset tools.dir (OUTFLOW_TOOL_DIR), which is meant for tests');
    }
    // run from the path as checked, so a link on the way replaced later changes nothing
    this.trustedTools.set(file, checked.real);
    return checked.real;
  }

  /** True when the tool exists and is executable (for health and doctor). */
  available(tool: ToolName): boolean {
    return this.unavailable(tool) === null;
  }

  /**
   * Why the tool cannot be run, or null when it can: resolve's refusal (TOOL_PERMISSION for an unsafe tools.dir,
   * TOOL_NOT_ALLOWED), else TOOL_NOT_FOUND when no executable file is there.
   */
  unavailable(tool: ToolName): ToolError | null {
    let file: string;
    try {
      file = this.resolve(tool);
    } catch (err) {
      return err as ToolError;
    }
    try {
      accessSync(file, fsConstants.X_OK);
      return null;
    } catch (err) {
      return new ToolError('TOOL_NOT_FOUND', `${tool} not found or not executable at ${file}`, tool, {}, 'install the tool or set tools.dir; see `outflow doctor`', { cause: err });
    }
  }

  /** Run to completion, capturing stdout/stderr up to maxBytes each. Rejects with ToolError. */
  run(tool: ToolName, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    let file: string;
    try {
      file = this.resolve(tool);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const maxBytes = opts.maxBytes ?? this.defaultMaxBytes;
    const okExit = opts.okExitCodes ?? [0];
    const started = Date.now();
    return new Promise<RunResult>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(aborted(tool));
        return;
      }
      let child: ChildProcessByStdio<null, Readable, Readable>;
      try {
        child = this.track(spawn(file, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], env: this.toolEnv(opts.env), detached: true }));
      } catch (err) {
        reject(notFoundOr(tool, file, err));
        return;
      }
      // Output is decoded as it arrives (a multi-byte character split across chunks is held by the
      // decoder): keeping the Buffer chunks until exit and concatenating them held the output three times
      // over at the end (chunks, the concatenated copy, the string), outside the V8 heap.
      const outDecoder = new StringDecoder('utf8');
      const errDecoder = new StringDecoder('utf8');
      const outParts: string[] = [];
      const errParts: string[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let settled = false;
      const onAbort = () => {
        killGroup(child, 'SIGKILL');
        finish(() => reject(aborted(tool)));
      };
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        killGroup(child, 'SIGKILL');
        finish(() => reject(new ToolError('TOOL_TIMEOUT', `${tool} did not finish within ${timeoutMs} ms`, tool, {}, 'the tool is hung or the machine is overloaded; it will be retried')));
      }, timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        outBytes += chunk.length;
        if (outBytes > maxBytes) {
          killGroup(child, 'SIGKILL');
          finish(() => reject(new ToolError('TOOL_OUTPUT_LIMIT', `${tool} printed more than ${maxBytes} bytes`, tool, {}, 'raise tools.max_output_bytes if this host really has that much state')));
          return;
        }
        outParts.push(outDecoder.write(chunk));
      });
      child.stderr.on('data', (chunk: Buffer) => {
        errBytes += chunk.length;
        // Only the head is kept (errors are read from it); a tool still writing past the output cap is stuck in
        // a loop, not reporting: stop it rather than drain it until the timeout.
        if (errBytes > maxBytes) {
          killGroup(child, 'SIGKILL');
          finish(() => reject(new ToolError('TOOL_OUTPUT_LIMIT', `${tool} printed more than ${maxBytes} bytes of errors`, tool, { stderrHead: errParts.join('').slice(0, 512) })));
          return;
        }
        if (errBytes <= 1024 * 1024) errParts.push(errDecoder.write(chunk));
      });
      child.on('error', (err) => finish(() => reject(notFoundOr(tool, file, err))));
      child.on('close', (code, signal) => {
        if (settled) return;
        outParts.push(outDecoder.end());
        errParts.push(errDecoder.end());
        const stdout = outParts.join('');
        const stderr = errParts.join('');
        outParts.length = 0;
        errParts.length = 0;
        const exitCode = code ?? -1;
        if (!okExit.includes(exitCode)) {
          finish(() =>
            reject(
              new ToolError('TOOL_FAILED', `${tool} exited with ${signal ? `signal ${signal}` : `code ${exitCode}`}`, tool, {
                exitCode: code,
                signal,
                stderrHead: stderr.slice(0, 512),
              }),
            ),
          );
          return;
        }
        finish(() => resolve({ stdout, stderr, exitCode, durationMs: Date.now() - started }));
      });
    });
  }

  /**
   * Start a long-running tool (eslogger, nettop -L 0) and hand back the child. The caller owns the stream
   * (line-buffering, restart with backoff). stderr is piped so permission errors can be read.
   */
  spawnStream(tool: ToolName, args: readonly string[], opts: { env?: Record<string, string> } = {}): ChildProcessByStdio<null, Readable, Readable> {
    const file = this.resolve(tool);
    return this.track(spawn(file, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], env: this.toolEnv(opts.env), detached: true }));
  }

  /** How many tools are running now. */
  get running(): number {
    return this.live.size;
  }

  /**
   * SIGKILL every tool still running, with its process group. Synchronous, so it also works in an `exit`
   * handler (the extension's forced exit). Returns how many were running.
   */
  killAll(): number {
    const n = this.live.size;
    for (const child of this.live) killGroup(child, 'SIGKILL');
    this.live.clear();
    return n;
  }

  private track<T extends ChildProcess>(child: T): T {
    if (child.pid === undefined) return child; // failed to start: its 'error' event says why
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    return child;
  }
}

/**
 * Signal a tool's whole process group (it leads one: spawned detached), so what a wrapper started goes too;
 * the tool alone when the group is gone already.
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Stop a long-running tool (spawnStream) within the extension's stop budget: SIGTERM to its group, SIGKILL after
 * `killAfterMs` if it is deaf to that, and resolve once `closed` (its 'close') has. A tool that has exited already
 * resolves at once.
 */
export async function terminateGroup(child: ChildProcess, closed: Promise<void>, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  killGroup(child, 'SIGTERM');
  const killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), killAfterMs);
  killTimer.unref?.();
  await closed;
  clearTimeout(killTimer);
}

function lexists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function aborted(tool: string): ToolError {
  return new ToolError('TOOL_ABORTED', `${tool} was stopped before it finished (the extension is stopping)`, tool);
}

function notFoundOr(tool: string, file: string, err: unknown): ToolError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new ToolError('TOOL_NOT_FOUND', `${tool} not found at ${file}`, tool, {}, 'install the tool or set tools.dir; see `outflow doctor`', { cause: err });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new ToolError('TOOL_PERMISSION', `${tool} at ${file} is not executable by this user`, tool, {}, 'run the extension as root (osqueryd does) or fix the file mode', { cause: err });
  }
  return new ToolError('TOOL_FAILED', `${tool} could not be started: ${(err as Error).message}`, tool, {}, undefined, { cause: err });
}
