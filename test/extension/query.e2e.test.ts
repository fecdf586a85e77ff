/**
 * `outflow query` end to end: the real CLI, the same table definitions as the extension, served as
 * SQLite virtual tables.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ENTRY, REPO_ROOT, runOutflow } from '../helpers/cli.js';
import { TEST_TABLES, tempDir, writeTestConfig } from './harness.js';
import { STATUS_COMPONENTS } from '../../src/schemas/outflow-status.js';

describe('outflow query', () => {
  let dir: string;
  let config: string;
  const env = () => {
    const e: NodeJS.ProcessEnv = { ...process.env, OUTFLOW_PLATFORM: 'linux', OUTFLOW_TEST_TABLES: TEST_TABLES };
    delete e.OUTFLOW_TOOL_DIR;
    return e;
  };
  const query = (args: string[]) => runOutflow(['query', '--config', config, ...args], { env: env(), timeoutMs: 60_000 });
  /** Our own messages on stderr (collectors may add JSON log lines; those are not ours to pin). */
  const shellErrors = (stderr: string) => stderr.split('\n').filter((l) => l && !l.startsWith('{'));
  const jsonLines = (s: string) =>
    s
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(() => {
    dir = tempDir('query');
    config = writeTestConfig(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers several statements in order as JSON lines when stdout is not a TTY', async () => {
    const sql = [
      'SELECT * FROM outflow_status',
      "SELECT name, op FROM ext_test_echo WHERE name LIKE '(mark%'",
      'SELECT count(*) AS n, sum(bytes_out) AS total FROM ext_test_big WHERE remote_port = 443',
      'SELECT cols_used FROM ext_test_echo',
      // the constraints osquery would push reach generate (the echo table returns them as rows)
      "SELECT name, op, expr FROM ext_test_echo WHERE expr LIKE '%.zip' AND name = 'expr'",
    ].join('; ');
    const r = await query(['--collect', '0.3', sql]);
    expect(shellErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    const status = lines.filter((l) => 'component' in l);
    expect(status.find((l) => l.component === 'extension')).toMatchObject({ platform: 'linux', state: 'running', version: expect.any(String) });
    // every component the linux extension reports is one the fleet knows (its outflow_host_status labels)
    for (const l of status) expect(STATUS_COMPONENTS as readonly string[]).toContain(l.component);
    // docs/extension.md gives this row's detail as the shell serves it
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/extension.md'), 'utf8').replace(/\s+/g, ' ');
    expect(status.find((l) => l.component === 'extension')?.detail).toBe(/under `outflow query` it is `([^`]+)`/.exec(doc)?.[1]);
    for (const row of status) expect(Object.keys(row)).toEqual(['component', 'platform', 'state', 'detail', 'events', 'dropped', 'last_event', 'version']);
    const rest = lines.slice(status.length);
    expect(rest).toEqual([
      { name: '(marker)', op: 0 },
      { n: 5000, total: (1500 * 4999 * 5000) / 2 },
      // generate sees the osquery-shaped context: every column used
      { cols_used: 'big,cols_used,expr,missing,name,op,ratio' },
      { name: 'expr', op: 65, expr: '%.zip' },
    ]);
  });

  it('says ss is degraded when not root (other users\' sockets have no owner), and keeps saying it', () => {
    // the real ss and /proc, as uid 65534: its sockets are attributed, nobody else's
    const home = tempDir('query-nobody');
    chmodSync(home, 0o777);
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'query', '--collect', '2.5', "SELECT state, detail FROM outflow_status WHERE component = 'ss'"], {
        cwd: REPO_ROOT,
        uid: 65534,
        gid: 65534,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, OUTFLOW_PLATFORM: 'linux' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(jsonLines(r.stdout)).toEqual([{ state: 'degraded', detail: expect.stringMatching(/^not root: only this user's sockets are attributed \(\d+ sockets without an owner\); run the extension as root$/) }]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('prints aligned tables with --format table and re-runs with --every/--count', async () => {
    const r = await query(['--format', 'table', '--every', '0.2', '--count', '2', "SELECT component, state FROM outflow_status WHERE component = 'extension'"]);
    expect(r.code).toBe(0);
    const table = ['+-----------+---------+', '| component | state   |', '+-----------+---------+', '| extension | running |', '+-----------+---------+', ''].join('\n');
    expect(r.stdout).toBe(table + table);
  });

  it('refuses --every 0 and a --count without --every (each ran once without a word)', async () => {
    for (const [args, message] of [
      [['--every', '0'], 'outflow: invalid --every: --every: expected seconds between runs, more than 0, got "0" (omit --every to run once)'],
      [['--every', '0', '--count', '3'], 'outflow: invalid --every: --every: expected seconds between runs, more than 0, got "0" (omit --every to run once)'],
      [['--count', '3'], 'outflow: --count needs --every (add --every SECONDS, the time between the 3 runs, or omit --count to run once)'],
    ] as const) {
      const r = await query([...args, 'SELECT 1 AS one']);
      expect([r.code, r.stdout, r.stderr.trim()], args.join(' ')).toEqual([2, '', message]);
    }
  });

  it('fails with exit 1 and names the available tables for an unknown table', async () => {
    const r = await query(['SELECT * FROM no_such_table']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(shellErrors(r.stderr)).toEqual([expect.stringMatching(/^outflow query: no such table: no_such_table \(tables on linux: .*outflow_status.*\)$/)]);
  });

  it('a bad OUTFLOW_PLATFORM is one line naming the fix and exit 2, not a stack trace', async () => {
    const r = await runOutflow(['query', 'SELECT 1'], { env: { ...process.env, OUTFLOW_PLATFORM: 'windows' }, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('outflow: OUTFLOW_PLATFORM must be darwin or linux, got windows (unset OUTFLOW_PLATFORM or set it to darwin or linux)');
  });

  it('fails with exit 1 on bad SQL', async () => {
    const r = await query(['SELEKT 1']);
    expect(r.code).toBe(1);
    expect(shellErrors(r.stderr)).toEqual(['outflow query: near "SELEKT": syntax error']);
  });

  it('prints earlier results, then stops with exit 1 when a table fails', async () => {
    const r = await query(["SELECT state FROM outflow_status WHERE component = 'extension'; SELECT * FROM ext_test_throws; SELECT 1"]);
    expect(r.code).toBe(1);
    expect(jsonLines(r.stdout)).toEqual([{ state: 'running' }]);
    expect(shellErrors(r.stderr)).toEqual(['outflow query: table ext_test_throws: generate failed: boom: the test table failed on purpose']);
  });
});
