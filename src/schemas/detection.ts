import { z } from 'zod';
import { ANALYTIC_IDS } from './egress-candidate.js';

/**
 * A finalized fleet detection (SPEC §4 "Evidence in every detection", §5 outputs). Produced by
 * fleet/rules, stored by every Store backend, rendered by sinks (JSON as is; OCSF 2004 mapped from it),
 * served by GET /v1/detections. All times are unix seconds of event time.
 *
 * One detection per suppression key (host, analytic, group root identity, destination key) per
 * suppression window: later flows of the same key update `count`, bytes and `last_seen`.
 */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type DetectionSeverity = (typeof SEVERITIES)[number];

const int = z.number().int();

export const DetectionFlowSchema = z.object({
  flow_id: z.string(),
  protocol: z.string(),
  family: int,
  local_address: z.string(),
  local_port: int,
  remote_address: z.string(),
  remote_port: int,
  remote_scope: z.string(),
  service: z.string(),
  service_evidence: z.string(),
  server_name: z.string(),
  interface: z.string(),
  state: z.string(),
  bytes_in: int,
  bytes_out: int,
  pcr: z.number(),
  first_seen: int,
  last_seen: int,
  duration: int,
  closed: int,
});
export type DetectionFlow = z.infer<typeof DetectionFlowSchema>;

/** One link of the process chain, flow process first, group root last, with fleet first-seen facts. */
export const DetectionProcessSchema = z.object({
  pid: int,
  path: z.string(),
  identity: z.string(),
  signature_class: z.string(),
  team_id: z.string(),
  signing_id: z.string(),
  cdhash: z.string(),
  /** Fleet-wide first sighting of this identity (null: never reported by outflow_apps or candidates). */
  first_seen: int.nullable(),
  /** Hosts that ran this identity in the prevalence window. */
  hosts: int,
});
export type DetectionProcess = z.infer<typeof DetectionProcessSchema>;

export const DetectionPrecursorSchema = z.object({
  kind: z.enum(['sensitive_access', 'archive']),
  time: int,
  /** File read (sensitive_access) or the archive written (archive). */
  path: z.string(),
  category: z.string(),
  tier: int,
  pid: int,
  /** Seconds from the precursor to the flow start (negative: during the flow). */
  gap: int,
  /** For archive precursors: the archive output path (same as `path`), else ''. */
  archive_output: z.string(),
});
export type DetectionPrecursor = z.infer<typeof DetectionPrecursorSchema>;

export const DetectionFleetFactsSchema = z.object({
  active_hosts: int,
  /** Where the candidate's baseline started: the store's first event, or the first day with data after a gap its window began in. */
  baseline_start: int.nullable(),
  /**
   * Null when the candidate's whole prevalence window was kept. Otherwise the window reached back before the oldest
   * data the store kept (where the rollup last expired) and its counts start here: its baseline started here, not
   * at baseline_start, and baseline_warming says whether that left it baseline_maturity_days of data. Set for a
   * backlog delivered weeks late, and also, with most of the window kept, for a candidate finalized just after a
   * rollup or after prevalence_window_days was raised (docs/fleet.md, Finalization). Bodies stored before the field
   * existed read back with null (detectionFromBody).
   */
  window_kept_from: int.nullable().default(null),
  destination_key: z.string(),
  destination_hosts: int,
  destination_first_seen: int.nullable(),
  /** True when the destination reached the common threshold and its hosts are counted in day sketches (docs/fleet.md, "Prevalence (bounded)"). */
  destination_saturated: z.boolean(),
  rare_threshold: int,
  common_threshold: int,
  /** Hosts where (flow identity, destination key) was upload-shaped in the window. */
  pair_upload_hosts: int,
  app_first_seen: int.nullable(),
  app_hosts: int,
});
export type DetectionFleetFacts = z.infer<typeof DetectionFleetFactsSchema>;

export const DetectionSchema = z.object({
  /** Deterministic: hash of the suppression key and the first flow (replays produce the same ids). */
  id: z.string().min(1),
  analytic: z.enum(ANALYTIC_IDS),
  /** ATT&CK analytic name/technique from src/analytics. */
  analytic_name: z.string(),
  attack_technique: z.string(),
  attack_tactic: z.string(),
  host_id: z.string().min(1),
  hostname: z.string(),
  /** The finalization branch that fired (e.g. rare_destination, abnormal_ratio, unseen_app). */
  branch: z.string(),
  baseline_warming: z.boolean(),
  score: z.number().min(0).max(100),
  /**
   * The branch's base score: `score` is this plus the signed `modifiers`, then any `floor:`/`cap:` they list.
   * Absent only in detections stored by a release before it.
   */
  base_score: z.number().min(0).max(100).optional(),
  severity: z.enum(SEVERITIES),
  modifiers: z.array(z.string()),
  /** host|analytic|group_root_identity|destination_key */
  suppression_key: z.string(),
  /** Flows folded into this detection (1 + later flows of the same suppression key). */
  count: int.min(1),
  /** Sum over those flows (a flow's later versions replace its earlier contribution). */
  bytes_out_total: int,
  bytes_in_total: int,
  first_seen: int,
  last_seen: int,
  /** Event time at which it was created / last changed by finalization. */
  created_at: int,
  updated_at: int,
  destination_key: z.string(),
  /**
   * The flow that set the score (full tuple): branch, modifiers, reasons, process chain and fleet facts all
   * describe this flow. count, byte totals, first/last_seen and flow_ids span every flow folded in.
   */
  flow: DetectionFlowSchema,
  /** Flow ids folded in (first 100). */
  flow_ids: z.array(z.string()),
  process: DetectionProcessSchema,
  process_start: int,
  group_root: z.object({ pid: int, path: z.string(), identity: z.string(), launchd_job: z.boolean() }),
  process_chain: z.array(DetectionProcessSchema),
  precursors: z.array(DetectionPrecursorSchema),
  /** Endpoint-stage reasons from the candidate (tier1_precursor, upload_shaped, …). */
  reasons: z.array(z.string()),
  browser: z.boolean(),
  sanctioned: z.boolean(),
  fleet: DetectionFleetFactsSchema,
});

export type Detection = z.infer<typeof DetectionSchema>;
