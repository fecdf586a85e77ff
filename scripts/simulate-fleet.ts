/**
 * Fleet simulator: deterministic osquery result logs (event format, Fleet filesystem-destination
 * style: one JSON line per row, `pack/Global/<report>` names, decorations.host_uuid/hostname) for N
 * Macs over D days, from a seed.
 *
 *   node --import tsx scripts/simulate-fleet.ts --hosts 50 --days 9 --seed 7 --out /tmp/fleet
 *
 * What is in the logs:
 * - normal activity with realistic skew: popular destinations (Zipf), a long tail of per-host sites,
 *   apps installed on most or few hosts, hourly outflow_status snapshots, counter-0 baseline dumps
 *   on each host's first day;
 * - sanctioned background uploads (Dropbox/Backblaze: never candidates, only destinations rows);
 * - hard negatives: an MDM roll-out of a new agent to most hosts whose uploads produce AN0032
 *   candidates; a design tool uploading to its common SaaS on many hosts (AN1415/AN0990 candidates);
 *   a third-party backup agent with long uploads to its vendor (AN0082 candidates); a host whose
 *   osquery database was reset (counter-0 re-dump including an old attack-shaped candidate); duplicate
 *   deliveries (at-least-once);
 * - injected attacks on the attack day (D−2, 14:00 UTC), one per analytic (two for AN1415: with and
 *   without precursor), on distinct hosts.
 * `manifest.json` lists hosts, files and every injected scenario with whether it must fire.
 *
 * Lines are written to `--files` files (hosts split round-robin, each file in time order), so tests
 * can feed them in different orders.
 */
import { mkdirSync, renameSync, writeFileSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { once } from 'node:events';
import { rootKindFromPath } from '../fleet/rules/evidence.js';
import { destinationKey } from '../src/classify/destination.js';

const MiB = 1024 * 1024;
const DAY = 86_400;
const HOUR = 3600;

// ─── deterministic randomness ─────────────────────────────────────────────────────────────────

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.next() * 16).toString(16);
    return s;
  }
  /** Index in [0, n) with Zipf(s≈1.1) skew: low indexes are much more likely. */
  zipf(n: number, s = 1.1): number {
    let total = 0;
    for (let i = 1; i <= n; i++) total += 1 / i ** s;
    let r = this.next() * total;
    for (let i = 1; i <= n; i++) {
      r -= 1 / i ** s;
      if (r <= 0) return i - 1;
    }
    return n - 1;
  }
}

// ─── result-line builders (also used by tests) ─────────────────────────────────────────────────

export interface HostInfo {
  uuid: string;
  hostname: string;
}

export type Columns = Record<string, string | number>;

