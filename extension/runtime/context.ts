import type { Logger } from '../../src/log.js';
import type { SignatureClass } from '../../src/classify/signing-class.js';
import type { Clock } from '../../src/clock.js';
import type { OutflowConfig } from '../../src/config/index.js';
import type { HealthRegistry } from './health.js';
import type { EventRing, RingBuffer } from './ring-buffer.js';
import type { Platform, ToolRunner } from './tools.js';
import type { CoreQuery } from '../sdk/core-query.js';
import type { SampleRequests } from './sample-requests.js';

/**
 * The shared in-memory state of the extension. Collectors (I/O, background) write into it; tables
 * (pure views) read from it. Every generate answers from here, whatever the collectors are doing.
 */
export interface ExtensionContext {
  platform: Platform;
  config: OutflowConfig;
  log: Logger;
  clock: Clock;
  tools: ToolRunner;
  health: HealthRegistry;
  processes: ProcessModel;
  flows: FlowStore;
  signing: SigningService;
  /**
   * Tier-1 reads and moves first, then the rest (tier 2, tier-1 writes and creates; each oldest first):
   * createSensitiveEventRing.
   */
  sensitiveEvents: EventRing<SensitiveFileEventRow>;
  archiveEvents: RingBuffer<ArchiveEventRow>;
  /** Names the system's resolvers answered for remote addresses (dns_names collector → flows' server_name). */
  dnsNames: DnsNameCache;
  /**
   * Early flow samples asked for when a transfer may start (eslogger: a transfer tool's exec, an archive finished in
   * staging → the nettop collector).
   */
  flowSampleRequests: SampleRequests;
  /** osquery core, when the extension runs under osqueryd (absent for `outflow query`). */
  core?: CoreQuery;
}

// ---------------------------------------------------------------------------------------------------
// Process model (extension/process-model/): keyed by process instance (pid, process_start), never pid alone.

/** A process's standard input as the exec event's `fds` give it: a pipe, a socket, or anything else (a terminal, a file). */
export type ProcessStdin = 'pipe' | 'socket' | 'other';

export interface ProcessObservation {
  pid: number;
  /** Unix seconds. */
  processStart: number;
  ppid?: number;
  /** Original parent (ES `original_ppid`): survives reparenting to launchd. */
  originalPpid?: number;
  /** Responsible pid (ES `responsible_audit_token`): the app that owns an XPC helper or orphan. */
  responsiblePid?: number;
  uid?: number;
  path?: string;
  name?: string;
  args?: string[];
  /** Code identity as ES reports it (exec events). */
  signingId?: string | null;
  teamId?: string | null;
  cdhash?: string | null;
  platformBinary?: boolean;
  /** Has a controlling terminal (ES `tty`, ps TTY). */
  tty?: boolean;
  /** What standard input was at exec (ES exec `fds`); absent when not known. */
  stdin?: ProcessStdin;
  /**
   * The instance this one was forked from (ES fork): until it execs, a fork runs its parent's image with its
   * parent's argv and open files, so a new record takes the parent's args and stdin where this observation has none.
   */
  forkedFrom?: { pid: number; processStart: number };
  /** This observation is of an exec (ES exec target): the instance now runs a new image, no longer its parent's. */
  exec?: boolean;
  /** osquery: core's `processes` table (macOS proc_pidpath), a kernel path like eslogger's. */
  source: 'ps' | 'proc' | 'eslogger' | 'osquery';
  /** When this observation was made (unix s). */
  seenAt: number;
}

