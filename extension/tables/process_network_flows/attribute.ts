import path from 'node:path';
import { refreshProcessSnapshot } from '../../process-model/refresh.js';
import type { ExtensionContext, ProcessRecord } from '../../runtime/context.js';
import type { FlowProcessInfo, MutableFlowStore } from './flow-store.js';

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
  if (!missing.length) return out;
  try {
    await refresh(ctx);
  } catch (err) {
    // Flows are still worth reporting without process facts; the process collector reports its own health.
    ctx.log.debug({ err, missing: missing.length }, 'process snapshot for flow attribution failed');
    return out;
  }
  for (const pid of missing) {
    const r = ctx.processes.getAt(pid, at);
    if (r) out.set(pid, toInfo(r));
  }
  return out;
}
