import path from 'node:path';
import { refreshProcessSnapshot } from '../../process-model/refresh.js';
import type { ExtensionContext, ProcessRecord } from '../../runtime/context.js';
import type { FlowObservation, FlowProcessInfo, FlowSampleResult, MutableFlowStore } from './flow-store.js';

/** The collectors need the store's update API; ctx.flows is typed as the read-only view. */
export function mutableFlows(ctx: ExtensionContext): MutableFlowStore {
  const store = ctx.flows as Partial<MutableFlowStore>;
  if (typeof store.applySample !== 'function') throw new Error('ctx.flows is not a flow store created by createFlowStore');
  return store as MutableFlowStore;
}

function toInfo(r: ProcessRecord): FlowProcessInfo {
  return { processStart: r.processStart, ppid: r.ppid, uid: r.uid, path: r.path, name: r.name || (r.path ? path.basename(r.path) : '') };
}

export type Refresh = (ctx: ExtensionContext) => Promise<void>;

/** Pids a snapshot already failed to find, per context: they do not trigger another snapshot next tick. */
const stillUnknown = new WeakMap<ExtensionContext, Set<number>>();

/**
 * Process facts for each pid of a sample, from the process model. When the model misses a pid (a
 * process younger than its last snapshot) one snapshot is taken for the whole tick, then the join is
 * retried; pids still unknown after that (already exited, or not visible to us) stay unknown.
 */
export async function resolveProcesses(ctx: ExtensionContext, pids: Iterable<number>, at: number, refresh: Refresh = refreshProcessSnapshot): Promise<Map<number, FlowProcessInfo>> {
  const out = new Map<number, FlowProcessInfo>();
  const missing: number[] = [];
  for (const pid of new Set(pids)) {
    const r = ctx.processes.getAt(pid, at);
    if (r) out.set(pid, toInfo(r));
    else missing.push(pid);
  }
  const tried = stillUnknown.get(ctx) ?? new Set<number>();
  // A pid no snapshot can see (exited, another namespace) would otherwise cost a ps run every tick; the
  // periodic process collector still picks it up if it ever becomes visible.
  if (!missing.length || missing.every((pid) => tried.has(pid))) {
    stillUnknown.set(ctx, new Set(missing));
    return out;
  }
  try {
    await refresh(ctx);
  } catch (err) {
    // Flows are still worth reporting without process facts; the process collector reports its own health.
    ctx.log.debug({ err, missing: missing.length }, 'process snapshot for flow attribution failed');
    return out;
  }
  const unresolved = new Set<number>();
  for (const pid of missing) {
    const r = ctx.processes.getAt(pid, at);
    if (r) out.set(pid, toInfo(r));
    else unresolved.add(pid);
  }
  stillUnknown.set(ctx, unresolved);
  return out;
}

/**
 * One complete sample of per-socket totals (nettop snapshot, ss), as both collectors feed it: attach the
 * process facts of every pid, then merge it into the flow store.
 */
export async function applyAttributedSample(
  ctx: ExtensionContext,
  store: MutableFlowStore,
  observations: FlowObservation[],
  at: number,
  refresh?: Refresh,
): Promise<FlowSampleResult> {
  const processes = await resolveProcesses(ctx, observations.map((o) => o.pid), at, refresh);
  for (const o of observations) {
    const p = processes.get(o.pid);
    if (p) o.process = p;
  }
  return store.applySample(observations, { at, counters: 'cumulative' });
}