export interface ProcessRecord {
  pid: number;
  processStart: number;
  ppid: number;
  originalPpid: number | null;
  responsiblePid: number | null;
  uid: number;
  path: string;
  name: string;
  args: string[] | null;
  signingId: string | null;
  teamId: string | null;
  cdhash: string | null;
  platformBinary: boolean | null;
  tty: boolean | null;
  /** Standard input at the last exec the kernel reported (a shell fed on a pipe or a socket reads no terminal); absent = unknown. */
  stdin?: ProcessStdin | undefined;
  /**
   * Made by a fork and not seen exec'ing since: it runs its parent's image, a subshell (`( … )`, `$( … )`) of a
   * shell rather than a shell of its own, so it starts no lineage group. Absent = not known to be one.
   */
  forkedOnly?: true | undefined;
  /** When the last exec of this instance was seen (ES exec): a fork line read after it is late, and says nothing of its image. */
  execAt?: number | undefined;
  /** `args` were cut (more arguments, or more characters, than the model keeps): what follows them is unknown. */
  argsCut?: true | undefined;
  /** commandLineHash of the whole argv `args` was kept from: tells a listing of the same command line from a new one. */
  commandLineHash?: number | undefined;
  /** `args` came from ps's listing, split on whitespace: an argument with a space in it is several (/proc's are exact). */
  argsFromListing?: true | undefined;
  firstSeen: number;
  lastSeen: number;
  /** Unix s when the process was seen exiting (or vanished from ps); null while running. */
  exitedAt: number | null;
}

export interface LineageGroup {
  root: ProcessRecord;
  /** Why the root was chosen: launchd_job | gui_app | terminal_shell | top (no better ancestor). */
  rootKind: 'launchd_job' | 'gui_app' | 'terminal_shell' | 'top';
  /** From the process itself up to and including the root. */
  chain: ProcessRecord[];
}

export interface ProcessModel {
  /** Merge an observation into the instance (pid, processStart), creating it when new. */
  observe(obs: ProcessObservation): ProcessRecord;
  /** Mark an instance exited. Without processStart, the newest instance of pid. */
  exited(pid: number, processStart: number | undefined, at: number): void;
  /** The instance (pid, processStart); without processStart, the newest instance of pid. */
  get(pid: number, processStart?: number): ProcessRecord | undefined;
  /** The instance of pid that was alive at unix time `at` (pid reuse aware). */
  getAt(pid: number, at: number): ProcessRecord | undefined;
  /** Parent instance: original parent first, else ppid (alive at the child's start). */
  parentOf(p: ProcessRecord): ProcessRecord | undefined;
  /** The lineage group (SPEC §4) of a process. */
  group(p: ProcessRecord): LineageGroup;
  /** Every known instance, running and recently exited. */
  all(): Iterable<ProcessRecord>;
  /** Instances still running. */
  running(): ProcessRecord[];
  /** Drop exited instances older than the retention. */
  sweep(now: number): void;
  /**
   * Keep the instance (pid, processStart), and the ancestors lineage walks through, past the exited retention
   * until unix time `until`: a precursor it produced still needs its lineage group.
   */
  keepUntil(pid: number, processStart: number, until: number): void;
  /**
   * Since when (unix seconds, the first report) the kernel (eslogger, osquery core) has given the instance `path`;
   * undefined when it never did: the path is at most ps's argv[0] claim.
   */
  kernelPathSince(p: ProcessRecord, path: string): number | undefined;
  readonly size: number;
  /** Running instances dropped so far because the table was full (`processes.max_processes`). */
  readonly evictedRunning: number;
}

// ---------------------------------------------------------------------------------------------------
// Flows (extension/tables/process_network_flows/): rows exactly as the table's columns.

export interface FlowRow {
  flow_id: string;
  pid: number;
  ppid: number;
  uid: number;
  process_start: number;
  process_name: string;
  path: string;
  protocol: 'tcp' | 'udp';
  family: 4 | 6;
  local_address: string;
  local_port: number;
  remote_address: string;
  remote_port: number;
  remote_scope: 'public' | 'private' | 'loopback' | 'link_local' | 'multicast';
  service: 'tls' | 'quic' | 'http' | 'ftp' | 'ssh' | 'dns' | 'other';
  service_evidence: 'port' | 'handshake';
  server_name: string;
  state: string;
  interface: string;
  bytes_in: number;
  bytes_out: number;
  pcr: number;
  first_seen: number;
  last_seen: number;
  duration: number;
  closed: 0 | 1;
}

/** One address a trusted DNS answer gave for a name (the name asked for, not a CNAME target). */
export interface DnsNameLabel {
  address: string;
  name: string;
  /** The address record's TTL (s). */
  ttl: number;
}

