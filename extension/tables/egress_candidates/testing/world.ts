/**
 * A small host for egress_candidates tests and the bench: the real process model, flow store and ring
 * buffers, fed the way collectors feed them; code signing from a fixed table (the real service needs
 * codesign), with the same lookup semantics (a miss is `unknown`).
 */
import { fixedClock } from '../../../../src/clock.js';
import { defaultConfig, type OutflowConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/log.js';
import { createProcessModel } from '../../../process-model/model.js';
import { createFlowStore, type FlowObservation } from '../../process_network_flows/flow-store.js';
import { unknownRow } from '../../code_signing/signing-service.js';
import type {
  ArchiveEventRow,
  ProcessModel,
  ProcessObservation,
  SensitiveFileEventRow,
  SignatureClass,
  SigningRow,
  SigningService,
} from '../../../runtime/context.js';
import { HealthRegistry } from '../../../runtime/health.js';
import { RingBuffer, type EventRing } from '../../../runtime/ring-buffer.js';
import { createSensitiveEventRing } from '../../sensitive_file_events/buffer.js';
import { createArchiveEventRing } from '../../archive_events/buffer.js';
import type { CorrelationInputs } from '../correlate.js';

export const MiB = 1024 * 1024;
export const NOW = 1_760_000_000;

/** A Terminal tab: Terminal → zsh (interactive, the group root), and the Apple tools run in it. */
export const TERMINAL = { pid: 800, processStart: NOW - 7200, ppid: 1, originalPpid: 1, path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', signingId: 'com.apple.Terminal', platformBinary: true };
export const ZSH = { pid: 810, processStart: NOW - 600, ppid: 800, path: '/bin/zsh', args: ['-zsh'], tty: true, signingId: 'com.apple.zsh', platformBinary: true };
export const TERMINAL_SIGNING: readonly SigningSpec[] = [
  { path: TERMINAL.path, cls: 'apple_platform', signingId: 'com.apple.Terminal' },
  { path: '/bin/zsh', cls: 'apple_platform', signingId: 'com.apple.zsh' },
  { path: '/usr/bin/curl', cls: 'apple_platform', signingId: 'com.apple.curl' },
];

export interface WorldFlow {
  pid: number;
  processStart: number;
  remote: string;
  remotePort?: number;
  protocol?: 'tcp' | 'udp';
  bytesOut: number;
  bytesIn: number;
  firstSeen: number;
  /** Last sample that saw it. Open flows are seen by the final sample at `now`. */
  lastSeen?: number;
  open?: boolean;
}

export interface SigningSpec {
  path: string;
  cls: SignatureClass;
  teamId?: string;
  signingId?: string;
  cdhash?: string;
  /** Leaf certificate name codesign printed (empty by default). */
  authority?: string;
  /** Overrides the identity derived from the class. */
  identity?: string;
}

export function signingRow(s: SigningSpec): SigningRow {
  const team = s.teamId ?? '';
  const signingId = s.signingId ?? '';
  const cdhash = s.cdhash ?? `cd${s.path.length.toString(16)}${s.path.replace(/[^a-z0-9]/gi, '').slice(-8).toLowerCase()}`;
  const signed = s.cls === 'unsigned' ? 0 : 1;
  const identity =
    s.cls === 'adhoc' || s.cls === 'unsigned' || s.cls === 'invalid' ? (cdhash ? `cdhash:${cdhash}` : '') : s.cls === 'unknown' ? '' : `team:${team || 'APPLE'}/${signingId}`;
  return {
    path: s.path,
    signed,
    valid: s.cls === 'invalid' ? 0 : signed,
    signature_class: s.cls,
    team_id: team,
    signing_id: signingId,
    authority: s.authority ?? '',
    cdhash,
    notarized: -1,
    hardened_runtime: -1,
    identity: s.identity ?? identity,
    checked_at: NOW,
  };
}

export function staticSigning(specs: readonly SigningSpec[]): SigningService & { requested: Set<string> } {
  const rows = new Map(specs.map((s) => [s.path, signingRow(s)]));
  const requested = new Set<string>();
  return {
    requested,
    lookup(path) {
      const r = rows.get(path);
      if (!r) requested.add(path);
      return r;
    },
    toolVerdict(path) {
      return this.lookup(path);
    },
    lookupOrUnknown(path) {
      return this.lookup(path) ?? unknownRow(path);
    },
    request(paths) {
      for (const p of paths) requested.add(p);
    },
    seedFromEs() {},
    idle: async () => {},
    stop: async () => {},
  };
}

export interface World extends CorrelationInputs {
  config: OutflowConfig;
  processes: ProcessModel;
  sensitiveEvents: EventRing<SensitiveFileEventRow>;
  archiveEvents: RingBuffer<ArchiveEventRow>;
}

export interface WorldSpec {
  now?: number;
  config?: OutflowConfig;
  processes?: (Omit<ProcessObservation, 'source' | 'seenAt'> & { exitedAt?: number })[];
  signing?: SigningSpec[];
  flows?: WorldFlow[];
  sensitive?: Partial<SensitiveFileEventRow>[];
  archive?: Partial<ArchiveEventRow>[];
}

/**
 * Build a host state. Flows are fed to the real flow store as samples: one at every first/last-seen
 * time, reporting each flow's final cumulative counters, and a final one at `now` that only open flows
 * are in (so the others close with the last_seen they were given).
 */
export function buildWorld(spec: WorldSpec): World {
  const now = spec.now ?? NOW;
  const config = spec.config ?? defaultConfig();
  const clock = fixedClock(now);
  const log = silentLogger();
  const health = new HealthRegistry('darwin', 'test', () => clock.unix());
  const processes = createProcessModel({ config, clock, log });
  for (const p of spec.processes ?? []) {
    const { exitedAt, ...obs } = p;
    processes.observe({ ...obs, source: 'eslogger', seenAt: obs.processStart });
    if (exitedAt !== undefined) processes.exited(obs.pid, obs.processStart, exitedAt);
  }
  const flows = createFlowStore({ config, clock, health });
  const specFlows = spec.flows ?? [];
  const lastSeen = (f: WorldFlow) => (f.open ? now : (f.lastSeen ?? f.firstSeen));
  const times = [...new Set(specFlows.flatMap((f) => [f.firstSeen, lastSeen(f)]).filter((t) => t < now))].sort((a, b) => a - b);
  const observation = (f: WorldFlow): FlowObservation => {
    const rec = processes.get(f.pid, f.processStart);
    return {
      pid: f.pid,
      processName: rec?.name ?? 'proc',
      process: rec ? { processStart: rec.processStart, ppid: rec.ppid, uid: rec.uid, path: rec.path, name: rec.name } : undefined,
      protocol: f.protocol ?? 'tcp',
      family: 4,
      localAddress: '192.168.1.20',
      localPort: 50_000 + (f.pid % 10_000),
      remoteAddress: f.remote,
      remotePort: f.remotePort ?? 443,
      state: f.protocol === 'udp' ? '' : 'Established',
      interface: 'en0',
      bytesIn: f.bytesIn,
      bytesOut: f.bytesOut,
    };
  };
  for (const t of times) {
    flows.applySample(
      specFlows.filter((f) => f.firstSeen <= t && t <= lastSeen(f)).map(observation),
      { at: t, counters: 'cumulative' },
    );
  }
  flows.applySample(specFlows.filter((f) => f.open).map(observation), { at: now, counters: 'cumulative' });

  const sensitiveEvents = createSensitiveEventRing(config);
  for (const e of spec.sensitive ?? []) {
    sensitiveEvents.push({
      time: now - 60,
      pid: 0,
      ppid: 0,
      uid: 501,
      process_start: 0,
      path: '',
      signing_id: '',
      team_id: '',
      platform_binary: 0,
      operation: 'open',
      file_path: '/Users/alice/Library/Keychains/login.keychain-db',
      category: 'keychain',
      tier: 1,
      ...e,
    });
  }
  const archiveEvents = createArchiveEventRing(config);
  for (const e of spec.archive ?? []) {
    archiveEvents.push({
      time: now - 60,
      pid: 0,
      ppid: 0,
      uid: 501,
      process_start: 0,
      path: '/usr/bin/ditto',
      tool: 'ditto',
      operation: 'exec',
      archive_path: '/tmp/out.zip',
      args: 'ditto -c -k src /tmp/out.zip',
      staging: 1,
      ...e,
    });
  }
  return { config, processes, flows, signing: staticSigning(spec.signing ?? []), sensitiveEvents, archiveEvents };
}
