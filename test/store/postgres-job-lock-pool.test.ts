/** Job locks on a PostgreSQL store hold connections of their own, apart from the store's pool (a review's case). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
