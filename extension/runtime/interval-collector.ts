import type { Logger } from '../../src/log.js';
import { coerceError, ToolError } from '../../src/errors.js';
import type { Collector } from './context.js';
import type { ComponentHealth } from './health.js';

export interface IntervalCollectorOptions {
  name: string;
  intervalMs: number;
  /** One sample. Throwing marks the component degraded (or unavailable/permission_denied for tool errors). */
  tick: (signal: AbortSignal) => Promise<void>;
  health: ComponentHealth;
  log: Logger;
  /** Upper bound for the back-off after consecutive failures. */
  maxBackoffMs?: number;
}

export interface IntervalCollector extends Collector {
  /**
   * Bring the next tick forward to `delayMs` from now, when it is due later than that. A tick brought forward starts
   * `delayMs` after a request made after the last tick began, so requests, however many, start at most one tick per
   * `delayMs`. Asked during a tick, the one after it comes as soon as that tick ends, once `delayMs` from the request
   * has passed. Ignored while ticks fail (the back-off stands) and after stop. Returns whether the next tick moved;
   * asked during a tick, whether it will move once that tick ends (it does not if that tick fails).
   */
  tickSoon(delayMs: number): boolean;
}

/**
 * Runs `tick` every interval without overlap (a slow tick delays the next one instead of piling up),
 * backs off exponentially while ticks fail, and reports state to health. ready() resolves after the
 * first tick settles, successful or not, so `outflow query` never waits forever on a missing tool.
 */
export function createIntervalCollector(opts: IntervalCollectorOptions): IntervalCollector {
  const { name, intervalMs, tick, health, log } = opts;
  const maxBackoffMs = opts.maxBackoffMs ?? Math.max(intervalMs * 12, 60_000);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;
  let running: Promise<void> | undefined;
  let inTick = false;
  /**
   * When the scheduled tick fires, on the monotonic clock (performance.now() ms): setTimeout ignores the wall clock, so
   * a Date.now() stepped back (NTP, a date set by hand) would turn a tick brought forward into one put off by the step.
   */
  let nextAt = 0;
  /** When tickSoon asked during a tick: when the tick after it is due (monotonic ms). */
  let dueAfterTick: number | undefined;
  const abort = new AbortController();
  let markReady!: () => void;
  const readyPromise = new Promise<void>((r) => (markReady = r));

  const schedule = (delay: number) => {
    if (stopped) return;
    nextAt = performance.now() + delay;
    timer = setTimeout(run, delay);
    timer.unref?.();
  };

  const run = () => {
    timer = undefined;
    inTick = true;
    running = (async () => {
      const started = Date.now();
      const setsBefore = health.sets;
      try {
        await tick(abort.signal);
        if (failures > 0) log.info({ collector: name }, 'collector recovered');
        failures = 0;
        // a tick that said how it went (degraded: not root, say) keeps its word; otherwise success clears a failure
        if (health.sets === setsBefore && (health.state !== 'running' || health.detail === 'starting')) health.running();
      } catch (err) {
        failures++;
        reportFailure(health, coerceError(err));
        log.warn({ collector: name, err: coerceError(err), failures, duration_ms: Date.now() - started }, 'collector tick failed');
      } finally {
        inTick = false;
        markReady();
      }
    })();
    void running.then(() => {
      const due = dueAfterTick;
      dueAfterTick = undefined;
      let delay = failures === 0 ? intervalMs : Math.min(maxBackoffMs, intervalMs * 2 ** Math.min(failures, 10));
      if (due !== undefined && failures === 0) delay = Math.min(delay, Math.max(0, due - performance.now()));
      schedule(delay);
    });
  };

  return {
    name,
    start() {
      if (timer || running) return;
      run();
    },
    ready: () => readyPromise,
    tickSoon(delayMs) {
      if (stopped || failures > 0 || (!timer && !inTick)) return false;
      if (inTick) {
        if (delayMs >= intervalMs) return false;
        dueAfterTick = Math.min(dueAfterTick ?? Infinity, performance.now() + delayMs);
        return true;
      }
      if (performance.now() + delayMs >= nextAt) return false;
      clearTimeout(timer);
      schedule(delayMs);
      return true;
    },
    async stop() {
      stopped = true;
      abort.abort();
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

/** Map an error to a health state with a detail that says what to do. */
export function reportFailure(health: ComponentHealth, err: Error): void {
  if (err instanceof ToolError) {
    const detail = err.hint ? `${err.message}; ${err.hint}` : err.message;
    if (err.code === 'TOOL_NOT_FOUND') return health.unavailable(detail);
    if (err.code === 'TOOL_PERMISSION') return health.permissionDenied(detail);
    return health.degraded(detail);
  }
  health.degraded(err.message);
}
