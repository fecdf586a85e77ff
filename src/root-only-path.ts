/**
 * Whether a path that a root process trusts (the Node interpreter osqueryd runs, the extension's config file,
 * the directory it runs tools from) can be changed by anyone but root. Whoever can write to the file, or to any
 * directory above it, can make root run or read what they like.
 */
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

/**
 * What lets a non-root user change `target`, as readable sentences; empty when only root can. Checked on the
 * path as given and on its real path (symlinks resolved):
 * - every entry on the way (the target and each directory above it) is owned by root;
 * - none is writable by others, or by a group other than root's (gid 0);
 * - except a directory above the target with the sticky bit (/tmp): others may write there, but cannot rename
 *   or remove the root-owned entry below it.
 * - a symbolic link on the way is owned by root too: its owner can replace it even in a sticky directory such as
 *   /tmp (its mode bits mean nothing).
 * A path that does not exist is reported as such. Callers then use the real path they checked (realpathSync),
 * so a link on the given path swapped afterwards changes nothing.
 */
export function rootOnlyPathProblems(target: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  let real: string;
  try {
    real = realpathSync(target);
  } catch (err) {
    return [`${target} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)})`];
  }
  for (const start of [path.resolve(target), real]) {
    let below: string | undefined;
    for (let p = start; ; p = path.dirname(p)) {
      if (!seen.has(p)) {
        seen.add(p);
        let st: Stats | undefined;
        try {
          st = lstatSync(p);
        } catch (err) {
          problems.push(`${p} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
        if (st?.isSymbolicLink()) {
          if (st.uid !== 0) problems.push(`${p} is a symbolic link owned by uid ${st.uid}, not root`);
        } else if (st) {
          const stickyAbove = below !== undefined && (st.mode & 0o1000) !== 0;
          if (st.uid !== 0) problems.push(`${p} is owned by uid ${st.uid}, not root`);
          else if (st.mode & 0o002 && !stickyAbove) problems.push(`${p} is writable by every user`);
          else if (st.mode & 0o020 && st.gid !== 0 && !stickyAbove) problems.push(`${p} is writable by group ${st.gid}`);
        }
      }
      if (p === path.dirname(p)) break;
      below = p;
    }
  }
  return problems;
}

/** True when the process runs as root (always false where there are no uids). */
export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Modes of what the fleet aggregator creates (store, quarantine, detection files, webhook spool): they hold
 * every Mac's process paths, hostnames and destinations. Readable by the owner's group (a log shipper), never
 * by everyone; the systemd unit's UMask=0027 says the same for anything else.
 */
export const PRIVATE_FILE_MODE = 0o640;
export const PRIVATE_DIR_MODE = 0o750;
