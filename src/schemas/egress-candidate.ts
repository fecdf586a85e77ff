import { z } from 'zod';

/**
 * One `egress_candidates` row (SPEC §2) as it crosses the wire: the extension produces it, osquery logs
 * it (values as strings unless --logger_numerics), the fleet parses it back with this schema.
 * Numbers are coerced here so callers never see osquery's string/number drift.
 */
const int = z.coerce.number().int();
const num = z.coerce.number();
const str = z.string().default('');

export const ANALYTIC_IDS = ['AN0990', 'AN0032', 'AN0082', 'AN1415', 'AN0425'] as const;
export type AnalyticId = (typeof ANALYTIC_IDS)[number];

export const ProcessChainLinkSchema = z.object({
  pid: int,
  path: z.string(),
  identity: z.string().default(''),
  signature_class: z.string().default('unknown'),
});
export type ProcessChainLink = z.infer<typeof ProcessChainLinkSchema>;

/** process_chain arrives as a JSON string; a bad one is an input error, not a crash. */
const ProcessChainField = z.union([
  z.array(ProcessChainLinkSchema),
  z.string().transform((s, ctx) => {
    try {
      return z.array(ProcessChainLinkSchema).parse(s === '' ? [] : JSON.parse(s));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'process_chain is not a JSON array of {pid,path,identity,signature_class}' });
      return z.NEVER;
    }
  }),
]);

export const EgressCandidateSchema = z.object({
  analytic: z.enum(ANALYTIC_IDS),
  // process_network_flows columns
  flow_id: z.string().min(1),
  pid: int,
  ppid: int.default(0),
  uid: int.default(-1),
  process_start: int,
  process_name: str,
  path: str,
  protocol: z.enum(['tcp', 'udp']),
  family: int.default(4),
  local_address: str,
  local_port: int.default(0),
  remote_address: z.string().min(1),
  remote_port: int,
  remote_scope: z.string().default('public'),
  service: z.string().default('other'),
  service_evidence: z.string().default('port'),
  server_name: str,
  state: str,
  interface: str,
  bytes_in: int,
  bytes_out: int,
  pcr: num,
  first_seen: int,
  last_seen: int,
  duration: int,
  closed: int.default(0),
  // identity
  signature_class: z.string().default('unknown'),
  team_id: str,
  signing_id: str,
  cdhash: str,
  identity: str,
  // lineage
  group_root_pid: int.default(0),
  group_root_path: str,
  group_root_identity: str,
  // Beyond SPEC §2 (additive; '' from older extensions, where the fleet falls back to the root's path):
  // what the lineage made the root, launchd_job | gui_app | terminal_shell | top.
  group_root_kind: str,
  process_chain: ProcessChainField.default([]),
  browser: int.default(0),
  sanctioned: int.default(0),
  // precursor
  precursor_kind: z.enum(['sensitive_access', 'archive', 'none']).default('none'),
  precursor_time: int.default(0),
  precursor_path: str,
  precursor_category: str,
  precursor_tier: int.default(0),
  precursor_pid: int.default(0),
  precursor_gap: int.default(0),
  // Beyond SPEC §2 (additive): the archive step in the window even when a sensitive read is the reported
  // precursor, so the evidence always names what was staged (SPEC §4: "archive output"). 0/'' when none.
  archive_time: int.default(0),
  archive_path: str,
  archive_tool: str,
  archive_pid: int.default(0),
  reasons: str,
});

export type EgressCandidate = z.infer<typeof EgressCandidateSchema>;

/** Column order of the egress_candidates table (and of the pack query's output). */
export const EGRESS_CANDIDATE_COLUMNS = Object.keys(EgressCandidateSchema.shape) as (keyof EgressCandidate)[];
