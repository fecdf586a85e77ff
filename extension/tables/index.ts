import type { TableDefinition } from '../runtime/define-table.js';
import { outflowStatus } from './outflow_status/table.js';
import { codeSigning } from './code_signing/table.js';
import { processNetworkFlows } from './process_network_flows/table.js';
import { sensitiveFileEvents } from './sensitive_file_events/table.js';
import { archiveEvents } from './archive_events/table.js';
import { egressCandidates } from './egress_candidates/table.js';

/** The table registry: one line per table. Adding a table = one folder + one line here. */
export const TABLES: TableDefinition<any>[] = [
  outflowStatus,
  codeSigning,
  processNetworkFlows,
  sensitiveFileEvents,
  archiveEvents,
  egressCandidates,
];
