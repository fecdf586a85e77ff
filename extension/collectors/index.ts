import type { CollectorFactory } from '../runtime/context.js';
import { nettopCollector, ssCollector } from '../tables/process_network_flows/collectors.js';

/** The collector registry: one line per background collector (platforms come from each factory). */
export const COLLECTORS: CollectorFactory[] = [
  nettopCollector,
  ssCollector,
];
