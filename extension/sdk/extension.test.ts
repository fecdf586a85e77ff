import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor, OsqueryExtension, parseSecondsFlag } from './extension.js';
import { FakeManager, testExtensionOptions } from './testing/fake-manager.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sdkext-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = testExtensionOptions;

describe('parseSecondsFlag', () => {
  it.each([
    ['3', 3000],
    ['3.5', 3500],
    [' 0.2 ', 200],
    [undefined, 5000],
    ['', 5000],
    // osqueryd passes --extensions_timeout=0 / --extensions_interval=0 through; osquery floors both at 200 ms
    ['0', 200],
    ['0.05', 200],
  ])('%j → %i ms', (v, ms) => {
    expect(parseSecondsFlag(v, '--timeout', 5)).toBe(ms);
  });
  it.each(['-1', 'abc', '3s', 'NaN', '-0.5'])('rejects %j', (v) => {
    expect(() => parseSecondsFlag(v, '--timeout', 3)).toThrow(/--timeout must be a number of seconds \(0 or more\)/);
  });
});

describe('exitCodeFor', () => {
  it('is 0 for orderly stops and 1 when osqueryd should respawn us', () => {
    expect(exitCodeFor({ kind: 'shutdown_rpc' })).toBe(0);
    expect(exitCodeFor({ kind: 'signal', signal: 'SIGTERM' })).toBe(0);
    expect(exitCodeFor({ kind: 'manager_unreachable', detail: '' })).toBe(1);
    expect(exitCodeFor({ kind: 'deregistered' })).toBe(1);
  });
});

describe('OsqueryExtension (in process)', () => {
  const managers: FakeManager[] = [];
  const exts: OsqueryExtension[] = [];
  afterEach(async () => {
    for (const e of exts.splice(0)) await e.stop();
    for (const m of managers.splice(0)) await m.close();
  });

  it('takes uuid 0 from osquery (core draws 0–65535) and serves, stops and deregisters as <socket>.0', async () => {
    const m = await FakeManager.start(path.join(dir, 'u0.em'));
    managers.push(m);
    m.nextUuid = 0;
    const ext = new OsqueryExtension(options(m.socketPath));
    exts.push(ext);
    await ext.start();
    expect(ext.uuid).toBe(0);
    expect(ext.extensionSocket).toBe(`${m.socketPath}.0`);
    expect(existsSync(`${m.socketPath}.0`)).toBe(true);
    expect((await m.generate(0, 't')).response).toEqual([{ a: 'x' }]);
    await ext.stop({ kind: 'signal', signal: 'SIGTERM' });
    expect(existsSync(`${m.socketPath}.0`)).toBe(false);
    expect(m.registered.size).toBe(0);
  });

  it('retries a duplicate registration until the old instance is gone', async () => {
    const m = await FakeManager.start(path.join(dir, 'dup.em'));
    managers.push(m);
    m.registered.set(9, { uuid: 9, info: { name: 'outflow', version: 'old', sdk_version: '1.8.2', min_sdk_version: '' }, registry: {} });
    setTimeout(() => m.silentlyDeregister(9), 700);
    const ext = new OsqueryExtension(options(m.socketPath));
    exts.push(ext);
    await ext.start();
    expect(ext.uuid).not.toBe(9);
    const attempts = m.calls.filter((c) => c.method === 'registerExtension').length;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(existsSync(ext.extensionSocket)).toBe(true);
  });

  it('says why a duplicate registration that never clears is refused (two Outflows on one osqueryd)', async () => {
    const m = await FakeManager.start(path.join(dir, 'dup.em'));
    managers.push(m);
    m.registered.set(9, { uuid: 9, info: { name: 'outflow', version: 'other', sdk_version: '1.8.2', min_sdk_version: '' }, registry: {} });
    const ext = new OsqueryExtension(options(m.socketPath, { startTimeoutMs: 1500 }));
    exts.push(ext);
    await expect(ext.start()).rejects.toMatchObject({
      code: 'REGISTRATION_FAILED',
      message: 'osquery refused the extension: Duplicate extension registered (another outflow is registered with this osqueryd: listed twice in extensions.load, or started by hand?)',
    });
  });

  it('fails clearly when osquery refuses the registration', async () => {
    const m = await FakeManager.start(path.join(dir, 'old.em'));
    managers.push(m);
    const ext = new OsqueryExtension(options(m.socketPath, { sdkVersion: '1.7.6' }));
    exts.push(ext);
    await expect(ext.start()).rejects.toMatchObject({ code: 'REGISTRATION_FAILED', message: 'osquery refused the extension: Incompatible extension SDK version' });
  });

  it('exits after the second failed liveness ping in a row (SPEC §1), not after one and not after three', async () => {
    const m = await FakeManager.start(path.join(dir, 'live.em'));
    managers.push(m);
    const ext = new OsqueryExtension(options(m.socketPath, { intervalMs: 100 }));
    exts.push(ext);
    await ext.start();
    await expect.poll(() => m.calls.filter((c) => c.method === 'extensions').length, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
    m.pingFails = true;
    const from = m.calls.length;
    const reason = await ext.stopped;
    expect(reason).toMatchObject({ kind: 'manager_unreachable' });
    expect(m.calls.slice(from).filter((c) => c.method === 'ping')).toHaveLength(2);
  });

  it('a stop during the wait for the manager ends start() and resolves stopped with the reason', async () => {
    const ext = new OsqueryExtension(options(path.join(dir, 'never.em'), { startTimeoutMs: 30_000 }));
    const starting = ext.start();
    setTimeout(() => void ext.stop({ kind: 'signal', signal: 'SIGTERM' }), 200);
    await expect(starting).rejects.toMatchObject({ message: 'stopped before registration completed' });
    expect(await ext.stopped).toEqual({ kind: 'signal', signal: 'SIGTERM' });
  });
});
