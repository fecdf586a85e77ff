/**
 * A health detail refreshed at most once per `intervalMs` while a collector's output streams in (rebuilding it per
 * chunk would cost more than reading the chunk). A refresh asked for sooner runs once the interval is over, so the last
 * chunk of a burst, and the losses it reveals, still reach outflow_status. A refresh that runs replaces the pending one:
 * a later trailing refresh would otherwise overwrite what was reported meanwhile (an exit reported as "streaming").
 */
export interface ThrottledRefresh {
  /** Refresh now if the interval is over (or `force`), else once it is. */
  refresh(force?: boolean): void;
  /** Drop a pending refresh (on stop). */
  cancel(): void;
}

export function throttledRefresh(run: () => void, opts: { intervalMs?: number; stopped: () => boolean }): ThrottledRefresh {
  const intervalMs = opts.intervalMs ?? 1000;
  let last = 0;
  let pending: NodeJS.Timeout | undefined;
  const cancel = () => {
    if (pending) clearTimeout(pending);
    pending = undefined;
  };
  const refresh = (force = false): void => {
    const now = Date.now();
    if (!force && now - last < intervalMs) {
      if (!pending && !opts.stopped()) {
        pending = setTimeout(() => {
          pending = undefined;
          refresh(true);
        }, intervalMs - (now - last));
        pending.unref?.();
      }
      return;
    }
    cancel();
    last = now;
    run();
  };
  return { refresh, cancel };
}
