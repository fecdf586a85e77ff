/** Host and status rows keyed by host ref (SQLite migration 0013): refs under concurrency and odd host ids. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteStore, type SqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { statusLines, T0 } from '../fleet/fleet-helpers.js';
import { withTwoProcesses } from '../helpers/sqlite-stores.js';

const status = (hostId: string, time: number) => ({ hostId, component: 'flows', platform: 'darwin', state: 'running', detail: '', version: '0.1.0', time });

describe('SQLite host refs of host and status rows', () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sqlite-host-refs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a direct hosts.expire is one transaction: the other process cannot write between its delete of refs and the generation bump', async () => {
    const file = path.join(dir, 'expire-race.db');
    await withTwoProcesses(file, async (a, b) => {
      await a.hosts.touch([{ hostId: 'H1', hostname: 'one.local', hostnameTime: 100, firstSeen: 100, lastSeen: 100 }]);
      await a.hosts.recordStatus([status('H1', 100)]);
      // a gives up at once on a held write lock, instead of blocking this (single) thread for busy_timeout
      (a as unknown as { db: Database.Database }).db.pragma('busy_timeout = 0');
      // b's expire has deleted H1's ref and is about to bump host_refs_generation: a tries to write H1's rows now,
      // with its cached (deleted) ref
      const bRepos = (b as unknown as { repos: { st(sql: string): unknown } }).repos;
      // a's repositories directly: its store would queue the call behind its own mutex, not run it now
      const aRepos = (a as unknown as { repos: { hosts: SqliteStore['hosts'] } }).repos;
      const st = bRepos.st.bind(bRepos);
      let during: Promise<unknown> | undefined;
      bRepos.st = (sql: string) => {
        if (!during && sql.includes(`UPDATE store_meta SET value = value + 1 WHERE name = 'host_refs_generation'`)) {
          during = aRepos.hosts.touch([{ hostId: 'H1', hostname: 'one.local', hostnameTime: 300, firstSeen: 300, lastSeen: 300 }]);
          during.catch(() => undefined);
        }
        return st(sql);
      };
      expect(await b.hosts.expire(200)).toBe(1);
      await expect(during).rejects.toThrow(/locked|busy/i);
      // a's retry, after the expiry committed
      await a.hosts.touch([{ hostId: 'H1', hostname: 'one.local', hostnameTime: 300, firstSeen: 300, lastSeen: 300 }]);
      await a.hosts.recordStatus([status('H1', 300)]);
      expect((await b.hosts.get(['H1'])).get('H1')?.lastSeen).toBe(300);
      expect((await b.hosts.listStatus()).map((r) => [r.hostId, r.time])).toEqual([['H1', 300]]);
    });
    const db = new Database(file, { readonly: true });
    try {
      // every host and status row names its host's current ref
      expect(db.prepare(`SELECT count(*) FROM hosts h LEFT JOIN host_refs r ON r.ref = h.host_ref WHERE r.ref IS NULL`).pluck().get()).toBe(0);
      expect(db.prepare(`SELECT count(*) FROM host_status s LEFT JOIN host_refs r ON r.ref = s.host_ref WHERE r.ref IS NULL`).pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });

  it('a host id with a lone surrogate: its status is recorded and its host row names its ref', async () => {
    const file = path.join(dir, 'surrogate.db');
    const s = await openSqliteStore(file);
    try {
      await s.hosts.touch([{ hostId: 'EVIL-\ud800', hostname: 'evil.local', hostnameTime: 100, firstSeen: 100, lastSeen: 100 }]);
      await s.hosts.recordStatus([status('EVIL-\ud800', 100)]);
      expect((await s.hosts.listStatus()).length).toBe(1);
      expect((await s.hosts.get(['EVIL-\ud800'])).get('EVIL-\ud800')).toMatchObject({ hostname: 'evil.local', lastSeen: 100 });
    } finally {
      await s.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare(`SELECT count(*) FROM hosts h LEFT JOIN host_refs r ON r.ref = h.host_ref WHERE r.ref IS NULL`).pluck().get()).toBe(0);
    } finally {
      db.close();
    }
  });

  it('a lone-surrogate host id does not take another host\'s ref for its host row', async () => {
    const s = await openSqliteStore(':memory:');
    try {
      // H1 has a ref from its prevalence rows (no host row yet)
      await s.prevalence.observeDestinations([{ key: 'a.com', hostId: 'H1', firstSeen: 100, lastSeen: 100 }]);
      await s.hosts.touch([{ hostId: 'EVIL-\ud800', hostname: 'evil.local', hostnameTime: 100, firstSeen: 100, lastSeen: 100 }]);
      await s.hosts.touch([{ hostId: 'H1', hostname: 'one.local', hostnameTime: 100, firstSeen: 100, lastSeen: 100 }]);
      expect((await s.hosts.get(['H1'])).get('H1')?.hostname).toBe('one.local');
    } finally {
      await s.close();
    }
  });

  it('ingest: an outflow_status line from a host whose id has a lone surrogate is quarantined and does not fail the batch (and lose the good lines)', async () => {
    const store = await openSqliteStore(':memory:');
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
      const lines = statusLines([{ uuid: 'GOOD-1', hostname: 'good.local' }, { uuid: 'EVIL-\ud800', hostname: 'evil.local' }], T0);
      const r = await ingest.ingestLines(lines, { kind: 'test', id: 'host-refs' });
      expect((await store.hosts.listStatus('GOOD-1')).map((r) => r.state)).toEqual(['running']);
      // the other line is quarantined (ingest-hostile.test.ts): the store never sees that id
      expect(r).toMatchObject({ quarantined: 1 });
    } finally {
      await store.close();
    }
  });
});