export interface DnsNameCache {
  /** Remember answers received at unix time `at`; the latest answer for an address wins. */
  learn(labels: readonly DnsNameLabel[], at: number): void;
  /**
   * Take back what `learn(labels, at)` set: an address whose name came from another answer since is left alone.
   * The address is then unnamed (the name it had before that answer is not restored).
   */
  forget(labels: readonly DnsNameLabel[], at: number): void;
  /** The name a flow first seen at `firstSeen` went to, or '' when no answer covers that time. */
  nameFor(address: string, firstSeen: number): string;
  /**
   * How much later than a flow's first sample its answer may be learnt (s): nameFor(_, firstSeen) can only change
   * until then, so a flow still unnamed past it stays unnamed.
   */
  readonly lateSlack: number;
  readonly size: number;
}

export interface FlowStore {
  /** Open flows and closed flows within the retention (copies: the caller may keep or change them). */
  rows(): FlowRow[];
  /**
   * The same rows in the same order, in place (no copy per flow): for a synchronous reader that neither
   * keeps a row past the call nor changes one (a sample applied later updates open rows in place).
   */
  forEachRow(fn: (row: Readonly<FlowRow>) => void): void;
  readonly size: number;
}

// ---------------------------------------------------------------------------------------------------
// Code signing (extension/tables/code_signing/).

/** Defined once, next to the classification rules that produce it. */
export type { SignatureClass };

export interface SigningRow {
  path: string;
  signed: number;
  valid: number;
  signature_class: SignatureClass;
  team_id: string;
  signing_id: string;
  authority: string;
  cdhash: string;
  notarized: number;
  hardened_runtime: number;
  identity: string;
  checked_at: number;
}

export interface SigningService {
  /** Cached result for a path, or undefined; never waits on a tool. A miss schedules a background check. */
  lookup(path: string): SigningRow | undefined;
  /**
   * The platform tool's own verdict (codesign; the package database on Linux), never eslogger's seed: undefined until
   * one exists. Schedules a check as lookup does.
   */
  toolVerdict(path: string): SigningRow | undefined;
  /** Like lookup, but returns an `unknown` row (checked_at 0) on a miss. */
  lookupOrUnknown(path: string): SigningRow;
  /** Queue background checks (e.g. for every running executable). */
  request(paths: Iterable<string>): void;
  /** Seed from eslogger process fields (used first when present, SPEC §2). */
  seedFromEs(path: string, fields: { signingId: string | null; teamId: string | null; cdhash: string | null; platformBinary: boolean; codesigningFlags?: number; csValidationCategory?: number }): void;
  /** Resolves when the queue is empty (tests, `outflow query` first sample). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// eslogger-fed buffers (extension/tables/sensitive_file_events/, archive_events/).

export type SensitiveCategory =
  | 'keychain'
  | 'browser_secrets'
  | 'dev_credentials'
  | 'password_manager'
  | 'crypto_wallet'
  | 'messaging'
  | 'personal_data'
  | 'documents'
  | 'removable_volume'
  | 'shell_history';

export interface SensitiveFileEventRow {
  time: number;
  pid: number;
  ppid: number;
  uid: number;
  process_start: number;
  path: string;
  signing_id: string;
  team_id: string;
  platform_binary: number;
  operation: 'open' | 'create' | 'write' | 'rename' | 'close_modified';
  file_path: string;
  category: SensitiveCategory;
  tier: 1 | 2;
}

export type ArchiveTool = 'zip' | 'ditto' | 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd' | '7z' | 'rar' | 'aa' | 'hdiutil' | 'split' | 'openssl' | 'gpg' | 'other';

export interface ArchiveEventRow {
  time: number;
  pid: number;
  ppid: number;
  uid: number;
  process_start: number;
  path: string;
  tool: ArchiveTool;
  operation: 'exec' | 'create';
  archive_path: string;
  args: string;
  staging: number;
}

// ---------------------------------------------------------------------------------------------------
// Collectors: background I/O into the context.

export interface Collector {
  readonly name: string;
  /** Start background work. Must not throw for missing tools: report to health instead. */
  start(): void;
  /** Resolves after the first complete sample (or once the collector knows it cannot produce one). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/** One entry of the collector registry: which platforms it runs on and how to build it. */
export interface CollectorFactory {
  name: string;
  platforms: Platform[];
  create(ctx: ExtensionContext): Collector;
}
