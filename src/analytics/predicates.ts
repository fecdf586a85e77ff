/**
 * Shared definitions of SPEC §4, used by every analytic on both sides (extension endpoint stage,
 * fleet finalization). Pure functions of flow facts and the analytics config.
 */
import { isIP } from 'node:net';
import { isStagingPath } from '../classify/archive.js';
import { normalizeHostname } from '../classify/destination.js';
import { DEFAULT_PORT_MAP } from '../config/extension.js';
import type { AnalyticsConfig } from '../config/analytics.js';
import type { FlowFacts } from './types.js';

const ENCRYPTED = new Set(['tls', 'quic', 'ssh']);
const TLS_OR_QUIC = new Set(['tls', 'quic']);
const CLEARTEXT = new Set(['http', 'ftp']);
/** Services the port map names without saying whether the flow is encrypted or cleartext (unidentifiedUpload). */
const UNIDENTIFIED = new Set(['other', 'dns']);

/** Signature classes AN0082 considers (third-party or unsigned code; never Apple or distro packages). */
export const NON_APPLE_CLASSES: ReadonlySet<string> = new Set(['developer_id', 'app_store', 'adhoc', 'unsigned', 'invalid']);

/** Public scope is decided by the flow collector; internal_ranges are applied by the caller (`inRanges`). */
export function isPublicScope(flow: Pick<FlowFacts, 'remote_scope'>): boolean {
  return flow.remote_scope === 'public';
}

export function encrypted(flow: Pick<FlowFacts, 'service'>): boolean {
  return ENCRYPTED.has(flow.service);
}

export function tlsOrQuic(flow: Pick<FlowFacts, 'service'>): boolean {
  return TLS_OR_QUIC.has(flow.service);
}

export function cleartext(flow: Pick<FlowFacts, 'service'>): boolean {
  return CLEARTEXT.has(flow.service);
}

export function uploadShaped(flow: Pick<FlowFacts, 'pcr' | 'bytes_out'>, cfg: AnalyticsConfig): boolean {
  return flow.pcr >= cfg.upload_shaped.min_pcr && flow.bytes_out >= cfg.upload_shaped.min_bytes_out;
}

/**
 * A TCP flow of no known service (`other`: the port map names no service for its port, and the flow source saw no
 * handshake) that sends far more than it gets back: by its ratio (upload_shaped.min_pcr) and at least
 * unidentified_upload.min_bytes_out out. A client session on an odd port (psql, kubectl, a game) gets its answers back.
 * Not UDP: on odd UDP ports run real-time media and tunnels (a call or screen share sends more than it gets when the
 * other side's camera is off; WireGuard), by apps that read a tier-1 store of their own at start.
 * `dns` over TCP counts too: the port map calls tcp/53 dns (the remote port, or the local one when the remote port is
 * unmapped), but DNS over TCP gets its answers back; an upload there is no DNS, and 53 is a port a stealer picks to
 * pass egress filters. Without it an upload on 53 passed no analytic's service gate at all.
 */
export function unidentifiedUpload(flow: Pick<FlowFacts, 'service' | 'pcr' | 'bytes_out' | 'protocol'>, cfg: AnalyticsConfig): boolean {
  return (
    UNIDENTIFIED.has(flow.service) &&
    flow.protocol === 'tcp' &&
    flow.pcr >= cfg.upload_shaped.min_pcr &&
    flow.bytes_out >= cfg.unidentified_upload.min_bytes_out
  );
}

export function noReturn(flow: Pick<FlowFacts, 'pcr' | 'bytes_out'>, cfg: AnalyticsConfig): boolean {
  return flow.pcr >= cfg.no_return.min_pcr && flow.bytes_out >= cfg.no_return.min_bytes_out;
}

export function longLived(flow: Pick<FlowFacts, 'duration' | 'bytes_out'>, cfg: AnalyticsConfig): boolean {
  return flow.duration >= cfg.long_lived.min_duration && flow.bytes_out >= cfg.long_lived.min_bytes_out;
}

/** How many long-lived severity steps (4/8/12 h by default) the flow has passed. */
export function longLivedSteps(flow: Pick<FlowFacts, 'duration' | 'bytes_out'>, cfg: AnalyticsConfig): number {
  if (!longLived(flow, cfg)) return 0;
  return cfg.long_lived.steps.filter((s) => flow.duration >= s).length;
}

