/**
 * What only the shared PostgreSQL store has to guarantee (several aggregator processes, one database):
 * job locks across instances, idempotent ingest when instances race on the same rows, finalization that
 * stays correct when two instances run it at once, concurrent migrations, and recovery from a dropped
 * connection. Each "instance" is its own PostgresStore (own pool), as separate processes would be.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestService, type IngestResult } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { rollup } from '../../fleet/rules/maintenance.js';
import { openPostgresStore, type PostgresStore } from '../../fleet/store/postgres/index.js';
import { openStore } from '../../fleet/store/open.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
import { ChangeCursorError } from '../../fleet/store/store.js';
import { addPoints, emptySketch, estimateHosts, hostPoint } from '../../fleet/store/host-sketch.js';
import { Scheduler } from '../../fleet/scheduler/scheduler.js';
import { silentLogger } from '../../src/log.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { generateFleetLines } from '../helpers/fleet-lines.js';
import { hostEstimate, sampleCandidate, sampleDetection } from './store.contract.js';
import { createTestDatabase, holdServerShared, pgQuery, type TestDatabase } from '../helpers/pg.js';
import { FAR_CLOCK, expectRollupHandover, hookSlices, seedFourCommonKeys } from '../helpers/rollup.js';

const analytics = defaultAnalyticsConfig();
const DAY_S = 86_400;
const LINES = generateFleetLines({ lines: 1500, hosts: 30, days: 10, seed: 3 });

let releaseServer: () => Promise<void>;
beforeAll(async () => {
  releaseServer = await holdServerShared(85_000);
}, 90_000);
afterAll(async () => {
  await releaseServer?.();
});

async function withDb<T>(label: string, fn: (db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await createTestDatabase(label);
  try {
    return await fn(db);
  } finally {
    await db.drop();
  }
}

/** Two store instances on `db` (two aggregators), with small pools; the caller closes them. */
async function twoInstances(db: TestDatabase): Promise<[PostgresStore, PostgresStore]> {
  return (await Promise.all([1, 2].map(() => openPostgresStore(db.url, { poolSize: 2 })))) as [PostgresStore, PostgresStore];
}

/** pg_locks.objid (an unsigned oid) of the maintenance lock pg-store takes as pg_advisory_xact_lock(ns, hashtext(…)). */
const MAINTENANCE_LOCK_OBJID = `(hashtext('store:maintenance')::bigint + 4294967296) % 4294967296`;

/** Backend pids holding a granted advisory lock in `db` (job locks; not the maintenance lock every transaction holds). */
async function advisoryLockHolders(db: TestDatabase): Promise<number[]> {
  const rows = await pgQuery<{ pid: number }>(
    db.url,
    `SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1
       AND l.objid::bigint <> ${MAINTENANCE_LOCK_OBJID}`,
    [db.name],
  );
  return rows.map((r) => r.pid);
}

