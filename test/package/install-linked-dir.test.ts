/**
 * install.sh's check_dir reads the mode of each ancestor with stat, which on Linux shows every
 * symbolic link as lrwxrwxrwx, so a root-owned directory link on the way (/usr/local -> /var/usrlocal and
 * /opt -> /var/opt on rpm-ostree systems: Fedora Silverblue/CoreOS, RHEL for Edge) is refused as
 * "world-writable; osqueryd refuses extensions there". osqueryd stats through links (safePermissions), a link's own
 * mode bits grant nothing, and install.sh's check_resolved already treats them so.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

// under /root: not a sticky-bit directory, root's alone
const stage = path.join('/root', `.outflow-linked-dir-${process.pid}`);
afterAll(() => rmSync(stage, { recursive: true, force: true }));

describe.skipIf(process.getuid?.() !== 0)('install.sh and a root-owned directory link on the prefix path', () => {
  it('installs under it (the link is root\'s; its lrwxrwxrwx mode means nothing)', () => {
    const src = path.join(stage, 'pkg');
    mkdirSync(src, { recursive: true, mode: 0o755 });
    copyFileSync(path.join(REPO_ROOT, 'scripts/install.sh'), path.join(src, 'install.sh'));
    writeFileSync(path.join(src, 'outflow.ext'), `#!${process.execPath}\n`, { mode: 0o755 });
    writeFileSync(path.join(src, 'outflow'), `#!${process.execPath}\n`, { mode: 0o755 });
    chmodSync(stage, 0o755);
    const real = path.join(stage, 'var/usrlocal');
    mkdirSync(real, { recursive: true, mode: 0o755 });
    const link = path.join(stage, 'usr-local');
    symlinkSync(real, link); // root-owned, in a root-owned directory
    const r = spawnSync('sh', [path.join(src, 'install.sh'), '--prefix', path.join(link, 'outflow'), '--extensions-load', path.join(stage, 'etc/extensions.load')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(statSync(path.join(real, 'outflow/outflow.ext')).mode & 0o777).toBe(0o755);
    // a world-writable directory reached through a link is still refused
    const open = path.join(stage, 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o777);
    symlinkSync(open, path.join(stage, 'open-link'));
    const refused = spawnSync('sh', [path.join(src, 'install.sh'), '--prefix', path.join(stage, 'open-link/outflow'), '--extensions-load', path.join(stage, 'etc/extensions.load')], { encoding: 'utf8' });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('world-writable');
  });
});
