import { constraintValues } from '../../sdk/query-context.js';
import { bigint, defineTable, integer, text } from '../../runtime/define-table.js';
import type { RingBuffer } from '../../runtime/ring-buffer.js';

/**
 * sensitive_file_events (SPEC §2): recent access to sensitive paths, from the eslogger collector's ring
 * buffer (events.retention / events.max_events). A pure view: prunes by age, never waits on eslogger.
 */
export const sensitiveFileEvents = defineTable({
  name: 'sensitive_file_events',
  description: 'Recent access to sensitive paths (credential stores, user data) by process, from eslogger.',
  platforms: ['darwin'],
  columns: {
    time: bigint({ description: 'event time (unix s)' }),
    pid: integer({ index: true }),
    ppid: integer(),
    uid: integer(),
    process_start: bigint(),
    path: text({ description: 'executable path of the accessing process' }),
    signing_id: text(),
    team_id: text(),
    platform_binary: integer(),
    operation: text({ description: 'open|create|write|rename|close_modified' }),
    file_path: text(),
    category: text(),
    tier: integer({ description: '1 credential stores, 2 user data' }),
  },
  generate: (ctx, query) => filterByPid(ctx.sensitiveEvents, ctx.clock.unix(), query),
});

/** Rows of a ring buffer after pruning, narrowed by a pushed `pid =` constraint (SQLite re-filters anyway). */
export function filterByPid<T extends { pid: number }>(buffer: RingBuffer<T>, now: number, query: Parameters<typeof constraintValues>[0]): T[] {
  buffer.prune(now);
  const pids = constraintValues(query, 'pid', { allowed: /^\d+$/ });
  if (!pids) return buffer.toArray();
  const wanted = new Set(pids.map(Number));
  const out: T[] = [];
  for (const row of buffer) if (wanted.has(row.pid)) out.push(row);
  return out;
}
