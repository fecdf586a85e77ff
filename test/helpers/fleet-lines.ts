/**
 * Small deterministic osquery result-log generator for the multi-instance tests and the PostgreSQL bench:
 * Fleet-style event lines (`pack/Global/<query>`) for `outflow_destinations`, `outflow_apps` and
 * `outflow_candidates`, spread over several days of event time so prevalence windows and baseline
 * maturity are exercised. Each line is unique (its dedupe key differs), so "every line counted exactly
 * once" can be checked by counting accepted rows. Also the finalize benches' pending candidates.
 */
import { APPS as SIM_APPS, candidateColumns, DEFAULT_START, eventLine, mulberry32, type HostInfo } from '../../scripts/simulate-fleet.js';

export interface FleetLinesOptions {
  lines: number;
  hosts?: number;
  days?: number;
  seed?: number;
  /** First event time (unix s). */
  start?: number;
}

const MiB = 1024 * 1024;
const APPS = Array.from({ length: 24 }, (_, i) => ({
  identity: `team:TEAM${String(i).padStart(4, '0')}/com.vendor${i}.app`,
  path: `/Applications/Vendor${i}.app/Contents/MacOS/Vendor${i}`,
  team: `TEAM${String(i).padStart(4, '0')}`,
  signing: `com.vendor${i}.app`,
  // one build per app: the same binary reports the same cdhash on every host
  cdhash: ((i + 1) * 2654435761).toString(16).padStart(8, '0').repeat(5).slice(0, 40),
}));

function envelope(query: string, host: string, unixTime: number, counter: number, columns: Record<string, string>): string {
  return JSON.stringify({
    name: `pack/Global/${query}`,
    hostIdentifier: host,
    calendarTime: new Date(unixTime * 1000).toUTCString(),
    unixTime,
    epoch: 0,
    counter,
    numerics: false,
    decorations: { host_uuid: host, hostname: `${host.toLowerCase()}.local` },
    columns,
    action: 'added',
  });
}

export function generateFleetLines(opts: FleetLinesOptions): string[] {
  const rnd = mulberry32(opts.seed ?? 42);
  const hosts = Array.from({ length: opts.hosts ?? 40 }, (_, i) => `HOST-${String(i).padStart(5, '0')}`);
  const days = opts.days ?? 10;
  const start = opts.start ?? 1_772_000_000;
  const step = Math.max(1, Math.floor((days * 86_400) / Math.max(1, opts.lines)));
  // skewed destination popularity: a few very common keys, a long rare tail
  const destination = () => {
    const r = rnd();
    const k = Math.floor(r * r * r * 400);
    return { server: `api${k}.vendor${k % 97}.net`, ip: `203.0.113.${k % 250}` };
  };
  const out: string[] = [];
  const counters = new Map<string, number>();
  for (let i = 0; i < opts.lines; i++) {
    const host = hosts[Math.floor(rnd() * hosts.length)]!;
    const t = start + i * step;
    const counter = (counters.get(host) ?? 0) + 1;
    counters.set(host, counter);
    const app = APPS[Math.floor(rnd() * rnd() * APPS.length)]!;
    const pick = rnd();
    if (pick < 0.7) {
      const d = destination();
      const up = rnd() < 0.1;
      out.push(
        envelope('outflow_destinations', host, t, counter, {
          remote_address: d.ip,
          remote_port: '443',
          protocol: 'tcp',
          service: 'tls',
          server_name: d.server,
          path: app.path,
          identity: app.identity,
          bytes_out: String(up ? 3 * MiB + i : 2048 + i),
          bytes_in: String(up ? 1024 : 90_000),
        }),
      );
    } else if (pick < 0.93) {
      out.push(
        envelope('outflow_apps', host, t, counter, {
          path: app.path,
          identity: app.identity,
          signature_class: 'developer_id',
          team_id: app.team,
          signing_id: app.signing,
          cdhash: app.cdhash,
          notarized: '1',
        }),
      );
    } else {
      // a no-return upload by a tool seen on very few hosts: AN0032 (previously unseen app) material
      const rare = rnd() < 0.5;
      // a new tool every day (three variants): first seen recently, on a handful of hosts
      const variant = Math.floor((t - start) / 86_400) * 3 + (i % 3);
      const identity = rare ? `cdhash:${variant.toString(16).padStart(40, 'a')}` : app.identity;
      const path = rare ? `/private/tmp/.x${variant}/sync` : app.path;
      const d = rare ? { server: '', ip: `198.51.100.${i % 200}` } : destination();
      const first = t - 120;
      out.push(
        envelope('outflow_candidates', host, t, counter, {
          analytic: 'AN0032',
          flow_id: `f-${host}-${i}`,
          pid: String(4000 + (i % 500)),
          ppid: '1',
          uid: '501',
          process_start: String(first - 30),
          process_name: path.split('/').pop()!,
          path,
          protocol: 'tcp',
          family: '4',
          local_address: '10.0.0.5',
          local_port: String(50_000 + (i % 10_000)),
          remote_address: d.ip,
          remote_port: '443',
          remote_scope: 'public',
          service: 'tls',
          service_evidence: 'port',
          server_name: d.server,
          state: 'Established',
          interface: 'en0',
          bytes_in: '0',
          bytes_out: String(4 * MiB + i),
          pcr: '1',
          first_seen: String(first),
          last_seen: String(t),
          duration: '120',
          closed: '1',
          signature_class: rare ? 'adhoc' : 'developer_id',
          team_id: rare ? '' : app.team,
          signing_id: rare ? 'sync' : app.signing,
          cdhash: '',
          identity,
          group_root_pid: '1',
          group_root_path: path,
          group_root_identity: identity,
          process_chain: JSON.stringify([{ pid: 4000 + (i % 500), path, identity, signature_class: rare ? 'adhoc' : 'developer_id' }]),
          browser: '0',
          sanctioned: '0',
          precursor_kind: 'none',
          reasons: 'no_return,upload_shaped,non_browser',
        }),
      );
    }
  }
  return out;
}

