import { bigint, defineTable, integer, text } from '../../runtime/define-table.js';
import { filterByPid } from '../sensitive_file_events/table.js';

/**
 * archive_events (SPEC §2): recent archive/compression activity — archive tools exec'd with creating argv,
 * and files with archive extensions created or closed after modification. Same buffer policy as
 * sensitive_file_events.
 */
export const archiveEvents = defineTable({
  name: 'archive_events',
  description: 'Recent archive/compression activity by process (archive tool execs, archive files written), from eslogger.',
  platforms: ['darwin'],
  columns: {
    time: bigint({ description: 'event time (unix s)' }),
    pid: integer({ index: true }),
    ppid: integer(),
    uid: integer(),
    process_start: bigint(),
    path: text({ description: 'executable path of the process' }),
    tool: text({ description: 'zip|ditto|tar|gzip|bzip2|xz|zstd|7z|rar|aa|hdiutil|split|openssl|gpg|other' }),
    operation: text({ description: 'exec|create' }),
    archive_path: text(),
    args: text({ description: 'argv, capped at 1 KiB (exec only)' }),
    staging: integer({ description: '1 when the archive is under a temp, shared or hidden location' }),
  },
  generate: (ctx, query) => filterByPid(ctx.archiveEvents, ctx.clock.unix(), query, ctx.config.events.retention),
});
