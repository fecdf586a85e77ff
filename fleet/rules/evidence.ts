/**
 * Pure pieces of finalization: suppression keys, lineage facts, and the Detection a fired verdict
 * becomes (SPEC §4 "Evidence in every detection"), plus folding a later flow into an open detection.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { windowKeptFrom, type AnalyticDefinition, type FleetFacts, type FleetVerdict } from '../../src/analytics/index.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import type { Detection, DetectionPrecursor, DetectionProcess } from '../../src/schemas/detection.js';
import type { EgressCandidate } from '../../src/schemas/egress-candidate.js';
import type { AppStats, PrevalenceStats, StoredCandidate } from '../store/store.js';

const MAX_FLOW_IDS = 100;
const SHELLS = new Set(['sh', 'bash', 'zsh', 'fish', 'dash', 'tcsh', 'csh', 'ksh', 'nu', 'pwsh']);

/** The identity a lineage group is known by (its root's code identity, else its path). */
export function groupRootIdentity(c: Pick<EgressCandidate, 'group_root_identity' | 'group_root_path'>): string {
  return c.group_root_identity || c.group_root_path;
}

/** One detection per (host, analytic, group root identity, destination key) per suppression window. */
export function suppressionKey(hostId: string, c: EgressCandidate, destinationKey: string): string {
  return `${hostId}|${c.analytic}|${groupRootIdentity(c)}|${destinationKey}`;
}

/**
 * A suppression window in seconds (analytics.suppression_hours): finalization folds a candidate into an open
 * detection within it, and the outbox stops listing a detection whose window is over (closedUpTo).
 */
export function suppressionSpan(cfg: Pick<AnalyticsConfig, 'suppression_hours'>): number {
  return Math.round(cfg.suppression_hours * 3600);
}

/** Deterministic, so replaying the same logs yields the same detection ids. */
export function detectionId(suppression: string, createdAt: number, flowId: string): string {
  return `det_${createHash('sha256').update(`${suppression}\n${createdAt}\n${flowId}`).digest('base64url').slice(0, 24)}`;
}

/**
 * A group root's kind guessed from its path alone, for candidates of extensions older than group_root_kind: in an
 * app bundle a GUI app, a shell a terminal shell, anything else a launchd job ('' without a path).
 */
export function rootKindFromPath(rootPath: string): 'gui_app' | 'terminal_shell' | 'launchd_job' | '' {
  if (!rootPath) return '';
  if (rootPath.includes('.app/')) return 'gui_app';
  return SHELLS.has(path.posix.basename(rootPath)) ? 'terminal_shell' : 'launchd_job';
}

/**
 * Group roots are launchd jobs, GUI apps or interactive shells (SPEC §4). The endpoint says which
 * (group_root_kind, from its lineage: a LaunchAgent running a shell script is a launchd job, a tool whose
 * parent was never seen is not); older candidates are guessed from the root's path (rootKindFromPath).
 */
export function groupRootIsLaunchdJob(c: Pick<EgressCandidate, 'group_root_path' | 'group_root_kind'>): boolean {
  return (c.group_root_kind || rootKindFromPath(c.group_root_path)) === 'launchd_job';
}

/** Identities of the chain, flow process first, then ancestors up to the root (deduped, non-empty). */
export function chainIdentities(c: EgressCandidate): string[] {
  const ids: string[] = [];
  const add = (id: string) => {
    if (id && !ids.includes(id)) ids.push(id);
  };
  add(c.identity);
  for (const link of c.process_chain) add(link.identity);
  add(c.group_root_identity);
  return ids;
}

/**
 * team:<TEAM>/<signing id> → parts; cdhash:<hash> → cdhash. `team:APPLE/…` names Apple's platform code, which has
 * no team id (SPEC §2 identity): its team_id stays empty, as code_signing and outflow_apps report it, so a SIEM
 * never receives "APPLE" as a developer id.
 */
export function parseIdentity(identity: string): { teamId: string; signingId: string; cdhash: string } {
  const m = /^team:([^/]*)\/(.*)$/.exec(identity);
  if (m) return { teamId: m[1] === 'APPLE' ? '' : m[1]!, signingId: m[2]!, cdhash: '' };
  if (identity.startsWith('cdhash:')) return { teamId: '', signingId: '', cdhash: identity.slice(7).toLowerCase() };
  return { teamId: '', signingId: '', cdhash: '' };
}

