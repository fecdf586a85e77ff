import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTestTables } from './table-host.js';

describe('loadTestTables (OUTFLOW_TEST_TABLES, a test hook)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-test-tables-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const moduleFile = (name: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `export const TABLES = [{ name: '${name.replace(/\W/g, '_')}' }];\n`);
    return file;
  };

  it('loads the tables of the modules it names, and nothing without it', async () => {
    expect(await loadTestTables({})).toEqual([]);
    const file = moduleFile('ok.mjs');
    expect((await loadTestTables({ OUTFLOW_TEST_TABLES: file })).map((t) => t.name)).toEqual(['ok_mjs']);
  });

  it('refuses a relative path (it would resolve against whatever directory the process runs in)', async () => {
    await expect(loadTestTables({ OUTFLOW_TEST_TABLES: 'tables.mjs' })).rejects.toThrow('OUTFLOW_TEST_TABLES names tables.mjs, not an absolute path');
  });

  it.skipIf(process.getuid?.() !== 0)('as root, refuses a module another user could have written', async () => {
    const file = moduleFile('theirs.mjs');
    chownSync(file, 65534, 65534);
    await expect(loadTestTables({ OUTFLOW_TEST_TABLES: file })).rejects.toThrow(`refusing to load OUTFLOW_TEST_TABLES module ${file} as root: ${file} is owned by uid 65534, not root`);
  });
});