export function highThroughputFlow(flow: Pick<FlowFacts, 'bytes_out'>, cfg: AnalyticsConfig): boolean {
  return flow.bytes_out >= cfg.high_throughput.flow_bytes_out;
}

/**
 * A flow of a high-throughput group that carries part of its egress (≥ high_throughput.group_min_flow_bytes_out,
 * 64 KiB), or the group's largest flow whatever its size (`groupTop`). The group rule qualifies the group's
 * egress, not every flow it made: without the floor each 2 KB API call of a group that uploaded 100 MiB became a
 * detection of its own (one per destination key). The largest flow always counts, so 100 MiB split into
 * connections just under the floor still gives a candidate.
 */
export function groupHighThroughput(flow: Pick<FlowFacts, 'bytes_out'>, groupBytesOut: number, cfg: AnalyticsConfig, groupTop = false): boolean {
  return (groupTop || flow.bytes_out >= cfg.high_throughput.group_min_flow_bytes_out) && groupBytesOut >= cfg.high_throughput.group_bytes_out;
}

export function highThroughput(flow: Pick<FlowFacts, 'bytes_out'>, groupBytesOut: number, cfg: AnalyticsConfig, groupTop = false): boolean {
  return highThroughputFlow(flow, cfg) || groupHighThroughput(flow, groupBytesOut, cfg, groupTop);
}

/** Precursor window: [flow start − precursor_window, flow end] (inclusive at both ends). */
export function precursorInWindow(time: number, flow: Pick<FlowFacts, 'first_seen' | 'last_seen'>, cfg: AnalyticsConfig): boolean {
  return time >= flow.first_seen - cfg.precursor_window && time <= flow.last_seen;
}

/** A precursor this close before the flow (or during it) makes the detection high severity. */
export function precursorHigh(gap: number, cfg: AnalyticsConfig): boolean {
  return gap <= cfg.precursor_high_gap;
}

/** Sensitive access of tier 1 or 2 (an archive event is not a "tier-1/2 precursor"). */
export function sensitivePrecursor(p: { kind: string; tier: number }): boolean {
  return p.kind === 'sensitive_access' && (p.tier === 1 || p.tier === 2);
}

/**
 * Raw IP destination: the server name is an IP literal (an HTTP Host or URL written as an address, which says so
 * whatever the flow source), or no name was seen where the source sees every connection's name
 * (`serverNameObservable`, see EndpointFacts).
 */
export function rawIp(flow: Pick<FlowFacts, 'server_name'>, serverNameObservable: boolean): boolean {
  const name = flow.server_name ? normalizeHostname(flow.server_name) : '';
  return name ? isIP(name) !== 0 : serverNameObservable;
}

/**
 * A port is standard when the default port map names it for the flow's service (tcp/443 for tls,
 * udp/443 for quic, tcp/80 for http …). Any port for `other`/`dns`-over-odd-ports is non-standard.
 */
export function nonStandardPort(flow: Pick<FlowFacts, 'service' | 'remote_port' | 'protocol'>): boolean {
  const proto = flow.protocol ?? (flow.service === 'quic' ? 'udp' : 'tcp');
  return standardService(proto, flow.remote_port) !== flow.service;
}

/** DEFAULT_PORT_MAP by protocol and port number: asked for every candidate flow, so no key string each time. */
const standardServices = new Map<string, Map<number, string | undefined>>();
function standardService(proto: string, port: number): string | undefined {
  let byPort = standardServices.get(proto);
  if (!byPort) standardServices.set(proto, (byPort = new Map()));
  if (byPort.has(port)) return byPort.get(port);
  const service = DEFAULT_PORT_MAP[`${proto}/${port}`];
  byPort.set(port, service);
  return service;
}

/**
 * Staging location for collected data (SPEC §2 archive_events.staging), for candidates that carry no
 * `staging` flag of their own: the endpoint's rule (isStagingPath), so both sides call the same paths staging.
 */
export function stagingPath(p: string): boolean {
  return isStagingPath(p);
}