function processLink(
  link: { pid: number; path: string; identity: string; signature_class: string },
  apps: ReadonlyMap<string, AppStats>,
  own?: Pick<EgressCandidate, 'team_id' | 'signing_id' | 'cdhash'>,
): DetectionProcess {
  const app = link.identity ? apps.get(link.identity) : undefined;
  const parsed = parseIdentity(link.identity);
  return {
    pid: link.pid,
    path: link.path || app?.path || '',
    identity: link.identity,
    signature_class: link.signature_class || app?.signatureClass || 'unknown',
    team_id: own?.team_id || app?.teamId || parsed.teamId,
    signing_id: own?.signing_id || app?.signingId || parsed.signingId,
    cdhash: (own?.cdhash || app?.cdhash || parsed.cdhash).toLowerCase(),
    first_seen: app?.firstSeen ?? null,
    hosts: app?.hosts ?? 0,
  };
}

/** Process chain evidence: the flow process, its ancestors, the group root (from the candidate, enriched by outflow_apps). */
export function processChain(c: EgressCandidate, apps: ReadonlyMap<string, AppStats>): DetectionProcess[] {
  const links = c.process_chain.length
    ? c.process_chain.map((l) => ({ ...l }))
    : [{ pid: c.pid, path: c.path, identity: c.identity, signature_class: c.signature_class }];
  const last = links[links.length - 1]!;
  if (c.group_root_pid && last.pid !== c.group_root_pid) {
    links.push({ pid: c.group_root_pid, path: c.group_root_path, identity: c.group_root_identity, signature_class: '' });
  }
  return links.map((l, i) => processLink(l, apps, i === 0 && l.pid === c.pid ? c : undefined));
}

/**
 * The reported precursor, then the archive step when a sensitive read was reported (the candidate's archive_*
 * columns): the evidence names what was staged either way (SPEC §4, "archive output").
 */
export function precursors(c: EgressCandidate): DetectionPrecursor[] {
  if (c.precursor_kind === 'none') return [];
  const out: DetectionPrecursor[] = [
    {
      kind: c.precursor_kind,
      time: c.precursor_time,
      path: c.precursor_path,
      category: c.precursor_category,
      tier: c.precursor_tier,
      pid: c.precursor_pid,
      gap: c.precursor_gap,
      archive_output: c.precursor_kind === 'archive' ? c.precursor_path : '',
    },
  ];
  if (c.precursor_kind === 'sensitive_access' && c.archive_time > 0) {
    out.push({
      kind: 'archive',
      time: c.archive_time,
      path: c.archive_path,
      category: c.archive_tool ? `archive:${c.archive_tool}` : 'archive',
      tier: 0,
      pid: c.archive_pid,
      gap: c.first_seen - c.archive_time,
      archive_output: c.archive_path,
    });
  }
  return out;
}

export interface EvidenceInput {
  stored: StoredCandidate;
  verdict: FleetVerdict;
  facts: FleetFacts;
  analytic: AnalyticDefinition;
  hostname: string;
  destination: PrevalenceStats;
  apps: ReadonlyMap<string, AppStats>;
  rareThreshold: number;
  commonThreshold: number;
}

function flowOf(c: EgressCandidate): Detection['flow'] {
  return {
    flow_id: c.flow_id,
    protocol: c.protocol,
    family: c.family,
    local_address: c.local_address,
    local_port: c.local_port,
    remote_address: c.remote_address,
    remote_port: c.remote_port,
    remote_scope: c.remote_scope,
    service: c.service,
    service_evidence: c.service_evidence,
    server_name: c.server_name,
    interface: c.interface,
    state: c.state,
    bytes_in: c.bytes_in,
    bytes_out: c.bytes_out,
    pcr: c.pcr,
    first_seen: c.first_seen,
    last_seen: c.last_seen,
    duration: c.duration,
    closed: c.closed,
  };
}

