/**
 * Upgrades of a PostgreSQL store written by an older Outflow: the data an older schema holds must answer as
 * it did (test/store/sqlite.test.ts has the SQLite side).
 */
import { expect, it } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
import { createTestDatabase, pgQuery, useTestDatabase } from '../helpers/pg.js';
import { expectLegacyCompactionUpgrade, sampleDetection } from './store.contract.js';

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

it('0007 takes a stored detection\'s current change as its first, and a row the previous release writes later gets it on its next update', async () => {
  // a database of its own: the file's shared one is already past 0007
  const db = await createTestDatabase('migrations_0007');
  const url = db.url;
  await storeBefore(url, '0007');
  const insertOld = async (id: string) => {
    const d = sampleDetection({ id, suppression_key: `k-${id}` });
    await pgQuery(
      url,
      `WITH c AS (UPDATE store_meta SET value = value + 1 WHERE name = 'detection_change_seq' RETURNING value)
       INSERT INTO detections (host_id, id, suppression_key, analytic, created_at, first_seen, last_seen, body, change_seq)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, c.value FROM c`,
      [d.host_id, d.id, d.suppression_key, d.analytic, d.created_at, d.first_seen, d.last_seen, JSON.stringify(d)],
    );
  };
  await insertOld('before');
  const s = await openPostgresStore(url);
  try {
    // written by the previous release after the migration (a rolling upgrade)
    await insertOld('after');
    const carried = await s.detections.changedSince('', 10);
    expect(carried.map((c) => [c.detection.id, c.cursor, c.firstCursor])).toEqual([
      ['before', '1', '1'],
      ['after', '2', '2'],
    ]);
    await s.detections.upsert([sampleDetection({ id: 'after', suppression_key: 'k-after', count: 2 })]);
    expect((await s.detections.changedSince('2', 10)).map((c) => [c.detection.id, c.cursor, c.firstCursor])).toEqual([['after', '3', '2']]);
  } finally {
    await s.close();
    await db.drop();
  }
}, 60_000);

