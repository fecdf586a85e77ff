/**
 * `outflow query` gives values as osqueryd does. Under osqueryd the extension hands strings (sdk/table-plugin.ts
 * cellToString: null → ''), and osquery core stores '' for a TEXT column and NULL for a numeric column whose text is
 * not an int64 (formats.md §1.4, dynamic_table_row.cpp), reading integer cells as std::stoll does.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQueryShell, tempDir, writeTestConfig } from './harness.js';

const VALUE_TABLES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/query-value-tables.ts');

describe('outflow query: values as osqueryd gives them', () => {
  let dir: string;
  let config: string;
  const query = (sql: string) => runQueryShell(config, ['--format', 'json', sql], VALUE_TABLES);
  beforeAll(() => {
    dir = tempDir('query-values');
    config = writeTestConfig(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a TEXT column without a value is the empty string, as under osqueryd', async () => {
    const r = await query('SELECT name, team_id, typeof(team_id) AS t FROM ext_value_null_text');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"name":"a","team_id":"","t":"text"}\n');
  });

  it('an integer past int64 in one row is NULL in that cell; the statement still answers', async () => {
    const r = await query('SELECT name, bytes FROM ext_value_huge_int');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"name":"ok","bytes":5}\n{"name":"huge","bytes":null}\n');
  });

  it('UNSIGNED BIGINT past int64 is NULL (osquery: stoll out_of_range), not its bits read as a negative int64', async () => {
    const r = await query('SELECT name, v FROM ext_value_ubig');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"name":"max","v":null}\n{"name":"int64max","v":"9223372036854775807"}\n');
  });

  it('a fraction in an integer column is truncated as stoll reads "1.5" (1), "1e-7" (1), "-2.5" (-2)', async () => {
    const r = await query('SELECT name, v FROM ext_value_frac');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"name":"half","v":1}\n{"name":"tiny","v":1}\n{"name":"neg","v":-2}\n');
  });
});
