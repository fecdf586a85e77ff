/**
 * Upgrades of a PostgreSQL store written by an older Outflow: the data an older schema holds must answer as
 * it did (test/store/sqlite.test.ts has the SQLite side).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { expect, it } from 'vitest';
import { openPostgresStore, type PostgresStore } from '../../fleet/store/postgres/index.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
import { pairKey } from '../../fleet/store/store.js';
import { createTestDatabase, pgQuery, useTestDatabase } from '../helpers/pg.js';
import { expectLegacyCompactionUpgrade, hostEstimate, sampleDetection } from './store.contract.js';

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


const DAY_S = 86_400;
const SKETCH_TABLES = ['destination_sketches', 'pair_sketches', 'app_sketches'] as const;

/** The digest 0008's trigger gives registers: the first 16 bytes of their SHA-256, as a uuid. */
function sketchDigest(registers: Uint8Array): string {
  return createHash('sha256').update(registers).digest('hex').slice(0, 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
}

/** Every sketch row's registers and digest, per table. */
async function sketchRows(url: string): Promise<{ table: string; registers: Buffer; digest: string | null }[]> {
  const out: { table: string; registers: Buffer; digest: string | null }[] = [];
  for (const table of SKETCH_TABLES) {
    for (const r of await pgQuery<{ registers: Buffer; digest: string | null }>(url, `SELECT registers, digest::text AS digest FROM ${table}`)) out.push({ table, ...r });
  }
  return out;
}

/**
 * One common destination, pair and app (12 hosts on each of three days, compacted: three day sketches each),
 * with `tag` in their names; `counts` reads the three host counts over those days.
 */
async function seedCommonKeys(s: PostgresStore, T: number, tag: string) {
  const key = `${tag}.example`;
  const identity = `team:${tag}/app`;
  const hostsOf = (d: number) => Array.from({ length: 12 }, (_, i) => `${tag}-d${d}-${i}`);
  const sightings = [0, 1, 2].flatMap((d) => hostsOf(d).map((hostId) => ({ key, identity, hostId, firstSeen: T + d * DAY_S + 60, lastSeen: T + d * DAY_S + 60 })));
  await s.prevalence.observeDestinations(sightings);
  await s.prevalence.observePairs(sightings);
  await s.prevalence.observeApps(sightings);
  expect(await s.prevalence.compact(10, { from: 0, to: T + 3 * DAY_S })).toEqual({ destinations: 1, pairs: 1, apps: 1 });
  const window = { from: T, to: T + 3 * DAY_S - 1 };
  const counts = async (r: PostgresStore) => {
    const [a] = await r.prevalence.statsMany([{ window, destinations: [key], pairs: [{ identity, key }], apps: [identity] }]);
    return [a!.destinations.get(key)!.hosts, a!.pairs.get(pairKey(identity, key))!.hosts, a!.apps.get(identity)!.hosts];
  };
  return { key, identity, hostsOf, counts };
}

it('0008 on a populated store rewrites no table; the rows written before it have no digest, are read in full every time and never kept', async () => {
  const db = await createTestDatabase('migrations_0008');
  const url = db.url;
  const T = 1_772_409_600; // a UTC midnight
  await storeBefore(url, '0008');
  // written by the previous release (its sketch writes are this version's, without the digest)
  const old = await openPostgresStore(url, { migrate: false, poolSize: 2 });
  let seeded: Awaited<ReturnType<typeof seedCommonKeys>>;
  try {
    seeded = await seedCommonKeys(old, T, 'legacy');
  } finally {
    await old.close();
  }
  const { key, hostsOf, counts } = seeded;
  const files = () => pgQuery<{ relname: string; relfilenode: number }>(url, `SELECT relname, relfilenode FROM pg_class WHERE relname = ANY($1) ORDER BY relname`, [SKETCH_TABLES]);
  const before = await files();
  const s = await openPostgresStore(url, { poolSize: 2 });
  const truth = await openPostgresStore(url, { poolSize: 2, sketchCacheBytes: 0, migrate: false });
  try {
    // a table rewrite (a STORED generated column, a volatile default) gives the table a new file
    expect(await files()).toEqual(before);
    expect((await sketchRows(url)).map((r) => r.digest)).toEqual(Array(9).fill(null));
    const expected = Array(3).fill(hostEstimate(hostsOf(0), hostsOf(1), hostsOf(2)));
    expect(await counts(s)).toEqual(expected);
    expect(await counts(s)).toEqual(expected);
    expect(await counts(truth)).toEqual(expected);
    expect(s.sketchCacheStats()).toMatchObject({ keys: 0, bytes: 0, served: 0, fetched: 18 });

    // ingest raises the destination's middle day: that row gets its digest, and is kept from the next read on
    await s.prevalence.observeDestinations([{ key, hostId: 'late', firstSeen: T + DAY_S + 120, lastSeen: T + DAY_S + 120 }]);
    const rewritten = (await sketchRows(url)).filter((r) => r.digest !== null);
    expect(rewritten.map((r) => [r.table, r.digest])).toEqual([['destination_sketches', sketchDigest(rewritten[0]!.registers)]]);
    const raised = [hostEstimate(hostsOf(0), hostsOf(1), ['late'], hostsOf(2)), expected[1], expected[2]];
    expect(await counts(s)).toEqual(raised);
    expect(s.sketchCacheStats()).toMatchObject({ keys: 1, served: 0, fetched: 27 });
    expect(await counts(s)).toEqual(raised);
    expect(s.sketchCacheStats()).toMatchObject({ keys: 1, served: 1, fetched: 35 });
    expect(await counts(truth)).toEqual(raised);
  } finally {
    await Promise.all([s.close(), truth.close()]);
    await db.drop();
  }
}, 60_000);

it('0008: every sketch write gets the SHA-256 digest of its registers, from any writer, whatever it puts in the column', async () => {
  const url = testDb().url;
  const s = await openPostgresStore(url, { poolSize: 2 });
  try {
    const T = 1_772_409_600;
    const { key } = await seedCommonKeys(s, T, 'digest');
    await s.prevalence.observeDestinations([{ key, hostId: 'late', firstSeen: T + 120, lastSeen: T + 120 }]);
    // a writer that does not know the column (the previous release), and one that writes something else into it
    await pgQuery(url, `INSERT INTO destination_sketches (dest_key, day, registers) VALUES ('raw.example', 1, decode('0102', 'hex'))`);
    await pgQuery(url, `UPDATE app_sketches SET digest = '00000000-0000-0000-0000-000000000000'`);
    await pgQuery(url, `UPDATE pair_sketches SET registers = set_byte(registers, 0, 7), digest = NULL WHERE day = (SELECT min(day) FROM pair_sketches)`);
    const rows = await sketchRows(url);
    expect(new Set(rows.map((r) => r.table))).toEqual(new Set(SKETCH_TABLES));
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const r of rows) expect(r.digest, `${r.table} ${r.registers.byteLength} bytes`).toBe(sketchDigest(r.registers));
  } finally {
    await s.close();
  }
});

