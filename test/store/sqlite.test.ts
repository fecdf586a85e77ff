import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { openStore } from '../../fleet/store/open.js';
import { storeContract } from './store.contract.js';

storeContract('sqlite (:memory:)', () => openSqliteStore(':memory:'));

describe('SQLite store specifics', () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sqlite-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the file in WAL mode, records migrations, and reopens without re-applying them', async () => {
    const file = path.join(dir, 'nested', 'outflow.db');
    const s = await openStore(file);
    await s.clock.observe(1, 2);
    await s.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect((db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id)).toEqual(['0001_init', '0002_app_attrs_time']);
    db.close();
    const again = await openStore(`sqlite:${file}`, { migrate: false });
    expect(await again.clock.get()).toEqual({ earliest: 1, newest: 2 });
    expect(await again.migrate()).toEqual([]);
    await again.close();
  });

  it('refuses to open an unmigrated store without migrating, naming the fix', async () => {
    const file = path.join(dir, 'empty.db');
    new Database(file).close();
    await expect(openStore(file, { migrate: false })).rejects.toMatchObject({ code: 'STORE_MIGRATE', hint: expect.stringMatching(/outflow fleet migrate/) });
  });

  it('reports an unopenable path as STORE_OPEN', async () => {
    const notADir = path.join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    await expect(openSqliteStore(path.join(notADir, 'sub', 'here.db'))).rejects.toMatchObject({ code: 'STORE_OPEN' });
  });
});
