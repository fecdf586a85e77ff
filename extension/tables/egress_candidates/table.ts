import { ANALYTIC_IDS, type AnalyticId } from '../../../src/schemas/egress-candidate.js';
import { constraintIntegers, constraintValues, type QueryContext } from '../../sdk/query-context.js';
import { bigint, defineTable, double, integer, text, type Row } from '../../runtime/define-table.js';
import { correlate, type CorrelationOptions } from './correlate.js';

/** Column order = EGRESS_CANDIDATE_COLUMNS (src/schemas/egress-candidate.ts); a test holds them equal. */
export const egressCandidateColumns = {
  analytic: text({ index: true, description: 'ATT&CK analytic whose endpoint stage the flow passed (AN0990, AN0032, AN0082, AN1415, AN0425)' }),
  flow_id: text({ description: 'process_network_flows.flow_id' }),
  pid: integer({ index: true }),
  ppid: integer(),
  uid: integer(),
  process_start: bigint(),
  process_name: text(),
  path: text(),
  protocol: text(),
  family: integer(),
  local_address: text(),
  local_port: integer(),
  remote_address: text(),
  remote_port: integer(),
  remote_scope: text(),
  service: text(),
  service_evidence: text(),
  server_name: text(),
  state: text(),
  interface: text(),
  bytes_in: bigint(),
  bytes_out: bigint(),
  pcr: double(),
  first_seen: bigint(),
  last_seen: bigint(),
  duration: integer(),
  closed: integer(),
  signature_class: text(),
  team_id: text(),
  signing_id: text(),
  cdhash: text(),
  identity: text(),
  group_root_pid: integer(),
  group_root_path: text(),
  group_root_identity: text(),
  group_root_kind: text({ description: 'what made the process the group root: launchd_job, gui_app, terminal_shell or top (beyond SPEC §2)' }),
  process_chain: text({ description: 'JSON [{"pid","path","identity","signature_class"}] from the flow process up to the group root' }),
  browser: integer(),
  sanctioned: integer(),
  precursor_kind: text({ description: 'sensitive_access, archive or none' }),
  precursor_time: bigint(),
  precursor_path: text(),
  precursor_category: text(),
  precursor_tier: integer(),
  precursor_pid: integer(),
  precursor_gap: integer({ description: 'seconds from the precursor to the flow start (negative: during the flow)' }),
  archive_time: bigint({ description: 'the archive step in the window, also when a sensitive read is the precursor (0: none; beyond SPEC §2)' }),
  archive_path: text({ description: 'what the archive step wrote (or the tool path when it is not known)' }),
  archive_tool: text(),
  archive_pid: integer(),
  reasons: text(),
};

const ANALYTIC_SET = new Set<string>(ANALYTIC_IDS);

/** `analytic = …` / `pid = …` narrow the work; SQLite re-filters, so ignoring a constraint is always safe. */
export function correlationOptions(query: QueryContext): CorrelationOptions {
  const opts: CorrelationOptions = {};
  const analytics = constraintValues(query, 'analytic');
  if (analytics) opts.analytics = analytics.filter((a): a is AnalyticId => ANALYTIC_SET.has(a));
  const pids = constraintIntegers(query, 'pid');
  if (pids) opts.pids = new Set(pids);
  return opts;
}

export const egressCandidates = defineTable({
  name: 'egress_candidates',
  description:
    'Endpoint stage of the Outflow analytics: one row per (flow, analytic) that passes it, with signing, lineage group, process chain and the nearest precursor of the same group.',
  columns: egressCandidateColumns,
  platforms: ['darwin', 'linux'],
  generate(ctx, query) {
    // text()/integer() return the wide ColumnSpec, so Row<> cannot tell TEXT from INTEGER columns here;
    // CandidateRow is the precise type and a test checks every row against EgressCandidateSchema.
    return correlate(ctx, correlationOptions(query)).rows as unknown as Row<typeof egressCandidateColumns>[];
  },
});
