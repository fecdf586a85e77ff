import { InputError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { systemClock, type Clock } from '../../src/clock.js';
import type { OutflowConfig } from '../../src/config/index.js';
import { VERSION } from '../../src/version.js';
import { createProcessModel } from '../process-model/model.js';
import { createFlowStore } from '../tables/process_network_flows/flow-store.js';
import { createDnsNameCache } from '../tables/process_network_flows/dns-names/name-cache.js';
import { createSigningService } from '../tables/code_signing/signing-service.js';
import type { CoreQuery } from '../sdk/core-query.js';
import type { ExtensionContext } from './context.js';
import { HealthRegistry } from './health.js';
import { SampleRequests } from './sample-requests.js';
import { createSensitiveEventRing } from '../tables/sensitive_file_events/buffer.js';
import { createArchiveEventRing } from '../tables/archive_events/buffer.js';
import { ToolRunner, type Platform } from './tools.js';

export interface CreateContextOptions {
  platform: Platform;
  config: OutflowConfig;
  log: Logger;
  clock?: Clock;
  /** osquery core's SQL, when running under osqueryd. */
  core?: CoreQuery;
}

/** Resolve the platform backend: OUTFLOW_PLATFORM forces one (tests run darwin on Linux). */
export function resolvePlatform(env: NodeJS.ProcessEnv = process.env, nodePlatform: NodeJS.Platform = process.platform): Platform {
  const forced = env.OUTFLOW_PLATFORM;
  if (forced === 'darwin' || forced === 'linux') return forced;
  if (forced) throw new InputError(`OUTFLOW_PLATFORM must be darwin or linux, got ${forced}`, [], 'unset OUTFLOW_PLATFORM or set it to darwin or linux');
  return nodePlatform === 'darwin' ? 'darwin' : 'linux';
}

/** Build the shared state every collector writes and every table reads. Starts nothing. */
export function createContext(opts: CreateContextOptions): ExtensionContext {
  const clock = opts.clock ?? systemClock;
  const { config, log, platform } = opts;
  const health = new HealthRegistry(platform, VERSION, () => clock.unix());
  const tools = new ToolRunner({
    platform,
    toolDir: config.tools.dir,
    defaultTimeoutMs: config.tools.timeout_ms,
    defaultMaxBytes: config.tools.max_output_bytes,
  });
  const dnsNames = createDnsNameCache({
    maxNames: config.dns_names.max_names,
    maxTtl: config.dns_names.max_ttl,
    grace: config.dns_names.grace,
    lateSlack: config.flows.sample_interval + 2,
  });
  return {
    platform,
    config,
    log,
    clock,
    tools,
    health,
    processes: createProcessModel({ config, clock, log: log.child({ component: 'process-model' }) }),
    flows: createFlowStore({ config, clock, health, names: dnsNames }),
    signing: createSigningService({ platform, tools, config, clock, health, log: log.child({ component: 'signing' }) }),
    sensitiveEvents: createSensitiveEventRing(config),
    archiveEvents: createArchiveEventRing(config),
    dnsNames,
    flowSampleRequests: new SampleRequests(),
    ...(opts.core ? { core: opts.core } : {}),
  };
}
