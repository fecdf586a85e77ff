/**
 * The Store contract suite (test/store/store.contract.ts) against PostgreSQL, on a throwaway database of the
 * local server (scripts/services.sh). One database per file; every test starts from empty tables
 * (TRUNCATE is much cheaper than CREATE DATABASE on a shared 2-core machine).
 */
import { beforeAll } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { pgQuery, useTestDatabase } from '../helpers/pg.js';
import { storeContract } from './store.contract.js';

const testDb = useTestDatabase('contract');

// migrate once: every test then only truncates
beforeAll(async () => {
  const first = await openPostgresStore(testDb().url);
  await first.close();
}, 90_000);

storeContract('postgres', async () => {
  const db = testDb();
  // schema_migrations and store_meta hold what the migrations wrote: kept, the counters in store_meta reset
  const tables = await pgQuery<{ tablename: string }>(db.url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'store_meta')`);
  await pgQuery(db.url, `TRUNCATE ${tables.map((t) => `"${t.tablename}"`).join(', ')} RESTART IDENTITY; UPDATE store_meta SET value = 0`);
  return openPostgresStore(db.url, { poolSize: 3 });
});