/** osquery's asctime-style calendarTime (`Tue Mar  3 09:53:00 2026 UTC`). */
export function calendarTime(t: number): string {
  const d = new Date(t * 1000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()} UTC`;
}

/** Column values as osquery logs them without --logger_numerics: strings, keys sorted (a std::map). */
export function stringify(columns: Columns): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(columns).sort()) out[k] = String(columns[k]);
  return out;
}

export function eventLine(host: HostInfo, query: string, t: number, counter: number, columns: Columns, action: 'added' | 'removed' = 'added'): string {
  return JSON.stringify({
    name: `pack/Global/${query}`,
    hostIdentifier: host.uuid,
    calendarTime: calendarTime(t),
    unixTime: t,
    epoch: 0,
    counter,
    numerics: false,
    decorations: { host_uuid: host.uuid, hostname: host.hostname },
    columns: stringify(columns),
    action,
  });
}

export function snapshotLine(host: HostInfo, query: string, t: number, rows: Columns[]): string {
  return JSON.stringify({
    name: `pack/Global/${query}`,
    hostIdentifier: host.uuid,
    calendarTime: calendarTime(t),
    unixTime: t,
    epoch: 0,
    counter: 0,
    numerics: false,
    decorations: { host_uuid: host.uuid, hostname: host.hostname },
    snapshot: rows.map(stringify),
    action: 'snapshot',
  });
}

export function batchLine(host: HostInfo, query: string, t: number, counter: number, added: Columns[], removed: Columns[] = []): string {
  return JSON.stringify({
    name: `pack_outflow_${query}`,
    hostIdentifier: host.uuid,
    calendarTime: calendarTime(t),
    unixTime: String(t),
    epoch: '0',
    counter: String(counter),
    decorations: { host_uuid: host.uuid, hostname: host.hostname },
    diffResults: { added: added.map(stringify), removed: removed.map(stringify) },
  });
}

export interface AppDef {
  identity: string;
  path: string;
  signature_class: string;
  team_id: string;
  signing_id: string;
  cdhash: string;
}

export function appColumns(a: AppDef): Columns {
  return { path: a.path, identity: a.identity, signature_class: a.signature_class, team_id: a.team_id, signing_id: a.signing_id, cdhash: a.cdhash, notarized: a.signature_class === 'developer_id' ? 1 : -1 };
}

export interface FlowSpec {
  app: AppDef;
  pid: number;
  remote_address: string;
  remote_port: number;
  server_name: string;
  service: string;
  protocol?: 'tcp' | 'udp';
  bytes_out: number;
  bytes_in: number;
  first_seen: number;
  duration: number;
}

/** How a flow source reports server names (SimulateOptions.serverNames). */
export type ServerNames = 'sni' | 'dns' | 'none';

export function destinationColumns(f: FlowSpec, names: ServerNames = 'sni'): Columns {
  return {
    remote_address: f.remote_address,
    remote_port: f.remote_port,
    protocol: f.protocol ?? 'tcp',
    service: f.service,
    server_name: names === 'none' ? '' : f.server_name,
    path: f.app.path,
    identity: f.app.identity,
    bytes_out: f.bytes_out,
    bytes_in: f.bytes_in,
  };
}

export interface CandidateSpec extends FlowSpec {
  analytic: 'AN0990' | 'AN0032' | 'AN0082' | 'AN1415' | 'AN0425';
  host: HostInfo;
  root?: { pid: number; path: string; identity: string; signature_class: string };
  /** The root's lineage kind (group_root_kind); default guessed from its path as the fleet does for older rows. */
  root_kind?: 'launchd_job' | 'gui_app' | 'terminal_shell' | 'top';
  chain?: { pid: number; path: string; identity: string; signature_class: string }[];
  precursor?: { kind: 'sensitive_access' | 'archive'; time: number; path: string; category: string; tier: number; pid: number };
  reasons?: string[];
  /** The archive step in the window when a sensitive read is the precursor (default: the archive precursor, if any). */
  archive?: { time: number; path: string; tool: string; pid: number };
  /** Default: derived from host, pid, start and remote endpoint. */
  flow_id?: string;
  /** 0 for a report of a flow still open (default 1: the simulator reports each flow once, closed). */
  closed?: 0 | 1;
}

export function pcrOf(out: number, inn: number): number {
  const total = Math.max(0, out) + Math.max(0, inn);
  return total > 0 ? Number(((Math.max(0, out) - Math.max(0, inn)) / total).toFixed(4)) : 0;
}

/** A full egress_candidates row (SPEC §2) for a flow, as a source reporting server names as `names` would write it. */
export function candidateColumns(c: CandidateSpec, names: ServerNames = 'sni'): Columns {
  const last = c.first_seen + c.duration;
  const self = { pid: c.pid, path: c.app.path, identity: c.app.identity, signature_class: c.app.signature_class };
  const chain = c.chain ?? (c.root && c.root.pid !== c.pid ? [self, c.root] : [self]);
  const root = c.root ?? self;
  const p = c.precursor;
  const archive = c.archive ?? (p?.kind === 'archive' ? { time: p.time, path: p.path, tool: p.category.startsWith('archive:') ? p.category.slice('archive:'.length) : '', pid: p.pid } : undefined);
  return {
    analytic: c.analytic,
    flow_id: c.flow_id ?? `f${c.host.uuid.slice(0, 8)}-${c.pid}-${c.first_seen}-${c.remote_address}-${c.remote_port}`,
    pid: c.pid,
    ppid: root.pid === c.pid ? 1 : root.pid,
    uid: 501,
    // started before anything it did: its own precursor (a file read by the same pid) included
    process_start: p && p.pid === c.pid ? Math.min(c.first_seen - 30, p.time - 30) : c.first_seen - 30,
    process_name: path.posix.basename(c.app.path),
    path: c.app.path,
    protocol: c.protocol ?? 'tcp',
    family: 4,
    local_address: '192.168.1.20',
    local_port: 50000 + (c.pid % 10000),
    remote_address: c.remote_address,
    remote_port: c.remote_port,
    remote_scope: 'public',
    service: c.service,
    // neither nettop nor ss observes a handshake: without one the service always comes from the port map
    service_evidence: c.service === 'tls' && names === 'sni' ? 'handshake' : 'port',
    server_name: names === 'none' ? '' : c.server_name,
    state: 'Established',
    interface: 'en0',
    bytes_in: c.bytes_in,
    bytes_out: c.bytes_out,
    pcr: pcrOf(c.bytes_out, c.bytes_in),
    first_seen: c.first_seen,
    last_seen: last,
    duration: c.duration,
    closed: c.closed ?? 1,
    signature_class: c.app.signature_class,
    team_id: c.app.team_id,
    signing_id: c.app.signing_id,
    cdhash: c.app.cdhash,
    identity: c.app.identity,
    group_root_pid: root.pid,
    group_root_path: root.path,
    group_root_identity: root.identity,
    group_root_kind: c.root_kind ?? rootKindFromPath(root.path),
    process_chain: JSON.stringify(chain),
    browser: 0,
    sanctioned: 0,
    precursor_kind: p ? p.kind : 'none',
    precursor_time: p ? p.time : 0,
    precursor_path: p ? p.path : '',
    precursor_category: p ? p.category : '',
    precursor_tier: p ? p.tier : 0,
    precursor_pid: p ? p.pid : 0,
    precursor_gap: p ? c.first_seen - p.time : 0,
    archive_time: archive?.time ?? 0,
    archive_path: archive?.path ?? '',
    archive_tool: archive?.tool ?? '',
    archive_pid: archive?.pid ?? 0,
    // raw_ip is a reason only a source that observes server names can give (EndpointFacts.serverNameObservable):
    // the extension today never writes it, and the fleet would add its +15 to a flow that had no name to miss
    reasons: (c.reasons ?? []).filter((r) => names === 'sni' || r !== 'raw_ip').join(','),
  };
}

// ─── catalog ───────────────────────────────────────────────────────────────────────────────────

function signed(team: string, signingId: string, appPath: string, cls = 'developer_id'): AppDef {
  return { identity: `team:${team}/${signingId}`, path: appPath, signature_class: cls, team_id: team === 'APPLE' ? '' : team, signing_id: signingId, cdhash: '' };
}

export const APPS = {
  chrome: signed('EQHXZ8M8AV', 'com.google.Chrome', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'),
  safari: signed('APPLE', 'com.apple.Safari', '/Applications/Safari.app/Contents/MacOS/Safari', 'apple_platform'),
  slack: signed('BQR82RBBHL', 'com.tinyspeck.slackmacgap', '/Applications/Slack.app/Contents/MacOS/Slack'),
  zoom: signed('BJ4HAAB9B3', 'us.zoom.xos', '/Applications/zoom.us.app/Contents/MacOS/zoom.us'),
  dropbox: signed('G7HH3F8CAK', 'com.getdropbox.dropbox', '/Applications/Dropbox.app/Contents/MacOS/Dropbox'),
  backblaze: signed('7ABPJ3BDA6', 'com.backblaze.bzbmenu', '/Library/Backblaze.bzpkg/bztransmit'),
  vscode: signed('UBF8T346G9', 'com.microsoft.VSCode', '/Applications/Visual Studio Code.app/Contents/MacOS/Electron'),
  apsd: signed('APPLE', 'com.apple.apsd', '/System/Library/PrivateFrameworks/ApplePushService.framework/apsd', 'apple_platform'),
  figma: signed('T8RA8NE3B7', 'com.figma.Desktop', '/Applications/Figma.app/Contents/MacOS/Figma'),
  arq: signed('48ZCSDVL96', 'com.haystacksoftware.arqagent', '/Library/Application Support/ArqAgent/ArqAgent'),
  mdmAgent: signed('MDMV3ND0R1', 'com.example.mdm.agent', '/Library/Application Support/ExampleMDM/agent'),
  zsh: signed('APPLE', 'com.apple.zsh', '/bin/zsh', 'apple_platform'),
  curl: signed('APPLE', 'com.apple.curl', '/usr/bin/curl', 'apple_platform'),
  rclone: { identity: 'cdhash:5e1f0c2a9b7d4e3f8a6c1b2d3e4f5a6b7c8d9e0f', path: '/Users/Shared/.cache/rclone', signature_class: 'adhoc', team_id: '', signing_id: 'rclone', cdhash: '5e1f0c2a9b7d4e3f8a6c1b2d3e4f5a6b7c8d9e0f' },
  dropper: { identity: 'cdhash:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b', path: '/private/tmp/.updater/updater', signature_class: 'unsigned', team_id: '', signing_id: '', cdhash: '9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b' },
  syncAgent: { identity: 'cdhash:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c', path: '/Users/Shared/.hidden/syncd', signature_class: 'adhoc', team_id: '', signing_id: 'syncd', cdhash: '1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c' },
  terminal: signed('APPLE', 'com.apple.Terminal', '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', 'apple_platform'),
} satisfies Record<string, AppDef>;

/** Popular destinations: [server_name, ip, app key]; popularity follows the list order (Zipf). */
const POPULAR: [string, string, keyof typeof APPS][] = [
  ['www.google.com', '142.250.74.36', 'chrome'],
  ['api.apple-cloudkit.com', '17.248.190.10', 'apsd'],
  ['slack.com', '52.84.150.11', 'slack'],
  ['zoom.us', '170.114.52.2', 'zoom'],
  ['www.github.com', '140.82.121.4', 'chrome'],
  ['login.microsoftonline.com', '20.190.160.20', 'chrome'],
  ['update.code.visualstudio.com', '13.107.246.40', 'vscode'],
  ['news.ycombinator.com', '209.216.230.207', 'safari'],
  ['www.wikipedia.org', '185.15.59.224', 'safari'],
  ['docs.google.com', '142.250.74.46', 'chrome'],
  ['www.nytimes.com', '151.101.1.164', 'safari'],
  ['stackoverflow.com', '151.101.193.69', 'chrome'],
  ['www.figma.com', '52.85.96.20', 'figma'],
  ['cdn.jsdelivr.net', '151.101.65.229', 'chrome'],
  ['registry.npmjs.org', '104.16.24.35', 'vscode'],
];

export interface Scenario {
  name: string;
  analytic: string;
  host: string;
  hostname: string;
  destination_key: string;
  /** Must a detection for (analytic, host, destination_key) exist after ingest + finalize? */
  fires: boolean;
  /** The expected finalization branch when it fires. */
  branch?: string;
  note: string;
}

export interface SimulateOptions {
  hosts: number;
  days: number;
  seed: number;
  /** Unix time of day 0, 00:00 UTC. */
  start?: number;
  files?: number;
  /** Fraction of lines delivered twice (Fleet's at-least-once delivery). */
  duplicateRate?: number;
  /**
   * `sni` (default): flows carry server names, as a flow source that sees handshakes would report them.
   * `dns`: as the extension reports them with DNS answers captured (docs/flows.md, "Server names from DNS
   * answers"): the names stay, but service_evidence is `port` and no candidate claims `raw_ip`.
   * `none`: as the extension reports without them (no tcpdump, DoH everywhere): every server_name empty and
   * service_evidence `port`, so the fleet keys destinations by IP.
   */
  serverNames?: ServerNames;
}

export interface SimulatedFleet {
  hosts: HostInfo[];
  start: number;
  attackTime: number;
  scenarios: Scenario[];
  /** Lines per output file, each file in time order. */
  files: string[][];
  lineCount: number;
}

export const DEFAULT_START = Date.UTC(2026, 2, 2) / 1000; // 2026-03-02T00:00:00Z

function hostInfo(rng: Rng, i: number): HostInfo {
  const u = rng.hex(32).toUpperCase();
  return { uuid: `${u.slice(0, 8)}-${u.slice(8, 12)}-${u.slice(12, 16)}-${u.slice(16, 20)}-${u.slice(20)}`, hostname: `mac-${String(i + 1).padStart(4, '0')}.local` };
}

interface TimedLine {
  t: number;
  seq: number;
  line: string;
}

/**
 * Generate the fleet's logs. `emit(hostIndex, t, line)` is called per line in no particular order;
 * `simulateFleet` collects and sorts; the bench streams per host instead.
 */
export function generateFleet(opts: SimulateOptions, emit: (hostIndex: number, t: number, line: string) => void): Omit<SimulatedFleet, 'files' | 'lineCount'> {
  const rng = new Rng(opts.seed);
  const start = opts.start ?? DEFAULT_START;
  const n = opts.hosts;
  const days = opts.days;
  const hosts = Array.from({ length: n }, (_, i) => hostInfo(rng, i));
  const attackDay = Math.max(0, days - 2);
  const attackTime = start + attackDay * DAY + 14 * HOUR;
  const counters = hosts.map(() => new Map<string, number>());
  const nextCounter = (h: number, q: string) => {
    const c = (counters[h]!.get(q) ?? 0) + 1;
    counters[h]!.set(q, c);
    return c;
  };
  const scenarios: Scenario[] = [];
  const names = opts.serverNames ?? 'sni';
  // The scenarios name their destinations by domain: without names each maps to the address its flows went to.
  const addressOf = new Map<string, string>();
  const noteAddress = (f: FlowSpec) => {
    if (names === 'none' && f.server_name) addressOf.set(destinationKey(f.server_name, f.remote_address), destinationKey('', f.remote_address));
  };
  const destCols = (f: FlowSpec) => {
    noteAddress(f);
    return destinationColumns(f, names);
  };
  const candCols = (c: CandidateSpec) => {
    noteAddress(c);
    return candidateColumns(c, names);
  };

  // Which apps each host has: common apps on most hosts, figma/arq on a subset.
  const baseApps: (keyof typeof APPS)[] = ['chrome', 'safari', 'slack', 'zoom', 'vscode', 'apsd', 'zsh', 'curl', 'terminal'];
  const hostApps = hosts.map(() => {
    const set = new Set<keyof typeof APPS>();
    for (const a of baseApps) if (rng.chance(a === 'zoom' || a === 'vscode' ? 0.7 : 0.97)) set.add(a);
    if (rng.chance(0.45)) set.add('figma');
    if (rng.chance(0.3)) set.add('arq');
    if (rng.chance(0.5)) set.add('dropbox');
    else if (rng.chance(0.4)) set.add('backblaze');
    return set;
  });
  // Long-tail per-host sites (seen by 1–2 hosts: rare, but browsers never make candidates).
  const personal = hosts.map((_, i) => [0, 1, 2].map((k) => `blog-${(i * 7 + k * 13) % Math.max(1, Math.ceil(n / 2))}.example-personal.net`));

  // Attack hosts: distinct, spread over the fleet; need at least 8 hosts for every scenario.
  const pickHost = (k: number) => Math.min(n - 1, Math.floor(((k + 0.5) * n) / 9));
  const H = { an0990: pickHost(0), an1415p: pickHost(1), an1415n: pickHost(2), an0425: pickHost(3), an0032: pickHost(4), an0082: pickHost(5), reset: pickHost(6), figmaNeg: pickHost(7), arqNeg: pickHost(8) };
  const mdmStart = attackTime - 5 * HOUR;

  for (let h = 0; h < n; h++) {
    const host = hosts[h]!;
    const apps = hostApps[h]!;
    // Hosts enroll over the first 6 hours of day 0.
    const enroll = start + rng.int(0, 6 * HOUR);
    // Baseline dumps: counter 0 for every query's first run.
    for (const a of apps) emit(h, enroll + 60, eventLine(host, 'outflow_apps', enroll + 60, 0, appColumns(APPS[a])));
    emit(h, enroll + 120, eventLine(host, 'outflow_destinations', enroll + 120, 0, destCols({ app: APPS.apsd, pid: 99, remote_address: '17.248.190.10', remote_port: 443, server_name: 'api.apple-cloudkit.com', service: 'tls', bytes_out: 4000, bytes_in: 9000, first_seen: enroll, duration: 60 })));
    // Uploads already running at enrollment are part of the baseline dump too (they make the
    // design-tool and backup pairs upload-normal from day 0, as a real fleet's history would).
    if (apps.has('figma')) emit(h, enroll + 120, eventLine(host, 'outflow_destinations', enroll + 120, 0, destCols({ app: APPS.figma, pid: 800, remote_address: '52.85.96.20', remote_port: 443, server_name: 'www.figma.com', service: 'tls', bytes_out: 15 * MiB, bytes_in: 300000, first_seen: enroll - 600, duration: 500 })));
    if (apps.has('arq')) emit(h, enroll + 120, eventLine(host, 'outflow_destinations', enroll + 120, 0, destCols({ app: APPS.arq, pid: 900, remote_address: '34.120.10.10', remote_port: 443, server_name: 'sync.arqbackup.com', service: 'tls', bytes_out: 80 * MiB, bytes_in: 2 * MiB, first_seen: enroll - 3600, duration: 3600 })));
    counters[h]!.set('outflow_apps', 0);
    counters[h]!.set('outflow_destinations', 0);
    counters[h]!.set('outflow_candidates', 0);

    for (let d = 0; d < days; d++) {
      const dayStart = start + d * DAY;
      const from = Math.max(dayStart, enroll + 300);
      const to = dayStart + DAY - 1;
      // Hourly status snapshots (always baseline).
      for (let hr = 0; hr < 24; hr++) {
        const t = dayStart + hr * HOUR + (h % 60);
        if (t < enroll) continue;
        emit(h, t, snapshotLine(host, 'outflow_status', t, [
          { component: 'flows', platform: 'darwin', state: 'running', detail: '', events: 1000 + hr, dropped: 0, last_event: t, version: '0.1.0' },
          { component: 'eslogger', platform: 'darwin', state: 'running', detail: '', events: 500 + hr, dropped: 0, last_event: t, version: '0.1.0' },
        ]));
      }
      // Destination runs with changes (5-minute grid): ~12 per day, 1–3 rows each.
      const runs = rng.int(8, 16);
      for (let r = 0; r < runs; r++) {
        const t = from + Math.floor(((to - from) * (r + rng.float())) / runs / 300) * 300;
        if (t > to) continue;
        const c = nextCounter(h, 'outflow_destinations');
        const rows = rng.int(1, 3);
        for (let k = 0; k < rows; k++) {
          let spec: FlowSpec;
          if (rng.chance(0.12)) {
            spec = { app: APPS.chrome, pid: 500, remote_address: `198.18.${h % 250}.${k + 1}`, remote_port: 443, server_name: rng.pick(personal[h]!), service: 'tls', bytes_out: rng.int(2000, 40000), bytes_in: rng.int(50000, 900000), first_seen: t - 200, duration: 120 };
          } else {
            const [name, ip, appKey] = POPULAR[rng.zipf(POPULAR.length)]!;
            const app = apps.has(appKey) ? APPS[appKey] : APPS.safari;
            spec = { app, pid: 600 + k, remote_address: ip, remote_port: 443, server_name: name, service: 'tls', bytes_out: rng.int(3000, 200000), bytes_in: rng.int(20000, 4000000), first_seen: t - 250, duration: 200 };
          }
          emit(h, t, eventLine(host, 'outflow_destinations', t, c, destCols(spec)));
        }
      }
      // Sanctioned background uploads: destinations only (the endpoint stage drops sanctioned apps).
      if (apps.has('dropbox') || apps.has('backblaze')) {
        const t = dayStart + 2 * HOUR + (h % 50) * 60;
        if (t > enroll) {
          const spec: FlowSpec = apps.has('dropbox')
            ? { app: APPS.dropbox, pid: 700, remote_address: '162.125.1.19', remote_port: 443, server_name: 'content.dropboxapi.com', service: 'tls', bytes_out: rng.int(20, 300) * MiB, bytes_in: 200000, first_seen: t - 1800, duration: 1800 }
            : { app: APPS.backblaze, pid: 701, remote_address: '45.11.36.10', remote_port: 443, server_name: 'pod-000-1042-03.backblaze.com', service: 'tls', bytes_out: rng.int(50, 500) * MiB, bytes_in: 300000, first_seen: t - 3600, duration: 3600 };
          emit(h, t, eventLine(host, 'outflow_destinations', t, nextCounter(h, 'outflow_destinations'), destCols(spec)));
        }
      }
      // Figma uploads (a common upload-normal pair) and their AN1415 candidates: must not fire.
      if (apps.has('figma') && rng.chance(0.6)) {
        const t = dayStart + 10 * HOUR + rng.int(0, 6 * HOUR);
        if (t > enroll) {
          const spec: CandidateSpec = { analytic: 'AN1415', host, app: APPS.figma, pid: 800, remote_address: '52.85.96.20', remote_port: 443, server_name: 'www.figma.com', service: 'tls', bytes_out: rng.int(11, 40) * MiB, bytes_in: 400000, first_seen: t - 300, duration: 240, reasons: ['upload_shaped', 'non_browser', 'encrypted'] };
          emit(h, t, eventLine(host, 'outflow_destinations', t, nextCounter(h, 'outflow_destinations'), destCols(spec)));
          emit(h, t + 30, eventLine(host, 'outflow_candidates', t + 30, nextCounter(h, 'outflow_candidates'), candCols(spec)));
        }
      }
      // Arq backup agent: long-lived uploads to its vendor (AN0082 candidates, upload-normal pair).
      if (apps.has('arq') && d > 0 && rng.chance(0.7)) {
        const t = dayStart + 1 * HOUR + rng.int(0, 3 * HOUR);
        if (t > enroll + 2 * HOUR) {
          const spec: CandidateSpec = { analytic: 'AN0082', host, app: APPS.arq, pid: 900, remote_address: '34.120.10.10', remote_port: 443, server_name: 'sync.arqbackup.com', service: 'tls', bytes_out: rng.int(60, 200) * MiB, bytes_in: 2 * MiB, first_seen: t - 2 * HOUR, duration: 2 * HOUR, reasons: ['upload_shaped', 'long_lived', 'high_throughput', 'non_browser', 'encrypted'] };
          emit(h, t, eventLine(host, 'outflow_destinations', t, nextCounter(h, 'outflow_destinations'), destCols(spec)));
          emit(h, t + 30, eventLine(host, 'outflow_candidates', t + 30, nextCounter(h, 'outflow_candidates'), candCols(spec)));
        }
      }
      // MDM roll-out on the attack day: the new agent lands on ~90% of hosts, then uploads inventory.
      if (d === attackDay && rng.chance(0.9)) {
        const t = mdmStart + rng.int(0, 45 * 60);
        emit(h, t, eventLine(host, 'outflow_apps', t, nextCounter(h, 'outflow_apps'), appColumns(APPS.mdmAgent)));
        if (h % 3 === 0) {
          const tu = mdmStart + 2 * HOUR + rng.int(0, HOUR);
          const spec: CandidateSpec = { analytic: 'AN0032', host, app: APPS.mdmAgent, pid: 950, remote_address: '44.200.1.7', remote_port: 443, server_name: 'inventory.example-mdm.com', service: 'tls', bytes_out: 3 * MiB, bytes_in: 1000, first_seen: tu - 60, duration: 50, reasons: ['upload_shaped', 'no_return', 'non_browser', 'encrypted'] };
          emit(h, tu, eventLine(host, 'outflow_candidates', tu, nextCounter(h, 'outflow_candidates'), candCols(spec)));
        }
      }
    }
  }
  if (n >= 9) {
    const mdmHost = hosts[0]!;
    scenarios.push({ name: 'mdm-rollout', analytic: 'AN0032', host: mdmHost.uuid, hostname: mdmHost.hostname, destination_key: 'example-mdm.com', fires: false, note: 'new agent on ~90% of hosts the same day: not previously unseen' });
  }

  // ─── injected attacks (attack day, 14:00 UTC) ───
  if (n >= 9) {
    const at = attackTime;
    const emitCand = (h: number, t: number, spec: CandidateSpec) => {
      emit(h, t, eventLine(hosts[h]!, 'outflow_destinations', t, nextCounter(h, 'outflow_destinations'), destCols(spec)));
      emit(h, t + 20, eventLine(hosts[h]!, 'outflow_candidates', t + 20, nextCounter(h, 'outflow_candidates'), candCols(spec)));
    };
    const sc = (name: string, analytic: string, h: number, key: string, fires: boolean, note: string, branch?: string) =>
      scenarios.push({ name, analytic, host: hosts[h]!.uuid, hostname: hosts[h]!.hostname, destination_key: key, fires, note, ...(branch ? { branch } : {}) });

    // AN0990: curl from an interactive shell reads the login keychain, then uploads over TLS to a rare domain.
    {
      const h = H.an0990;
      const root = { pid: 4100, path: APPS.zsh.path, identity: APPS.zsh.identity, signature_class: 'apple_platform' };
      emitCand(h, at, { analytic: 'AN0990', host: hosts[h]!, app: APPS.curl, pid: 4101, root, remote_address: '185.220.101.7', remote_port: 443, server_name: 'files.quiet-harbor.io', service: 'tls', bytes_out: 4 * MiB, bytes_in: 20000, first_seen: at - 100, duration: 80, precursor: { kind: 'sensitive_access', time: at - 160, path: '/Users/alex/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1, pid: 4101 }, reasons: ['tier1_precursor', 'precursor_close', 'upload_shaped', 'non_browser', 'encrypted'] });
      sc('an0990-keychain-to-rare', 'AN0990', h, 'quiet-harbor.io', true, 'keychain read then TLS upload to a never-seen domain', 'rare_destination');
    }
    // AN1415 with an archive precursor: zip of Documents into /tmp, then rclone to a private S3 bucket.
    {
      const h = H.an1415p;
      const root = { pid: 4200, path: APPS.zsh.path, identity: APPS.zsh.identity, signature_class: 'apple_platform' };
      emitCand(h, at + 600, { analytic: 'AN1415', host: hosts[h]!, app: APPS.rclone, pid: 4201, root, remote_address: '52.217.12.40', remote_port: 443, server_name: 'q3-archive-7f3a.s3.amazonaws.com', service: 'tls', bytes_out: 180 * MiB, bytes_in: 300000, first_seen: at + 300, duration: 280, precursor: { kind: 'archive', time: at + 240, path: '/private/tmp/docs.zip', category: 'archive:ditto', tier: 0, pid: 4199 }, reasons: ['archive_precursor', 'staging_path', 'precursor_close', 'upload_shaped', 'high_throughput', 'non_browser', 'encrypted'] });
      sc('an1415-archive-to-bucket', 'AN1415', h, 'q3-archive-7f3a.s3.amazonaws.com', true, 'zip in /tmp then upload to a private bucket (full FQDN key)', 'rare_destination');
    }
    // AN1415 without precursor: a large upload to a rare destination (medium).
    {
      const h = H.an1415n;
      emitCand(h, at + 1200, { analytic: 'AN1415', host: hosts[h]!, app: APPS.vscode, pid: 4301, remote_address: '91.198.10.33', remote_port: 443, server_name: 'paste.driftwood-share.net', service: 'tls', bytes_out: 25 * MiB, bytes_in: 50000, first_seen: at + 1000, duration: 150, reasons: ['upload_shaped', 'non_browser', 'encrypted'] });
      sc('an1415-big-upload-rare', 'AN1415', h, 'driftwood-share.net', true, 'large upload, no precursor, rare destination', 'rare_and_upload');
    }
    // AN0425: cleartext HTTP POST of an SSH key to a raw IP on a non-standard port.
    {
      const h = H.an0425;
      const root = { pid: 4400, path: APPS.zsh.path, identity: APPS.zsh.identity, signature_class: 'apple_platform' };
      emitCand(h, at + 1800, { analytic: 'AN0425', host: hosts[h]!, app: APPS.curl, pid: 4401, root, remote_address: '203.0.113.50', remote_port: 8080, server_name: '', service: 'http', bytes_out: 2 * MiB, bytes_in: 400, first_seen: at + 1750, duration: 20, precursor: { kind: 'sensitive_access', time: at + 1700, path: '/Users/sam/.ssh/id_ed25519', category: 'dev_credentials', tier: 1, pid: 4401 }, reasons: ['tier1_precursor', 'precursor_close', 'upload_shaped', 'no_return', 'non_browser', 'cleartext', 'raw_ip'] });
      sc('an0425-ssh-key-http-ip', 'AN0425', h, '203.0.113.50', true, 'SSH key read then cleartext upload to a raw IP', 'rare_destination');
    }
    // AN0032: a never-seen unsigned binary sends data with no return.
    {
      const h = H.an0032;
      const t0 = at + 2400;
      emit(h, t0 - 600, eventLine(hosts[h]!, 'outflow_apps', t0 - 600, nextCounter(h, 'outflow_apps'), appColumns(APPS.dropper)));
      emitCand(h, t0, { analytic: 'AN0032', host: hosts[h]!, app: APPS.dropper, pid: 4501, remote_address: '45.153.160.2', remote_port: 443, server_name: 'cdn.update-metrics.com', service: 'tls', bytes_out: 6 * MiB, bytes_in: 900, first_seen: t0 - 120, duration: 100, reasons: ['upload_shaped', 'no_return', 'non_browser', 'encrypted', 'signature_unsigned'] });
      sc('an0032-unseen-binary', 'AN0032', h, 'update-metrics.com', true, 'first-seen unsigned binary, no-return upload', 'unseen_app');
    }
    // AN0082: an adhoc launchd job keeps a 5-hour upload open.
    {
      const h = H.an0082;
      const t0 = at + 3000;
      emitCand(h, t0, { analytic: 'AN0082', host: hosts[h]!, app: APPS.syncAgent, pid: 4601, remote_address: '146.70.12.9', remote_port: 443, server_name: 'relay.northwind-sync.org', service: 'tls', bytes_out: 400 * MiB, bytes_in: 3 * MiB, first_seen: t0 - 5 * HOUR, duration: 5 * HOUR, reasons: ['upload_shaped', 'long_lived', 'high_throughput', 'non_browser', 'encrypted', 'signature_adhoc'] });
      sc('an0082-launchd-long-upload', 'AN0082', h, 'northwind-sync.org', true, 'adhoc launchd job, 5 h upload, pair not upload-normal', 'not_upload_normal');
    }
    // Hard negative: Figma upload with a documents precursor to its common SaaS (AN0990 candidate).
    {
      const h = H.figmaNeg;
      const spec: CandidateSpec = { analytic: 'AN0990', host: hosts[h]!, app: APPS.figma, pid: 4701, remote_address: '52.85.96.20', remote_port: 443, server_name: 'www.figma.com', service: 'tls', bytes_out: 12 * MiB, bytes_in: 300000, first_seen: at + 3300, duration: 200, precursor: { kind: 'sensitive_access', time: at + 3200, path: '/Users/kim/Documents/brand.fig', category: 'documents', tier: 2, pid: 4701 }, reasons: ['tier2_precursor', 'precursor_close', 'upload_shaped', 'non_browser', 'encrypted'] };
      emitCand(h, at + 3600, spec);
      sc('figma-upload-common', 'AN0990', h, 'figma.com', false, 'documents read then upload to a common SaaS the app normally uploads to');
    }
    // Hard negative: Arq long upload (AN0082) on a host; the pair is upload-normal fleet-wide.
    {
      const h = H.arqNeg;
      const t0 = at + 3900;
      const spec: CandidateSpec = { analytic: 'AN0082', host: hosts[h]!, app: APPS.arq, pid: 4801, remote_address: '34.120.10.10', remote_port: 443, server_name: 'sync.arqbackup.com', service: 'tls', bytes_out: 300 * MiB, bytes_in: 2 * MiB, first_seen: t0 - 3 * HOUR, duration: 3 * HOUR, reasons: ['upload_shaped', 'long_lived', 'high_throughput', 'non_browser', 'encrypted'] };
      emitCand(h, t0, spec);
      sc('arq-backup-normal', 'AN0082', h, 'arqbackup.com', false, 'third-party backup agent, upload-normal pair');
    }
    // Hard negative: osquery DB reset → counter-0 re-dump that includes an attack-shaped candidate.
    {
      const h = H.reset;
      const t0 = at + 4200;
      const spec: CandidateSpec = { analytic: 'AN1415', host: hosts[h]!, app: APPS.rclone, pid: 4901, remote_address: '52.217.99.1', remote_port: 443, server_name: 'old-dump-bucket.s3.amazonaws.com', service: 'tls', bytes_out: 90 * MiB, bytes_in: 9000, first_seen: t0 - 400, duration: 300, precursor: { kind: 'archive', time: t0 - 500, path: '/private/tmp/x.zip', category: 'archive:zip', tier: 0, pid: 4900 }, reasons: ['archive_precursor', 'upload_shaped', 'non_browser', 'encrypted'] };
      for (const a of hostApps[h]!) emit(h, t0, eventLine(hosts[h]!, 'outflow_apps', t0, 0, appColumns(APPS[a])));
      emit(h, t0, eventLine(hosts[h]!, 'outflow_candidates', t0, 0, candCols(spec)));
      sc('db-reset-redump', 'AN1415', h, 'old-dump-bucket.s3.amazonaws.com', false, 'counter-0 re-dump after an osquery database reset is baseline, never new activity');
    }
  }
  return { hosts, start, attackTime, scenarios: scenarios.map((sc) => ({ ...sc, destination_key: addressOf.get(sc.destination_key) ?? sc.destination_key })) };
}

/** Generate and lay the lines out in files (round-robin by host, time-ordered, with re-deliveries). */
export function simulateFleet(opts: SimulateOptions): SimulatedFleet {
  const fileCount = Math.max(1, opts.files ?? 4);
  const perFile: TimedLine[][] = Array.from({ length: fileCount }, () => []);
  let seq = 0;
  const dupRng = new Rng(opts.seed ^ 0x5bd1e995);
  const duplicateRate = opts.duplicateRate ?? 0.01;
  const meta = generateFleet(opts, (h, t, line) => {
    const f = perFile[h % fileCount]!;
    f.push({ t, seq: seq++, line });
    if (dupRng.chance(duplicateRate)) f.push({ t: t + 1, seq: seq++, line });
  });
  const files = perFile.map((f) => f.sort((a, b) => a.t - b.t || a.seq - b.seq).map((x) => x.line));
  return { ...meta, files, lineCount: files.reduce((n, f) => n + f.length, 0) };
}

/**
 * Write the files under `outDir`, each as a new file (a new inode) renamed over the old one: re-simulating into the
 * directory of an earlier run is then a rotation to `fleet ingest`, never the earlier file rewritten in place under
 * its stored offset.
 */
export async function writeFleet(fleet: SimulatedFleet, outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < fleet.files.length; i++) {
    const file = path.join(outDir, `osquery_result.${i + 1}.log`);
    const tmp = `${file}.${process.pid}.tmp`;
    const ws = createWriteStream(tmp);
    for (const line of fleet.files[i]!) {
      if (!ws.write(`${line}\n`)) await once(ws, 'drain');
    }
    ws.end();
    await once(ws, 'finish');
    renameSync(tmp, file);
    names.push(file);
  }
  const manifest = path.join(outDir, 'manifest.json');
  writeFileSync(
    `${manifest}.${process.pid}.tmp`,
    `${JSON.stringify({ start: fleet.start, attack_time: fleet.attackTime, hosts: fleet.hosts.length, lines: fleet.lineCount, files: names.map((f) => path.basename(f)), scenarios: fleet.scenarios }, null, 2)}\n`,
  );
  renameSync(`${manifest}.${process.pid}.tmp`, manifest);
  return names;
}

const USAGE = `usage: node --import tsx scripts/simulate-fleet.ts [--hosts N] [--days D] [--seed S] [--out DIR] [--files K]
                                         [--start ISO] [--duplicates RATE] [--server-names sni|dns|none]

Writes deterministic osquery result logs of a simulated Mac fleet (osquery_result.K.log) and manifest.json,
which lists the injected scenarios, under DIR.

  --hosts N          hosts (default 50)
  --days D           days of activity; the attacks are on day D-2, 14:00 UTC (default 9)
  --seed S           random seed: the same seed writes the same logs (default 1)
  --out DIR          output directory (default simulated-fleet)
  --files K          result-log files, hosts split round-robin (default 4)
  --start ISO        day 0 (YYYY-MM-DD), 00:00 UTC (default ${new Date(DEFAULT_START * 1000).toISOString().slice(0, 10)})
  --duplicates RATE  fraction of lines delivered twice, as Fleet's at-least-once delivery (default 0.01)
  --server-names M   sni (default): flows carry server names; dns: as the extension with DNS answers captured;
                     none: no server names, destinations keyed by IP
  -h, --help         print this help
`;

/** `--start`: a calendar date, day 0 at 00:00 UTC (Date.parse took 'foo' for NaN and '7' for 2001). */
function dayStart(v: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || new Date(t).toISOString().slice(0, 10) !== v) throw new Error(`--start must be a date, YYYY-MM-DD (got ${v})`);
  return t / 1000;
}

function parseArgs(argv: string[]): (SimulateOptions & { out: string }) | 'help' {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
    opts[a.slice(2)] = v;
    i++;
  }
  const num = (k: string, d: number) => {
    if (opts[k] === undefined) return d;
    const n = Number(opts[k]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k} must be a non-negative number`);
    return n;
  };
  const known = new Set(['hosts', 'days', 'seed', 'out', 'files', 'start', 'duplicates', 'server-names']);
  const serverNames = opts['server-names'] ?? 'sni';
  if (serverNames !== 'sni' && serverNames !== 'dns' && serverNames !== 'none') throw new Error('--server-names must be sni, dns or none');
  for (const k of Object.keys(opts)) if (!known.has(k)) throw new Error(`unknown option --${k}`);
  return {
    hosts: Math.max(1, Math.floor(num('hosts', 50))),
    days: Math.max(1, Math.floor(num('days', 9))),
    seed: Math.floor(num('seed', 1)),
    files: Math.max(1, Math.floor(num('files', 4))),
    start: opts.start === undefined ? DEFAULT_START : dayStart(opts.start),
    duplicateRate: num('duplicates', 0.01),
    serverNames,
    out: opts.out ?? 'simulated-fleet',
  };
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`simulate-fleet: ${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const opts = parsed;
  const fleet = simulateFleet(opts);
  const files = await writeFleet(fleet, opts.out);
  process.stderr.write(`simulated ${opts.hosts} hosts × ${opts.days} days: ${fleet.lineCount} lines in ${files.length} files under ${opts.out} (${fleet.scenarios.length} scenarios in manifest.json)\n`);
}

// Not a top-level await: the fleet-ingest bench bundles this module as CommonJS, as the package is built.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`simulate-fleet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
