/**
 * Package ownership of files on Linux (`code_signing` signature_class `package`).
 * Pure parsers for `dpkg-query -S PATH…` and `rpm -qf --queryformat '%{NAME}\n' PATH…`.
 */

export interface PackageOwners {
  /** path → owning package names (architecture qualifier stripped), first owner first. */
  owners: Map<string, string[]>;
  skipped: number;
}

/**
 * `dpkg-query -S` prints `pkg[:arch][, pkg2…]: /path` per owned path on stdout and
 * `dpkg-query: no path found matching pattern /path` on stderr for the rest (exit 1 if any).
 * `diversion by … from|to: /path` lines are not ownership.
 */
export function parseDpkgQueryS(stdout: string): PackageOwners {
  const owners = new Map<string, string[]>();
  let skipped = 0;
  for (const raw of stdout.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) continue;
    const sep = line.indexOf(': /');
    if (sep <= 0 || line.startsWith('diversion by ') || line.startsWith('dpkg-query:')) {
      skipped++;
      continue;
    }
    const path = line.slice(sep + 2);
    const names = line
      .slice(0, sep)
      .split(',')
      .map((n) => n.trim().replace(/:[a-z0-9_-]+$/i, ''))
      .filter((n) => /^[a-z0-9][a-z0-9+.-]*$/i.test(n));
    if (!names.length) {
      skipped++;
      continue;
    }
    const prev = owners.get(path) ?? [];
    for (const n of names) if (!prev.includes(n)) prev.push(n);
    owners.set(path, prev);
  }
  return { owners, skipped };
}

/** An rpm -qf line that answers "no owner" (the file is no package's, or missing). */
const rpmNoOwner = (line: string) => / is not owned by any package$/.test(line) || line.startsWith('error:');
/** What an rpm package name may look like; anything else in its place is skipped. */
const RPM_NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]*$/;

/**
 * `rpm -qf --queryformat '%{NAME}\n' P1 P2…` prints one line per path on stdout, in argument order:
 * the package name or `file P is not owned by any package`. Missing files print `error: file P: …` on
 * stderr instead, which shifts the order, and a file two packages own prints two lines — callers pass one path
 * when they cannot trust the alignment. The line count alone cannot tell: one file owned twice and one missing
 * file add up to one line per path, so an `error: file …` line on stderr also means the order is not to be trusted.
 */
export function parseRpmQf(stdout: string, paths: readonly string[], stderr: string): PackageOwners & { aligned: boolean } {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const owners = new Map<string, string[]>();
  // only a missing file's error leaves a path without its line (an rpmdb warning such as `error: rpmdbNextIterator: …`
  // does not), and one path alone cannot be misaligned
  const missing = paths.length > 1 && /^\s*error: file /m.test(stderr);
  if (paths.length === 1) {
    // one path cannot be misaligned: every owner line is one of its owners (a file two packages own prints two)
    const answers = lines.filter((l) => !rpmNoOwner(l));
    const names = answers.filter((l) => RPM_NAME.test(l));
    if (names.length) owners.set(paths[0]!, [...new Set(names)]);
    return { owners, skipped: answers.length - names.length, aligned: true };
  }
  if (lines.length !== paths.length || missing) return { owners, skipped: lines.length, aligned: false };
  let skipped = 0;
  lines.forEach((line, i) => {
    if (rpmNoOwner(line)) return;
    if (!RPM_NAME.test(line)) {
      skipped++;
      return;
    }
    owners.set(paths[i]!, [line]);
  });
  return { owners, skipped, aligned: true };
}

/**
 * usrmerge: /usr/bin/ps on disk is registered by its package as /bin/ps (and /usr/lib/… as /lib/…).
 * The names under which a package database may know a path, most likely first.
 */
export function packageDbAliases(path: string): string[] {
  const m = /^\/usr\/(bin|sbin|lib|lib32|lib64|libx32)\/(.*)$/.exec(path);
  if (m) return [path, `/${m[1]}/${m[2]}`];
  const n = /^\/(bin|sbin|lib|lib32|lib64|libx32)\/(.*)$/.exec(path);
  if (n) return [path, `/usr/${n[1]}/${n[2]}`];
  return [path];
}
