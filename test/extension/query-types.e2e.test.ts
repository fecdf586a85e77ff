/**
 * `outflow query` must answer as osquery would over the same tables: osquery declares each column's type
 * (INTEGER, BIGINT, DOUBLE, TEXT) to SQLite, so integers are integers and column affinity applies.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQueryShell, tempDir, writeTestConfig } from './harness.js';

describe('outflow query: values as osquery gives them', () => {
  let dir: string;
  let config: string;
  const query = (args: string[]) => runQueryShell(config, args);
  const jsonLines = (s: string) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(() => {
    dir = tempDir('query-types');
    config = writeTestConfig(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('INTEGER/BIGINT columns hold integers, with INTEGER affinity, as under osqueryd', async () => {
    const r = await query([
      [
        "SELECT typeof(pid) AS t, pid || '' AS s, remote_address || ':' || remote_port AS ep, bytes_out / 1000 AS k FROM ext_test_big WHERE flow_id = 'f00000001'",
        "SELECT count(*) AS n FROM ext_test_big WHERE pid = '1001'",
      ].join('; '),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)).toEqual([{ t: 'integer', s: '1001', ep: '203.0.113.1:443', k: 1 }, { n: 17 }]);
  });

  it('tables are read-only, as under osqueryd', async () => {
    const r = await query(["DELETE FROM ext_test_big WHERE flow_id = 'f00000001'"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot modify ext_test_big/);
  });

  it('integers beyond 2^53 keep every digit', async () => {
    const r = await query(['SELECT 9007199254740993 AS x, -9223372036854775808 AS m']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"x":"9007199254740993","m":"-9223372036854775808"}\n');
  });

  it('a table shows every column of a result with repeated column names', async () => {
    const r = await query(['--format', 'table', 'SELECT a.x, b.x FROM (SELECT 1 AS x) a, (SELECT 2 AS x) b']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(['+---+---+', '| x | x |', '+---+---+', '| 1 | 2 |', '+---+---+', ''].join('\n'));
  });

  it('a commented-out condition pushes no constraint (the echo table returns what it was given)', async () => {
    const r = await query(["SELECT name, expr FROM ext_test_echo WHERE 1\n-- AND name = 'only_this'"]);
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)).toEqual([{ name: '(marker)', expr: '' }]);
  });
});