/**
 * The finalize benches' workload: 2000 hosts with 8 days of baseline (every host runs curl), then `pending`
 * candidates 7 s apart, a third to a destination every host uses, a third to 40 mid destinations, a third
 * to destinations of their own, each flow started two hours before its line (one window per candidate).
 */
export function pendingCandidateLines(pending: number): string[] {
  const hosts: HostInfo[] = Array.from({ length: 2000 }, (_, i) => ({ uuid: `HOST-${String(i).padStart(6, '0')}`, hostname: `mac-${i}.local` }));
  const start = DEFAULT_START;
  const lines: string[] = [];
  // 8 days of baseline activity so rarity decisions are not warming.
  for (const [i, h] of hosts.entries()) lines.push(eventLine(h, 'outflow_apps', start + (i % 3600), 0, { path: SIM_APPS.curl.path, identity: SIM_APPS.curl.identity, signature_class: 'apple_platform', team_id: '', signing_id: 'com.apple.curl', cdhash: '' }));
  const at = start + 8 * 86_400;
  const apps = [SIM_APPS.curl, SIM_APPS.vscode, SIM_APPS.figma, SIM_APPS.rclone, SIM_APPS.syncAgent];
  const analytics = ['AN0990', 'AN1415', 'AN0425', 'AN0032', 'AN0082'] as const;
  for (let k = 0; k < pending; k++) {
    const host = hosts[k % hosts.length]!;
    // Mix of very common (every host), mid and unique destinations.
    const dest = k % 3 === 0 ? 'www.figma.com' : k % 3 === 1 ? `mid-${k % 40}.example.org` : `rare-${k}.example.net`;
    const t = at + k * 7;
    lines.push(
      eventLine(host, 'outflow_candidates', t, 1 + Math.floor(k / hosts.length), candidateColumns({
        analytic: analytics[k % analytics.length]!,
        host,
        app: apps[k % apps.length]!,
        pid: 1000 + k,
        remote_address: `198.51.${(k >> 8) & 255}.${k & 255}`,
        remote_port: 443,
        server_name: dest,
        service: k % 5 === 2 ? 'http' : 'tls',
        bytes_out: (2 + (k % 40)) * MiB,
        bytes_in: 10_000,
        first_seen: t - 7200,
        duration: k % 4 === 0 ? 5 * 3600 : 120,
        precursor: k % 2 === 0 ? { kind: 'sensitive_access', time: t - 7300, path: '/Users/a/Documents/x.pdf', category: 'documents', tier: 2, pid: 1000 + k } : undefined,
      })),
    );
  }
  return lines;
}