it('0010 counts every day from the first event to the newest (any writer slot) as holding data, and an empty store none', async () => {
  const db = await createTestDatabase('migrations_0010');
  const empty = await createTestDatabase('migrations_0010_empty');
  try {
    const t0 = 20_000 * 86_400;
    await storeBefore(db.url, '0010');
    await pgQuery(db.url, `INSERT INTO event_clock (slot, earliest, newest) VALUES (0, ${t0 + 86_400}, ${t0 + 2 * 86_400}), (1, ${t0 + 3600}, ${t0 + 3 * 86_400 + 5})`);
    await storeBefore(empty.url, '0010');
    const s = await openPostgresStore(db.url, { poolSize: 2 });
    const e = await openPostgresStore(empty.url, { poolSize: 2 });
    try {
      expect(await s.clock.dataDaysFrom(0)).toEqual([20_000, 20_001, 20_002, 20_003]);
      await s.clock.observeDays([20_003, 20_010]);
      expect(await s.clock.dataDaysFrom(20_002)).toEqual([20_002, 20_003, 20_010]);
      expect(await e.clock.dataDaysFrom(0)).toEqual([]);
    } finally {
      await s.close();
      await e.close();
    }
  } finally {
    await db.drop();
    await empty.drop();
  }
}, 60_000);

it('a migration waiting for a table another session holds gives up after the lock timeout, applies nothing, and says what to do', async () => {
  const db = await createTestDatabase('migrations_lock');
  const url = db.url;
  await storeBefore(url, '0008');
  // another session's long transaction that read a sketch table (a backup, an open psql session)
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  const s = await openPostgresStore(url, { poolSize: 2, migrate: false, migrationLockTimeoutMs: 300 });
  let waiting: Promise<unknown> | undefined;
  try {
    await holder.query('BEGIN; SELECT count(*) FROM pair_sketches');
    const started = Date.now();
    waiting = s.migrate();
    const outcome = await Promise.race([waiting.then(() => 'applied', (err: unknown) => err), new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000))]);
    expect(outcome).toMatchObject({ code: 'STORE_MIGRATE', message: expect.stringContaining('0008_sketch_digests'), hint: expect.stringContaining('pg_blocking_pids') });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await pgQuery(url, `SELECT 1 FROM schema_migrations WHERE id = '0008_sketch_digests'`)).toEqual([]);
    expect(await pgQuery(url, `SELECT 1 FROM information_schema.columns WHERE column_name = 'digest' AND table_name = ANY($1)`, [SKETCH_TABLES])).toEqual([]);
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end();
    // without a lock timeout the migration was still waiting: let it finish before the database goes
    await waiting?.catch(() => undefined);
  }
  try {
    // once the other session is done, the next start applies it
    expect(await s.migrate()).toEqual(['0008_sketch_digests', '0009_candidate_due_time', '0010_suppression_key_hash', '0011_data_days', '0012_candidate_rejudge_hold']);
    expect(await pgQuery(url, `SELECT 1 FROM schema_migrations WHERE id = '0008_sketch_digests'`)).toHaveLength(1);
  } finally {
    await s.close();
    await db.drop();
  }
}, 60_000);
