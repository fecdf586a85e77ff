/**
 * Upgrades of a PostgreSQL store written by an older Outflow: the data an older schema holds must answer as
 * it did (test/store/sqlite.test.ts has the SQLite side).
 */
import { it } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
import { pgQuery, useTestDatabase } from '../helpers/pg.js';
import { expectLegacyCompactionUpgrade } from './store.contract.js';

const testDb = useTestDatabase('migrations');

/** The database as an Outflow before migration `id` left it. */
async function storeBefore(url: string, id: string): Promise<void> {
  await pgQuery(url, 'CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
  for (const m of loadMigrations('postgres').filter((m) => m.id < id)) {
    await pgQuery(url, m.sql);
    await pgQuery(url, 'INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
  }
}

it('0006: a key compacted before day sketches keeps its count for windows reaching before the upgrade, then slides', async () => {
  const url = testDb().url;
  await storeBefore(url, '0006');
  const day = 86_400;
  const t0 = 20_000 * day;
  await pgQuery(
    url,
    `INSERT INTO event_clock (slot, earliest, newest) VALUES (0, ${t0}, ${t0 + 2 * day});
     INSERT INTO destinations (dest_key, first_seen, last_seen, saturated, host_count) VALUES ('big.com', ${t0}, ${t0 + day}, TRUE, 900);
     INSERT INTO apps (identity, first_seen, last_seen, saturated, host_count) VALUES ('team:X/app', ${t0}, ${t0 + day}, TRUE, 700)`,
  );
  const s = await openPostgresStore(url, { poolSize: 2 });
  try {
    await expectLegacyCompactionUpgrade(s, t0);
  } finally {
    await s.close();
  }
});
