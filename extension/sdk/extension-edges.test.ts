/**
 * Edges of the extension's life with osqueryd: a socket it cannot serve after registering, a
 * socket path longer than Unix allows, an --extensions_interval past what a timer takes, a malformed manager reply.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OsqueryExtension, parseSecondsFlag } from './extension.js';
import { FakeManager, testExtensionOptions } from './testing/fake-manager.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'ext-edges-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = testExtensionOptions;

describe('OsqueryExtension lifecycle edges', () => {
  const managers: FakeManager[] = [];
  const exts: OsqueryExtension[] = [];
  afterEach(async () => {
    for (const e of exts.splice(0)) await e.stop();
    for (const m of managers.splice(0)) await m.close();
  });

  it('does not leave its registration behind when it cannot serve <socket>.<uuid>', async () => {
    const m = await FakeManager.start(path.join(dir, 'bind.em'));
    managers.push(m);
    m.nextUuid = 4242;
    // Something osquery did not clean up sits at <socket>.<uuid> and cannot be unlinked (a directory here).
    mkdirSync(`${m.socketPath}.4242`);
    const ext = new OsqueryExtension(options(m.socketPath));
    exts.push(ext);
    await expect(ext.start()).rejects.toThrow();
    // The host (extension/main.ts) then stops with manager_unreachable; the registration must not outlive us,
    // or the respawned instance is refused as "Duplicate extension registered".
    await ext.stop({ kind: 'manager_unreachable', detail: 'start failed' });
    expect([...m.registered.keys()]).toEqual([]);
  });

  it('never serves on a silently truncated <socket>.<uuid> (Unix socket path limit) nor leaves it behind', async () => {
    // Linux sun_path holds 107 characters, macOS 103 (formats.md §1.5: osquery-go refuses manager paths > 97).
    const sub = mkdtempSync(path.join(dir, 'l'));
    const socket = path.join(sub, 'm'.repeat(103 - sub.length - 1 - 3) + '.em');
    expect(socket.length).toBe(103);
    const m = await FakeManager.start(socket);
    managers.push(m);
    m.nextUuid = 12345; // <socket>.12345 is 109 characters
    const ext = new OsqueryExtension(options(socket));
    exts.push(ext);
    let started = true;
    await ext.start().catch(() => (started = false));
    // Started: osquery checks and connects to exactly <socket>.<uuid>. Refused: nothing was bound.
    const whileRunning = { started, exactPathExists: existsSync(ext.extensionSocket), files: readdirSync(sub).sort() };
    expect(whileRunning).toEqual(
      started
        ? { started, exactPathExists: true, files: [path.basename(socket), path.basename(ext.extensionSocket)].sort() }
        : { started, exactPathExists: false, files: [path.basename(socket)] },
    );
    await ext.stop({ kind: 'signal', signal: 'SIGTERM' });
    expect(readdirSync(sub)).toEqual([path.basename(socket)]);
  });

  it('keeps pinging at --interval when osqueryd passes a large --extensions_interval', async () => {
    const m = await FakeManager.start(path.join(dir, 'big-interval.em'));
    managers.push(m);
    // --extensions_interval 2500000 (about 29 days): a valid number of seconds.
    const intervalMs = parseSecondsFlag('2500000', '--interval', 3);
    const ext = new OsqueryExtension(options(m.socketPath, { intervalMs }));
    exts.push(ext);
    await ext.start();
    const before = m.calls.filter((c) => c.method === 'ping').length;
    await new Promise((r) => setTimeout(r, 500));
    const pings = m.calls.filter((c) => c.method === 'ping').length - before;
    expect(pings).toBe(0);
  });
});

describe('reply decoding (coreQuery / ExtensionManagerClient.query)', () => {
  it('rejects a malformed manager reply (negative length in a skipped string field) instead of spinning forever', () => {
    const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing/core-query-malformed-reply.ts');
    const run = spawnSync(process.execPath, ['--import', 'tsx', fixture, path.join(dir, 'malformed.em')], { encoding: 'utf8', timeout: 8000 });
    // A wedged event loop: the 1 s RPC timeout never fires, nor would a SIGTERM handler.
    expect({ signal: run.signal, stdout: run.stdout.trim() }).toEqual({ signal: null, stdout: expect.stringMatching(/^rejected: /) });
  }, 15_000);
});
