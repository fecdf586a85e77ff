/**
 * Under osqueryd, the darwin process snapshot takes executable paths from core's `processes` table (proc_pidpath)
 * over the manager socket, not from ps's comm, which is argv[0] and the process's own claim. The real `outflow
 * extension` child, forced onto the darwin backend with the fake tools, against the fake manager answering that
 * query the way core does. Not run on a Mac.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { ExtensionCode, type PluginRow } from '../../extension/sdk/types.js';
import { FAKE_TOOLS_DIR, REPO_ROOT } from '../helpers/cli.js';
import { startExtension, tempDir, within, type ExtensionChild } from './harness.js';

const NETTOP = path.join(REPO_ROOT, 'extension/tables/process_network_flows/fixtures/scenario-darwin/nettop');
const SAFARI = '/Applications/Safari.app/Contents/MacOS/Safari';
const RCLONE = '/opt/homebrew/bin/rclone';
// rclone (60311) started as `exec -a <Safari's path> rclone`: ps's comm claims Safari.
const PS = [
  `60311  4419   502 Tue Mar  3 09:48:12 2026 ${SAFARI}`,
  '70001  4419   502 Tue Mar  3 09:50:01 2026 /usr/bin/curl',
  ' 4471     1   502 Tue Mar  3 07:05:59 2026 /Library/Application Support/Backup Agent/Backup Agent Helper',
  ' 4419  4400   502 Tue Mar  3 09:40:00 2026 /bin/zsh',
  '    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd',
].join('\n');
const CORE_ROWS: PluginRow[] = [
  { pid: '0', path: '' },
  { pid: '1', path: '/sbin/launchd' },
  { pid: '4419', path: '/bin/zsh' },
  { pid: '4471', path: '/Library/Application Support/Backup Agent/Backup Agent Helper' },
  { pid: '60311', path: RCLONE },
  { pid: '70001', path: '/usr/bin/curl' },
];

describe('outflow extension on darwin: process paths from osquery core', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it("a flow's process path is the kernel's, not the Safari path its argv[0] claims; the status says where paths come from", async () => {
    const dir = tempDir('kpath');
    const scenario = path.join(dir, 'scenario');
    const state = path.join(dir, 'state');
    mkdirSync(state);
    cpSync(NETTOP, path.join(scenario, 'nettop'), { recursive: true });
    writeFileSync(path.join(scenario, 'ps.txt'), `${PS}\n`);
    const config = path.join(dir, 'outflow.yaml');
    writeFileSync(config, `generate_timeout_ms: 5000\ntools:\n  dir: ${FAKE_TOOLS_DIR}\nflows:\n  sample_interval: 0.3\nprocesses:\n  sample_interval: 0.3\n`);
    const manager = await FakeManager.start(path.join(dir, 'osquery.em'));
    manager.queryHandler = (sql) =>
      sql === 'SELECT pid, path FROM processes'
        ? { status: { code: ExtensionCode.SUCCESS, message: 'OK', uuid: 0 }, response: CORE_ROWS }
        : { status: { code: ExtensionCode.FAILED, message: `unexpected query: ${sql}`, uuid: 0 }, response: [] };
    const ext: ExtensionChild = startExtension({
      socket: manager.socketPath,
      config,
      timeout: '30',
      interval: '1',
      extraEnv: { OUTFLOW_PLATFORM: 'darwin', OUTFLOW_FAKE_SCENARIO: scenario, OUTFLOW_FAKE_STATE_DIR: state },
    });
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => manager.close(), () => ext.kill());
    const reg = await within(manager.waitForExtension(40_000), 40_000, `registration (stderr: ${ext.stderr().slice(-800)})`);

    let flow: PluginRow | undefined;
    let processes: PluginRow | undefined;
    await within(
      (async () => {
        for (;;) {
          const flows = await manager.generate(reg.uuid, 'process_network_flows');
          flow = flows.response.find((r) => r.pid === '60311');
          const status = await manager.generate(reg.uuid, 'outflow_status');
          processes = status.response.find((r) => r.component === 'processes');
          if (flow && processes?.detail?.includes('osquery core')) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      })(),
      30_000,
      `a flow of 60311 and a processes status (stderr: ${ext.stderr().slice(-800)})`,
    );
    expect(flow).toMatchObject({ path: RCLONE, process_name: 'rclone' });
    expect(processes).toMatchObject({ state: 'running' });
    expect(processes!.detail).toMatch(/; paths: 5 from osquery core \(kernel\)$/);
    expect(manager.calls.some((c) => c.method === 'query' && c.args[0] === 'SELECT pid, path FROM processes')).toBe(true);
  }, 90_000);
});
