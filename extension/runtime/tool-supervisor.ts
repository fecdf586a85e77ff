/**
 * The lifecycle of a long-running tool the extension keeps running (eslogger, tcpdump): one child at a time, a
 * restart after each exit with RestartBackoff's delays (a run of `stableRunMs` starts them over), the child's
 * stderr kept (bounded) for the health detail, and the child's process group stopped within `killAfterMs`.
 * What the output means, and what each failure says in the health table, stays with the collector (the hooks).
 */
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { RestartBackoff } from './restart-backoff.js';
import { terminateGroup } from './tools.js';

/** stderr kept per run: enough for any tool's error message, bounded against a chatty one. */
const MAX_STDERR_CHARS = 16 * 1024;

export type SupervisedChild = ChildProcessByStdio<null, Readable, Readable>;

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The run's stderr (its first 16 KiB). */
  stderr: string;
  ranMs: number;
  /** The restart already scheduled. */
  delayMs: number;
}

export interface ChildHooks {
  /**
   * Every 'error' of the child. `spawnFailed`: it never started (Node may emit no 'close' then, or one after this);
   * the supervisor has already counted it as ended and scheduled the restart.
   */
  onError(err: NodeJS.ErrnoException, spawnFailed: boolean): void;
  /** Each stderr chunk, with the run's stderr so far. */
  onStderr?(stderr: string): void;
  /** The child is gone, stopping or not: flush what it wrote. */
  onClosed?(): void;
  /** It exited while the supervisor was not stopping; the restart is scheduled. */
  onExit(exit: ToolExit): void;
}

export interface ToolSupervisorOptions {
  backoff: RestartBackoff;
  stableRunMs: number;
  killAfterMs: number;
  /** Start the tool again (the supervisor calls it when a restart is due). */
  restart: () => void;
}

export class ToolSupervisor {
  private child: SupervisedChild | undefined;
  private closed: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly opts: ToolSupervisorOptions) {}

  get stopped(): boolean {
    return this.stopping;
  }

  /** One more failure: start again after the backoff's delay (ms, 0 once stopping, when nothing is scheduled). */
  scheduleRestart(): number {
    if (this.stopping) return 0;
    const delay = this.opts.backoff.next();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.opts.restart();
    }, delay);
    this.restartTimer.unref?.();
    return delay;
  }

  /** Supervise a child just spawned: the one the next stop() ends. */
  watch(proc: SupervisedChild, hooks: ChildHooks): void {
    this.child = proc;
    const startedAt = Date.now();
    let stderr = '';
    let ended = false;
    let resolveClosed!: () => void;
    this.closed = new Promise<void>((r) => (resolveClosed = r));
    const end = () => {
      ended = true;
      if (this.child === proc) this.child = undefined;
      resolveClosed();
    };
    proc.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR_CHARS) stderr += chunk.toString('utf8');
      hooks.onStderr?.(stderr);
    });
    proc.on('error', (err: NodeJS.ErrnoException) => {
      const spawnFailed = proc.pid === undefined && !ended;
      if (spawnFailed) {
        end();
        this.scheduleRestart();
      }
      hooks.onError(err, spawnFailed);
    });
    proc.on('close', (code, signal) => {
      // after a failed spawn's 'error', which restarted already
      if (ended) return;
      end();
      hooks.onClosed?.();
      if (this.stopping) return;
      const ranMs = Date.now() - startedAt;
      if (ranMs >= this.opts.stableRunMs) this.opts.backoff.reset();
      const delayMs = this.scheduleRestart();
      hooks.onExit({ code, signal, stderr, ranMs, delayMs });
    });
  }

  /** No more restarts; the running child (its process group) gets SIGTERM, then SIGKILL after killAfterMs. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.child) await terminateGroup(this.child, this.closed, this.opts.killAfterMs);
  }
}