/** Backends in `db` waiting for the maintenance lock (every transaction's BEGIN takes it; the rollup's slices alone). */
async function maintenanceLockWaiters(db: TestDatabase): Promise<number> {
  const rows = await pgQuery<{ n: number }>(
    db.url,
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = $1
       AND l.objid::bigint = ${MAINTENANCE_LOCK_OBJID}`,
    [db.name],
  );
  return rows[0]!.n;
}

async function ingestTotals(store: PostgresStore | Awaited<ReturnType<typeof openStore>>, lines: string[], batch = 250): Promise<IngestResult> {
  const ingest = createIngestService({ store, analytics });
  for (let i = 0; i < lines.length; i += batch) await ingest.ingestLines(lines.slice(i, i + batch), { kind: 'test', id: 'lines' });
  return ingest.totals();
}

async function ingestAll(store: PostgresStore | Awaited<ReturnType<typeof openStore>>, lines: string[], batch = 250): Promise<number> {
  return (await ingestTotals(store, lines, batch)).accepted;
}

describe('postgres store across instances', () => {
  it('day sketches: instances sighting the same compacted keys at once lose no host and do not deadlock', async () => {
    await withDb('sketches', async (db) => {
      const [a, b, reader] = (await Promise.all([1, 2, 3].map(() => openPostgresStore(db.url, { poolSize: 3 })))) as [PostgresStore, PostgresStore, PostgresStore];
      try {
        const T = 1_772_409_600;
        const keys = ['k1.com', 'k2.com', 'k3.com'];
        await a.prevalence.observeDestinations(keys.flatMap((key) => Array.from({ length: 12 }, (_, i) => ({ key, hostId: `seed-${i}`, firstSeen: T, lastSeen: T }))));
        expect((await a.prevalence.compact(10, { from: 0, to: T })).destinations).toBe(3);
        // Each instance sights every key (in opposite key orders) with hosts of its own, in many concurrent batches.
        const rounds = 12;
        const batch = (store: PostgresStore, tag: string, order: string[], r: number) =>
          store.transaction((tx) => tx.prevalence.observeDestinations(order.flatMap((key) => Array.from({ length: 5 }, (_, i) => ({ key, hostId: `${tag}-${r}-${i}`, firstSeen: T + 60, lastSeen: T + 60 })))));
        await Promise.all(Array.from({ length: rounds }, (_, r) => [batch(a, 'a', keys, r), batch(b, 'b', [...keys].reverse(), r)]).flat());
        // Every key's registers are exactly those of its 12 seed hosts + 2 instances × 12 rounds × 5 hosts.
        const hosts = [
          ...Array.from({ length: 12 }, (_, i) => `seed-${i}`),
          ...['a', 'b'].flatMap((tag) => Array.from({ length: rounds }, (_, r) => Array.from({ length: 5 }, (_, i) => `${tag}-${r}-${i}`)).flat()),
        ];
        const expected = emptySketch();
        addPoints(expected, hosts.map(hostPoint));
        const rows = await pgQuery<{ dest_key: string; registers: Buffer }>(db.url, 'SELECT dest_key, registers FROM destination_sketches ORDER BY dest_key');
        expect(rows.map((r) => r.dest_key)).toEqual(keys);
        for (const r of rows) expect(Buffer.compare(r.registers, Buffer.from(expected))).toBe(0);
        const stats = await reader.prevalence.destinations(keys, { from: 0, to: T + DAY_S });
        for (const key of keys) expect(stats.get(key)).toMatchObject({ hosts: estimateHosts(expected), saturated: true });
        expect(Math.abs(estimateHosts(expected) - hosts.length)).toBeLessThanOrEqual(3);
      } finally {
        await Promise.all([a, b, reader].map((s) => s.close()));
      }
    });
  }, 60_000);

  it('day sketch cache: an instance never counts registers another instance changed or removed since it read them, nor its own rolled back', async () => {
    await withDb('sketch-cache', async (db) => {
      const [a, b, truth] = (await Promise.all([{}, {}, { sketchCacheBytes: 0 }].map((o) => openPostgresStore(db.url, { poolSize: 2, ...o })))) as [PostgresStore, PostgresStore, PostgresStore];
      try {
        const T = 1_772_409_600; // a UTC midnight
        const keys = ['k1.com', 'k2.com'];
        const ids = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
        const sight = (key: string, tag: string, n: number, at: number) => ids(tag, n).map((hostId) => ({ key, hostId, firstSeen: at, lastSeen: at }));
        const day = (key: string, d: number) => ids(`${key}-d${d}`, 12);
        // 12 hosts per key on each of three days, compacted into 2 keys × 3 day sketches
        await b.prevalence.observeDestinations(keys.flatMap((key) => [0, 1, 2].flatMap((d) => sight(key, `${key}-d${d}`, 12, T + d * DAY_S + 60))));
        expect((await b.prevalence.compact(10, { from: 0, to: T + 3 * DAY_S })).destinations).toBe(2);
        const window = { from: T, to: T + 3 * DAY_S - 1 };
        const hosts = async (s: PostgresStore) => {
          const [answer] = await s.prevalence.statsMany([{ window, destinations: keys, pairs: [], apps: [] }]);
          return keys.map((k) => answer!.destinations.get(k)!.hosts);
        };
        /** A's counts, checked against an instance that keeps no sketches. */
        const counted = async () => {
          const mine = await hosts(a);
          expect(mine).toEqual(await hosts(truth));
          return mine;
        };
        const first = await counted();
        expect(first).toEqual(keys.map((k) => hostEstimate(day(k, 0), day(k, 1), day(k, 2))));
        expect(a.sketchCacheStats()).toMatchObject({ served: 0, fetched: 6 });
        // unchanged: every row from A's cache, no registers sent
        expect(await counted()).toEqual(first);
        expect(a.sketchCacheStats()).toMatchObject({ served: 6, fetched: 6 });

        // B sights 20 more hosts of k1 on the middle day: A is sent that one row again, and counts them
        await b.prevalence.observeDestinations(sight('k1.com', 'late', 20, T + DAY_S + 120));
        expect(await counted()).toEqual([hostEstimate(day('k1.com', 0), day('k1.com', 1), ids('late', 20), day('k1.com', 2)), first[1]]);
        expect(a.sketchCacheStats()).toMatchObject({ served: 11, fetched: 7 });

        // B expires the first day's sketches: A no longer counts their hosts
        await b.prevalence.expire(0, { sketchesBefore: T + DAY_S });
        const expired = [hostEstimate(day('k1.com', 1), ids('late', 20), day('k1.com', 2)), hostEstimate(day('k2.com', 1), day('k2.com', 2))];
        expect(await counted()).toEqual(expired);

        // A's own transaction raises a sketch and reads it (filling the cache), then rolls back: the next read counts
        // what is committed
        await expect(
          a.transaction(async (tx) => {
            await tx.prevalence.observeDestinations(sight('k2.com', 'undone', 30, T + 2 * DAY_S + 60));
            const [inside] = await tx.prevalence.statsMany([{ window, destinations: keys, pairs: [], apps: [] }]);
            expect(inside!.destinations.get('k2.com')!.hosts).toBe(hostEstimate(day('k2.com', 1), day('k2.com', 2), ids('undone', 30)));
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        expect(await counted()).toEqual(expired);
      } finally {
        await Promise.all([a, b, truth].map((s) => s.close()));
      }
    });
  }, 60_000);

  it('the rollup (exclusive) and an ingest batch with late sightings do not deadlock: the rollup waits for the batch', async () => {
    await withDb('rollup-deadlock', async (db) => {
      const [a, b] = await twoInstances(db);
      try {
        const T0 = 1_772_409_600;
        const now = T0 + 40 * DAY_S;
        await a.prevalence.observeDestinations(Array.from({ length: 12 }, (_, i) => ({ key: 'old.example', hostId: `O${i}`, firstSeen: T0 + 5 * DAY_S, lastSeen: T0 + 5 * DAY_S })));
        await a.prevalence.compact(10, { from: T0 - 25 * DAY_S, to: T0 + 5 * DAY_S });
        await a.prevalence.observeDestinations([{ key: 'old.example', hostId: 'O0', firstSeen: now - DAY_S, lastSeen: now - DAY_S }]);
        await a.prevalence.observeDestinations(Array.from({ length: 12 }, (_, i) => ({ key: 'grow.example', hostId: `G${i}`, firstSeen: now - 3600, lastSeen: now - 3600 })));
        const outcome: Record<string, string> = {};
        // A batch holding grow.example, then (a laptop's backlog) sighting old.example on a day the rollup expires.
        const ingest = a
          .transaction(async (tx) => {
            await tx.prevalence.observeDestinations([{ key: 'grow.example', hostId: 'G99', firstSeen: now, lastSeen: now }]);
            await new Promise((r) => setTimeout(r, 500));
            await tx.prevalence.observeDestinations([{ key: 'old.example', hostId: 'LATE', firstSeen: T0 + 5 * DAY_S + 60, lastSeen: T0 + 5 * DAY_S + 60 }]);
          })
          .then(
            () => (outcome.ingest = 'ok'),
            (e: Error) => (outcome.ingest = e.message),
          );
        await new Promise((r) => setTimeout(r, 150));
        // the rollup's order: expire (old sketch days), then compact (grow.example's key row)
        const roll = b
          .transaction(
            async (tx) => {
              await tx.prevalence.expire(now - 30 * DAY_S);
              await tx.prevalence.compact(10, { from: now - 30 * DAY_S, to: now });
            },
            { exclusive: true },
          )
          .then(
            () => (outcome.rollup = 'ok'),
            (e: Error) => (outcome.rollup = e.message),
          );
        await Promise.all([ingest, roll]);
        expect(outcome).toEqual({ ingest: 'ok', rollup: 'ok' });
        // the rollup ran after the batch: grow.example has its 13 hosts, compacted
        expect((await b.prevalence.destinations(['grow.example'], { from: now - 30 * DAY_S, to: now })).get('grow.example')).toMatchObject({ hosts: 13, saturated: true });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  }, 60_000);

  it("the rollup in slices: another instance's batch that waited for slice 1 commits before slice 2, and its sightings are compacted alike", async () => {
    await withDb('rollup-slices', async (db) => {
      const [a, b] = await twoInstances(db);
      try {
        const newest = 1_772_409_600;
        const keys = await seedFourCommonKeys(a, newest);
        let holding!: () => void;
        const inSlice1 = new Promise<void>((r) => (holding = r));
        let release!: () => void;
        const mayGo = new Promise<void>((r) => (release = r));
        const order: string[] = [];
        let slice2SawBatch: boolean | undefined;
        const hooked = hookSlices(a, async (kind, n, run) => {
          if (kind === 'compact' && n === 1) {
            holding();
            await mayGo;
          }
          // slice 2 holds the lock alone here: the batch has committed iff a fresh connection sees its d.example host row
          if (kind === 'compact' && n === 2) slice2SawBatch = (await pgQuery(db.url, `SELECT 1 FROM destination_hosts WHERE dest_key = 'd.example' AND host_id = 'H12'`)).length === 1;
          const r = await run();
          order.push(`${kind} ${n}`);
          return r;
        });
        // 12 host rows + 1 a key: one key per slice
        const roll = rollup(hooked.store, { analytics, clock: FAR_CLOCK, sliceRows: 13 }).then((r) => {
          order.push('rollup');
          return r;
        });
        await inSlice1;
        // B's batch sights the key slice 1 compacts and the one the last slice compacts; its BEGIN waits for slice 1
        // 'ingest' is recorded inside the batch, under its shared lock: its COMMIT releases the lock before the server
        // answers it, so recorded after the COMMIT returned it may follow slice 2's work (seen under load)
        const batch = b.transaction(async (tx) => {
          await tx.prevalence.observeDestinations(['a.example', 'd.example'].map((key) => ({ key, hostId: 'H12', firstSeen: newest, lastSeen: newest })));
          order.push('ingest');
        });
        await expect.poll(() => maintenanceLockWaiters(db), { timeout: 10_000 }).toBe(1);
        release();
        const [r] = await Promise.all([roll, batch]);
        // the lock goes to the waiting batch when slice 1 commits; slice 2 waits for it in turn
        expect(order.filter((o) => !o.startsWith('expire'))).toEqual(['compact 1', 'ingest', 'compact 2', 'compact 3', 'compact 4', 'rollup']);
        expect(slice2SawBatch).toBe(true);
        expect(r.compacted.destinations).toBe(4);
        const stats = await b.prevalence.destinations(keys, { from: newest - 30 * DAY_S, to: newest });
        expect(keys.map((k) => [k, stats.get(k)!.hosts, stats.get(k)!.saturated])).toEqual([
          ['a.example', 13, true],
          ['b.example', 12, true],
          ['c.example', 12, true],
          ['d.example', 13, true],
        ]);
        expect(Number((await pgQuery<{ n: string }>(db.url, 'SELECT count(*) AS n FROM destination_hosts'))[0]!.n)).toBe(0);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  }, 60_000);

  it('the rollup in slices is one job: a holder that lost the job lock between slices stops at its next slice, and the new holder finishes', async () => {
    await withDb('rollup-fence', async (db) => {
      const [a, b] = await twoInstances(db);
      try {
        // A's lock connection dies: its job lock goes with it
        await expectRollupHandover(a, b, async () => {
          const [pid] = await advisoryLockHolders(db);
          await pgQuery(db.url, 'SELECT pg_terminate_backend($1)', [pid]);
          await expect.poll(() => advisoryLockHolders(db), { timeout: 10_000 }).toHaveLength(0);
        });
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  }, 60_000);

  it('migrations: instances starting together migrate once', async () => {
    await withDb('migrate', async (db) => {
      const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(db.url, { migrate: false })));
      try {
        const applied = await Promise.all(stores.map((s) => s.migrate()));
        expect(applied.flat().sort()).toEqual(['0001_init', '0002_detection_changes', '0003_hostname_time', '0004_job_fences', '0005_app_attribute_times', '0006_host_sketches', '0007_detection_first_change', '0008_sketch_digests', '0009_candidate_due_time', '0010_suppression_key_hash', '0011_data_days', '0012_candidate_rejudge_hold']);
        const rows = await pgQuery<{ id: string }>(db.url, 'SELECT id FROM schema_migrations ORDER BY id');
        expect(rows.map((r) => r.id)).toEqual(['0001_init', '0002_detection_changes', '0003_hostname_time', '0004_job_fences', '0005_app_attribute_times', '0006_host_sketches', '0007_detection_first_change', '0008_sketch_digests', '0009_candidate_due_time', '0010_suppression_key_hash', '0011_data_days', '0012_candidate_rejudge_hold']);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });

  it('detection changes: a writer waits for another instance\'s open detection transaction, so changes commit in cursor order', async () => {
    await withDb('outbox', async (db) => {
      const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(db.url)));
      const [a, b, reader] = stores as [PostgresStore, PostgresStore, PostgresStore];
      let release: (() => void) | undefined;
      try {
        const gate = new Promise<void>((r) => (release = r));
        let written!: () => void;
        const wrote = new Promise<void>((r) => (written = r));
        // a draws its change number first, then stays open
        const slow = a.transaction(async (tx) => {
          await tx.detections.upsert([sampleDetection({ id: 'slow', suppression_key: 'k-slow' })]);
          written();
          await gate;
        });
        await wrote;
        let fastDone = false;
        const fast = b.detections.upsert([sampleDetection({ id: 'fast', suppression_key: 'k-fast' })]).then(() => void (fastDone = true));
        await new Promise((r) => setTimeout(r, 300));
        // b may not draw a number (and commit) behind a's until a has committed
        expect(fastDone).toBe(false);
        expect(await reader.detections.changedSince('', 10)).toEqual([]);
        expect(await reader.detections.countChangedSince('')).toBe(0);
        release!();
        await slow;
        await fast;
        const changes = await reader.detections.changedSince('', 10);
        expect(changes.map((c) => c.detection.id)).toEqual(['slow', 'fast']);
        expect(Number(changes[0]!.cursor)).toBeLessThan(Number(changes[1]!.cursor));
        expect(await reader.detections.changeCursor()).toBe(changes[1]!.cursor);
      } finally {
        release?.();
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });

  it('refuses a database migrated by a newer Outflow', async () => {
    await withDb('newer', async (db) => {
      await (await openPostgresStore(db.url)).close();
      await pgQuery(db.url, `INSERT INTO schema_migrations (id) VALUES ('9999_from_the_future')`);
      await expect(openPostgresStore(db.url)).rejects.toThrow(/migrated by a newer Outflow \(migrations 9999_from_the_future/);
    });
  });

  it('0002 numbers stored detections in (last_seen, id) order, and later changes follow them', async () => {
    await withDb('migrate-0002', async (db) => {
      const [init] = loadMigrations('postgres');
      await pgQuery(db.url, init!.sql);
      await pgQuery(db.url, `CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); INSERT INTO schema_migrations (id) VALUES ('0001_init')`);
      for (const [id, lastSeen] of [['late', 300], ['early', 100], ['b-mid', 200], ['a-mid', 200]] as const) {
        const d = sampleDetection({ id, suppression_key: `k-${id}`, last_seen: lastSeen });
        await pgQuery(db.url, 'INSERT INTO detections (host_id, id, suppression_key, analytic, created_at, first_seen, last_seen, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
          d.host_id,
          d.id,
          d.suppression_key,
          d.analytic,
          d.created_at,
          d.first_seen,
          d.last_seen,
          JSON.stringify(d),
        ]);
      }
      const s = await openPostgresStore(db.url);
      try {
        const carried = await s.detections.changedSince('', 10);
        expect(carried.map((c) => c.detection.id)).toEqual(['early', 'a-mid', 'b-mid', 'late']);
        expect(await s.detections.changeCursor()).toBe(carried[3]!.cursor);
        await s.detections.upsert([sampleDetection({ id: 'early', suppression_key: 'k-early', count: 2 })]);
        expect((await s.detections.changedSince(carried[3]!.cursor, 10)).map((c) => `${c.detection.id}:${c.detection.count}`)).toEqual(['early:2']);
        // a cursor beyond the numbers handed out comes from another database (the store was re-created, say)
        const foreign = String(Number(await s.detections.changeCursor()) + 1000);
        await expect(s.detections.changedSince(foreign, 10)).rejects.toBeInstanceOf(ChangeCursorError);
        await expect(s.detections.countChangedSince(foreign)).rejects.toBeInstanceOf(ChangeCursorError);
      } finally {
        await s.close();
      }
    });
  });

  it('withJobLock: a job runs on one instance at a time, and the lock is free again afterwards', async () => {
    await withDb('joblock', async (db) => {
      const a = await openPostgresStore(db.url);
      const b = await openPostgresStore(db.url);
      try {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const running = a.withJobLock('finalize', () => gate.then(() => 'a ran'));
        // wait until A holds it
        await expect.poll(() => advisoryLockHolders(db), { timeout: 10_000 }).toHaveLength(1);
        await expect(b.withJobLock('finalize', async () => 'b ran')).resolves.toEqual({ acquired: false });
        await expect(b.withJobLock('rollup', async () => 'b rollup')).resolves.toEqual({ acquired: true, value: 'b rollup' });
        release();
        await expect(running).resolves.toEqual({ acquired: true, value: 'a ran' });
        await expect(b.withJobLock('finalize', async () => 'b ran')).resolves.toEqual({ acquired: true, value: 'b ran' });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it('the scheduler on two instances: the same job runs on one of them at a time', async () => {
    await withDb('scheduler', async (db) => {
      const a = await openPostgresStore(db.url);
      const b = await openPostgresStore(db.url);
      try {
        let running = 0;
        let maxRunning = 0;
        let runs = 0;
        const job = {
          name: 'finalize',
          cron: '0 0 1 1 *',
          description: 'test job that takes a while',
          async run() {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await new Promise((r) => setTimeout(r, 300));
            running--;
            runs++;
          },
        };
        const schedulers = [a, b].map((store) => new Scheduler({ jobs: [job], deps: {}, log: silentLogger(), lock: (name, fn) => store.withJobLock(name, fn) }));
        const outcomes = await Promise.all([schedulers[0]!.runNow('finalize'), schedulers[1]!.runNow('finalize')]);
        expect(outcomes.map((o) => o.status).sort()).toEqual(['ok', 'skipped_locked']);
        expect(maxRunning).toBe(1);
        expect(runs).toBe(1);
        // once finished, the next tick on the other instance gets it
        expect((await schedulers[1]!.runNow('finalize')).status).toBe('ok');
        await Promise.all(schedulers.map((s) => s.stop()));
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it('withJobLock: a job whose lock went with its connection cannot commit once another instance took the job over', async () => {
    await withDb('joblockfence', async (db) => {
      const a = await openPostgresStore(db.url);
      const b = await openPostgresStore(db.url);
      const lockHolder = () => advisoryLockHolders(db);
      const put = (s: PostgresStore, offset: number) => s.transaction((tx) => tx.checkpoints.put('file:fence', { ino: 1, dev: 1, offset }));
      try {
        let killed!: () => void;
        const lockKilled = new Promise<void>((r) => (killed = r));
        let inside!: () => void;
        const insideTx = new Promise<void>((r) => (inside = r));
        let finishTx!: () => void;
        const txMayFinish = new Promise<void>((r) => (finishTx = r));
        let takenOver!: () => void;
        const bTookOver = new Promise<void>((r) => (takenOver = r));
        const jobA = a.withJobLock('finalize', async () => {
          await put(a, 1); // the lock is ours: commits
          await lockKilled;
          // Past its fence check before B takes over: B's token bump waits for this transaction to end.
          await a.transaction(async (tx) => {
            inside();
            await txMayFinish;
            await tx.checkpoints.put('file:fence', { ino: 1, dev: 1, offset: 2 });
          });
          await bTookOver;
          await put(a, 3); // after the takeover: must not commit
          return 'a finished';
        });
        await expect.poll(lockHolder, { timeout: 10_000 }).toHaveLength(1);
        const [pid] = await lockHolder();
        await pgQuery(db.url, 'SELECT pg_terminate_backend($1)', [pid]);
        await expect.poll(lockHolder, { timeout: 10_000 }).toHaveLength(0);
        killed();
        await insideTx;
        let bStarted = false;
        const jobB = b.withJobLock('finalize', async () => {
          bStarted = true;
          expect(Number((await b.checkpoints.get('file:fence'))!.offset)).toBe(2);
          await put(b, 10);
          return 'b ran';
        });
        await new Promise((r) => setTimeout(r, 300));
        expect(bStarted).toBe(false); // waiting for A's transaction, already past its check
        finishTx();
        await expect(jobB).resolves.toEqual({ acquired: true, value: 'b ran' });
        takenOver();
        await expect(jobA).rejects.toMatchObject({ code: 'JOB_LOCK_LOST' });
        expect(Number((await a.checkpoints.get('file:fence'))!.offset)).toBe(10);
        // the lock is free again, and A may take the job the next time
        await expect(a.withJobLock('finalize', async () => put(a, 11).then(() => 'a again'))).resolves.toEqual({ acquired: true, value: 'a again' });
        // transactions outside a job are not fenced
        await put(a, 12);
        expect(Number((await b.checkpoints.get('file:fence'))!.offset)).toBe(12);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it('withJobLock: a new holder waits jobFenceWaitMs for the previous holder\'s transaction, then skips the job and frees the lock', async () => {
    await withDb('joblockfencewait', async (db) => {
      const a = await openPostgresStore(db.url);
      const b = await openPostgresStore(db.url, { jobFenceWaitMs: 300 });
      const lockHolder = () => advisoryLockHolders(db);
      try {
        let inside!: () => void;
        const insideTx = new Promise<void>((r) => (inside = r));
        let finishTx!: () => void;
        const txMayFinish = new Promise<void>((r) => (finishTx = r));
        const jobA = a.withJobLock('rollup', async () => {
          const [pid] = await lockHolder();
          await pgQuery(db.url, 'SELECT pg_terminate_backend($1)', [pid]);
          await expect.poll(lockHolder, { timeout: 10_000 }).toHaveLength(0);
          await a.transaction(async (tx) => {
            inside();
            await txMayFinish;
            await tx.checkpoints.put('file:wait', { ino: 1, dev: 1, offset: 1 });
          });
          return 'a';
        });
        await insideTx;
        const t0 = Date.now();
        await expect(b.withJobLock('rollup', async () => 'b')).resolves.toEqual({ acquired: false });
        expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
        expect(await lockHolder()).toHaveLength(0);
        finishTx();
        await expect(jobA).resolves.toEqual({ acquired: true, value: 'a' });
        await expect(b.withJobLock('rollup', async () => 'b')).resolves.toEqual({ acquired: true, value: 'b' });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it('withJobLock: a failing job releases the lock', async () => {
    await withDb('joblockfail', async (db) => {
      const a = await openPostgresStore(db.url);
      try {
        await expect(a.withJobLock('retention', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
        await expect(a.withJobLock('retention', async () => 1)).resolves.toEqual({ acquired: true, value: 1 });
      } finally {
        await a.close();
      }
    });
  });

  it('two instances ingesting the same lines concurrently take each candidate row once', async () => {
    await withDb('raceingest', async (db) => {
      const a = await openPostgresStore(db.url);
      const b = await openPostgresStore(db.url);
      try {
        const candidateRows = LINES.filter((l) => l.includes('outflow_candidates')).length;
        expect(candidateRows).toBeGreaterThan(10);
        // same lines, opposite orders: maximal overlap of in-flight rows between the two
        const [ta, tb] = await Promise.all([ingestTotals(a, LINES), ingestTotals(b, [...LINES].reverse())]);
        // each candidate row is new to exactly one instance; every other row is applied by both (idempotent merges)
        expect(ta.duplicates + tb.duplicates).toBe(candidateRows);
        expect(ta.accepted + tb.accepted).toBe(2 * LINES.length - candidateRows);
        expect(ta.candidates + tb.candidates).toBeGreaterThan(0);
        expect(await a.candidates.countPending()).toBe(ta.candidates + tb.candidates);
        const seen = await pgQuery<{ n: string }>(db.url, 'SELECT count(*) AS n FROM results_seen');
        expect(Number(seen[0]!.n)).toBe(candidateRows);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it('finalization run by two instances at once (lock lost) gives the same detections as one run', async () => {
    const reference = await withDb('finref', async (db) => {
      const s = await openPostgresStore(db.url);
      try {
        await ingestAll(s, LINES);
        await finalizePending(s, { analytics, flush: true, batchSize: 50 });
        return await s.detections.list({ limit: 10_000 });
      } finally {
        await s.close();
      }
    });
    expect(reference.length).toBeGreaterThan(0);
    await withDb('finrace', async (db) => {
      const a = await openPostgresStore(db.url);
      const b = await openPostgresStore(db.url);
      try {
        await ingestAll(a, LINES);
        // bypassing withJobLock on purpose: the race the lock normally prevents. The loser of a batch gets a
        // store error and its whole batch rolls back; the next scheduled run picks up whatever is left.
        const runs = await Promise.allSettled([finalizePending(a, { analytics, flush: true, batchSize: 50 }), finalizePending(b, { analytics, flush: true, batchSize: 50 })]);
        for (const r of runs) if (r.status === 'rejected') expect(String(r.reason)).toMatch(/finalized concurrently/);
        await finalizePending(a, { analytics, flush: true, batchSize: 50 });
        expect(await a.candidates.countPending()).toBe(0);
        const got = await a.detections.list({ limit: 10_000 });
        expect(got).toEqual(reference);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it('a newer version ingested by another instance between judging and marking is not finalized in its place', async () => {
    await withDb('version', async (db) => {
      const a = await openPostgresStore(db.url);
      const b = await openPostgresStore(db.url);
      try {
        const v1 = { hostId: 'H1', eventTime: 1000, destinationKey: 'example.net', candidate: sampleCandidate({ bytes_out: 5_000_000 }) };
        const v2 = { ...v1, eventTime: 1060, candidate: sampleCandidate({ bytes_out: 9_000_000, last_seen: 1060 }) };
        await a.candidates.upsertPending([v1]);
        const [judged] = await a.candidates.pendingUpTo(2000, 10);
        expect(judged!.eventTime).toBe(1000);
        await b.candidates.upsertPending([v2]); // instance B ingests the flow's next version meanwhile
        const outcome = { id: judged!.id, detectionId: null, countedBytesOut: 0, countedBytesIn: 0, branch: 'no_fire:test' };
        // changed by ingest alone (no other finalizer marked it): the batch commits, the newer version stays pending
        await a.transaction((tx) => tx.candidates.markFinalized([outcome]));
        const [still] = await a.candidates.pendingUpTo(2000, 10);
        expect(still).toMatchObject({ id: judged!.id, eventTime: 1060, status: 'pending' });
        // judged afresh, it finalizes normally
        await a.transaction((tx) => tx.candidates.markFinalized([outcome]));
        expect(await a.candidates.countPending()).toBe(0);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  it('a database that does not exist, or a refused login, is named with what to do', async () => {
    await withDb('hints', async (db) => {
      const missing = new URL(db.url);
      missing.pathname = '/outflow_no_such_database';
      await expect(openPostgresStore(missing.toString())).rejects.toMatchObject({ code: 'STORE_OPEN', hint: expect.stringContaining('createdb') });
      const refused = new URL(db.url);
      refused.port = '1';
      await expect(openPostgresStore(refused.toString())).rejects.toMatchObject({ code: 'STORE_OPEN', hint: expect.stringContaining('host and port') });
    });
  });

  it('a connection killed by the server fails one call, and the store recovers', async () => {
    await withDb('reconnect', async (db) => {
      const s = await openPostgresStore(db.url, { poolSize: 2 });
      try {
        await s.ping();
        await pgQuery(db.url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [db.name]);
        // the pool notices dead idle clients; at worst one call fails, the next one reconnects
        await s.ping().catch(() => undefined);
        await s.ping();
        expect(await ingestAll(s, LINES.slice(0, 100))).toBe(100);
      } finally {
        await s.close();
      }
    });
  });
});
