import type { AnalyticsConfig } from '../config/analytics.js';
import type { AnalyticId, EgressCandidate } from '../schemas/egress-candidate.js';

export type { AnalyticId } from '../schemas/egress-candidate.js';
export type { AnalyticsConfig } from '../config/analytics.js';

/**
 * The flow fields the analytics read: a subset of a `process_network_flows` row (and of an
 * `egress_candidates` row), so both the extension and the fleet can supply them.
 */
export interface FlowFacts {
  bytes_in: number;
  bytes_out: number;
  pcr: number;
  duration: number;
  service: string;
  remote_scope: string;
  remote_address: string;
  remote_port: number;
  first_seen: number;
  last_seen: number;
  protocol?: string;
  server_name?: string;
}

export type PrecursorKind = 'sensitive_access' | 'archive' | 'none';

export interface PrecursorFacts {
  kind: PrecursorKind;
  /** 1 credential stores, 2 user data; 0 for archive / none. */
  tier: number;
  /** Seconds from the precursor to the flow start (negative for reads during the flow). */
  gap: number;
  /** Unix s of the precursor event (0 for none). */
  time: number;
}

/** Everything the endpoint stage needs about one flow, computed by the egress_candidates table. */
export interface EndpointFacts {
  flow: FlowFacts;
  /** remote_scope public and outside network.internal_ranges. */
  external: boolean;
  browser: boolean;
  sanctioned: boolean;
  signatureClass: string;
  /** The primary precursor of the lineage group: the strongest sensitive access, else an archive event. */
  precursor: PrecursorFacts;
  /**
   * Bytes out by the whole lineage group's external flows active in the busiest group_window (15 min) that
   * overlaps this flow: every flow of a burst is marked, and with cumulative counters (a flow's bytes are all
   * counted in any window it overlaps) an upper bound of a sliding 15-minute sum (docs/analytics.md).
   */
  groupBytesOut15m: number;
  /** This flow is its lineage group's largest external flow (bytes out; ties: the smallest flow id). */
  groupTop?: boolean;
  /**
   * The nearest archive precursor even when the primary precursor is a sensitive access (an archive
   * step strengthens the story: reason archive_precursor, and staging raises severity). Absent = none.
   */
  archive?: { time: number; gap: number; staging: boolean } | null;
  /**
   * Some tier-1/2 read or archive event of the group lies within precursor_high_gap before the flow start, or
   * during the flow: the primary precursor is the strongest (tier 1 first), not always the nearest, and a nearer
   * one of another tier still makes the story close (reason precursor_close). Absent = only `precursor` and
   * `archive` are known.
   */
  closePrecursor?: boolean;
  /**
   * The flow source sees every connection's server name (SNI, HTTP Host). Only then is an empty server_name a
   * connection to a bare IP (reason raw_ip, +15). The extension names flows from captured DNS answers, which
   * miss DoH, VPN resolvers and hard-coded addresses, so there an empty name says nothing. Absent = false.
   */
  serverNameObservable?: boolean;
}

export interface ChainAppFacts {
  identity: string;
  firstSeen: number | null;
  hosts: number;
}

/** Fleet-wide prevalence at finalization time (the aggregator computes these from its store). */
export interface FleetFacts {
  /** Event time (unix s) the finalization runs at. */
  now: number;
  /**
   * Where the candidate's baseline starts: the first event time in the store, or, when its window begins in a gap of
   * the store's data, the first day with data after that (candidateBaselineStart); null when the store is empty.
   */
  baselineStart: number | null;
  /** Oldest event time the store still holds prevalence data from (Store prevalence.keptFrom); null before the first rollup. */
  prevalenceKeptFrom: number | null;
  /** Start of the prevalence window the counts below were read for (prevalence_window_days before its end). */
  windowFrom: number;
  activeHosts: number;
  destinationKey: string;
  destinationHosts: number;
  destinationFirstSeen: number | null;
  /** Hosts where (identity, destinationKey) was upload-shaped in the prevalence window. */
  pairUploadHosts: number;
  /** The flow process, then its ancestors up to the group root. */
  chainApps: ChainAppFacts[];
  groupRootIsLaunchdJob: boolean;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export interface FleetVerdict {
  fire: boolean;
  /** 'rare_destination' | 'abnormal_ratio' | 'rare_and_upload' | 'unseen_app' | 'not_upload_normal' | 'baseline_warming' | 'no_fire:<why>' */
  branch: string;
  baselineWarming: boolean;
  /** 0–100. */
  score: number;
  /** The fired branch's base score, before the modifiers (score = base + modifiers, then any floor or cap). */
  baseScore: number;
  severity: Severity;
  /** Severity modifiers applied, e.g. '+15:rare_destination', '-15:common_destination', '+15:raw_ip'. */
  modifiers: string[];
}

export interface EndpointResult {
  pass: boolean;
  /** When pass: the evidence (comma-joined into the row's `reasons`). Otherwise: why not. */
  reasons: string[];
}

export interface AnalyticDefinition {
  id: AnalyticId;
  name: string;
  attack: { technique: string; tactic: string; description: string };
  endpoint(f: EndpointFacts, cfg: AnalyticsConfig): EndpointResult;
  finalize(c: EgressCandidate, f: FleetFacts, cfg: AnalyticsConfig): FleetVerdict;
}
