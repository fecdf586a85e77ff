import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAKE_TOOLS_DIR, runOutflow, jsonRows } from '../../../test/helpers/cli.js';
import { keychainDittoScenario } from './testing/es-lines.mjs';

/**
 * darwin end to end on Linux: `outflow query` with the fake eslogger under OUTFLOW_TOOL_DIR streaming the
 * scripted scenario (a script in a Terminal zsh reads the login keychain, zips ~/Documents with ditto
 * into /tmp, exits). The query waits for the collector's first batch, so the rows are there without
 * --collect.
 */
describe('sensitive_file_events and archive_events through `outflow query` (darwin, fake eslogger)', () => {
  it('returns the scenario rows with categories, tiers, staging and lineage fields', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-e2e-'));
    const baseMs = (Math.floor(Date.now() / 1000) - 30) * 1000; // whole second: exact expected times
    const S = baseMs / 1000;
    const scenario = path.join(dir, 'eslogger.jsonl');
    writeFileSync(scenario, keychainDittoScenario(baseMs).join('\n') + '\n');
    const config = path.join(dir, 'config.yaml');
    // Only eslogger matters here; slow samplers keep the other fake tools off the two cores.
    writeFileSync(config, 'flows:\n  sample_interval: 30\nprocesses:\n  sample_interval: 30\n');
    const sql = [
      'SELECT time, pid, ppid, uid, process_start, path, signing_id, team_id, platform_binary, operation, file_path, category, tier FROM sensitive_file_events ORDER BY time, file_path',
      'SELECT time, pid, ppid, uid, process_start, path, tool, operation, archive_path, args, staging FROM archive_events ORDER BY time, operation DESC',
      // lineage: the archiver's parent is the process that read the keychain
      "SELECT a.pid AS archiver, s.pid AS reader, s.category AS reader_category FROM archive_events a JOIN sensitive_file_events s ON s.pid = a.ppid AND a.operation = 'exec'",
      "SELECT component, state, events, dropped FROM outflow_status WHERE component = 'eslogger'",
    ].join('; ');
    const r = await runOutflow(['query', '--config', config, '--format', 'json', sql], {
      env: { ...process.env, OUTFLOW_PLATFORM: 'darwin', OUTFLOW_TOOL_DIR: FAKE_TOOLS_DIR, OUTFLOW_FAKE_ESLOGGER: scenario },
      timeoutMs: 80_000,
    });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rows = jsonRows(r.stdout);
    const sensitive = rows.filter((x) => 'file_path' in x);
    const archive = rows.filter((x) => 'archive_path' in x);
    const common = { uid: 501, signing_id: undefined as unknown, team_id: '', platform_binary: 1 };
    expect(sensitive).toEqual([
      { ...common, time: S + 2, pid: 4_207_001, ppid: 4_200_601, process_start: S + 1, path: '/bin/sh', signing_id: 'com.apple.sh', operation: 'open', file_path: '/Users/dana/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1 },
      { ...common, time: S + 3, pid: 4_207_003, ppid: 4_207_001, process_start: S + 3, path: '/usr/bin/ditto', signing_id: 'com.apple.ditto', operation: 'open', file_path: '/Users/dana/Documents/Q3 report.pdf', category: 'documents', tier: 2 },
      { ...common, time: S + 3, pid: 4_207_003, ppid: 4_207_001, process_start: S + 3, path: '/usr/bin/ditto', signing_id: 'com.apple.ditto', operation: 'open', file_path: '/Users/dana/Documents/résumé 2026.pages', category: 'documents', tier: 2 },
    ]);
    const ditto = { pid: 4_207_003, ppid: 4_207_001, uid: 501, process_start: S + 3, path: '/usr/bin/ditto', tool: 'ditto', archive_path: '/tmp/docs.zip', staging: 1 };
    expect(archive).toEqual([
      { ...ditto, time: S + 3, operation: 'exec', args: 'ditto -c -k --sequesterRsrc --keepParent /Users/dana/Documents /tmp/docs.zip' },
      { ...ditto, time: S + 3, operation: 'create', args: '' },
    ]);
    expect(rows.filter((x) => 'archiver' in x)).toEqual([{ archiver: 4_207_003, reader: 4_207_001, reader_category: 'keychain' }]);
    expect(rows.find((x) => x.component === 'eslogger')).toMatchObject({ state: 'running', events: 5, dropped: 0 });
  });
});
