import type { CollectorFactory } from '../runtime/context.js';
import { processCollector } from '../process-model/collector.js';
import { signingCollector } from '../tables/code_signing/collector.js';
import { dnsNamesCollector, nettopCollector, ssCollector } from '../tables/process_network_flows/collectors.js';
import { esloggerCollector } from './eslogger/collector.js';

/** The collector registry: one line per background collector (platforms come from each factory). */
export const COLLECTORS: CollectorFactory[] = [
  processCollector,
  signingCollector,
  nettopCollector,
  ssCollector,
  dnsNamesCollector,
  esloggerCollector,
];
