import type { Collector, CollectorFactory, ExtensionContext } from '../runtime/context.js';
import { createIntervalCollector } from '../runtime/interval-collector.js';
import { kernelPathSource, psSuspicion, refreshProcessSnapshot, type KernelPathSource } from './refresh.js';

/** Keeps the process model current: one snapshot (ps / /proc) every `processes.sample_interval`. */
export function createProcessCollector(ctx: ExtensionContext): Collector {
  const health = ctx.health.component('processes');
  let evictedBefore = 0;
  return createIntervalCollector({
    name: 'processes',
    intervalMs: ctx.config.processes.sample_interval * 1000,
    health,
    log: ctx.log.child({ collector: 'processes' }),
    async tick() {
      await refreshProcessSnapshot(ctx);
      const running = ctx.processes.running().length;
      health.event(1);
      const status = `${running} running, ${ctx.processes.size} known (exited kept ${ctx.config.processes.exited_retention} s)`;
      // A warning in the detail (the state stays running: the snapshot itself is complete). Totals, so that
      // an attempt stays visible after it stops; the log has a line each time one starts.
      const s = psSuspicion(ctx);
      const warning = s.forged
        ? `; warning: ps printed ${s.forged} line(s) so far that only a process name or argument holding a newline explains${s.lastForged ? ' (the latest snapshot too)' : ''}; paths/args withheld ${s.withheld} time(s); look for that process (log: 'ps printed lines')`
        : '';
      const paths = kernelPathSource(ctx);
      const pathsText = paths ? `; ${pathsDetail(paths)}` : '';
      // A table too small for the host drops running processes: their flows and reads lose path, lineage and signing.
      // Degraded while it keeps happening (a host over the limit drops some at every snapshot), noted once it stopped.
      const evicted = ctx.processes.evictedRunning;
      const dropped = evicted - evictedBefore;
      evictedBefore = evicted;
      if (dropped > 0) {
        const full = `process table full (processes.max_processes = ${ctx.config.processes.max_processes}); ${dropped} running processes dropped since the last sample (${evicted} so far), their flows and reads unattributed — raise processes.max_processes`;
        health.degraded(`${status}; ${full}${pathsText}${warning}`);
        return;
      }
      const earlier = evicted > 0 ? `; ${evicted} running processes dropped earlier while the table was full (processes.max_processes = ${ctx.config.processes.max_processes})` : '';
      if (paths?.kind === 'core-failed') health.degraded(`${status}${pathsText}${earlier}${warning}`);
      else health.running(`${status}${pathsText}${earlier}${warning}`);
    },
  });
}

/** Where darwin process paths come from: an admin reads from this whether a path can be a process's own claim. */
function pathsDetail(paths: KernelPathSource): string {
  switch (paths.kind) {
    case 'core':
      return `paths: ${paths.paths} from osquery core (kernel)${paths.rejected ? `, ${paths.rejected} row(s) rejected` : ''}`;
    case 'no-core':
      return "paths: ps's argv[0] claims (not running under osqueryd)";
    case 'core-failed':
      return `paths: ps's argv[0] claims, for processes eslogger did not see start: osquery core's processes table did not answer (${paths.error}); check that osqueryd does not disable the processes table`;
  }
}

export const processCollector: CollectorFactory = {
  name: 'processes',
  platforms: ['darwin', 'linux'],
  create: createProcessCollector,
};
