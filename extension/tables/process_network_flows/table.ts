import { constraintIntegers, constraintValues } from '../../sdk/query-context.js';
import { bigint, defineTable, double, integer, text } from '../../runtime/define-table.js';

/**
 * SPEC §2 `process_network_flows`: one row per flow, open or closed within flows.retention, from the
 * in-memory flow store the nettop (darwin) / ss (linux) collectors keep up to date.
 */
export const processNetworkFlows = defineTable({
  name: 'process_network_flows',
  description: 'Per-process network flows with cumulative byte counters, duration and destination scope (nettop on macOS, ss on Linux).',
  columns: {
    flow_id: text({ index: true }),
    pid: integer({ index: true }),
    ppid: integer(),
    uid: integer(),
    process_start: bigint(),
    process_name: text(),
    path: text({ index: true }),
    protocol: text(),
    family: integer(),
    local_address: text(),
    local_port: integer(),
    remote_address: text({ index: true }),
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
  },
  platforms: ['darwin', 'linux'],
  generate(ctx, query) {
    let rows = ctx.flows.rows();
    // Constraints are hints (SQLite re-filters): narrowing on `=` only saves copying rows.
    const pids = constraintIntegers(query, 'pid');
    if (pids) {
      const wanted = new Set(pids);
      rows = rows.filter((r) => wanted.has(r.pid));
    }
    for (const [column, key] of [['path', 'path'], ['remote_address', 'remote_address'], ['flow_id', 'flow_id']] as const) {
      const values = constraintValues(query, column);
      if (values) {
        const wanted = new Set(values);
        rows = rows.filter((r) => wanted.has(r[key]));
      }
    }
    return rows;
  },
});
