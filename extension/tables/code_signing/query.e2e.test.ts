import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeDarwinEnv, runOutflow, jsonRows } from '../../../test/helpers/cli.js';
import { STATUS_COMPONENTS, STATUS_STATES } from '../../../src/schemas/outflow-status.js';

/**
 * darwin end to end on Linux: `outflow query` with fake ps/nettop/codesign/spctl under OUTFLOW_TOOL_DIR
 * (SPEC §1), the shared scenario in fixtures/scenario-darwin.
 */
const scenario = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'scenario-darwin');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-cs-e2e-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, timeoutMs: number): string {
  const file = path.join(dir, name);
  // Every fake is a node process: sample slowly enough that codesign is not starved on two cores.
  writeFileSync(file, `flows:\n  sample_interval: 0.5\nprocesses:\n  sample_interval: 2\nsigning:\n  timeout_ms: ${timeoutMs}\n  workers: 4\neslogger:\n  enabled: false\n`);
  return file;
}

function env(extra: Record<string, string> = {}) {
  const state = mkdtempSync(path.join(dir, 'state-'));
  return fakeDarwinEnv(scenario, state, extra);
}

describe('code_signing through `outflow query` (darwin, fake tools)', () => {
  it('classifies running executables and joins with process_network_flows on path', async () => {
    const r = await runOutflow(
      ['query', '--config', config('ok.yaml', 8000), '--format', 'json', "SELECT path, signature_class, identity, notarized, team_id FROM code_signing ORDER BY path; SELECT f.pid, c.signature_class FROM process_network_flows f JOIN code_signing c USING (path) ORDER BY f.pid"],
      { env: env(), timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const rows = jsonRows(r.stdout);
    const signing = rows.filter((x) => 'path' in x);
    const joined = rows.filter((x) => 'pid' in x);
    const cls = Object.fromEntries(signing.map((x) => [x.path, x.signature_class]));
    expect(cls).toMatchObject({
      '/Applications/Widget.app/Contents/MacOS/Widget': 'developer_id',
      '/Users/dana/bin/helperd': 'adhoc',
      '/bin/zsh': 'apple_platform',
      '/usr/bin/curl': 'apple_platform',
      '/tmp/.cache/updater': 'unsigned',
      '/opt/slow/bin/hangs': 'unknown',
    });
    expect(signing.find((x) => x.path === '/Applications/Widget.app/Contents/MacOS/Widget')).toMatchObject({ identity: 'team:Q7R2K9W4ZD/com.example.widget', notarized: 1, team_id: 'Q7R2K9W4ZD' });
    expect(joined).toEqual([
      { pid: 4471, signature_class: 'developer_id' },
      { pid: 60311, signature_class: 'adhoc' },
      { pid: 70001, signature_class: 'apple_platform' },
      { pid: 70002, signature_class: 'unsigned' },
    ]);
    // a real `outflow query` child (runOutflow allows it 60 s): it takes 15-19 s here, over 30 s on a loaded machine
  }, 60_000);

  it('every component the darwin extension reports is one the fleet knows (src/schemas/outflow-status.ts)', async () => {
    const r = await runOutflow(['query', '--config', config('components.yaml', 10_000), '--format', 'json', '--collect', '1', 'SELECT component, state FROM outflow_status'], { env: env(), timeoutMs: 60_000 });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const components = jsonRows(r.stdout).map((x) => x.component as string);
    expect(components).toEqual(expect.arrayContaining(['extension', 'nettop', 'eslogger', 'codesign']));
    for (const c of components) expect(STATUS_COMPONENTS as readonly string[]).toContain(c);
    for (const x of jsonRows(r.stdout)) expect(STATUS_STATES as readonly string[]).toContain(x.state);
  }, 60_000);

  it('a hanging codesign: the query still answers, every row unknown, status degraded', async () => {
    const t0 = Date.now();
    const r = await runOutflow(
      ['query', '--config', config('hang.yaml', 1000), '--format', 'json', "SELECT path, signature_class, checked_at FROM code_signing; SELECT component, state, detail FROM outflow_status WHERE component = 'codesign'"],
      { env: env({ OUTFLOW_FAKE_CODESIGN_HANG: '1' }), timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const rows = jsonRows(r.stdout);
    const signing = rows.filter((x) => 'signature_class' in x);
    expect(signing.length).toBe(7);
    expect(signing.every((x) => x.signature_class === 'unknown')).toBe(true);
    expect(rows.find((x) => x.component === 'codesign')).toMatchObject({ state: 'degraded' });
    // Bounded by the first-sample wait, not by the hung tool.
    expect(Date.now() - t0).toBeLessThan(40_000);
  }, 60_000);
});

describe('code_signing through `outflow query` (linux, real /proc and dpkg)', () => {
  it('a running distro binary is `package`; the same binary copied to a temp dir is `unknown`', async () => {
    const copy = path.join(dir, 'sleep-copy');
    copyFileSync('/usr/bin/sleep', copy);
    const procs = [spawn('/usr/bin/sleep', ['60'], { stdio: 'ignore' }), spawn(copy, ['60'], { stdio: 'ignore' })];
    try {
      const file = path.join(dir, 'linux.yaml');
      writeFileSync(file, 'processes:\n  sample_interval: 2\nflows:\n  sample_interval: 1\neslogger:\n  enabled: false\n');
      const r = await runOutflow(['query', '--config', file, '--format', 'json', `SELECT path, signature_class, signing_id, identity FROM code_signing WHERE path IN ('/usr/bin/sleep', '${copy}') ORDER BY path`], {
        env: { ...process.env, OUTFLOW_PLATFORM: 'linux', OUTFLOW_TOOL_DIR: '' },
        timeoutMs: 60_000,
      });
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const rows = jsonRows(r.stdout);
      expect(rows).toEqual([
        { path: copy, signature_class: 'unknown', signing_id: '', identity: '' },
        { path: '/usr/bin/sleep', signature_class: 'package', signing_id: 'coreutils', identity: 'package:coreutils' },
      ].sort((a, b) => (a.path < b.path ? -1 : 1)));
    } finally {
      for (const p of procs) p.kill('SIGKILL');
    }
  }, 60_000);
});
