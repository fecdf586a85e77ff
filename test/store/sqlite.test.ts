import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { ChangeCursorError, candidateBodyDigest, pairKey, type AppSighting } from '../../fleet/store/store.js';
import { openStore } from '../../fleet/store/open.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
import { createLogger } from '../../src/log.js';
import { expectLegacyCompactionUpgrade, sampleDetection, storeContract } from './store.contract.js';
import { expectRollupHandover } from '../helpers/rollup.js';
import { withTwoProcesses } from '../helpers/sqlite-stores.js';

storeContract('sqlite (:memory:)', () => openSqliteStore(':memory:'));

/** A store file as a release before migration `id` left it (every earlier migration applied), still open. */
function storeBefore(file: string, id: string): Database.Database {
  const db = new Database(file);
  // registered by the store before migrations run (0012 uses it)
  db.function('outflow_md5', { deterministic: true }, (body: unknown) => candidateBodyDigest(String(body)));
  db.exec('CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  for (const m of loadMigrations('sqlite').filter((m) => m.id < id)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, 0)').run(m.id);
  }
  return db;
}

describe('SQLite store specifics', () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sqlite-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a detection body stored before fleet.window_kept_from existed reads back with it null', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-old-body-'));
    try {
      const file = path.join(dir, 's.db');
      let store = await openSqliteStore(file);
      await store.detections.upsert([sampleDetection()]);
      await store.close();
      // the body as the previous version wrote it
      const db = new Database(file);
      const body = JSON.parse(db.prepare('SELECT body FROM detections').pluck().get() as string);
      delete body.fleet.window_kept_from;
      db.prepare('UPDATE detections SET body = ?').run(JSON.stringify(body));
      db.close();
      store = await openSqliteStore(file);
      expect((await store.detections.get('det_1'))!.fleet.window_kept_from).toBeNull();
      expect((await store.detections.list())[0]!.fleet.window_kept_from).toBeNull();
      expect((await store.detections.changedSince('', 10))[0]!.detection.fleet.window_kept_from).toBeNull();
      expect((await store.detections.openBySuppressionKey([sampleDetection().suppression_key], 0)).get(sampleDetection().suppression_key)![0]!.fleet.window_kept_from).toBeNull();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

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
    await withTwoProcesses(file, async (a, b) => {
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
    });
    const c = await openSqliteStore(file);
    try {
      expect(await c.results.markSeen([{ digest: 'k1', unixTime: 100 }, { digest: 'k2', unixTime: 200 }, { digest: 'k4', unixTime: 400 }])).toEqual([false, true, false]);
    } finally {
      await c.close();
    }
  });

  it('0004 drops the md5 dedupe digests of a store made before it (no SHA-256 digest can match them)', async () => {
    const file = path.join(dir, 'pre-0004.db');
    const db = storeBefore(file, '0004');
    db.prepare('INSERT INTO results_seen (unix_time, digest) VALUES (?, ?)').run(1000, 'bWQ1LWRpZ2VzdC1vZi1hLXJvdw');
    db.close();
    const s = await openSqliteStore(file);
    try {
      expect(await s.results.markSeen([{ digest: 'k1', unixTime: 5000 }, { digest: 'k1', unixTime: 5000 }])).toEqual([true, false]);
    } finally {
      await s.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.prepare(`SELECT name FROM sqlite_master WHERE name LIKE 'results_seen%'`).all()).toEqual([]);
    check.close();
  });

  it('a dedupe log id is never handed out twice, so a process reading the log tail sees every batch', async () => {
    const file = path.join(dir, 'dedupe-id-reuse.db');
    await withTwoProcesses(file, async (c, d) => {
      await c.results.markSeen([{ digest: 'live', unixTime: 5000 }]);
      // The newest log row holds only a key older than the horizon: expiry deletes it.
      await c.results.markSeen([{ digest: 'late', unixTime: 100 }]);
      expect(await d.results.markSeen([{ digest: 'live', unixTime: 5000 }])).toEqual([false]);
      await c.results.expire(200);
      expect(await c.results.markSeen([{ digest: 'x1', unixTime: 6000 }])).toEqual([true]);
      // d has read up to the deleted row's id; the next row must come after it, or d would never read it.
      expect(await d.results.markSeen([{ digest: 'x1', unixTime: 6000 }])).toEqual([false]);
    });
  });

  it('0010: a key compacted before day sketches keeps its count for windows reaching before the upgrade, then slides', async () => {
    const file = path.join(dir, 'pre-0010.db');
    const db = storeBefore(file, '0010');
    const day = 86_400;
    const t0 = 20_000 * day;
    db.exec(`
      INSERT INTO event_clock (id, earliest, newest) VALUES (1, ${t0}, ${t0 + 2 * day});
      INSERT INTO destinations (key, first_seen, last_seen, saturated, saturated_hosts) VALUES ('big.com', ${t0}, ${t0 + day}, 1, 900);
      INSERT INTO apps (identity, first_seen, last_seen, saturated, saturated_hosts) VALUES ('team:X/app', ${t0}, ${t0 + day}, 1, 700);
    `);
    db.close();
    const s = await openSqliteStore(file);
    try {
      await expectLegacyCompactionUpgrade(s, t0);
    } finally {
      await s.close();
    }
  });

  it('0005 carries prevalence over to id-keyed host rows with the same answers', async () => {
    const file = path.join(dir, 'pre-0005.db');
    const db = storeBefore(file, '0005');
    db.exec(`
      INSERT INTO destinations (key, first_seen, last_seen) VALUES ('a.com', 100, 400), ('b.com', 50, 60);
      INSERT INTO destinations (key, first_seen, last_seen, saturated, saturated_hosts) VALUES ('big.com', 10, 500, 1, 900);
      INSERT INTO destination_hosts (key, host_id, first_seen, last_seen) VALUES ('a.com', 'H2', 100, 200), ('a.com', 'H1', 150, 400), ('b.com', 'H3', 50, 60);
      INSERT INTO pairs (identity, key, first_seen, last_seen) VALUES ('team:X/app', 'a.com', 100, 200);
      INSERT INTO pair_hosts (identity, key, host_id, first_seen, last_seen) VALUES ('team:X/app', 'a.com', 'H2', 100, 200);
      INSERT INTO apps (identity, first_seen, last_seen, path, team_id, attrs_time) VALUES ('team:X/app', 90, 300, '/Applications/X.app', 'X', 300);
      INSERT INTO app_hosts (identity, host_id, first_seen, last_seen) VALUES ('team:X/app', 'H1', 90, 300), ('team:X/app', 'H4', 95, 100);
    `);
    db.close();
    const s = await openSqliteStore(file);
    try {
      const all = { from: 0, to: 1000 };
      const d = await s.prevalence.destinations(['a.com', 'b.com', 'big.com', 'none.com'], all);
      expect(Object.fromEntries([...d].map(([k, v]) => [k, v]))).toEqual({
        'a.com': { hosts: 2, firstSeen: 100, lastSeen: 400, saturated: false },
        'b.com': { hosts: 1, firstSeen: 50, lastSeen: 60, saturated: false },
        'big.com': { hosts: 900, firstSeen: 10, lastSeen: 500, saturated: true },
        'none.com': { hosts: 0, firstSeen: null, lastSeen: null, saturated: false },
      });
      expect((await s.prevalence.destinations(['a.com'], { from: 300, to: 1000 })).get('a.com')!.hosts).toBe(1);
      expect(await s.prevalence.destinationHosts('a.com', all, 10)).toEqual([
        { hostId: 'H2', firstSeen: 100, lastSeen: 200 },
        { hostId: 'H1', firstSeen: 150, lastSeen: 400 },
      ]);
      expect((await s.prevalence.pairs([{ identity: 'team:X/app', key: 'a.com' }], all)).get(pairKey('team:X/app', 'a.com'))!.hosts).toBe(1);
      const app = (await s.prevalence.apps(['team:X/app'], all)).get('team:X/app')!;
      expect(app).toMatchObject({ hosts: 2, firstSeen: 90, lastSeen: 300, path: '/Applications/X.app', teamId: 'X' });
      // New sightings merge into the carried-over rows (same host: one row; new host: a new ref).
      await s.prevalence.observeDestinations([
        { key: 'a.com', hostId: 'H1', firstSeen: 120, lastSeen: 600 },
        { key: 'a.com', hostId: 'H9', firstSeen: 700, lastSeen: 700 },
      ]);
      expect(await s.prevalence.destinationHosts('a.com', all, 10)).toEqual([
        { hostId: 'H2', firstSeen: 100, lastSeen: 200 },
        { hostId: 'H1', firstSeen: 120, lastSeen: 600 },
        { hostId: 'H9', firstSeen: 700, lastSeen: 700 },
      ]);
    } finally {
      await s.close();
    }
  });

  it('refuses a store migrated by a newer Outflow, for writing and for reading', async () => {
    const file = path.join(dir, 'newer.db');
    (await openSqliteStore(file)).close();
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, 0)').run('9999_from_the_future');
    db.close();
    await expect(openSqliteStore(file)).rejects.toThrow(/migrated by a newer Outflow \(migrations 9999_from_the_future/);
    await expect(openSqliteStore(file, { readonly: true })).rejects.toThrow(/newer Outflow/);
  });

  it('0006 numbers stored detections in (last_seen, id) order and later changes follow them', async () => {
    const file = path.join(dir, 'pre-0006.db');
    const db = storeBefore(file, '0006');
    const ins = db.prepare('INSERT INTO detections (id, suppression_key, analytic, host_id, created_at, first_seen, last_seen, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const [id, lastSeen] of [['late', 300], ['early', 100], ['b-mid', 200], ['a-mid', 200]] as const) {
      const d = sampleDetection({ id, suppression_key: `k-${id}`, last_seen: lastSeen });
      ins.run(d.id, d.suppression_key, d.analytic, d.host_id, d.created_at, d.first_seen, d.last_seen, JSON.stringify(d));
    }
    db.close();
    const s = await openSqliteStore(file);
    try {
      const carried = await s.detections.changedSince('', 10);
      expect(carried.map((c) => c.detection.id)).toEqual(['early', 'a-mid', 'b-mid', 'late']);
      expect(await s.detections.changeCursor()).toBe(carried[3]!.cursor);
      await s.detections.upsert([sampleDetection({ id: 'early', suppression_key: 'k-early', count: 2 })]);
      expect((await s.detections.changedSince(carried[3]!.cursor, 10)).map((c) => c.detection.id)).toEqual(['early']);
      // a cursor beyond the counter was not handed out by this store (another file's, say)
      await expect(s.detections.changedSince('6', 10)).rejects.toBeInstanceOf(ChangeCursorError);
      await expect(s.detections.countChangedSince('6')).rejects.toBeInstanceOf(ChangeCursorError);
      expect(await s.detections.countChangedSince('5')).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('0011 takes a stored detection\'s current change as its first: offered already, it is an Update from its next change', async () => {
    const file = path.join(dir, 'pre-0011.db');
    const db = storeBefore(file, '0011');
    const ins = db.prepare('INSERT INTO detections (id, suppression_key, analytic, host_id, created_at, first_seen, last_seen, body, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    for (const [id, seq] of [['a', 1], ['b', 2]] as const) {
      const d = sampleDetection({ id, suppression_key: `k-${id}` });
      ins.run(d.id, d.suppression_key, d.analytic, d.host_id, d.created_at, d.first_seen, d.last_seen, JSON.stringify(d), seq);
    }
    db.prepare("UPDATE store_meta SET value = 2 WHERE name = 'detection_change_seq'").run();
    db.close();
    const s = await openSqliteStore(file);
    try {
      const carried = await s.detections.changedSince('', 10);
      expect(carried.map((c) => [c.detection.id, c.cursor, c.firstCursor])).toEqual([
        ['a', '1', '1'],
        ['b', '2', '2'],
      ]);
      await s.detections.upsert([sampleDetection({ id: 'a', suppression_key: 'k-a', count: 2 })]);
      expect((await s.detections.changedSince('2', 10)).map((c) => [c.detection.id, c.cursor, c.firstCursor])).toEqual([['a', '3', '1']]);
    } finally {
      await s.close();
    }
  });

  it('a detection the previous release inserted after 0011 (a rolling upgrade) gets its first change on its next update', async () => {
    const file = path.join(dir, 'rolling-0011.db');
    const s = await openSqliteStore(file);
    try {
      // the previous release's upsert, on its own connection: no first_change_seq
      const old = new Database(file);
      const d = sampleDetection({ id: 'a', suppression_key: 'k-a' });
      const { value } = old.prepare(`UPDATE store_meta SET value = value + 1 WHERE name = 'detection_change_seq' RETURNING value`).get() as { value: number };
      old
        .prepare('INSERT INTO detections (id, suppression_key, analytic, host_id, created_at, first_seen, last_seen, body, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(d.id, d.suppression_key, d.analytic, d.host_id, d.created_at, d.first_seen, d.last_seen, JSON.stringify(d), value);
      old.close();
      const [first] = await s.detections.changedSince('', 10);
      expect(first!.firstCursor).toBe(first!.cursor);
      await s.detections.upsert([sampleDetection({ id: 'a', suppression_key: 'k-a', count: 2 })]);
      const [next] = await s.detections.changedSince(first!.cursor, 10);
      // a sink at first.cursor was offered it already: not a Create again
      expect(next!.firstCursor).toBe(first!.cursor);
    } finally {
      await s.close();
    }
  });

  it('a host ref cached by one process stays right when another process expires that host', async () => {
    const file = path.join(dir, 'host-refs.db');
    await withTwoProcesses(file, async (a, b) => {
      await a.transaction(async (tx) => {
        await tx.hosts.touch([{ hostId: 'H1', hostname: '', firstSeen: 100, lastSeen: 100 }]);
        await tx.prevalence.observeDestinations([{ key: 'old.com', hostId: 'H1', firstSeen: 100, lastSeen: 100 }]);
      });
      // b expires everything before 200: H1's prevalence rows, its host row, then its ref.
      await b.prevalence.expire(200);
      await b.hosts.expire(200);
      await b.prevalence.expire(200);
      // b hands the next ref to another host; a must not reuse its cached ref for H1.
      await b.prevalence.observeDestinations([{ key: 'x.com', hostId: 'H2', firstSeen: 300, lastSeen: 300 }]);
      await a.prevalence.observeDestinations([{ key: 'new.com', hostId: 'H1', firstSeen: 300, lastSeen: 300 }]);
      const all = { from: 0, to: 1000 };
      expect(await b.prevalence.destinationHosts('new.com', all, 10)).toEqual([{ hostId: 'H1', firstSeen: 300, lastSeen: 300 }]);
      expect(await b.prevalence.destinationHosts('x.com', all, 10)).toEqual([{ hostId: 'H2', firstSeen: 300, lastSeen: 300 }]);
    });
  });

  it('hands out one ref per host across batches of any size (statements padded to a few shapes)', async () => {
    const s = await openSqliteStore(':memory:');
    try {
      const all = { from: 0, to: 10_000 };
      for (const n of [1300, 7, 513]) {
        const rows = Array.from({ length: n }, (_, i) => ({ key: `k${n}.com`, hostId: `H${i}`, firstSeen: i, lastSeen: i }));
        await s.prevalence.observeDestinations(rows);
        const spans = await s.prevalence.destinationHosts(`k${n}.com`, all, 5000);
        expect(new Set(spans.map((h) => h.hostId)).size).toBe(n);
        expect((await s.prevalence.destinations([`k${n}.com`], all)).get(`k${n}.com`)!.hosts).toBe(n);
      }
      // the same hosts again under another key: no new refs, no double rows
      await s.prevalence.observeDestinations(Array.from({ length: 1300 }, (_, i) => ({ key: 'again.com', hostId: `H${i % 650}`, firstSeen: i, lastSeen: i })));
      expect((await s.prevalence.destinations(['again.com'], all)).get('again.com')!.hosts).toBe(650);
    } finally {
      await s.close();
    }
  });

  it('refs created in a rolled-back transaction are not reused from the cache', async () => {
    const s = await openSqliteStore(':memory:');
    try {
      await expect(
        s.transaction(async (tx) => {
          await tx.prevalence.observeApps([{ identity: 'team:X/app', hostId: 'H7', firstSeen: 1, lastSeen: 1 }]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      await s.prevalence.observeApps([{ identity: 'team:X/app', hostId: 'H8', firstSeen: 2, lastSeen: 2 }]);
      await s.prevalence.observeApps([{ identity: 'team:X/app', hostId: 'H7', firstSeen: 3, lastSeen: 3 }]);
      expect(await s.prevalence.appHosts('team:X/app', { from: 0, to: 10 }, 10)).toEqual([
        { hostId: 'H8', firstSeen: 2, lastSeen: 2 },
        { hostId: 'H7', firstSeen: 3, lastSeen: 3 },
      ]);
    } finally {
      await s.close();
    }
  });

  it('0003 keeps every candidate (pending and finalized) of a store made before it', async () => {
    const file = path.join(dir, 'pre-0003.db');
    const db = storeBefore(file, '0003');
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

  it('0012 moves candidate bodies to their own table with their digests, and expiry takes them along', async () => {
    const file = path.join(dir, 'pre-0012.db');
    const db = storeBefore(file, '0012');
    const ins = db.prepare(`INSERT INTO candidates (id, host_id, event_time, analytic, destination_key, bytes_out, body, status, detection_id, counted_bytes_out, counted_bytes_in, branch)
      VALUES (?, 'H1', ?, 'AN0990', 'example.net', 10, ?, ?, ?, ?, 0, ?)`);
    const pendingBody = JSON.stringify({ analytic: 'AN0990', flow_id: 'f2', bytes_out: 10, pad: 'é'.repeat(700) });
    ins.run('H1|AN0990|f2', 200, pendingBody, 'pending', 'det_1', 7, '');
    ins.run('H1|AN0990|f1', 100, JSON.stringify({ analytic: 'AN0990', flow_id: 'f1' }), 'finalized', 'det_1', 10, 'rare');
    db.close();
    const s = await openSqliteStore(file);
    try {
      const [p] = await s.candidates.pendingUpTo(1000, 10);
      expect(p).toMatchObject({ id: 'H1|AN0990|f2', eventTime: 200, detectionId: 'det_1', countedBytesOut: 7, version: { eventTime: 200, bytesOut: 10, digest: candidateBodyDigest(pendingBody) } });
      expect(JSON.stringify(p!.candidate)).toBe(pendingBody);
      // the migrated digest is the one markFinalized compares: the judged version is marked
      await s.candidates.markFinalized([{ id: p!.id, detectionId: 'det_1', countedBytesOut: 10, countedBytesIn: 0, branch: 'rare', version: p!.version }]);
      expect(await s.candidates.countPending()).toBe(0);
      expect(await s.candidates.expire(150)).toBe(1);
    } finally {
      await s.close();
    }
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare('SELECT c.id FROM candidates c JOIN candidate_bodies b ON b.seq = c.seq').pluck().all()).toEqual(['H1|AN0990|f2']);
      expect(after.prepare('SELECT count(*) FROM candidate_bodies').pluck().get()).toBe(1);
    } finally {
      after.close();
    }
  });

  it('0015 counts every day from the first event to the newest as holding data, and an empty store none', async () => {
    const t0 = 20_000 * 86_400;
    const file = path.join(dir, 'pre-0015.db');
    const db = storeBefore(file, '0015');
    db.prepare('INSERT INTO event_clock (id, earliest, newest) VALUES (1, ?, ?)').run(t0 + 3600, t0 + 3 * 86_400 + 5);
    db.close();
    const s = await openSqliteStore(file);
    try {
      expect(await s.clock.dataDaysFrom(0)).toEqual([20_000, 20_001, 20_002, 20_003]);
      await s.clock.observeDays([20_003, 20_010]);
      expect(await s.clock.dataDaysFrom(20_002)).toEqual([20_002, 20_003, 20_010]);
    } finally {
      await s.close();
    }
    const empty = path.join(dir, 'pre-0015-empty.db');
    storeBefore(empty, '0015').close();
    const e = await openSqliteStore(empty);
    try {
      expect(await e.clock.dataDaysFrom(0)).toEqual([]);
    } finally {
      await e.close();
    }
  });

  it('0013 keys host and status rows by host ref with the same answers, refs in order of first sighting', async () => {
    const file = path.join(dir, 'pre-0013.db');
    const db = storeBefore(file, '0013');
    // H2 already has a ref (it has prevalence rows); H0, H3 (a status row, no host row) and H1 get theirs now, in
    // that order: by first sighting (H0's ref, 2, is freed when it expires below)
    db.prepare(`INSERT INTO host_refs (host_id) VALUES ('H2')`).run();
    db.prepare(`INSERT INTO hosts (host_id, hostname, hostname_time, first_seen, last_seen) VALUES ('H1', 'one.local', 90, 50, 90), ('H2', '', 0, 10, 300), ('H0', 'zero.local', 20, 20, 20)`).run();
    const st = db.prepare(`INSERT INTO host_status (host_id, component, platform, state, detail, version, time) VALUES (?, ?, 'darwin', ?, '', '0.1.0', ?)`);
    st.run('H1', 'flows', 'running', 90);
    st.run('H1', 'eslogger', 'degraded', 80);
    st.run('H3', 'flows', 'running', 40);
    db.close();
    const s = await openSqliteStore(file);
    try {
      const hosts = await s.hosts.get(['H0', 'H1', 'H2', 'H3']);
      expect([...hosts.values()]).toEqual([
        { hostId: 'H0', hostname: 'zero.local', firstSeen: 20, lastSeen: 20 },
        { hostId: 'H1', hostname: 'one.local', firstSeen: 50, lastSeen: 90 },
        { hostId: 'H2', hostname: '', firstSeen: 10, lastSeen: 300 },
      ]);
      expect((await s.hosts.listStatus()).map((r) => [r.hostId, r.component, r.state, r.time])).toEqual([
        ['H1', 'eslogger', 'degraded', 80],
        ['H1', 'flows', 'running', 90],
        ['H3', 'flows', 'running', 40],
      ]);
      expect((await s.hosts.listStatus('H3')).map((r) => r.component)).toEqual(['flows']);
      expect(await s.hosts.activeCount({ from: 85, to: 1000 })).toBe(2);
      // a migrated row is updated in place, not duplicated; an older name does not win
      await s.hosts.touch([{ hostId: 'H1', hostname: 'old.local', hostnameTime: 60, firstSeen: 40, lastSeen: 400 }]);
      await s.hosts.recordStatus([{ hostId: 'H1', component: 'flows', platform: 'darwin', state: 'stopped', detail: 'x', version: '0.1.0', time: 400 }]);
      expect((await s.hosts.get(['H1'])).get('H1')).toEqual({ hostId: 'H1', hostname: 'one.local', firstSeen: 40, lastSeen: 400 });
      expect((await s.hosts.listStatus('H1')).map((r) => [r.component, r.state])).toEqual([
        ['eslogger', 'degraded'],
        ['flows', 'stopped'],
      ]);
      // expiry takes a host's status rows along (and status rows older than its bound), and then its ref; H3's status
      // row (reported at 40) keeps its ref
      expect(await s.hosts.expire(30)).toBe(1);
      expect([...(await s.hosts.get(['H0', 'H1', 'H2'])).keys()]).toEqual(['H1', 'H2']);
    } finally {
      await s.close();
    }
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare(`SELECT host_id, ref FROM host_refs ORDER BY ref`).raw().all()).toEqual([
        ['H2', 1],
        ['H3', 3],
        ['H1', 4],
      ]);
      expect(after.prepare(`SELECT h.host_ref, r.host_id FROM hosts h JOIN host_refs r ON r.ref = h.host_ref ORDER BY h.host_ref`).raw().all()).toEqual([
        [1, 'H2'],
        [4, 'H1'],
      ]);
      expect(after.prepare(`SELECT host_ref, component FROM host_status ORDER BY host_ref, component`).raw().all()).toEqual([
        [3, 'flows'],
        [4, 'eslogger'],
        [4, 'flows'],
      ]);
      expect(after.prepare(`SELECT name FROM sqlite_master WHERE name = 'hosts_last_seen'`).all()).toEqual([]);
    } finally {
      after.close();
    }
  });

  it('host and status rows follow a host\'s new ref when another process expired the old one', async () => {
    const file = path.join(dir, 'host-row-refs.db');
    await withTwoProcesses(file, async (a, b) => {
      const status = (hostId: string, time: number) => ({ hostId, component: 'flows', platform: 'darwin', state: 'running', detail: '', version: '0.1.0', time });
      await a.hosts.touch([{ hostId: 'H1', hostname: 'one.local', hostnameTime: 100, firstSeen: 100, lastSeen: 100 }]);
      await a.hosts.recordStatus([status('H1', 100)]);
      // b expires H1 (its host row, its status row, then its ref) and hands the next ref to H2
      expect(await b.hosts.expire(200)).toBe(1);
      await b.hosts.touch([{ hostId: 'H2', hostname: 'two.local', hostnameTime: 300, firstSeen: 300, lastSeen: 300 }]);
      // a's cached ref for H1 is stale: it must not write H1's rows under it
      await a.hosts.touch([{ hostId: 'H1', hostname: 'one.local', hostnameTime: 310, firstSeen: 310, lastSeen: 310 }]);
      await a.hosts.recordStatus([status('H1', 310)]);
      expect([...(await b.hosts.get(['H1', 'H2'])).values()].map((h) => [h.hostId, h.hostname, h.firstSeen])).toEqual([
        ['H1', 'one.local', 310],
        ['H2', 'two.local', 300],
      ]);
      expect((await b.hosts.listStatus()).map((r) => [r.hostId, r.time])).toEqual([['H1', 310]]);
    });
    const db = new Database(file, { readonly: true });
    try {
      // every host and status row names its host's current ref
      expect(db.prepare(`SELECT count(*) FROM hosts h JOIN host_refs r ON r.ref = h.host_ref`).pluck().get()).toBe(2);
      expect(db.prepare(`SELECT count(*) FROM host_status s LEFT JOIN host_refs r ON r.ref = s.host_ref WHERE r.ref IS NULL`).pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });

  it('0008 dates stored hostnames by their host\'s last_seen, so an older name arriving later does not replace them', async () => {
    const file = path.join(dir, 'before-0008.db');
    const db = storeBefore(file, '0008');
    db.prepare(`INSERT INTO hosts (host_id, hostname, first_seen, last_seen) VALUES ('H1', 'kept.local', 10, 100), ('H2', '', 10, 100)`).run();
    db.close();
    const store = await openSqliteStore(file);
    try {
      await store.hosts.touch([
        { hostId: 'H1', hostname: 'older.local', hostnameTime: 90, firstSeen: 90, lastSeen: 90 },
        { hostId: 'H2', hostname: 'first-name.local', hostnameTime: 50, firstSeen: 50, lastSeen: 50 },
      ]);
      let hosts = await store.hosts.get(['H1', 'H2']);
      expect([hosts.get('H1')?.hostname, hosts.get('H2')?.hostname]).toEqual(['kept.local', 'first-name.local']);
      await store.hosts.touch([{ hostId: 'H1', hostname: 'newer.local', hostnameTime: 150, firstSeen: 150, lastSeen: 150 }]);
      hosts = await store.hosts.get(['H1']);
      expect(hosts.get('H1')).toMatchObject({ hostname: 'newer.local', firstSeen: 10, lastSeen: 150 });
    } finally {
      await store.close();
    }
  });

  it('0009 dates each stored app attribute by the app\'s attrs_time, and an empty one by nothing', async () => {
    const file = path.join(dir, 'before-0009.db');
    const db = storeBefore(file, '0009');
    db.prepare(`INSERT INTO apps (identity, first_seen, last_seen, path, team_id, attrs_time) VALUES ('team:A/app', 10, 100, '/A', '', 100)`).run();
    db.close();
    const store = await openSqliteStore(file);
    try {
      const sighting = (t: number, over: Partial<AppSighting>): AppSighting => ({ identity: 'team:A/app', hostId: 'H1', firstSeen: t, lastSeen: t, ...over });
      // older than the stored path: loses to it; the empty team id takes any value, and then the newer one
      await store.prevalence.observeApps([sighting(90, { path: '/older', teamId: 'T90' })]);
      await store.prevalence.observeApps([sighting(95, { teamId: 'T95' })]);
      const a = (await store.prevalence.apps(['team:A/app'], { from: 0, to: 1000 })).get('team:A/app')!;
      expect([a.path, a.teamId]).toEqual(['/A', 'T95']);
    } finally {
      await store.close();
    }
  });

  it('a job lock held by one process is refused to another on the same file until released; a dead holder\'s lease expires', async () => {
    const file = path.join(dir, 'job-lock.db');
    await withTwoProcesses(file, async (a, b) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const running = a.withJobLock('finalize', () => gate.then(() => 'a ran'));
      await new Promise((r) => setTimeout(r, 20));
      expect(await b.withJobLock('finalize', async () => 'b ran')).toEqual({ acquired: false });
      expect(await b.withJobLock('rollup', async () => 'b rollup')).toEqual({ acquired: true, value: 'b rollup' });
      release();
      expect(await running).toEqual({ acquired: true, value: 'a ran' });
      expect(await b.withJobLock('finalize', async () => 'b ran')).toEqual({ acquired: true, value: 'b ran' });
      // a throwing job releases its lease too
      await expect(a.withJobLock('finalize', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(await b.withJobLock('finalize', async () => 'b again')).toEqual({ acquired: true, value: 'b again' });
    });
    // A process killed mid-job leaves its lease: refused while it lasts, taken over once it has expired.
    const raw = new Database(file);
    raw.prepare(`INSERT INTO job_leases (name, owner, expires_at) VALUES ('finalize', 'dead-host:1:x', ?)`).run(Date.now() + 60_000);
    const c = await openSqliteStore(file);
    try {
      expect(await c.withJobLock('finalize', async () => 1)).toEqual({ acquired: false });
      raw.prepare(`UPDATE job_leases SET expires_at = ? WHERE name = 'finalize'`).run(Date.now() - 1);
      expect(await c.withJobLock('finalize', async () => 2)).toEqual({ acquired: true, value: 2 });
      expect(raw.prepare(`SELECT count(*) AS n FROM job_leases`).get()).toEqual({ n: 0 });
    } finally {
      await c.close();
      raw.close();
    }
  });

  it('closing a store while one of its jobs runs frees the job\'s lease at once', async () => {
    const file = path.join(dir, 'job-close.db');
    const logged: { level: number; msg: string }[] = [];
    const log = createLogger({ level: 'debug', destination: { write: (l: string) => void logged.push(JSON.parse(l) as { level: number; msg: string }) } });
    // a short lease, so renewals fall due while the closed store's job still runs
    const a = await openSqliteStore(file, { jobLeaseMs: 200, log });
    const b = await openSqliteStore(file);
    try {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const running = a.withJobLock('finalize', async () => {
        await gate;
        await a.transaction((tx) => tx.hosts.touch([{ hostId: 'late', hostname: '', firstSeen: 1, lastSeen: 1 }]));
      });
      await new Promise((r) => setTimeout(r, 20));
      expect(await b.withJobLock('finalize', async () => 'b ran')).toEqual({ acquired: false });
      await a.close();
      expect(await b.withJobLock('finalize', async () => 'b ran')).toEqual({ acquired: true, value: 'b ran' });
      await new Promise((r) => setTimeout(r, 250));
      release();
      await expect(running).rejects.toThrow('store is closed');
      expect((await b.hosts.get(['late'])).size).toBe(0);
      // no renewal or release warnings about a lease close() already freed
      expect(logged.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a job that lost its lease to another process cannot commit: its write transactions are fenced', async () => {
    const file = path.join(dir, 'job-fence.db');
    await withTwoProcesses(file, async (a, b) => {
      const host = (id: string) => [{ hostId: id, hostname: `${id}.local`, firstSeen: 1, lastSeen: 2 }];
      const outcome = await a.withJobLock('finalize', async () => {
        await a.transaction((tx) => tx.hosts.touch(host('while-held'))); // still ours: commits
        // A stalls past its lease and B takes it over (what a blocked event loop for a minute amounts to)
        const raw = new Database(file);
        raw.prepare(`UPDATE job_leases SET expires_at = ? WHERE name = 'finalize'`).run(Date.now() - 1);
        raw.close();
        expect(await b.withJobLock('finalize', async () => 'b ran')).toEqual({ acquired: true, value: 'b ran' });
        const raw2 = new Database(file);
        raw2.prepare(`INSERT INTO job_leases (name, owner, expires_at) VALUES ('finalize', 'b-still-running', ?)`).run(Date.now() + 60_000);
        raw2.close();
        await expect(a.transaction((tx) => tx.hosts.touch(host('after-loss')))).rejects.toMatchObject({ code: 'JOB_LOCK_LOST' });
        return 'a finished';
      });
      expect(outcome).toEqual({ acquired: true, value: 'a finished' });
      expect([...(await b.hosts.get(['while-held', 'after-loss'])).keys()]).toEqual(['while-held']);
      // outside any job, A's transactions are not fenced; the other holder's lease was left alone
      await a.transaction((tx) => tx.hosts.touch(host('no-job')));
      expect(await a.withJobLock('finalize', async () => 1)).toEqual({ acquired: false });
    });
  });

  it('the rollup in slices is one job: a holder whose lease another process took between slices stops at its next slice, and the new holder finishes', async () => {
    const file = path.join(dir, 'rollup-lease.db');
    // A stalls past its lease: another process may take the job
    await withTwoProcesses(file, (a, b) =>
      expectRollupHandover(a, b, async () => {
        const raw = new Database(file);
        raw.prepare(`UPDATE job_leases SET expires_at = ? WHERE name = 'rollup'`).run(Date.now() - 1);
        raw.close();
      }),
    );
  });

  it('a job lock is not granted while another writer holds the file, nor on a read-only store', async () => {
    const file = path.join(dir, 'job-busy.db');
    const a = await openSqliteStore(file);
    const ro = await openSqliteStore(file, { readonly: true });
    const raw = new Database(file);
    raw.pragma('busy_timeout = 0');
    try {
      raw.exec('BEGIN IMMEDIATE');
      // busy_timeout is 5 s: the lease write waits that long, then the lock counts as held
      expect(await a.withJobLock('finalize', async () => 1)).toEqual({ acquired: false });
      raw.exec('COMMIT');
      expect(await a.withJobLock('finalize', async () => 2)).toEqual({ acquired: true, value: 2 });
      await expect(ro.withJobLock('finalize', async () => 3)).rejects.toMatchObject({ code: 'STORE_WRITE', message: expect.stringMatching(/read-only/) });
    } finally {
      if (raw.inTransaction) raw.exec('ROLLBACK');
      raw.close();
      await ro.close();
      await a.close();
    }
  }, 30_000);

  it('a job longer than its lease keeps it by renewing', async () => {
    const file = path.join(dir, 'job-renew.db');
    const a = await openSqliteStore(file, { jobLeaseMs: 1200 });
    const b = await openSqliteStore(file, { jobLeaseMs: 1200 });
    try {
      const refused: boolean[] = [];
      // The job runs for three lease lengths; meanwhile the other process keeps asking.
      const running = a.withJobLock('finalize', async () => {
        for (let i = 0; i < 12; i++) {
          await new Promise((r) => setTimeout(r, 300));
          refused.push((await b.withJobLock('finalize', async () => 'b ran')).acquired === false);
        }
        return 'a ran';
      });
      expect(await running).toEqual({ acquired: true, value: 'a ran' });
      expect(refused).toEqual(Array(12).fill(true));
    } finally {
      await a.close();
      await b.close();
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
