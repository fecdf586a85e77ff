/**
 * What doctor says on an endpoint:
 * 1. eslogger's Full Disk Access is judged by TCC on the responsible process. `sudo outflow doctor` typed in
 *    Terminal (or over ssh) runs eslogger as Terminal's (sshd's) responsibility, not osqueryd's or orbit's, so its
 *    local probe says nothing about the extension's grant. The extension's own outflow_status row, read through
 *    osqueryd, does: doctor must report it and must not fail on (or pass with) the local session's grant alone.
 * 2. The packaged `outflow doctor` always runs with --config <prefix>/outflow.yaml (the endpoint config). An endpoint
 *    config names no fleet.store: doctor must not warn that ./outflow.db is missing nor advise creating a fleet store
 *    on the Mac, as it already does not without --config.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { fakeDarwinEnv, REPO_ROOT, runOutflow } from '../helpers/cli.js';

interface Check {
  name: string;
  status: 'ok' | 'fail' | 'warn' | 'skip';
  required: boolean;
  detail: string;
  fix?: string;
}

async function doctor(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Map<string, Check>> {
  const res = await runOutflow(['doctor', '--json', ...args], { env, timeoutMs: 60_000, ...(cwd ? { cwd } : {}) });
  const parsed = JSON.parse(res.stdout) as { checks: Check[] };
  return new Map(parsed.checks.map((c) => [c.name, c]));
}

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-doctor-endpoint-'));
const scenario = path.join(REPO_ROOT, 'extension/tables/process_network_flows/fixtures/scenario-darwin');

describe('doctor: eslogger permission is the extension\'s, under osqueryd', () => {
  let manager: FakeManager;
  let eslogger: { state: string; detail: string };
  beforeAll(async () => {
    manager = await FakeManager.start(path.join(dir, 'osquery.em'));
    // Outflow registered with osqueryd
    manager.registered.set(7, { uuid: 7, info: { name: 'outflow', version: '0.1.0', sdk_version: '5.0.0', min_sdk_version: '0.0.0' }, registry: {} } as never);
    manager.queryHandler = (sql) =>
      sql.includes('outflow_status')
        ? { status: { code: 0, message: 'OK', uuid: 0 }, response: [{ component: 'eslogger', ...eslogger }] }
        : { status: { code: 1, message: 'not scripted', uuid: 0 }, response: [] };
  });
  afterAll(async () => {
    await manager.close();
  });

  it('fails when the extension under osqueryd is refused, though eslogger runs from this shell (Terminal has Full Disk Access)', async () => {
    eslogger = { state: 'permission_denied', detail: 'eslogger is not permitted (ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED): grant Full Disk Access …' };
    const checks = await doctor(['--socket', manager.socketPath], fakeDarwinEnv(scenario, mkdtempSync(path.join(dir, 's-')), { OUTFLOW_FAKE_ESLOGGER_IDLE: '1' }));
    expect(checks.get('osquery:eslogger')).toMatchObject({ status: 'fail', required: true, detail: expect.stringContaining('permission_denied') });
    // the local probe may pass, but must not present itself as the extension's grant
    expect(checks.get('eslogger:permission')?.detail).toMatch(/not osqueryd/);
  }, 90_000);

  it('does not fail when only this shell lacks Full Disk Access and the extension under osqueryd runs eslogger', async () => {
    eslogger = { state: 'running', detail: '12345 events' };
    const checks = await doctor(['--socket', manager.socketPath], fakeDarwinEnv(scenario, mkdtempSync(path.join(dir, 's-')), { OUTFLOW_FAKE_ESLOGGER_DENY: 'not_permitted' }));
    expect(checks.get('osquery:eslogger')).toMatchObject({ status: 'ok' });
    const local = checks.get('eslogger:permission');
    expect(local?.required && local.status === 'fail').toBe(false);
  }, 90_000);
});

describe('doctor: an endpoint config (no fleet.store) is no fleet store to create', () => {
  it('skips the store check as it does without --config', async () => {
    const here = mkdtempSync(path.join(dir, 'cwd-'));
    const cfg = path.join(dir, 'outflow.yaml');
    writeFileSync(cfg, 'flows:\n  sample_interval: 5\n');
    const checks = await doctor(['--config', cfg], { ...process.env, OUTFLOW_PLATFORM: 'linux' }, here);
    expect(checks.get('fleet:store')).toMatchObject({ status: 'skip', required: false });
    expect(checks.get('fleet:store')?.fix ?? '').not.toMatch(/^run `outflow fleet migrate/);
  }, 60_000);
});

describe('doctor: the extensions.load Outflow was installed into must still list it', () => {
  it('does not pass osquery:autoload when osqueryd reads that file but it no longer lists an outflow.ext', async () => {
    const manager = await FakeManager.start(path.join(mkdtempSync(path.join(dir, 'm-')), 'osquery.em'));
    const load = path.join(dir, 'managed-extensions.load');
    // config management (or another installer) rewrote the file without Outflow's line
    writeFileSync(load, '/usr/local/osquery_extensions/macadmins_extension.ext\n');
    manager.queryHandler = (sql) => ({
      status: { code: 0, message: 'OK', uuid: 0 },
      response: sql.includes('osquery_flags') ? [{ name: 'disable_extensions', value: 'false' }, { name: 'extensions_autoload', value: load }] : [],
    });
    try {
      const checks = await doctor(['--socket', manager.socketPath, '--extensions-load', load], { ...process.env, OUTFLOW_PLATFORM: 'linux' });
      expect(checks.get('osquery:autoload')?.status).not.toBe('ok');
      expect(checks.get('osquery:autoload')?.detail).toContain('no outflow.ext');
    } finally {
      await manager.close();
    }
  }, 60_000);
});

describe('doctor: eslogger streaming events is eslogger permitted', () => {
  it('a busy Mac (more than the 1 MiB cap of events within the probe second) is not an eslogger failure', async () => {
    const checks = await doctor([], fakeDarwinEnv(scenario, mkdtempSync(path.join(dir, 's-')), { OUTFLOW_FAKE_ESLOGGER_FLOOD: '200000' }));
    const probe = checks.get('eslogger:permission');
    expect(probe?.status, probe?.detail).toBe('ok');
  }, 60_000);
});
