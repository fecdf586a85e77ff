/**
 * Builders for analytics tests (also used by the fleet's rule tests): a realistic default that passes
 * the gates, overridden field by field so each case states only what it is about.
 */
import type { EgressCandidate } from '../../schemas/egress-candidate.js';
import type { EndpointFacts, FleetFacts, FlowFacts } from '../types.js';

export const MiB = 1024 * 1024;
export const DAY = 86_400;
export const T0 = 1_760_000_000;

export function flowFacts(over: Partial<FlowFacts> = {}): FlowFacts {
  return {
    bytes_in: 20_000,
    bytes_out: 15 * MiB,
    pcr: 0.997,
    duration: 30,
    service: 'tls',
    remote_scope: 'public',
    remote_address: '203.0.113.10',
    remote_port: 443,
    first_seen: T0,
    last_seen: T0 + 30,
    protocol: 'tcp',
    server_name: 'upload.example.net',
    ...over,
  };
}

export function endpointFacts(over: Partial<Omit<EndpointFacts, 'flow'>> & { flow?: Partial<FlowFacts> } = {}): EndpointFacts {
  const { flow, ...rest } = over;
  return {
    flow: flowFacts(flow),
    external: true,
    browser: false,
    sanctioned: false,
    signatureClass: 'unsigned',
    precursor: { kind: 'sensitive_access', tier: 1, gap: 60, time: T0 - 60 },
    groupBytesOut15m: 15 * MiB,
    archive: null,
    ...rest,
  };
}

export function candidate(over: Partial<EgressCandidate> = {}): EgressCandidate {
  return {
    analytic: 'AN0990',
    flow_id: 'f1',
    pid: 4242,
    ppid: 4200,
    uid: 501,
    process_start: T0 - 100,
    process_name: 'curl',
    path: '/usr/bin/curl',
    protocol: 'tcp',
    family: 4,
    local_address: '192.168.1.20',
    local_port: 53000,
    remote_address: '203.0.113.10',
    remote_port: 443,
    remote_scope: 'public',
    service: 'tls',
    service_evidence: 'port',
    server_name: 'upload.example.net',
    state: 'Established',
    interface: 'en0',
    bytes_in: 20_000,
    bytes_out: 15 * MiB,
    pcr: 0.997,
    first_seen: T0,
    last_seen: T0 + 30,
    duration: 30,
    closed: 1,
    signature_class: 'apple_platform',
    team_id: '',
    signing_id: 'com.apple.curl',
    cdhash: 'ab12',
    identity: 'team:APPLE/com.apple.curl',
    group_root_pid: 4100,
    group_root_path: '/Users/u/Downloads/stealer',
    group_root_identity: 'cdhash:ff00',
    group_root_kind: '',
    process_chain: [],
    browser: 0,
    sanctioned: 0,
    precursor_kind: 'sensitive_access',
    precursor_time: T0 - 600,
    precursor_path: '/Users/u/Library/Keychains/login.keychain-db',
    precursor_category: 'keychain',
    precursor_tier: 1,
    precursor_pid: 4100,
    precursor_gap: 600,
    archive_time: 0,
    archive_path: '',
    archive_tool: '',
    archive_pid: 0,
    reasons: 'tier1_precursor,upload_shaped,no_return,non_browser,encrypted',
    ...over,
  };
}

/** A mature baseline (60 days), 500 active hosts, a destination seen by 1 host, a pair never uploaded to. */
export function fleetFacts(over: Partial<FleetFacts> = {}): FleetFacts {
  const now = over.now ?? T0 + 120;
  return {
    now,
    // the default 30-day window ending at `now`
    windowFrom: now - 30 * DAY,
    baselineStart: T0 - 60 * DAY,
    prevalenceKeptFrom: null,
    activeHosts: 500,
    destinationKey: 'example.net',
    destinationHosts: 1,
    destinationFirstSeen: T0,
    pairUploadHosts: 0,
    chainApps: [{ identity: 'team:APPLE/com.apple.curl', firstSeen: T0 - 300 * DAY, hosts: 500 }],
    groupRootIsLaunchdJob: false,
    ...over,
  };
}
