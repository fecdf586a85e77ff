/**
 * Which hosts' collectors need an operator (the `outflow_status` snapshots the hosts send): GET /v1/hosts/status,
 * `outflow fleet hosts` and the outflow_host_status gauge of /metrics. A host whose eslogger lacks Full Disk
 * Access sends no file events, so AN0082's precursors never come from it: the fleet must show such blind spots.
 */
import type { HostStatusRow } from '../store/store.js';

/**
 * How far back (event time) a status row still counts as a host's current one in the gauge: two snapshot intervals
 * of the outflow_status query (3600 s, SPEC §3), so one late snapshot does not drop a host from the counts.
 */
export const STATUS_FRESH_SECONDS = 2 * 3600;

/** How often /metrics counts the status rows again (a scan of all of them); scrapes in between reuse the counts. */
export const STATUS_GAUGE_REFRESH_MS = 60_000;

/** A status row as the API and `fleet hosts --format json` print it. */
export function statusAnswer(r: HostStatusRow): Record<string, string | number> {
  return { host_id: r.hostId, hostname: r.hostname, component: r.component, platform: r.platform, state: r.state, detail: r.detail, version: r.version, time: r.time };
}
