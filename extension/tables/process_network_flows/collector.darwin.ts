import type { Collector, ExtensionContext } from '../../runtime/context.js';
import { createIntervalCollector } from '../../runtime/interval-collector.js';
import { applyAttributedSample, mutableFlows, type Refresh } from './attribute.js';
import type { FlowObservation } from './flow-store.js';
import { parseNettop, type NettopFlow } from './parse-nettop.js';

/**
 * darwin: one `nettop -x -n -L 1` snapshot per tick (CSV, raw byte counts, numeric addresses).
 *
 * Sampling strategy: a snapshot's flow rows carry each socket's counters since the socket opened (sample 1
 * of nettop is cumulative). Those are fed to the flow store as cumulative counters, keyed by process
 * instance and 5-tuple, so the store only ever adds increments and treats a value going backwards as a
 * new socket counting from zero. This is exact for flows that live across ticks and costs one short nettop
 * run per interval; `-d` deltas would only be exact if no sample were ever missed (a timed-out or failed
 * run would silently lose bytes), and the first `-d` sample is cumulative anyway. Process rows are used
 * only to attribute the flow rows under them.
 */
export const NETTOP_ARGS = ['-x', '-n', '-L', '1'] as const;

export function toObservation(f: NettopFlow): FlowObservation {
  return {
    pid: f.pid,
    processName: f.processName.trimEnd(),
    protocol: f.protocol,
    family: f.family,
    localAddress: f.local.address,
    localPort: f.local.port,
    remoteAddress: f.remote.address,
    remotePort: f.remote.port,
    state: f.state,
    interface: f.interface,
    bytesIn: f.bytesIn,
    bytesOut: f.bytesOut,
    ...(f.quic ? { observedService: 'quic' as const } : {}),
  };
}

export function startNettopCollector(ctx: ExtensionContext, opts: { refresh?: Refresh } = {}): Collector {
  const health = ctx.health.component('nettop');
  const store = mutableFlows(ctx);
  store.fedBy(health);
  const collector = createIntervalCollector({
    name: 'nettop',
    intervalMs: ctx.config.flows.sample_interval * 1000,
    health,
    log: ctx.log.child({ component: 'collector', table: 'process_network_flows', tool: 'nettop' }),
    async tick(signal) {
      const res = await ctx.tools.run('nettop', NETTOP_ARGS, { timeoutMs: ctx.config.tools.timeout_ms, signal });
      const parsed = parseNettop(res.stdout);
      const at = ctx.clock.unix();
      const last = parsed.samples - 1;
      // Listeners and unconnected sockets have no remote end: nothing left the host through them.
      const flows = parsed.rows.filter((r) => r.sample === last && !r.remote.wildcard);
      const observations = flows.map((f) => toObservation(f));
      await applyAttributedSample(ctx, store, observations, at, opts.refresh);
      health.event(observations.length, at);
      if (parsed.skipped) health.drop(parsed.skipped);
    },
  });
  // A transfer may have just started (eslogger: a transfer tool's exec, or an archive finished in a staging place):
  // sample while its connection is still open.
  const soonMs = ctx.config.flows.transfer_sample_delay * 1000;
  if (soonMs === 0) return collector;
  let unlisten: (() => void) | undefined;
  return {
    ...collector,
    start() {
      unlisten ??= ctx.flowSampleRequests.listen(() => collector.tickSoon(soonMs));
      collector.start();
    },
    async stop() {
      unlisten?.();
      unlisten = undefined;
      await collector.stop();
    },
  };
}
