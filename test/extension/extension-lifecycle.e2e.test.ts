/**
 * Lifecycle of the real `outflow extension` process (formats.md §1.5): late manager socket, start-up
 * timeout, exit 0 on shutdown()/SIGTERM within 2 s, non-zero exit on manager death and silent
 * deregistration — our socket removed every time.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeManager, type RegisteredExtension } from '../../extension/sdk/testing/fake-manager.js';
import { startExtension, tempDir, within, writeTestConfig, type ExtensionChild } from './harness.js';
import { REPO_ROOT } from '../helpers/cli.js';

const REGISTER_WITHIN_MS = 40_000;

describe('outflow extension lifecycle', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function launch(opts: { interval?: string; timeout?: string; managerLate?: boolean } = {}): Promise<{ manager: FakeManager; ext: ExtensionChild; reg: RegisteredExtension; dir: string }> {
    const dir = tempDir('life');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = path.join(dir, 'osquery.em');
    let manager: FakeManager | undefined;
    if (!opts.managerLate) manager = await FakeManager.start(socket);
    const ext = startExtension({ socket, config: writeTestConfig(dir), timeout: opts.timeout ?? '30', interval: opts.interval ?? '0.3' });
    cleanup.push(() => ext.kill());
    if (opts.managerLate) {
      // The socket appears only after the extension started: it must keep retrying within --timeout.
      await new Promise((r) => setTimeout(r, 1500));
      manager = await FakeManager.start(socket);
    }
    const m = manager as FakeManager;
    cleanup.push(() => m.close());
    const reg = await within(m.waitForExtension(REGISTER_WITHIN_MS), REGISTER_WITHIN_MS, `registration (stderr: ${ext.stderr().slice(-800)})`);
    return { manager: m, ext, reg, dir };
  }

  it('waits for a manager socket that appears late, then exits 0 within 2 s of SIGTERM, deregistered and socket removed', async () => {
    const { manager, ext, reg } = await launch({ managerLate: true });
    const sock = manager.extensionSocket(reg.uuid);
    expect(existsSync(sock)).toBe(true);
    const sent = Date.now();
    ext.child.kill('SIGTERM');
    const exit = await within(ext.exited, 10_000, 'exit after SIGTERM');
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThanOrEqual(2000);
    expect(existsSync(sock)).toBe(false);
    expect(manager.calls.some((c) => c.method === 'deregisterExtension' && c.args[0] === reg.uuid)).toBe(true);
    expect(manager.registered.size).toBe(0);
    expect(ext.stdout()).toBe('');
  });

  it('exits 0 within 2 s of shutdown() and removes its socket', async () => {
    const { manager, ext, reg } = await launch();
    const sock = manager.extensionSocket(reg.uuid);
    const sent = Date.now();
    await manager.shutdownExtension(reg.uuid);
    const exit = await within(ext.exited, 10_000, 'exit after shutdown()');
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThanOrEqual(2000);
    expect(existsSync(sock)).toBe(false);
    expect(ext.logs().some((l) => l.msg === 'shutdown requested by osquery')).toBe(true);
  });

  it('exits non-zero when the manager dies (two failed pings) and removes its socket', async () => {
    const { manager, ext, reg } = await launch({ interval: '0.3' });
    const sock = manager.extensionSocket(reg.uuid);
    // Liveness pings reach the manager before it dies.
    await within(
      new Promise<void>((resolve) => manager.on('call', (c: { method: string }) => c.method === 'ping' && resolve())),
      10_000,
      'a liveness ping',
    );
    await manager.die();
    const exit = await within(ext.exited, 15_000, 'exit after manager death');
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(existsSync(sock)).toBe(false);
    const failures = ext.logs().filter((l) => l.msg === 'manager liveness check failed');
    expect(failures.map((l) => l.failures)).toEqual([1, 2]);
  });

  it('exits non-zero when silently deregistered (extensions() no longer lists our uuid)', async () => {
    const { manager, ext, reg } = await launch({ interval: '0.3' });
    const sock = manager.extensionSocket(reg.uuid);
    manager.silentlyDeregister(reg.uuid);
    const exit = await within(ext.exited, 15_000, 'exit after silent deregistration');
    expect(exit.code).toBe(1);
    expect(existsSync(sock)).toBe(false);
    expect(ext.logs().some((l) => /no longer lists this extension/.test(String(l.msg)))).toBe(true);
  });

  it('gives up after --timeout when no manager ever answers (fractional seconds accepted)', async () => {
    const dir = tempDir('life');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const ext = startExtension({ socket: path.join(dir, 'absent.em'), config: writeTestConfig(dir), timeout: '0.5' });
    cleanup.push(() => ext.kill());
    const exit = await within(ext.exited, 40_000, 'exit without a manager');
    expect(exit.code).toBe(1);
    expect(ext.stderr()).toMatch(/absent\.em did not answer within 500 ms/);
    expect(ext.stdout()).toBe('');
  });

  it('gives up at once, saying whom to run as, when the manager socket is not ours to open (not after --timeout)', async () => {
    const dir = tempDir('life');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    // a root-owned socket nobody may write (osqueryd's is 0600), and the extension as uid 65534
    const socket = path.join(dir, 'root.em');
    const server = net.createServer().listen(socket);
    await new Promise((r) => server.once('listening', r));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    chmodSync(dir, 0o755);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cli/main.ts'), 'extension', '--socket', socket, '--timeout', '30'], {
      cwd: REPO_ROOT,
      uid: 65534,
      gid: 65534,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, OUTFLOW_PLATFORM: 'linux' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const started = Date.now();
    const code = await within(new Promise<number | null>((r) => child.once('exit', r)), 25_000, 'exit on EACCES');
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(stderr).toContain(`osquery extension manager at ${socket} refused us (EACCES): run the extension as the user osqueryd runs as (root)`);
  });

  it('rejects a malformed --interval with a clear message', async () => {
    const dir = tempDir('life');
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const ext = startExtension({ socket: path.join(dir, 'x.em'), config: writeTestConfig(dir), interval: 'soon' });
    cleanup.push(() => ext.kill());
    const exit = await within(ext.exited, 40_000, 'exit on bad flag');
    expect(exit.code).toBe(2);
    expect(ext.stderr().trim()).toBe('outflow: --interval must be a number of seconds (0 or more), got "soon" (osqueryd passes seconds, e.g. --timeout 3 --interval 3)');
  });
});
