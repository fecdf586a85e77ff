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
    expect((db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id)).toEqual(loadMigrations('sqlite').map((m) => m.id));
    db.close();
    const again = await openStore(`sqlite:${file}`, { migrate: false });
    expect(await again.clock.get()).toEqual({ earliest: 1, newest: 2 });
    expect(await again.migrate()).toEqual([]);
    await again.close();
  });

  it('dedupe keys one process appends are seen by another open on the same file, and survive a reopen', async () => {
    const file = path.join(dir, 'dedupe-shared.db');
    const a = await openSqliteStore(file);
    const b = await openSqliteStore(file);
    try {
      expect(await a.results.markSeen([{ digest: 'k1', unixTime: 100 }, { digest: 'k2', unixTime: 200 }])).toEqual([true, true]);
      // b built its set before a appended: it must read the log's tail, not trust its memory.
      expect(await b.results.markSeen([{ digest: 'k0', unixTime: 50 }])).toEqual([true]);
      expect(await a.results.markSeen([{ digest: 'k3', unixTime: 300 }])).toEqual([true]);
      expect(await b.results.markSeen([{ digest: 'k1', unixTime: 100 }, { digest: 'k3', unixTime: 300 }, { digest: 'k4', unixTime: 400 }])).toEqual([false, false, true]);
      expect(await a.results.markSeen([{ digest: 'k0', unixTime: 50 }, { digest: 'k4', unixTime: 400 }])).toEqual([false, false]);
      // Expiry in one process: the other still catches the expired keys it holds (conservative), the
      // expiring process forgets them and keeps the rest.
      expect(await b.results.expire(250)).toBe(3);
      expect(await b.results.markSeen([{ digest: 'k1', unixTime: 100 }, { digest: 'k3', unixTime: 300 }])).toEqual([true, false]);
    } finally {
      await a.close();
      await b.close();
    }
    const c = await openSqliteStore(file);
    try {
      expect(await c.results.markSeen([{ digest: 'k1', unixTime: 100 }, { digest: 'k2', unixTime: 200 }, { digest: 'k4', unixTime: 400 }])).toEqual([false, true, false]);
    } finally {
      await c.close();
    }
  });

  it('0004 carries the dedupe keys of a store made before it over to the key log', async () => {
    const file = path.join(dir, 'pre-0004.db');
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of loadMigrations('sqlite').filter((m) => m.id < '0004')) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, 0)').run(m.id);
    }
    const ins = db.prepare('INSERT INTO results_seen (unix_time, digest) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) ins.run(1000 + i, `legacy-${i}`);
    })();
    db.close();
    const s = await openSqliteStore(file);
    try {
      const again = Array.from({ length: 3000 }, (_, i) => ({ digest: `legacy-${i}`, unixTime: 1000 + i }));
      expect((await s.results.markSeen(again)).some(Boolean)).toBe(false);
      expect(await s.results.markSeen([{ digest: 'legacy-new', unixTime: 5000 }])).toEqual([true]);
      expect(await s.results.expire(2000)).toBe(1000);
    } finally {
      await s.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.prepare(`SELECT name FROM sqlite_master WHERE name LIKE 'results_seen%'`).all()).toEqual([]);
    check.close();
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
