import { constraintIntegers, constraintValues } from '../../sdk/query-context.js';
import { bigint, defineTable, integer, text } from '../../runtime/define-table.js';
import type { EventRing } from '../../runtime/ring-buffer.js';

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
  generate: (ctx, query) => filterByPid(ctx.sensitiveEvents, ctx.clock.unix(), query, ctx.config.events.retention),
});

/** Rows of a ring buffer after pruning, narrowed by a pushed `pid =` constraint (SQLite re-filters anyway). */
export function filterByPid<T extends { pid: number; time: number }>(buffer: EventRing<T>, now: number, query: Parameters<typeof constraintValues>[0], maxAgeSeconds: number): T[] {
  buffer.prune(now);
  // the table shows `events.retention`; tier-1 reads are kept longer for correlation only
  const since = now - maxAgeSeconds;
  const pids = constraintIntegers(query, 'pid');
  const wanted = pids ? new Set(pids) : null;
  const out: T[] = [];
  for (const row of buffer) if (row.time >= since && (!wanted || wanted.has(row.pid))) out.push(row);
  return out;
}
