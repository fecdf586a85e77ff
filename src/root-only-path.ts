/**
 * Whether a path that a root process trusts (the Node interpreter osqueryd runs, the extension's config file,
 * the directory it runs tools from, each tool in it) can be changed by anyone but root. Whoever can write to the
 * file, or to any directory above it, or can re-point a symbolic link on the way, can make root run or read what
 * they like.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';

/** Symbolic links followed before giving up (the kernel's own limit is 40 on Linux, 32 on macOS). */
const MAX_LINKS = 40;

export interface RootOnlyPath {
  /**
   * The path as resolved by this walk (every link followed): use it, not the given path, so a link replaced
   * after the check changes nothing. Undefined when it could not be resolved.
   */
  real: string | undefined;
  /** What lets a non-root user change it, as readable sentences; empty when only root can. */
  problems: string[];
}

/**
 * Resolves `target` one component at a time, as the kernel would, and checks every entry it meets:
 * - each directory on the way and the target itself is owned by root;
 * - none is writable by others, or by a group other than root's (gid 0); a directory above the target may be
 *   world-writable only with the sticky bit (/tmp): others may write there but cannot rename or remove the
 *   root-owned entry below it;
 * - each symbolic link met, anywhere in a chain of links, is owned by root: its owner can re-point it even in
 *   a sticky directory (its mode bits mean nothing).
 * A path that does not exist, or cannot be read, is a problem too. ACLs are not read: a directory that grants
 * another user write through an ACL passes (on macOS ACLs do not show in the mode bits).
 */
export function checkRootOnlyPath(target: string): RootOnlyPath {
  const problems: string[] = [];
  if (!target) return { real: undefined, problems: ['an empty path cannot be resolved (ENOENT)'] };
  /** Entries checked, and whether without the sticky allowance (a directory met on the way may later be the target). */
  const checked = new Map<string, boolean>();
  let links = 0;
  const problem = (text: string) => {
    if (!problems.includes(text)) problems.push(text);
  };
  /** Check one entry (not a link); `aboveTarget`: a directory on the way, which may be sticky world-writable. */
  const checkEntry = (p: string, st: Stats, aboveTarget: boolean) => {
    if (checked.get(p) === true || (checked.has(p) && aboveTarget)) return;
    checked.set(p, !aboveTarget);
    const stickyAllowed = aboveTarget && (st.mode & 0o1000) !== 0;
    if (st.uid !== 0) problem(`${p} is owned by uid ${st.uid}, not root`);
    else if (st.mode & 0o002 && !stickyAllowed) problem(`${p} is writable by every user`);
    else if (st.mode & 0o020 && st.gid !== 0 && !stickyAllowed) problem(`${p} is writable by group ${st.gid}`);
  };
  const notDir = (p: string) => Object.assign(new Error(`${p} is not a directory`), { code: 'ENOTDIR' });
  /** Components of a path; a trailing separator becomes '.', so what precedes it must be a directory. */
  const components = (p: string) => {
    const parts = p.split(path.sep).filter(Boolean);
    if (p.endsWith(path.sep) && parts.length) parts.push('.');
    return parts;
  };

  // Components still to walk, and the directory reached so far (already checked). Not path.resolve: it would
  // fold `link/..` by text, where the kernel goes to the parent of what the link names.
  const absolute = path.isAbsolute(target) ? target : `${process.cwd()}${path.sep}${target}`;
  const pending = components(absolute);
  let at = path.parse(absolute).root;
  try {
    checkEntry(at, lstatSync(at), pending.length > 0);
    while (pending.length) {
      const name = pending.shift()!;
      if (name === '.') continue;
      if (name === '..') {
        at = path.dirname(at);
        continue;
      }
      const next = path.join(at, name);
      const st = lstatSync(next);
      if (st.isSymbolicLink()) {
        if (st.uid !== 0) problems.push(`${next} is a symbolic link owned by uid ${st.uid}, not root`);
        if (++links > MAX_LINKS) return { real: undefined, problems: [...problems, `${target} has more than ${MAX_LINKS} symbolic links on its way`] };
        const to = readlinkSync(next);
        // the link's target replaces it; an absolute one starts again from the root
        pending.unshift(...components(to));
        if (path.isAbsolute(to)) {
          at = path.parse(to).root;
          checkEntry(at, lstatSync(at), pending.length > 0);
        }
        continue;
      }
      // anything after it ('.', '..' and a trailing separator too) needs a directory, as the kernel says
      if (pending.length && !st.isDirectory()) throw notDir(next);
      checkEntry(next, st, pending.length > 0);
      at = next;
    }
    // what the walk ends on is the target, however it was reached (`dir/.`, `dir/sub/..`, a link to a directory
    // already met on the way): no sticky allowance for it
    checkEntry(at, lstatSync(at), false);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { real: undefined, problems: [...problems, `${target} cannot be resolved (${code})`] };
  }
  return { real: at, problems };
}

/** checkRootOnlyPath's problems only (for callers that only report). */
export function rootOnlyPathProblems(target: string): string[] {
  return checkRootOnlyPath(target).problems;
}

/** True when the process runs as root (always false where there are no uids). */
export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}
