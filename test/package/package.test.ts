/**
 * The packaged artifact, checked the way osqueryd and an admin would: unpack the tarball, apply
 * osqueryd's autoload permission rules (written here from formats.md §8.1), run the packaged outflow.ext
 * under the manager double from a directory that has no access to the source tree or node_modules,
 * and exercise install.sh's refusal of unsafe locations.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { EXTENSION_NODE_FLAG, packageOutflow } from '../../scripts/package.js';
import { REPO_ROOT } from '../helpers/cli.js';

/** osqueryd's safePermissions for an autoloaded extension, as a list of violations. */
function autoloadViolations(file: string, runningUid: number): string[] {
  const problems: string[] = [];
  const st = statSync(file);
  const dir = statSync(path.dirname(file));
  if (!file.endsWith('.ext')) problems.push('name does not end in .ext');
  if (!st.isFile()) problems.push('not a regular file');
  if ((st.mode & 0o111) === 0) problems.push('not executable');
  if (st.uid !== 0 && st.uid !== runningUid) problems.push(`owned by uid ${st.uid}, neither root nor the osqueryd user`);
  if (st.mode & 0o002) problems.push('world-writable');
  if (dir.mode & 0o1000) problems.push('parent directory has the sticky bit');
  if (dir.mode & 0o002) problems.push('parent directory is world-writable');
  return problems;
}

// Outside the repo (no node_modules above it) and not under a sticky-bit directory such as /tmp.
const work = mkdtempSync(path.join(tmpdir(), 'outflow-pkg-'));
const stageRoot = path.join('/root', `.outflow-pkg-test-${process.pid}`);

