/**
 * An osquery extension process: wait for the manager socket, register, serve `Extension` on
 * `<socket>.<uuid>`, watch liveness, shut down cleanly. Mirrors osquery-go's ExtensionManagerServer.
 */
import { unlink } from 'node:fs/promises';
import { ExtensionManagerClient, serveExtension, type ThriftServer } from './thrift-bridge.js';
import { TableRouter, type TablePlugin } from './table-plugin.js';
import { ExtensionCode, SdkError, nullLogger, type ExtensionStatus, type SdkLogger } from './types.js';

export interface ExtensionOptions {
  /** Manager socket (`--socket`). */
  socket: string;
  name: string;
  version: string;
  /** osquery core rejects < 1.7.7. */
  sdkVersion: string;
  minSdkVersion?: string;
  tables: TablePlugin[];
  /** Bound on the initial wait for the manager socket (`--timeout`, seconds → ms). */
  startTimeoutMs: number;
  /** Liveness period (`--interval`, seconds → ms). */
  intervalMs: number;
  generateTimeoutMs?: number;
  log?: SdkLogger;
}

export type StopReason =
  | { kind: 'shutdown_rpc' }
  | { kind: 'signal'; signal: string }
  | { kind: 'manager_unreachable'; detail: string }
  | { kind: 'deregistered' }
  | { kind: 'stopped' };

/** Exit code osqueryd expects: 0 for an orderly stop, non-zero so it respawns us otherwise. */
export function exitCodeFor(reason: StopReason): number {
  return reason.kind === 'manager_unreachable' || reason.kind === 'deregistered' ? 1 : 0;
}

/** Below this, `--timeout` and `--interval` are raised to it (osquery floors both at 200 ms; a host may set 0). */
export const MIN_FLAG_MS = 200;

/**
 * Above this, `--timeout` and `--interval` are lowered to it: the longest delay a timer takes (about 24.8 days).
 * Node runs a longer one after 1 ms, which made the liveness check ping osqueryd without pause.
 */
export const MAX_FLAG_MS = 2_147_483_647;

/** Parse an osquery duration flag: seconds as a string, fractions allowed ("3", "3.5"), MIN_FLAG_MS to MAX_FLAG_MS. */
export function parseSecondsFlag(value: string | number | undefined, flag: string, fallback: number): number {
  if (value === undefined || value === '') return fallback * 1000;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n < 0) throw new SdkError('REGISTRATION_FAILED', `${flag} must be a number of seconds (0 or more), got "${value}"`);
  // osqueryd passes --extensions_timeout / --extensions_interval through as given, 0 included
  return Math.min(MAX_FLAG_MS, Math.max(MIN_FLAG_MS, Math.round(n * 1000)));
}

/**
 * The longest Unix socket path, in bytes, that bind and connect take whole: sun_path holds 108 bytes on Linux and
 * 104 on macOS, the terminating NUL included. Node passes a longer one on cut short, so the extension would serve
 * on another path than the one osqueryd connects to.
 */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === 'linux' ? 107 : 103;
}

