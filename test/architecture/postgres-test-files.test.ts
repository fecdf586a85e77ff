/**
 * A test file that makes a PostgreSQL database must hold the test server (useTestDatabase or holdServerShared,
 * test/helpers/pg.ts) or be the restart test that takes it exclusively: a file that did neither lost its
 * connections when multi-instance-restart.test.ts restarted the server in the same run (a CI failure, 2026-11-28).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

function testFiles(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.relative(REPO_ROOT, path.join(e.parentPath, e.name)));
}

/** Files that call createTestDatabase without holding the server for the file. */
export function unheldDatabaseUsers(files: readonly { file: string; text: string }[]): string[] {
  return files
    .filter(({ text }) => /\bcreateTestDatabase\(/.test(text) && !/\b(useTestDatabase|holdServerShared|takeServerExclusive)\(/.test(text))
    .map(({ file }) => file);
}

describe('PostgreSQL test files', () => {
  it('each one that makes a database holds the server while it uses it', () => {
    const files = ['src', 'extension', 'fleet', 'packs', 'cli', 'test'].flatMap(testFiles).map((file) => ({ file, text: readFileSync(path.join(REPO_ROOT, file), 'utf8') }));
    expect(files.length).toBeGreaterThan(50);
    expect(unheldDatabaseUsers(files)).toEqual([]);
  });

  it('the check names a file that makes a database without holding the server', () => {
    const bare = "const db = await createTestDatabase('x');";
    expect(unheldDatabaseUsers([{ file: 'a.test.ts', text: bare }, { file: 'b.test.ts', text: `${bare}\nconst release = await holdServerShared();` }, { file: 'c.test.ts', text: 'no database' }])).toEqual(['a.test.ts']);
  });
});
