import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRootOnlyPath, rootOnlyPathProblems, runningAsRoot } from './root-only-path.js';

// Ownership can only be handed to another user by root: the checks that need it run as root (CI does).
describe.skipIf(!runningAsRoot())('rootOnlyPathProblems', () => {
  // Below /tmp (sticky, world-writable): a root-owned 0700 directory there is still root's alone.
  const base = mkdtempSync(path.join(tmpdir(), 'root-only-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const fresh = () => {
    const d = path.join(base, `case-${n++}`);
    mkdirSync(d, { mode: 0o755 });
    chmodSync(d, 0o755);
    return d;
  };

  it('accepts a root-owned file in root-owned directories, with a sticky world-writable /tmp above them', () => {
    const d = fresh();
    writeFileSync(path.join(d, 'outflow.yaml'), 'x: 1\n', { mode: 0o644 });
    expect(rootOnlyPathProblems(path.join(d, 'outflow.yaml'))).toEqual([]);
    expect(rootOnlyPathProblems(d)).toEqual([]);
  });

  it('names a file or directory owned by another user, or writable by others or a non-root group', () => {
    const d = fresh();
    const file = path.join(d, 'outflow.yaml');
    writeFileSync(file, 'x: 1\n');
    chownSync(file, 501, 0);
    expect(rootOnlyPathProblems(file)).toEqual([`${file} is owned by uid 501, not root`]);
    chownSync(file, 0, 0);
    chmodSync(file, 0o646);
    expect(rootOnlyPathProblems(file)).toEqual([`${file} is writable by every user`]);
    chmodSync(file, 0o664);
    chownSync(file, 0, 20);
    expect(rootOnlyPathProblems(file)).toEqual([`${file} is writable by group 20`]);
    chownSync(file, 0, 0);
    expect(rootOnlyPathProblems(file)).toEqual([]);
    // the directory above: whoever can write there can replace the file
    chownSync(d, 501, 0);
    expect(rootOnlyPathProblems(file)).toEqual([`${d} is owned by uid 501, not root`]);
  });

  it('gives the target itself no sticky-bit exception: others could add files to a sticky tools directory', () => {
    const d = fresh();
    chmodSync(d, 0o1777);
    expect(rootOnlyPathProblems(d)).toEqual([`${d} is writable by every user`]);
    writeFileSync(path.join(d, 'nettop'), '#!/bin/sh\n', { mode: 0o755 });
    expect(rootOnlyPathProblems(path.join(d, 'nettop'))).toEqual([]);
  });

  it('names a symbolic link another user owns: its owner may replace it even in a sticky directory', () => {
    const d = fresh();
    const link = path.join(base, `theirs-${n++}`); // base is a 0700 dir in sticky /tmp; the case is the link's owner
    symlinkSync(d, link);
    expect(rootOnlyPathProblems(link)).toEqual([]);
    lchownSync(link, 501, 501);
    expect(rootOnlyPathProblems(link)).toEqual([`${link} is a symbolic link owned by uid 501, not root`]);
  });

  it('checks every link of a chain, not only the first and the last, and returns the path it walked', () => {
    const d = fresh();
    writeFileSync(path.join(d, 'ps'), '#!/bin/sh\n', { mode: 0o755 });
    // root's link → another user's link in the sticky base → root's file: the middle one can be re-pointed
    const hop = path.join(base, `hop-${n++}`);
    symlinkSync(path.join(d, 'ps'), hop);
    lchownSync(hop, 501, 501);
    const entry = path.join(fresh(), 'ps');
    symlinkSync(hop, entry);
    expect(checkRootOnlyPath(entry)).toEqual({ real: path.join(d, 'ps'), problems: [`${hop} is a symbolic link owned by uid 501, not root`] });
    lchownSync(hop, 0, 0);
    expect(checkRootOnlyPath(entry)).toEqual({ real: path.join(d, 'ps'), problems: [] });
    // `..` after a link goes to the parent of what the link names, as the kernel does
    const sub = path.join(d, 'sub');
    mkdirSync(sub, { mode: 0o755 });
    const toSub = path.join(fresh(), 'to-sub');
    symlinkSync(sub, toSub);
    expect(checkRootOnlyPath(`${toSub}/../ps`).real).toBe(path.join(d, 'ps'));
  });

  it('a sticky world-writable directory is never accepted as the target, however the walk ends on it', () => {
    const sticky = fresh();
    chmodSync(sticky, 0o1777);
    const sub = path.join(sticky, 'sub');
    mkdirSync(sub, { mode: 0o755 });
    const self = path.join(sticky, 'self');
    symlinkSync(sticky, self);
    const viaLink = path.join(fresh(), 'tools');
    symlinkSync(`${sticky}/.`, viaLink);
    for (const p of [sticky, `${sticky}/.`, `${sub}/..`, self, viaLink]) {
      expect(checkRootOnlyPath(p)).toEqual({ real: sticky, problems: [`${sticky} is writable by every user`] });
    }
  });

  it('a file followed by `/`, `.` or `..` does not resolve (ENOTDIR), as the kernel says', () => {
    const d = fresh();
    const f = path.join(d, 'ps');
    writeFileSync(f, '#!/bin/sh\n', { mode: 0o755 });
    const link = path.join(d, 'to-ps');
    symlinkSync(f, link);
    for (const p of [`${f}/`, `${f}/.`, `${f}/..`, `${link}/`, `${link}/..`]) {
      expect(checkRootOnlyPath(p)).toEqual({ real: undefined, problems: [`${p} cannot be resolved (ENOTDIR)`] });
    }
  });

  it('follows symbolic links: the real path is checked too', () => {
    const d = fresh();
    const userDir = fresh();
    chownSync(userDir, 501, 0);
    const link = path.join(d, 'tools');
    symlinkSync(userDir, link);
    expect(rootOnlyPathProblems(link)).toEqual([`${userDir} is owned by uid 501, not root`]);
  });

  it('reports a path that does not exist', () => {
    const missing = path.join(fresh(), 'missing.yaml');
    expect(rootOnlyPathProblems(missing)).toEqual([`${missing} cannot be resolved (ENOENT)`]);
  });
});
