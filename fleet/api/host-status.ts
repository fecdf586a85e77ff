/**
 * Which hosts' collectors need an operator (the `outflow_status` snapshots the hosts send): GET /v1/hosts/status,
 * `outflow fleet hosts` and the outflow_host_status gauge of /metrics. A host whose eslogger lacks Full Disk
 * Access sends no file events, so AN0082's precursors never come from it: the fleet must show such blind spots.
 */
import type { HostStatusRow, StatusCount } from '../store/store.js';

/**
 * How far back (event time) a status row still counts as a host's current one in the gauge: two snapshot intervals
 * of the outflow_status query (3600 s, SPEC §3), so one late snapshot does not drop a host from the counts.
 */
export const STATUS_FRESH_SECONDS = 2 * 3600;

/**
 * The (component, state) groups the gauge reads from the store, the largest first: an extension has about ten
 * components and five states, so only hosts that make up components of their own can reach it.
 */
export const STATUS_GAUGE_GROUPS = 200;

/** How often /metrics counts the status rows again (a scan of all of them); scrapes in between reuse the counts. */
export const STATUS_GAUGE_REFRESH_MS = 60_000;

const KNOWN_STATES = new Set(['running', 'degraded', 'unavailable', 'permission_denied', 'disabled']);
/** A component name as the extension spells them (flows, eslogger, code_signing …). */
const COMPONENT_LABEL = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * Gauge samples from the store's counts. Hosts send the component and state texts: a name the extension would not
 * use becomes "other", so a host cannot make series (or escape sequences) of its own; equal labels are summed.
 */
export function statusGaugeSamples(counts: readonly StatusCount[]): { component: string; state: string; hosts: number }[] {
  const out = new Map<string, { component: string; state: string; hosts: number }>();
  for (const c of counts) {
    const component = COMPONENT_LABEL.test(c.component) ? c.component : 'other';
    const state = KNOWN_STATES.has(c.state) ? c.state : 'other';
    const key = `${component}\u0000${state}`;
    const prev = out.get(key);
    if (prev) prev.hosts += c.hosts;
    else out.set(key, { component, state, hosts: c.hosts });
  }
  return [...out.values()];
}

/** A status row as the API and `fleet hosts --format json` print it. */
export function statusAnswer(r: HostStatusRow): Record<string, string | number> {
  return { host_id: r.hostId, hostname: r.hostname, component: r.component, platform: r.platform, state: r.state, detail: r.detail, version: r.version, time: r.time };
}
