import { z } from 'zod';
import { cutHostName, cutText } from '../strings.js';

/**
 * One `egress_candidates` row (SPEC §2) as it crosses the wire: the extension produces it, osquery logs
 * it (values as strings unless --logger_numerics), the fleet parses it back with this schema.
 * Numbers are coerced here so callers never see osquery's string/number drift.
 */
const int = z.coerce.number().int();
const num = z.coerce.number();

/**
 * Text a host sends is cut to a bound, with a trailing `…`: a detection copies a candidate's paths into several
 * fields (OCSF about ten times), so one 1 MB column made every detection built from it megabytes, in the API,
 * the sinks and the store. Cut, not refused: a row refused for one long column would let a process hide its
 * upload behind a long name. Real values fit: macOS paths are at most 1024 bytes, Linux's 4096.
 */
export const MAX_PATH_TEXT = 4096;
export const MAX_SHORT_TEXT = 512;
/**
 * Text that keys prevalence (identities, server names, addresses): shorter, so two of them of 3-byte characters
 * stay within a PostgreSQL index entry (2704 bytes) together. Every path that reads them cuts them alike, so the
 * same flow keys the same way from candidates, outflow_destinations and outflow_apps.
 */
export const MAX_KEY_TEXT = 256;
export const MAX_CHAIN_LINKS = 32;
const text = (max: number) => z.string().transform((s) => cutText(s, max));
const str = text(MAX_SHORT_TEXT).default('');
const pathText = text(MAX_PATH_TEXT).default('');
const keyText = text(MAX_KEY_TEXT).default('');

export const ANALYTIC_IDS = ['AN0990', 'AN0032', 'AN0082', 'AN1415', 'AN0425'] as const;
export type AnalyticId = (typeof ANALYTIC_IDS)[number];
export const PROTOCOLS = ['tcp', 'udp'] as const;
export const PRECURSOR_KINDS = ['sensitive_access', 'archive', 'none'] as const;

export const ProcessChainLinkSchema = z.object({
  pid: int,
  path: text(MAX_PATH_TEXT),
  identity: keyText,
  signature_class: text(MAX_SHORT_TEXT).default('unknown'),
});
export type ProcessChainLink = z.infer<typeof ProcessChainLinkSchema>;

/** process_chain arrives as a JSON string; a bad one is an input error, not a crash. */
// a lineage deeper than MAX_CHAIN_LINKS keeps its first links (the flow's process and its nearest ancestors)
const ChainArray = z.array(ProcessChainLinkSchema).transform((links) => links.slice(0, MAX_CHAIN_LINKS));
const ProcessChainField = z.union([
  ChainArray,
  z.string().transform((s, ctx) => {
    try {
      return ChainArray.parse(s === '' ? [] : JSON.parse(s));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'process_chain is not a JSON array of {pid,path,identity,signature_class}' });
      return z.NEVER;
    }
  }),
]);

export const EgressCandidateSchema = z.object({
  analytic: z.enum(ANALYTIC_IDS),
  // process_network_flows columns
  flow_id: text(MAX_SHORT_TEXT).pipe(z.string().min(1)),
  pid: int,
  ppid: int.default(0),
  uid: int.default(-1),
  process_start: int,
  process_name: str,
  path: pathText,
  protocol: z.enum(PROTOCOLS),
  family: int.default(4),
  local_address: str,
  local_port: int.default(0),
  remote_address: text(MAX_KEY_TEXT).pipe(z.string().min(1)),
  remote_port: int,
  remote_scope: text(MAX_SHORT_TEXT).default('public'),
  service: text(MAX_SHORT_TEXT).default('other'),
  service_evidence: text(MAX_SHORT_TEXT).default('port'),
  server_name: z.string().transform((s) => cutHostName(s, MAX_KEY_TEXT)).default(''),
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
  signature_class: text(MAX_SHORT_TEXT).default('unknown'),
  team_id: str,
  signing_id: str,
  cdhash: str,
  identity: keyText,
  // lineage
  group_root_pid: int.default(0),
  group_root_path: pathText,
  group_root_identity: keyText,
  // Beyond SPEC §2 (additive; '' from older extensions, where the fleet falls back to the root's path):
  // what the lineage made the root, launchd_job | gui_app | terminal_shell | top.
  group_root_kind: str,
  process_chain: ProcessChainField.default([]),
  browser: int.default(0),
  sanctioned: int.default(0),
  // precursor
  precursor_kind: z.enum(PRECURSOR_KINDS).default('none'),
  precursor_time: int.default(0),
  precursor_path: pathText,
  precursor_category: str,
  precursor_tier: int.default(0),
  precursor_pid: int.default(0),
  precursor_gap: int.default(0),
  // Beyond SPEC §2 (additive): the archive step in the window even when a sensitive read is the reported
  // precursor, so the evidence always names what was staged (SPEC §4: "archive output"). 0/'' when none.
  archive_time: int.default(0),
  archive_path: pathText,
  archive_tool: str,
  archive_pid: int.default(0),
  reasons: text(MAX_PATH_TEXT).default(''),
});

export type EgressCandidate = z.infer<typeof EgressCandidateSchema>;

/** Column order of the egress_candidates table (and of the pack query's output). */
export const EGRESS_CANDIDATE_COLUMNS = Object.keys(EgressCandidateSchema.shape) as (keyof EgressCandidate)[];
