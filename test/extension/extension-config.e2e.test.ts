/**
 * The config of the autoloaded extension. osqueryd starts it with a fixed command line and shows nobody its
 * errors, so a config it cannot use must not keep it down: it runs on the defaults and its own outflow_status
 * row says which file was ignored and why (a file root cannot trust, or an invalid one).
 */
import { chownSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extensionConfig } from '../../extension/main.js';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { startExtension, tempDir, within, writeTestConfig, type ExtensionChild } from './harness.js';

async function extensionRow(configFor: (dir: string) => string): Promise<{ row: Record<string, string> | undefined; logs: Record<string, unknown>[]; config: string }> {
  const dir = tempDir('ext-config');
  const manager = await FakeManager.start(path.join(dir, 'osquery.em'));
  let ext: ExtensionChild | undefined;
  try {
    const config = configFor(dir);
    ext = startExtension({ socket: manager.socketPath, config, timeout: '20', interval: '1' });
    const reg = await within(manager.waitForExtension(40_000), 40_000, `registration (stderr: ${ext.stderr().slice(-500)})`);
    const res = await manager.generate(reg.uuid, 'outflow_status');
    return { row: res.response.find((r) => r.component === 'extension'), logs: ext.logs(), config };
  } finally {
    ext?.kill();
    await manager.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('outflow extension --config', () => {
  it('a --config naming no file is an error (CONFIG_NOT_FOUND), not a config read later', () => {
    const missing = path.join(tempDir('ext-config-missing'), 'nope.yaml');
    expect(() => extensionConfig(missing)).toThrow(expect.objectContaining({ code: 'CONFIG_NOT_FOUND', message: `cannot read config file ${missing}` }));
    expect(extensionConfig(undefined).problem).toBeUndefined();
  });

  it('names the config it runs on in its status row', async () => {
    const { row, config } = await extensionRow((dir) => writeTestConfig(dir));
    expect(row).toMatchObject({ state: 'running' });
    expect(row?.detail).toMatch(new RegExp(`; config ${config}$`));
  }, 60_000);

  it('runs on the defaults when the config is invalid, and says so (degraded, with the key and the file)', async () => {
    const { row, logs, config } = await extensionRow((dir) => {
      const file = writeTestConfig(dir);
      writeFileSync(file, 'flows:\n  sampel_interval: 1\n');
      return file;
    });
    expect(row?.state).toBe('degraded');
    expect(row?.detail).toContain(`config ${config} ignored, running on the defaults:`);
    expect(row?.detail).toContain('sampel_interval');
    expect(logs.some((l) => l.level === 50 && String(l.msg).startsWith(`config ${config} ignored`))).toBe(true);
  }, 60_000);

  it.skipIf(process.getuid?.() !== 0)('as root, ignores a config file another user could change (it would steer a root process)', async () => {
    const { row, config } = await extensionRow((dir) => {
      const file = writeTestConfig(dir);
      chownSync(file, 65534, 65534);
      return file;
    });
    expect(row?.state).toBe('degraded');
    expect(row?.detail).toContain(`config ${config} ignored, running on the defaults: root cannot trust it (${config} is owned by uid 65534, not root)`);
  }, 60_000);
});
