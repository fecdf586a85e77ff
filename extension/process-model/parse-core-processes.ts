/**
 * Executable paths from osquery core's `processes` table (`SELECT pid, path FROM processes`), as the manager's
 * `query` call returns them: one map of strings per row. On macOS core fills `path` with `proc_pidpath`, the
 * kernel's record of the image the process runs (empty for zombies and processes it may not inspect), unlike
 * `ps`'s comm, which is argv[0] and the process's own choice (docs/flows.md "A ps path is a claim").
 */

/** MAXPATHLEN on macOS: a "path" longer than this is not an executable path. */
export const MAX_EXEC_PATH = 1024;

/** The query the process snapshot runs in osquery core. Only these two columns: core computes no others. */
export const CORE_PROCESS_PATHS_SQL = 'SELECT pid, path FROM processes';

export interface CoreProcessPaths {
  /** pid → executable path, for rows with a usable path. */
  paths: Map<number, string>;
  /** Rows with a path that cannot be one (not absolute, longer than MAXPATHLEN, a NUL) or no valid pid. */
  rejected: number;
  /** Rows core answered with no path (zombies, kernel_task, processes it could not inspect). */
  empty: number;
}

const PID = /^(?:0|[1-9][0-9]{0,9})$/;

/** Never throws: a row that is not a (pid, absolute path) pair is counted, never believed. */
export function parseCoreProcessPaths(rows: readonly Record<string, string | undefined>[]): CoreProcessPaths {
  const paths = new Map<number, string>();
  const twice = new Set<number>();
  let rejected = 0;
  let empty = 0;
  for (const row of rows) {
    const pidText = row.pid;
    const path = row.path;
    if (typeof pidText !== 'string' || !PID.test(pidText) || typeof path !== 'string') {
      rejected++;
      continue;
    }
    const pid = Number(pidText);
    if (pid > 0x7fffffff) {
      rejected++;
      continue;
    }
    // pid 0 is kernel_task (core lists it with an empty path); never a process the model holds.
    if (path === '' || pid === 0) {
      empty++;
      continue;
    }
    if (path[0] !== '/' || path.length > MAX_EXEC_PATH || path.includes('\0')) {
      rejected++;
      continue;
    }
    // One process per pid at a time: two rows for a pid cannot both be right, so neither is believed.
    if (twice.has(pid)) {
      rejected++;
      continue;
    }
    if (paths.has(pid)) {
      paths.delete(pid);
      twice.add(pid);
      rejected += 2;
      continue;
    }
    paths.set(pid, path);
  }
  return { paths, rejected, empty };
}
