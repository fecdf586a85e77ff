/**
 * The aggregator runs where FIPS mode may be on: a PostgreSQL 14+ server in FIPS mode refuses md5() (it goes
 * through OpenSSL), and so does Node with FIPS enabled. One md5 left in a statement or a hash call fails every
 * write or finalization there, and no test here can run such a server, so this checks the code for any. Old
 * PostgreSQL migrations have already run where they ran; only the code and the newest migrations count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

/** Migrations written since the sketch digests (0008), when this rule began. */
const FIRST_CHECKED_MIGRATION = '0008';

function filesUnder(dir: string, keep: (f: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...filesUnder(rel, keep));
    else if (keep(rel)) out.push(rel);
  }
  return out;
}

/** Lines of code without their comments (line comments, and block-comment lines starting with `*` or `/*`). */
function codeLines(file: string, text: string): string[] {
  const sql = file.endsWith('.sql');
  return text.split('\n').map((line) => {
    const t = line.trim();
    if (!sql && (t.startsWith('*') || t.startsWith('/*'))) return '';
    const cut = line.indexOf(sql ? '--' : '//');
    return cut === -1 ? line : line.slice(0, cut);
  });
}

const MD5 = /\bmd5\s*\(|['"`]md5['"`]/i;

export function md5Uses(file: string, text: string): string[] {
  return codeLines(file, text).flatMap((line, i) => (MD5.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

describe('no md5 where FIPS mode refuses it', () => {
  it('the fleet, the shared core and the newest PostgreSQL migrations call no md5', () => {
    const code = [...filesUnder('fleet', (f) => f.endsWith('.ts') && !f.endsWith('.test.ts')), ...filesUnder('src', (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))];
    const migrations = filesUnder('fleet/store/migrations/postgres', (f) => f.endsWith('.sql') && path.basename(f) >= FIRST_CHECKED_MIGRATION);
    expect(code.length).toBeGreaterThan(50);
    expect(migrations.length).toBeGreaterThan(0);
    const uses = [...code, ...migrations].flatMap((f) => md5Uses(f, readFileSync(path.join(REPO_ROOT, f), 'utf8')));
    expect(uses).toEqual([]);
  });

  it('finds one in a statement or a hash call, and not in a comment', () => {
    expect(md5Uses('a.ts', "const q = `... AND md5(c.body) = u.digest`;")).toHaveLength(1);
    expect(md5Uses('a.ts', "return hash('md5', body, 'hex');")).toHaveLength(1);
    expect(md5Uses('a.ts', "createHash('MD5')")).toHaveLength(1);
    expect(md5Uses('a.sql', 'ALTER TABLE t ADD COLUMN d uuid GENERATED ALWAYS AS (md5(r)::uuid) STORED;')).toHaveLength(1);
    expect(md5Uses('a.ts', ' * md5(body) was the digest once')).toEqual([]);
    expect(md5Uses('a.ts', 'x(); // md5() refused under FIPS')).toEqual([]);
    expect(md5Uses('a.sql', '-- from PostgreSQL 14 on, md5() goes through OpenSSL')).toEqual([]);
  });
});
