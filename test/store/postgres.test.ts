/**
 * The Store contract suite (test/store/store.contract.ts) against PostgreSQL, on a throwaway database of the
 * local server (scripts/services.sh). One database per file; every test starts from empty tables
 * (TRUNCATE is much cheaper than CREATE DATABASE on a shared 2-core machine).
 */
import { afterAll, beforeAll } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { createTestDatabase, holdServerShared, pgQuery, type TestDatabase } from '../helpers/pg.js';
import { storeContract } from './store.contract.js';

let db: TestDatabase | undefined;
let releaseServer: (() => Promise<void>) | undefined;

beforeAll(async () => {
  releaseServer = await holdServerShared(85_000);
  db = await createTestDatabase('contract');
  const first = await openPostgresStore(db.url);
  await first.close();
}, 90_000);

afterAll(async () => {
  await db?.drop();
  await releaseServer?.();
});

storeContract('postgres', async () => {
  if (!db) throw new Error('test database not created');
  // schema_migrations and store_meta hold what the migrations wrote: kept, the counters in store_meta reset
  const tables = await pgQuery<{ tablename: string }>(db.url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'store_meta')`);
  await pgQuery(db.url, `TRUNCATE ${tables.map((t) => `"${t.tablename}"`).join(', ')} RESTART IDENTITY; UPDATE store_meta SET value = 0`);
  return openPostgresStore(db.url, { poolSize: 3 });
});
