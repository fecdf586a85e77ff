/** `outflow query` must give what osqueryd's get_column gives for the text cellToString sends. */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOutflow } from '../helpers/cli.js';
import { tempDir, writeTestConfig } from './harness.js';

const TABLES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/query-integer-tables.ts');
let dir: string;
let config: string;
const query = (sql: string) => {
  const env: NodeJS.ProcessEnv = { ...process.env, OUTFLOW_PLATFORM: 'linux', OUTFLOW_TEST_TABLES: TABLES };
  delete env.OUTFLOW_TOOL_DIR;
  return runOutflow(['query', '--config', config, '--format', 'json', sql], { env, timeoutMs: 60_000 });
};
beforeAll(() => {
  dir = tempDir('query-integers');
  config = writeTestConfig(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('UNSIGNED BIGINT past int64 is NULL (osquery: stoll out_of_range), not its bits read as a negative int64', async () => {
  const r = await query('SELECT name, v FROM rev3_ubig');
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('{"name":"max","v":null}\n{"name":"int64max","v":"9223372036854775807"}\n');
});

it('a fraction in an integer column is truncated as stoll reads "1.5" (1), "1e-7" (1), "-2.5" (-2)', async () => {
  const r = await query('SELECT name, v FROM rev3_frac');
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('{"name":"half","v":1}\n{"name":"tiny","v":1}\n{"name":"neg","v":-2}\n');
});