describe('packaged outflow.ext', () => {
  let tarball: string;
  let unpacked: string;
  let manager: FakeManager | undefined;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    const res = await packageOutflow({ node: process.execPath, out: path.join(work, 'dist') });
    tarball = res.tarball;
    mkdirSync(stageRoot, { recursive: true, mode: 0o755 });
    execFileSync('tar', ['-xzf', tarball, '-C', stageRoot]);
    unpacked = path.join(stageRoot, 'outflow');
  }, 120_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await manager?.close();
    rmSync(stageRoot, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('has the tarball layout and an absolute Node interpreter on the first line', () => {
    for (const f of ['outflow.ext', 'outflow', 'lib/outflow.cjs', 'install.sh', 'README.md', 'packs/outflow.conf', 'lib/migrations/sqlite/0001_init.sql']) {
      expect(statSync(path.join(unpacked, f)).isFile(), f).toBe(true);
    }
    const first = readFileSync(path.join(unpacked, 'outflow.ext'), 'utf8').split('\n')[0] as string;
    expect(first).toBe(`#!${process.execPath} ${EXTENSION_NODE_FLAG}`);
    // The extension must not need the native SQLite module: it is shipped only for query/fleet.
    const bundle = readFileSync(path.join(unpacked, 'lib/outflow.cjs'), 'utf8');
    expect(bundle).not.toMatch(/require\(["']thrift["']\)/);
  });

  it('runs where it was built too, below a package.json that says "type": "module" (the repository\'s dist/)', () => {
    const moduleRoot = path.join(work, 'esm-root');
    mkdirSync(moduleRoot, { recursive: true });
    writeFileSync(path.join(moduleRoot, 'package.json'), '{"type":"module"}\n');
    execFileSync('tar', ['-xzf', tarball, '-C', moduleRoot]);
    const out = execFileSync(path.join(moduleRoot, 'outflow', 'outflow'), ['--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(out.trim()).toMatch(/\d+\.\d+\.\d+/);
  });

  it('passes osqueryd autoload permission rules once unpacked as root', () => {
    expect(autoloadViolations(path.join(unpacked, 'outflow.ext'), process.getuid?.() ?? 0)).toEqual([]);
  });

  it('the rule check itself rejects a file in a sticky-bit directory (/tmp)', () => {
    const probe = path.join(work, 'probe.ext');
    execFileSync('install', ['-m', '0755', path.join(unpacked, 'outflow.ext'), probe]);
    const inTmp = path.join(tmpdir(), `outflow-probe-${process.pid}.ext`);
    execFileSync('install', ['-m', '0755', probe, inTmp]);
    try {
      expect(autoloadViolations(inTmp, 0)).toContain('parent directory has the sticky bit');
    } finally {
      rmSync(inTmp, { force: true });
    }
  });

  it('registers with the manager double and answers a generate with no source tree or node_modules', async () => {
    const sockDir = mkdtempSync(path.join(work, 'sock-'));
    const socket = path.join(sockDir, 'osquery.em');
    manager = await FakeManager.start(socket);
    const cwd = mkdtempSync(path.join(work, 'cwd-'));
    child = spawn(path.join(unpacked, 'outflow.ext'), ['--socket', socket, '--timeout', '5', '--interval', '1'], {
      cwd,
      env: { PATH: '/usr/bin:/bin', OUTFLOW_PLATFORM: 'linux', HOME: cwd },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    const reg = await manager.waitForRegistration(30_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${stderr}`);
    });
    expect(reg.info.name).toBe('outflow');
    expect(Object.keys(reg.registry.table ?? {})).toContain('outflow_status');
    // Like osquery's own SDKs, the extension binds <socket>.<uuid> right after registering.
    for (let i = 0; i < 100 && !existsSync(manager.extensionSocket(reg.uuid)); i++) await new Promise((r) => setTimeout(r, 50));
    const res = await manager.generate(reg.uuid, 'outflow_status');
    expect(res.status.code, res.status.message).toBe(0);
    expect(res.response.map((r) => r.component)).toContain('extension');
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  }, 60_000);

  it('install.sh refuses a sticky-bit location and installs root-owned 0755 into a safe one', () => {
    const load = path.join(stageRoot, 'etc/extensions.load');
    const refused = (() => {
      try {
        execFileSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', path.join(tmpdir(), 'outflow-x'), '--extensions-load', load], { stdio: 'pipe' });
        return '';
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr);
      }
    })();
    expect(refused).toContain('sticky bit');

    const prefix = path.join(stageRoot, 'usr/local/outflow');
    execFileSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', prefix, '--extensions-load', load], { stdio: 'pipe' });
    execFileSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', prefix, '--extensions-load', load], { stdio: 'pipe' });
    const st = statSync(path.join(prefix, 'outflow.ext'));
    expect(st.uid).toBe(0);
    expect(st.mode & 0o777).toBe(0o755);
    const lines = readFileSync(load, 'utf8').trim().split('\n');
    expect(lines).toEqual([path.join(prefix, 'outflow.ext')]); // appended once, idempotent
    expect(autoloadViolations(path.join(prefix, 'outflow.ext'), 0)).toEqual([]);
    // another extension's line stays; moving Outflow to a new prefix replaces its line (osqueryd loads one Outflow)
    writeFileSync(load, `/opt/other/other.ext\n${path.join(prefix, 'outflow.ext')}\n`);
    const moved = path.join(stageRoot, 'opt/outflow');
    const said = execFileSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', moved, '--extensions-load', load], { encoding: 'utf8' });
    expect(said).toContain(`removed from ${load} (osqueryd loads one Outflow): ${path.join(prefix, 'outflow.ext')}`);
    expect(readFileSync(load, 'utf8')).toBe(`/opt/other/other.ext\n${path.join(moved, 'outflow.ext')}\n`);
    // osqueryd trims lines and skips comments: an old line with blanks or CRLF goes too, a comment stays
    writeFileSync(load, `# ${path.join(prefix, 'outflow.ext')}\n  ${path.join(prefix, 'outflow.ext')} \r\n/opt/other/other.ext\n${path.join(moved, 'outflow.ext')}\t\n`);
    const again = execFileSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', moved, '--extensions-load', load], { encoding: 'utf8' });
    expect(again).toContain(`removed from ${load} (osqueryd loads one Outflow): ${path.join(prefix, 'outflow.ext')}\n`);
    expect(readFileSync(load, 'utf8')).toBe(`# ${path.join(prefix, 'outflow.ext')}\n/opt/other/other.ext\n${path.join(moved, 'outflow.ext')}\n`);
  });

  it('install.sh refuses an interpreter another user can replace (it would run as root under osqueryd)', () => {
    // a copy of the package whose outflow.ext names a "node" in a directory owned by nobody (uid 65534)
    const copy = path.join(stageRoot, 'copy');
    execFileSync('cp', ['-R', unpacked, copy]);
    const userDir = path.join(stageRoot, 'home-of-nobody/bin');
    mkdirSync(userDir, { recursive: true });
    const fakeNode = path.join(userDir, 'node');
    writeFileSync(fakeNode, '#!/bin/sh\n', { mode: 0o755 });
    const ext = path.join(copy, 'outflow.ext');
    const install = () => {
      try {
        execFileSync('sh', [path.join(copy, 'install.sh'), '--prefix', path.join(stageRoot, 'usr/local/outflow-2'), '--extensions-load', path.join(stageRoot, 'etc/x.load')], { stdio: 'pipe' });
        return '';
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr);
      }
    };
    writeFileSync(ext, readFileSync(ext, 'utf8').replace(/^#!\S+/, `#!${fakeNode}`));
    chownSync(path.dirname(userDir), 65534, 65534);
    expect(install()).toMatch(/home-of-nobody is owned by uid 65534, not root/);
    chownSync(path.dirname(userDir), 0, 0);
    chmodSync(userDir, 0o775);
    chownSync(userDir, 0, 1234);
    expect(install()).toMatch(/bin is writable by group 1234/);
    chmodSync(userDir, 0o755);
    // and the real interpreter passes
    writeFileSync(ext, readFileSync(ext, 'utf8').replace(/^#!\S+/, `#!${process.execPath}`));
    expect(install()).toBe('');
    // so does a root-owned link to it (a link's own mode bits mean nothing; its directory and its target are checked)
    const link = path.join(stageRoot, 'opt-bin/node');
    mkdirSync(path.dirname(link), { recursive: true, mode: 0o755 });
    symlinkSync(process.execPath, link);
    writeFileSync(ext, readFileSync(ext, 'utf8').replace(/^#!\S+/, `#!${link}`));
    expect(install()).toBe('');
    // but not a link someone else owns, nor one whose target another user can replace
    lchownSync(link, 65534, 65534);
    expect(install()).toMatch(/opt-bin\/node is owned by uid 65534, not root/);
    rmSync(link);
    symlinkSync(fakeNode, link);
    chownSync(path.dirname(userDir), 65534, 65534);
    expect(install()).toMatch(/home-of-nobody is owned by uid 65534, not root/);
    chownSync(path.dirname(userDir), 0, 0);
    // nor a chain through a link another user owns: root's link → their link → the real Node
    const theirs = path.join(stageRoot, 'home-of-nobody/node-link');
    symlinkSync(process.execPath, theirs);
    lchownSync(theirs, 65534, 65534);
    rmSync(link);
    symlinkSync(theirs, link);
    expect(install()).toMatch(/home-of-nobody\/node-link is owned by uid 65534, not root/);
    // nor a root-owned link that lives, through a directory link, in a folder another user owns (they could re-point it)
    const nobodyBin = path.join(stageRoot, 'home-of-nobody/bin2');
    mkdirSync(nobodyBin);
    symlinkSync(process.execPath, path.join(nobodyBin, 'node'));
    chownSync(nobodyBin, 65534, 65534);
    const dirLink = path.join(stageRoot, 'opt-node-bin');
    symlinkSync(nobodyBin, dirLink);
    writeFileSync(ext, readFileSync(ext, 'utf8').replace(/^#!\S+/, `#!${path.join(dirLink, 'node')}`));
    expect(install()).toMatch(/home-of-nobody\/bin2 is owned by uid 65534, not root/);
    // nor a root-owned directory link whose target passes through another user's link (they re-point it)
    chownSync(nobodyBin, 0, 0);
    const theirLink = path.join(stageRoot, 'home-of-nobody/lnk');
    symlinkSync(path.dirname(process.execPath), theirLink);
    lchownSync(theirLink, 65534, 65534);
    const viaTheirs = path.join(stageRoot, 'opt-node-bin-2');
    symlinkSync(theirLink, viaTheirs);
    writeFileSync(ext, readFileSync(ext, 'utf8').replace(/^#!\S+/, `#!${path.join(viaTheirs, path.basename(process.execPath))}`));
    expect(install()).toMatch(/home-of-nobody\/lnk is owned by uid 65534, not root/);
    // a link loop is refused
    const loop = path.join(stageRoot, 'loop-a');
    symlinkSync(path.join(stageRoot, 'loop-b'), loop);
    symlinkSync(loop, path.join(stageRoot, 'loop-b'));
    writeFileSync(ext, readFileSync(ext, 'utf8').replace(/^#!\S+/, `#!${loop}`));
    expect(install()).toMatch(/loop-a does not exist \(the Node interpreter named in outflow.ext\)/);
    // a relative link target is followed from where the link physically lives
    writeFileSync(ext, readFileSync(ext, 'utf8').replace(/^#!\S+/, `#!${path.join(dirLink, 'node')}`));
    rmSync(path.join(nobodyBin, 'node'));
    symlinkSync(path.relative(nobodyBin, process.execPath), path.join(nobodyBin, 'node'));
    expect(install()).toBe('');
  });

  it('install.sh refuses a prefix another user could swap out, and installs --config as the root-owned outflow.yaml', () => {
    const install = (prefix: string, extra: string[] = []) => {
      try {
        return execFileSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', prefix, '--extensions-load', path.join(stageRoot, 'etc/y.load'), ...extra], { stdio: 'pipe' }).toString();
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr);
      }
    };
    // under a folder of uid 65534: they could rename the prefix and put their own lib/ beside a link to outflow.ext
    const userHome = path.join(stageRoot, 'Users/someone');
    mkdirSync(userHome, { recursive: true });
    chownSync(userHome, 65534, 65534);
    expect(install(path.join(userHome, 'outflow'))).toContain(`${userHome} is owned by uid 65534, not root: Outflow installed in ${path.join(userHome, 'outflow')} would run as root`);
    expect(existsSync(path.join(userHome, 'outflow'))).toBe(false);
    // nor through a root-owned directory link that leads into that folder (on Linux the link's lrwxrwxrwx already
    // fails osqueryd's world-writable rule; on macOS, where a link shows lrwxr-xr-x, the folder's owner does)
    const optLink = path.join(stageRoot, 'opt-link');
    symlinkSync(userHome, optLink);
    expect(install(path.join(optLink, 'outflow'))).toMatch(new RegExp(`${optLink} is world-writable|${userHome} is owned by uid 65534, not root`));
    expect(existsSync(path.join(userHome, 'outflow'))).toBe(false);

    const config = path.join(work, 'endpoint.yaml');
    writeFileSync(config, 'flows:\n  sample_interval: 7\n');
    chownSync(config, 65534, 65534);
    const prefix = path.join(stageRoot, 'usr/local/outflow-3');
    expect(install(prefix, ['--config', config])).toContain(`(config ${prefix}/outflow.yaml)`);
    const st = statSync(path.join(prefix, 'outflow.yaml'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([0, 0, 0o644]);
    expect(readFileSync(path.join(prefix, 'outflow.yaml'), 'utf8')).toBe('flows:\n  sample_interval: 7\n');
    // an upgrade without --config keeps it
    expect(install(prefix)).toContain(`(config ${prefix}/outflow.yaml)`);
  });

  it('install.sh refuses a shared prefix that holds other software (it makes everything under --prefix root\'s)', () => {
    // /usr/local on an Intel Mac with Homebrew: user-owned content under a root-owned directory
    const prefix = path.join(stageRoot, 'shared/usr-local');
    mkdirSync(path.join(prefix, 'Cellar/foo'), { recursive: true });
    writeFileSync(path.join(prefix, 'Cellar/foo/tool'), 'x');
    chownSync(path.join(prefix, 'Cellar/foo/tool'), 501, 20);
    const r = spawnSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', prefix, '--extensions-load', path.join(stageRoot, 'etc/shared.load')], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${prefix} is not empty and holds no earlier Outflow install`);
    expect(statSync(path.join(prefix, 'Cellar/foo/tool')).uid).toBe(501);
    expect(existsSync(path.join(prefix, 'outflow.ext'))).toBe(false);
    // an earlier Outflow install there is upgraded as before
    const own = path.join(stageRoot, 'shared/outflow');
    const install = () => spawnSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', own, '--extensions-load', path.join(stageRoot, 'etc/shared.load')], { encoding: 'utf8' });
    expect(install().status).toBe(0);
    expect(install().status).toBe(0);
  });

  // macOS's /usr/bin/tar is bsdtar, which has no --owner/--group (the Mac package is built on a Mac)
  it.skipIf(!existsSync('/usr/bin/bsdtar'))('packages with a BSD tar too, root-owned inside the archive', async () => {
    const bin = path.join(work, 'bsdbin');
    mkdirSync(bin, { recursive: true });
    symlinkSync('/usr/bin/bsdtar', path.join(bin, 'tar'));
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const res = await packageOutflow({ node: process.execPath, out: path.join(work, 'dist-bsd') });
      const owners = execFileSync('/usr/bin/bsdtar', ['-tvzf', res.tarball], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(/\s+/).slice(2, 4).join(' '));
      expect(new Set(owners)).toEqual(new Set(['0 0']));
    } finally {
      process.env.PATH = oldPath;
    }
  }, 120_000);

  it('install.sh warns when fleetd\'s own extensions.load is in use (osqueryd under fleetd would never read the file named)', () => {
    const orbitLoad = path.join(stageRoot, 'opt-orbit/extensions.load');
    mkdirSync(path.dirname(orbitLoad), { recursive: true });
    const run = () => spawnSync('sh', [path.join(unpacked, 'install.sh'), '--prefix', path.join(stageRoot, 'orbit-test/outflow'), '--extensions-load', path.join(stageRoot, 'etc/orbit-test.load')], { encoding: 'utf8', env: { ...process.env, OUTFLOW_ORBIT_EXTENSIONS_LOAD: orbitLoad } });
    writeFileSync(orbitLoad, '');
    expect(run().stderr).not.toContain('warning');
    writeFileSync(orbitLoad, '/opt/orbit/bin/extensions/macadmins/macos/stable/macadmins.ext\n');
    const r = run();
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`warning: ${orbitLoad} is in use (fleetd agent options list extensions)`);
  });

  it('ships the aggregator\'s systemd unit and example config (docs/deploy.md §6)', () => {
    for (const f of ['deploy/outflow-fleet.service', 'deploy/fleet.example.yml']) expect(statSync(path.join(unpacked, f)).isFile(), f).toBe(true);
  });

  it('the packaged outflow rebuilds the packs it ships from the pack source it ships, in place wherever it runs', () => {
    const out = execFileSync(path.join(unpacked, 'outflow'), ['packs', 'build', '--check', '--out', path.join(unpacked, 'packs')], { encoding: 'utf8', cwd: work, timeout: 60_000 });
    expect(out).toContain('packs are current');
    // an admin changes an interval in the installed source and rebuilds from another directory
    const copy = path.join(stageRoot, 'packs-edit');
    execFileSync('cp', ['-R', unpacked, copy]);
    const source = path.join(copy, 'packs/source');
    const file = path.join(source, 'outflow_apps.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^interval: \d+$/m, 'interval: 7200'));
    const wrote = execFileSync(path.join(copy, 'outflow'), ['packs', 'build'], { encoding: 'utf8', cwd: work, timeout: 60_000 });
    expect(wrote).toContain(`wrote ${path.join(copy, 'packs', 'outflow.conf')}`);
    expect(JSON.parse(readFileSync(path.join(copy, 'packs', 'outflow.conf'), 'utf8')).queries.outflow_apps.interval).toBe(7200);
    expect(existsSync(path.join(work, 'packs'))).toBe(false);
  });

  it('ships only what runs: no sources, build tree or tests of the native module', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter((f) => f.includes('lib/node_modules/') && !f.endsWith('/') && !f.endsWith('/LICENSE.md'));
    expect(files.some((f) => f.endsWith('build/Release/better_sqlite3.node'))).toBe(true);
    expect(files.filter((f) => /\.(a|cpp|c|h|gyp|mk|md)$|Makefile|test_extension|\/test\/|\/deps\/|\/src\//.test(f))).toEqual([]);
  });

  it('the packaged outflow doctor and query use the outflow.yaml beside them, as outflow.ext does', () => {
    const copy = path.join(stageRoot, 'cli-config');
    execFileSync('cp', ['-R', unpacked, copy]);
    const run = (args: string[]) => {
      const r = spawnSync(path.join(copy, 'outflow'), args, { cwd: copy, env: { PATH: '/usr/bin:/bin', OUTFLOW_PLATFORM: 'linux', HOME: copy }, encoding: 'utf8', timeout: 60_000 });
      return `${r.stdout}${r.stderr}`;
    };
    expect(run(['doctor'])).toMatch(/config\s+defaults \(no --config\)/);
    // a config the extension would refuse: doctor must say so, and query must not run on the defaults
    writeFileSync(path.join(copy, 'outflow.yaml'), 'flows:\n  sample_interval: fast\n');
    expect(run(['doctor'])).toMatch(/FAIL\s+config\s+.*flows\.sample_interval/);
    expect(run(['query', 'SELECT component FROM outflow_status'])).toContain('flows.sample_interval');
    writeFileSync(path.join(copy, 'outflow.yaml'), 'flows:\n  sample_interval: 5\n');
    expect(run(['doctor'])).toContain(`${path.join(copy, 'outflow.yaml')} is valid`);
    // an explicit --config still wins
    expect(run(['doctor', '--config', path.join(copy, 'missing.yaml')])).toContain('missing.yaml');
  }, 120_000);

  it('the packaged outflow doctor talks to osqueryd without a deprecation warning for the admin', async () => {
    const sockDir = mkdtempSync(path.join(work, 'sock3-'));
    const mgr = await FakeManager.start(path.join(sockDir, 'osquery.em'));
    try {
      const r = spawn(path.join(unpacked, 'outflow'), ['doctor', '--socket', mgr.socketPath], { cwd: sockDir, env: { PATH: '/usr/bin:/bin', OUTFLOW_PLATFORM: 'linux', HOME: sockDir }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      r.stdout.on('data', (d) => (out += d));
      r.stderr.on('data', (d) => (out += d));
      await new Promise((resolve) => r.once('close', resolve));
      expect(out).toContain('osquery:socket');
      expect(out).toContain('reachable');
      expect(out).not.toContain('DeprecationWarning');
    } finally {
      await mgr.close();
    }
  }, 60_000);

  it('outflow.ext runs on the outflow.yaml beside it (osqueryd passes no --config), without a deprecation warning', async () => {
    const sockDir = mkdtempSync(path.join(work, 'sock2-'));
    const socket = path.join(sockDir, 'osquery.em');
    const mgr = await FakeManager.start(socket);
    const copy = path.join(stageRoot, 'with-config');
    execFileSync('cp', ['-R', unpacked, copy]);
    writeFileSync(path.join(copy, 'outflow.yaml'), 'flows:\n  sample_interval: 5\n');
    const proc = spawn(path.join(copy, 'outflow.ext'), ['--socket', socket, '--timeout', '5', '--interval', '1'], {
      cwd: sockDir,
      env: { PATH: '/usr/bin:/bin', OUTFLOW_PLATFORM: 'linux', HOME: sockDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d) => (stderr += d));
    try {
      const reg = await mgr.waitForRegistration(30_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${stderr}`);
      });
      for (let i = 0; i < 100 && !existsSync(mgr.extensionSocket(reg.uuid)); i++) await new Promise((r) => setTimeout(r, 50));
      const res = await mgr.generate(reg.uuid, 'outflow_status');
      const self = res.response.find((r) => r.component === 'extension');
      expect(self?.state).toBe('running');
      expect(self?.detail).toContain(`; config ${path.join(copy, 'outflow.yaml')}`);
      expect(stderr).not.toContain('DeprecationWarning');
    } finally {
      proc.kill('SIGKILL');
      await mgr.close();
    }
  }, 60_000);
});

// Keep the import of REPO_ROOT honest: the package is built from this checkout.
void REPO_ROOT;
