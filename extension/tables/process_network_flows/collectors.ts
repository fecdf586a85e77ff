import type { CollectorFactory } from '../../runtime/context.js';
import { startNettopCollector } from './collector.darwin.js';
import { startSsCollector } from './collector.linux.js';

/** Registry entries for extension/collectors/index.ts. */
export const nettopCollector: CollectorFactory = { name: 'nettop', platforms: ['darwin'], create: (ctx) => startNettopCollector(ctx) };
export const ssCollector: CollectorFactory = { name: 'ss', platforms: ['linux'], create: (ctx) => startSsCollector(ctx) };
export { dnsNamesCollector } from './dns-names/collector.js';
