/**
 * The Store contract suite (test/store/store.contract.ts) against PostgreSQL, on a throwaway database of the
 * local server (scripts/services.sh). One database per file; every test starts from empty tables
 * (TRUNCATE is much cheaper than CREATE DATABASE on a shared 2-core machine).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { pgQuery, useTestDatabase } from '../helpers/pg.js';
import { sampleDetection, storeContract } from './store.contract.js';

const testDb = useTestDatabase('contract');

// migrate once: every test then only truncates
/** store_meta rows the migrations create (counters); rows written later (prevalence.keptFrom) go with the data. */
let migratedMeta: string[] = [];
beforeAll(async () => {
  const first = await openPostgresStore(testDb().url);
  await first.close();
  migratedMeta = (await pgQuery<{ name: string }>(testDb().url, 'SELECT name FROM store_meta')).map((r) => r.name);
}, 90_000);

/** The test database as a fresh, migrated, empty store. */
async function freshStore() {
  const db = testDb();
  // schema_migrations and store_meta hold what the migrations wrote: kept, the counters in store_meta reset
  const tables = await pgQuery<{ tablename: string }>(db.url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'store_meta')`);
  const seeded = migratedMeta.map((n) => `'${n}'`).join(', ');
  await pgQuery(db.url, `TRUNCATE ${tables.map((t) => `"${t.tablename}"`).join(', ')} RESTART IDENTITY; DELETE FROM store_meta WHERE name NOT IN (${seeded}); UPDATE store_meta SET value = 0`);
  return openPostgresStore(db.url, { poolSize: 3 });
}

storeContract('postgres', freshStore);

describe('postgres detections', () => {
  it('a detection body stored before fleet.window_kept_from existed reads back with it null', async () => {
    const store = await freshStore();
    try {
      await store.detections.upsert([sampleDetection()]);
      await pgQuery(testDb().url, `UPDATE detections SET body = (body::jsonb #- '{fleet,window_kept_from}')::text`);
      expect(JSON.parse((await pgQuery<{ body: string }>(testDb().url, 'SELECT body FROM detections'))[0]!.body).fleet).not.toHaveProperty('window_kept_from');
      expect((await store.detections.get('det_1'))!.fleet.window_kept_from).toBeNull();
      expect((await store.detections.list())[0]!.fleet.window_kept_from).toBeNull();
      expect((await store.detections.changedSince('', 10))[0]!.detection.fleet.window_kept_from).toBeNull();
    } finally {
      await store.close();
    }
  });
});
