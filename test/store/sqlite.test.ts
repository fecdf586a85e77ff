import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { openStore } from '../../fleet/store/open.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
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
    expect((db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id)).toEqual(['0001_init', '0002_app_attrs_time', '0003_candidates_rowid']);
    db.close();
    const again = await openStore(`sqlite:${file}`, { migrate: false });
    expect(await again.clock.get()).toEqual({ earliest: 1, newest: 2 });
    expect(await again.migrate()).toEqual([]);
    await again.close();
  });

  it('0003 keeps every candidate (pending and finalized) of a store made before it', async () => {
    const file = path.join(dir, 'pre-0003.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of loadMigrations('sqlite').filter((m) => m.id < '0003')) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, 0)').run(m.id);
    }
    const ins = db.prepare(`INSERT INTO candidates (id, host_id, event_time, analytic, destination_key, bytes_out, body, status, detection_id, counted_bytes_out, counted_bytes_in, branch)
      VALUES (?, 'H1', ?, 'AN0990', 'example.net', 10, ?, ?, ?, ?, 0, ?)`);
    ins.run('c2', 200, JSON.stringify({ analytic: 'AN0990', pad: 'x'.repeat(1500) }), 'pending', null, 0, '');
    ins.run('c1', 100, JSON.stringify({ analytic: 'AN0990' }), 'finalized', 'd1', 10, 'rare');
    ins.run('c3', 150, JSON.stringify({ analytic: 'AN0425' }), 'pending', null, 0, '');
    db.close();
    const s = await openSqliteStore(file);
    try {
      expect(await s.candidates.countPending()).toBe(2);
      const pending = await s.candidates.pendingUpTo(1000, 10);
      expect(pending.map((c) => [c.id, c.eventTime, c.candidate.analytic])).toEqual([
        ['c3', 150, 'AN0425'],
        ['c2', 200, 'AN0990'],
      ]);
      expect((pending[1]!.candidate as unknown as { pad: string }).pad).toHaveLength(1500);
      expect(await s.candidates.expire(101)).toBe(1);
    } finally {
      await s.close();
    }
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
