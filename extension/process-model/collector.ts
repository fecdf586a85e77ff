import type { Collector, CollectorFactory, ExtensionContext } from '../runtime/context.js';
import { createIntervalCollector } from '../runtime/interval-collector.js';
import { refreshProcessSnapshot } from './refresh.js';

/** Keeps the process model current: one snapshot (ps / /proc) every `processes.sample_interval`. */
export function createProcessCollector(ctx: ExtensionContext): Collector {
  const health = ctx.health.component('processes');
  return createIntervalCollector({
    name: 'processes',
    intervalMs: ctx.config.processes.sample_interval * 1000,
    health,
    log: ctx.log.child({ collector: 'processes' }),
    async tick() {
      await refreshProcessSnapshot(ctx);
      const running = ctx.processes.running().length;
      health.event(1);
      health.running(`${running} running, ${ctx.processes.size} known (exited kept ${ctx.config.processes.exited_retention} s)`);
    },
  });
}

export const processCollector: CollectorFactory = {
  name: 'processes',
  platforms: ['darwin', 'linux'],
  create: createProcessCollector,
};
