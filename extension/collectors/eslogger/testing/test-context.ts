/**
 * A real ExtensionContext for eslogger tests, except the process model and signing service (owned by
 * other modules): these record what the collector feeds them, so tests can assert lineage input.
 */
import { pino } from 'pino';
import { systemClock, type Clock } from '../../../../src/clock.js';
import { parseConfig } from '../../../../src/config/index.js';
import type { ExtensionContext, ProcessModel, ProcessObservation, SigningRow, SigningService } from '../../../runtime/context.js';
import { HealthRegistry } from '../../../runtime/health.js';
import { createSensitiveEventRing } from '../../../tables/sensitive_file_events/buffer.js';
import { createArchiveEventRing } from '../../../tables/archive_events/buffer.js';
import { ToolRunner } from '../../../runtime/tools.js';
import { SampleRequests } from '../../../runtime/sample-requests.js';
import { createDnsNameCache } from '../../../tables/process_network_flows/dns-names/name-cache.js';
import { SensitivePathMatcher } from '../../../../src/classify/sensitive-paths.js';
import { RingBuffer } from '../../../runtime/ring-buffer.js';
import type { ArchiveEventRow, SensitiveFileEventRow } from '../../../runtime/context.js';
import { EsloggerPipeline, type OwnProcess } from '../pipeline.js';

export interface Recorded {
  observed: ProcessObservation[];
  exited: { pid: number; processStart: number | undefined; at: number }[];
  seeded: { path: string; fields: Parameters<SigningService['seedFromEs']>[1] }[];
  /** keepUntil calls: the producer of each row is kept while the row can explain an upload. */
  kept: { pid: number; processStart: number; until: number }[];
}

export function recordingServices(): { processes: ProcessModel; signing: SigningService; recorded: Recorded } {
  const recorded: Recorded = { observed: [], exited: [], seeded: [], kept: [] };
  const unused = (name: string) => () => {
    throw new Error(`${name} is not used by the eslogger collector`);
  };
  const processes = {
    observe: (obs: ProcessObservation) => {
      recorded.observed.push(obs);
      return undefined as never;
    },
    exited: (pid: number, processStart: number | undefined, at: number) => void recorded.exited.push({ pid, processStart, at }),
    keepUntil: (pid: number, processStart: number, until: number) => void recorded.kept.push({ pid, processStart, until }),
    get: unused('get'),
    getAt: unused('getAt'),
    parentOf: unused('parentOf'),
    group: unused('group'),
    all: unused('all'),
    running: unused('running'),
    sweep: unused('sweep'),
    size: 0,
  } as unknown as ProcessModel;
  const signing = {
    seedFromEs: (path: string, fields: Parameters<SigningService['seedFromEs']>[1]) => void recorded.seeded.push({ path, fields }),
    lookup: () => undefined,
    toolVerdict: () => undefined,
    lookupOrUnknown: unused('lookupOrUnknown'),
    request: () => {},
    idle: async () => {},
    stop: async () => {},
  } as unknown as SigningService;
  return { processes, signing, recorded };
}

export function testContext(opts: { config?: unknown; toolDir?: string; clock?: Clock } = {}): { ctx: ExtensionContext; recorded: Recorded } {
  const config = parseConfig(opts.config ?? {});
  if (opts.toolDir) config.tools.dir = opts.toolDir;
  const clock = opts.clock ?? systemClock;
  const { processes, signing, recorded } = recordingServices();
  const ctx: ExtensionContext = {
    platform: 'darwin',
    config,
    log: pino({ level: 'silent' }),
    clock,
    tools: new ToolRunner({ platform: 'darwin', toolDir: config.tools.dir, defaultTimeoutMs: 10_000 }),
    health: new HealthRegistry('darwin', 'test', () => clock.unix()),
    processes,
    flows: { rows: () => [], forEachRow: () => {}, size: 0 },
    signing,
    sensitiveEvents: createSensitiveEventRing(config),
    archiveEvents: createArchiveEventRing(config),
    dnsNames: createDnsNameCache({ maxNames: 100, maxTtl: 3600, grace: 0, lateSlack: 0 }),
    flowSampleRequests: new SampleRequests(),
  };
  return { ctx, recorded };
}

/**
 * The extension's own process for collectors fed made-up events: a pid beyond any real one (Linux's PID_MAX_LIMIT is
 * 2^22, macOS's PID_MAX 99 999), so no fixture process is taken for the extension or one of its tools whatever pid the
 * test worker was given.
 */
export const NO_FIXTURE_SELF: OwnProcess = { pid: 2 ** 22 + 1, startedAt: Math.floor(performance.timeOrigin / 1000) };

/**
 * An EsloggerPipeline over the default taxonomy, its own rings and recording services, its clock at `now` (unix
 * seconds): what most pipeline cases start from.
 */
export function pipelineWorld(opts: { now: number; capacity?: number; retention?: number; self?: OwnProcess; onTransferStart?: () => void; parseEveryLine?: boolean }) {
  const { processes, signing: recording, recorded } = recordingServices();
  // the clock tests move, and codesign's verdicts by path (signing.toolVerdict), which tests set
  const clock = { now: opts.now };
  const verdicts = new Map<string, SigningRow>();
  const signing: SigningService = { ...recording, toolVerdict: (path) => verdicts.get(path) };
  const sensitiveEvents = new RingBuffer<SensitiveFileEventRow>(opts.capacity ?? 50_000, opts.retention ?? 1800, (e) => e.time);
  const archiveEvents = new RingBuffer<ArchiveEventRow>(opts.capacity ?? 50_000, opts.retention ?? 1800, (e) => e.time);
  const matcher = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
  const pipeline = new EsloggerPipeline({ matcher, processes, signing, sensitiveEvents, archiveEvents, precursorRetention: { tier1: 43_200, other: opts.retention ?? 1800 }, now: () => clock.now, self: opts.self, onTransferStart: opts.onTransferStart, parseEveryLine: opts.parseEveryLine });
  return { pipeline, sensitiveEvents, archiveEvents, processes, signing, recorded, clock, verdicts };
}

/** What a fresh pipelineWorld at `now` records for these ES lines (authorized readers are dropped at source). */
export function recordedSensitive(now: number, lines: readonly string[]): SensitiveFileEventRow[] {
  const { pipeline, sensitiveEvents } = pipelineWorld({ now });
  for (const l of lines) pipeline.handleLine(l);
  return sensitiveEvents.toArray();
}
