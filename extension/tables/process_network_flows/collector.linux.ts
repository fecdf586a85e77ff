import { runningAsRoot } from '../../../src/root-only-path.js';
import type { Collector, ExtensionContext } from '../../runtime/context.js';
import { createIntervalCollector } from '../../runtime/interval-collector.js';
import { applyAttributedSample, mutableFlows, type Refresh } from './attribute.js';
import type { FlowObservation } from './flow-store.js';
import { parseSs, type SsSocket } from './parse-ss.js';

/**
 * linux: one `ss -tuinpeH` per tick (-e: each socket's inode and cookie, so a socket that replaced another on
 * the same tuple is a new flow even when its counters already passed the old one's). TCP counters are per-socket totals (bytes_acked → bytes_out,
 * bytes_received → bytes_in), fed to the store as cumulative; UDP has none (-1). A socket shared by
 * several processes is attributed to one owner, so its bytes are counted once: the one it had in the previous
 * sample while that one still holds it, else the first ss lists.
 */
export const SS_ARGS = ['-tuinpeH'] as const;

/** A socket's tuple, to remember which of its owners the previous sample attributed it to. */
export function socketKey(s: SsSocket): string {
  return `${s.protocol}|${s.local.address}|${s.local.port}|${s.remote.address}|${s.remote.port}`;
}

/**
 * `ownerPid`: the owner the previous sample chose, kept while it still holds the socket. ss lists the newest
 * holder first, so after a fork the inherited socket would move to the child: a new flow counting the socket's
 * whole total again, under a process that may never have used it.
 */
export function toObservation(s: SsSocket, ownerPid?: number): FlowObservation | undefined {
  const owner = (ownerPid === undefined ? undefined : s.owners.find((o) => o.pid === ownerPid)) ?? s.owners[0];
  // No owner: TIME-WAIT, not yet accepted, or another user's socket when not root — nothing to attribute.
  if (!owner || s.remote.wildcard || s.state === 'LISTEN') return undefined;
  return {
    pid: owner.pid,
    processName: owner.name,
    protocol: s.protocol,
    family: s.family,
    localAddress: s.local.address,
    localPort: s.local.port,
    remoteAddress: s.remote.address,
    remotePort: s.remote.port,
    state: s.state,
    interface: '',
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    ...(s.socketId === null ? {} : { socketId: s.socketId }),
  };
}

/** The owner a sample attributed a socket to, and the counters that owner's flow had then. */
interface Attributed {
  pid: number;
  socketId: string | null;
  bytesIn: number | null;
  bytesOut: number | null;
}

export function startSsCollector(ctx: ExtensionContext, opts: { refresh?: Refresh } = {}): Collector {
  const health = ctx.health.component('ss');
  const store = mutableFlows(ctx);
  store.fedBy(health);
  /** Per socket, what the previous sample attributed it to. */
  let owners = new Map<string, Attributed>();
  return createIntervalCollector({
    name: 'ss',
    intervalMs: ctx.config.flows.sample_interval * 1000,
    health,
    log: ctx.log.child({ component: 'collector', table: 'process_network_flows', tool: 'ss' }),
    async tick(signal) {
      const res = await ctx.tools.run('ss', SS_ARGS, { timeoutMs: ctx.config.tools.timeout_ms, signal });
      const parsed = parseSs(res.stdout);
      const at = ctx.clock.unix();
      const observations: FlowObservation[] = [];
      const chosen = new Map<string, Attributed>();
      for (const s of parsed.rows) {
        const key = socketKey(s);
        const prev = owners.get(key);
        const o = toObservation(s, prev?.pid);
        if (!o) continue;
        // the socket went over to another process (the one that had it no longer holds it): what it carried until then
        // is the previous owner's flow's, and the new owner's flow counts from there
        if (prev && prev.pid !== o.pid && (prev.socketId === null || s.socketId === null || prev.socketId === s.socketId)) {
          o.countedBefore = { bytesIn: prev.bytesIn, bytesOut: prev.bytesOut };
        }
        observations.push(o);
        chosen.set(key, { pid: o.pid, socketId: s.socketId, bytesIn: s.bytesIn, bytesOut: s.bytesOut });
      }
      owners = chosen;
      await applyAttributedSample(ctx, store, observations, at, opts.refresh);
      health.event(observations.length, at);
      if (parsed.skipped) health.drop(parsed.skipped);
      const unowned = parsed.rows.length - observations.length;
      if (!runningAsRoot()) {
        // Without root, ss names the owner only of our own sockets: other users' flows are invisible.
        health.degraded(`not root: only this user's sockets are attributed (${unowned} sockets without an owner); run the extension as root`);
      } else {
        health.running(`${observations.length} flows in the last sample`);
      }
    },
  });
}
