/** Job locks on a PostgreSQL store hold connections of their own, apart from the store's pool. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { createTestDatabase, holdServerShared, type TestDatabase } from '../helpers/pg.js';

let release: () => Promise<void>;
let db: TestDatabase;
beforeAll(async () => {
  release = await holdServerShared(85_000);
  db = await createTestDatabase('job_lock_pool');
}, 90_000);
afterAll(async () => {
  await db?.drop();
  await release?.();
});

describe('PostgreSQL job locks and the pool', () => {
  it('two jobs at once (finalize and rollup both fire at XX:07:00) on pool_size 2 both run', async () => {
    const store = await openPostgresStore(db.url, { poolSize: 2 });
    try {
      let bothHoldLock!: () => void;
      let n = 0;
      const gate = new Promise<void>((r) => (bothHoldLock = r));
      const job = (name: string) =>
        store.withJobLock(name, async () => {
          if (++n === 2) bothHoldLock();
          await gate; // both jobs now hold their lock connection, as two concurrent jobs do
          await store.transaction((tx) => tx.checkpoints.put(`file:${name}`, { ino: 1, dev: 1, offset: 1 }));
          return name;
        });
      const results = await Promise.allSettled([job('finalize'), job('rollup')]);
      expect(results).toEqual([
        { status: 'fulfilled', value: { acquired: true, value: 'finalize' } },
        { status: 'fulfilled', value: { acquired: true, value: 'rollup' } },
      ]);
    } finally {
      await store.close();
    }
  }, 40_000);

  it('every connection asks the server to probe it: a vanished instance releases its job locks in about a minute, not hours', async () => {
    // The default would be the server's operating-system keepalive: 2 h idle before the first probe (7200 here over TCP),
    // and no bound (0) on rows sent to a host that vanished before acknowledging them.
    const store = await openPostgresStore(db.url, { poolSize: 2 });
    try {
      const { pool, lockPool } = store as unknown as { pool: pg.Pool; lockPool: pg.Pool };
      const seen: string[][] = [];
      await store.withJobLock('finalize', async () => {
        for (const p of [lockPool, pool]) {
          const r = await p.query<{ idle: string; interval: string; count: string; user: string }>(
            `SELECT current_setting('tcp_keepalives_idle') AS idle, current_setting('tcp_keepalives_interval') AS interval, current_setting('tcp_keepalives_count') AS count, current_setting('tcp_user_timeout') AS user`,
          );
          seen.push([r.rows[0]!.idle, r.rows[0]!.interval, r.rows[0]!.count, r.rows[0]!.user]);
        }
      });
      expect(seen).toEqual([
        ['30', '10', '3', '60000'],
        ['30', '10', '3', '60000'],
      ]);
    } finally {
      await store.close();
    }
  }, 40_000);
});