/** `<socket>.<uuid>` for the largest uuid osquery hands out (65535): what the manager path leaves room for. */
const UUID_SUFFIX_BYTES = '.65535'.length;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class OsqueryExtension {
  readonly manager: ExtensionManagerClient;
  readonly router: TableRouter;
  private readonly log: SdkLogger;
  private server: ThriftServer | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private resolveStopped!: (r: StopReason) => void;
  private resolveStopRequested!: (r: StopReason) => void;
  /** Resolves once the extension has stopped, with why. */
  readonly stopped: Promise<StopReason>;
  /** Resolves as soon as a stop begins (hosts arm their exit deadline here). */
  readonly stopRequested: Promise<StopReason>;
  uuid = 0;
  /** Whether osquery registered us (`uuid` is then ours: core draws it from 0–65535, 0 included). */
  registered = false;

  constructor(readonly opts: ExtensionOptions) {
    this.log = opts.log ?? nullLogger;
    this.manager = new ExtensionManagerClient(opts.socket, { timeoutMs: 10_000 });
    this.router = new TableRouter(opts.tables, { generateTimeoutMs: opts.generateTimeoutMs, log: this.log });
    this.stopped = new Promise<StopReason>((r) => (this.resolveStopped = r));
    this.stopRequested = new Promise<StopReason>((r) => (this.resolveStopRequested = r));
  }

  /** `<manager socket>.<uuid>` once registered. */
  get extensionSocket(): string {
    return `${this.opts.socket}.${this.uuid}`;
  }

  /** Wait for the manager, register and serve. Rejects (SdkError) when the manager never answers or refuses us. */
  /** True once stop() was called (e.g. SIGTERM while still starting). */
  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  async start(): Promise<void> {
    const deadline = Date.now() + this.opts.startTimeoutMs;
    // before registering: osqueryd would list an extension nobody can reach
    const limit = maxSocketPathBytes();
    if (Buffer.byteLength(this.opts.socket) + UUID_SUFFIX_BYTES > limit) {
      throw new SdkError(
        'REGISTRATION_FAILED',
        `the extension socket ${this.opts.socket}.<uuid> can be longer than a Unix socket path may be (${limit} bytes), so osqueryd could not reach it: give osqueryd an --extensions_socket of at most ${limit - UUID_SUFFIX_BYTES} bytes`,
      );
    }
    await this.waitForManager(deadline);
    this.assertNotStopping();
    const uuid = await this.register(deadline);
    if (this.stopping) {
      // Stopped while registering: do not leave a registration behind that nobody serves.
      await this.manager.deregisterExtension(uuid, { timeoutMs: 500 }).catch(() => undefined);
      this.assertNotStopping();
    }
    this.uuid = uuid;
    this.registered = true;
    const path = this.extensionSocket;
    // A previous instance that died without cleanup leaves its socket file behind; bind would fail.
    await unlink(path).catch(() => undefined);
    try {
      this.server = await serveExtension(
        path,
        {
          ping: async () => ({ code: ExtensionCode.SUCCESS, message: 'OK', uuid: this.uuid }),
          call: (registry, item, request) => this.router.call(registry, item, request),
          shutdown: async () => {
            this.log.info({ uuid: this.uuid }, 'shutdown requested by osquery');
            // Reply first (shutdown is not oneway), then stop.
            setImmediate(() => void this.stop({ kind: 'shutdown_rpc' }));
          },
        },
        {
          onError: (err) => {
            // A local process speaking garbage or oversized requests to us is worth a warning; resets are routine.
            if (err instanceof SdkError && err.code === 'PEER_REJECTED') this.log.warn({ err }, 'extension connection rejected');
            else this.log.debug({ err }, 'extension connection error');
          },
        },
      );
    } catch (err) {
      // registered but not served: osqueryd would refuse the respawned instance as a duplicate until it drops us
      this.registered = false;
      await this.manager.deregisterExtension(uuid, { timeoutMs: 500 }).catch(() => undefined);
      throw new SdkError('REGISTRATION_FAILED', `cannot serve the extension socket ${path}: ${(err as Error).message}`, { cause: err });
    }
    if (this.stopping) {
      await this.server.close();
      await unlink(path).catch(() => undefined);
      this.assertNotStopping();
    }
    this.log.info({ uuid: this.uuid, socket: path, tables: this.router.tableNames }, 'extension registered');
    this.scheduleLiveness();
  }

  private assertNotStopping(): void {
    if (this.stopping) throw new SdkError('REGISTRATION_FAILED', 'stopped before registration completed');
  }

  private async waitForManager(deadline: number): Promise<void> {
    let lastError: unknown;
    for (;;) {
      this.assertNotStopping();
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        await this.manager.ping({ timeoutMs: Math.max(200, Math.min(left, 2000)) });
        return;
      } catch (err) {
        lastError = err;
        // osqueryd's socket is root's (0600): waiting will not change who we are
        const code = (err as { cause?: { code?: unknown } }).cause?.code;
        if (code === 'EACCES' || code === 'EPERM') {
          throw new SdkError('MANAGER_UNREACHABLE', `osquery extension manager at ${this.opts.socket} refused us (${String(code)}): run the extension as the user osqueryd runs as (root)`, { cause: err });
        }
      }
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
    const detail = lastError instanceof Error ? lastError.message : 'no answer';
    throw new SdkError('MANAGER_UNREACHABLE', `osquery extension manager at ${this.opts.socket} did not answer within ${this.opts.startTimeoutMs} ms (${detail})`, { cause: lastError });
  }

  private async register(deadline: number): Promise<number> {
    const info = { name: this.opts.name, version: this.opts.version, sdk_version: this.opts.sdkVersion, min_sdk_version: this.opts.minSdkVersion ?? '1.7.7' };
    for (;;) {
      let status: ExtensionStatus;
      try {
        status = await this.manager.registerExtension(info, this.router.registry());
      } catch (err) {
        throw new SdkError('REGISTRATION_FAILED', `registerExtension failed: ${(err as Error).message}`, { cause: err });
      }
      if (status.code === ExtensionCode.SUCCESS && Number.isSafeInteger(status.uuid) && status.uuid >= 0) return status.uuid;
      // Core's words (ExtensionManagerInterface::registerExtension): "Duplicate extension registered" is an extension of
      // our name, "Failed adding registry: Duplicate extension UUID: N" a uuid core drew twice (older cores; core prefixes
      // addBroadcast's status); both clear on a retry. "Failed adding registry: Duplicate registry item: X" is a table of
      // ours that core or another extension already provides: it does not.
      const duplicate = /^(?:Failed adding registry: )?Duplicate extension (registered|UUID)/i.test(status.message);
      const clash = /Duplicate registry item: (.*)$/i.exec(status.message)?.[1];
      // After a fast restart core may still list our previous instance until its pings fail.
      if (duplicate && Date.now() + 500 < deadline) {
        this.log.warn({ message: status.message }, 'registration refused as duplicate; retrying');
        await sleep(500);
        continue;
      }
      const hint = duplicate
        ? ` (another ${this.opts.name} is registered with this osqueryd: listed twice in extensions.load, or started by hand?)`
        : clash
          ? ` (osquery core or another extension already has a table named ${clash}; remove that extension or rename the table)`
          : '';
      throw new SdkError('REGISTRATION_FAILED', `osquery refused the extension: ${status.message || `code ${status.code}`}${hint}`);
    }
  }

  private scheduleLiveness(failures = 0): void {
    if (this.stopping) return;
    this.livenessTimer = setTimeout(() => void this.checkLiveness(failures), this.opts.intervalMs);
  }

  private async checkLiveness(failures: number): Promise<void> {
    // A dead manager fails at connect, at once; the timeout only matters for a live but busy one, which
    // must not get us killed: at least 3 s, at most core's own 10 s liveness client timeout.
    const timeoutMs = Math.max(3000, Math.min(this.opts.intervalMs, 10_000));
    try {
      await this.manager.ping({ timeoutMs });
      const registered = await this.manager.extensions({ timeoutMs });
      if (this.stopping) return;
      if (!registered.has(this.uuid)) {
        this.log.error({ uuid: this.uuid }, 'osquery no longer lists this extension; exiting so it respawns us');
        void this.stop({ kind: 'deregistered' });
        return;
      }
      this.scheduleLiveness(0);
    } catch (err) {
      if (this.stopping) return;
      const n = failures + 1;
      this.log.warn({ err: (err as Error).message, failures: n }, 'manager liveness check failed');
      if (n >= 2) {
        void this.stop({ kind: 'manager_unreachable', detail: (err as Error).message });
        return;
      }
      this.scheduleLiveness(n);
    }
  }

  /**
   * Stop serving and remove our socket. On an orderly stop (signal, explicit stop) we also deregister
   * so a quick restart is not refused as a duplicate; after shutdown() the manager is going away anyway.
   */
  stop(reason: StopReason = { kind: 'stopped' }): Promise<void> {
    this.stopping ??= (async () => {
      this.resolveStopRequested(reason);
      clearTimeout(this.livenessTimer);
      // Socket first: it is what osqueryd checks, and it must be gone even if the manager never answers.
      await this.server?.close();
      if (this.registered) await unlink(this.extensionSocket).catch(() => undefined);
      if (this.registered && (reason.kind === 'signal' || reason.kind === 'stopped')) {
        await this.manager.deregisterExtension(this.uuid, { timeoutMs: 500 }).catch((err: Error) => this.log.debug({ err: err.message }, 'deregister failed'));
      }
      this.log.info({ reason: reason.kind }, 'extension stopped');
      this.resolveStopped(reason);
    })();
    return this.stopping;
  }
}