/** A new detection from a fired verdict. */
export function buildDetection(e: EvidenceInput): Detection {
  const { stored, verdict, facts, analytic } = e;
  const c = stored.candidate;
  const key = suppressionKey(stored.hostId, c, stored.destinationKey);
  const chain = processChain(c, e.apps);
  const flowApp = c.identity ? e.apps.get(c.identity) : undefined;
  return {
    id: detectionId(key, stored.eventTime, c.flow_id),
    analytic: c.analytic,
    analytic_name: analytic.name,
    attack_technique: analytic.attack.technique,
    attack_tactic: analytic.attack.tactic,
    host_id: stored.hostId,
    hostname: e.hostname,
    branch: verdict.branch,
    baseline_warming: verdict.baselineWarming,
    score: verdict.score,
    base_score: verdict.baseScore,
    severity: verdict.severity,
    modifiers: verdict.modifiers,
    suppression_key: key,
    count: 1,
    bytes_out_total: Math.max(0, c.bytes_out),
    bytes_in_total: Math.max(0, c.bytes_in),
    first_seen: c.first_seen,
    last_seen: c.last_seen,
    created_at: stored.eventTime,
    updated_at: stored.eventTime,
    destination_key: stored.destinationKey,
    flow: flowOf(c),
    flow_ids: [c.flow_id],
    process: chain[0]!,
    process_start: c.process_start,
    group_root: { pid: c.group_root_pid, path: c.group_root_path, identity: c.group_root_identity, launchd_job: facts.groupRootIsLaunchdJob },
    process_chain: chain,
    precursors: precursors(c),
    reasons: c.reasons ? c.reasons.split(',').filter(Boolean) : [],
    browser: c.browser === 1,
    sanctioned: c.sanctioned === 1,
    fleet: {
      active_hosts: facts.activeHosts,
      baseline_start: facts.baselineStart,
      window_kept_from: windowKeptFrom(facts),
      destination_key: stored.destinationKey,
      destination_hosts: facts.destinationHosts,
      destination_first_seen: facts.destinationFirstSeen,
      destination_saturated: e.destination.saturated,
      rare_threshold: e.rareThreshold,
      common_threshold: e.commonThreshold,
      pair_upload_hosts: facts.pairUploadHosts,
      app_first_seen: flowApp?.firstSeen ?? null,
      app_hosts: flowApp?.hosts ?? 0,
    },
  };
}

/**
 * Fold a later flow of the same suppression key into an open detection. A later version of a flow
 * already counted (same candidate) replaces its byte contribution instead of adding a flow.
 *
 * The evidence that explains the score is one unit: the flow, its reasons, process chain, fleet facts,
 * branch and modifiers all come from the flow that set the score (the highest-scoring one; a newer version
 * of that same flow replaces it at an equal or higher score). An analyst can then check every modifier
 * against the flow shown beside it. What sums or spans all flows is kept apart: count, byte totals,
 * first_seen/last_seen, flow_ids and precursors (those of every flow folded in).
 * Returns the bytes now counted for this candidate.
 */
export function foldInto(det: Detection, e: EvidenceInput): { countedBytesOut: number; countedBytesIn: number } {
  const { stored, verdict } = e;
  const c = stored.candidate;
  const out = Math.max(0, c.bytes_out);
  const inn = Math.max(0, c.bytes_in);
  if (stored.detectionId === det.id) {
    det.bytes_out_total += out - stored.countedBytesOut;
    det.bytes_in_total += inn - stored.countedBytesIn;
  } else {
    det.count += 1;
    det.bytes_out_total += out;
    det.bytes_in_total += inn;
    if (!det.flow_ids.includes(c.flow_id) && det.flow_ids.length < MAX_FLOW_IDS) det.flow_ids.push(c.flow_id);
  }
  if (c.first_seen < det.first_seen) det.first_seen = c.first_seen;
  if (c.last_seen > det.last_seen) det.last_seen = c.last_seen;
  if (stored.eventTime > det.updated_at) det.updated_at = stored.eventTime;
  const scoredFlow = det.flow.flow_id === c.flow_id;
  if (verdict.score > det.score || (scoredFlow && verdict.score === det.score)) {
    const unit = buildDetection(e);
    det.branch = unit.branch;
    det.baseline_warming = unit.baseline_warming;
    det.score = unit.score;
    det.base_score = unit.base_score;
    det.severity = unit.severity;
    det.modifiers = unit.modifiers;
    det.flow = unit.flow;
    det.process = unit.process;
    det.process_start = unit.process_start;
    det.group_root = unit.group_root;
    det.process_chain = unit.process_chain;
    det.reasons = unit.reasons;
    det.browser = unit.browser;
    det.sanctioned = unit.sanctioned;
    det.fleet = unit.fleet;
  }
  const newPrecursors = precursors(c).filter((p) => !det.precursors.some((q) => q.path === p.path && q.time === p.time));
  if (newPrecursors.length && det.precursors.length < 20) det.precursors.push(...newPrecursors);
  return { countedBytesOut: out, countedBytesIn: inn };
}
