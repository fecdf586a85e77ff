/**
 * A PostgreSQL server that vanishes without a FIN or RST (power loss, a failover, a network cut) must not wedge
 * an aggregator: a query waiting for an answer that never comes is given up, its connection dropped, and the
 * store goes on with new connections once the server is reachable again.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { openPostgresStore, type PostgresStore } from '../../fleet/store/postgres/index.js';
import { StoreError } from '../../src/errors.js';
import { createTestDatabase, holdServerShared, type TestDatabase } from '../helpers/pg.js';
import { startBlackholeProxy, type BlackholeProxy } from '../helpers/tcp-proxy.js';

let release: () => Promise<void>;
let db: TestDatabase;
let proxy: BlackholeProxy | undefined;
let store: PostgresStore | undefined;
beforeAll(async () => {
  release = await holdServerShared(85_000);
  db = await createTestDatabase('vanished_server');
}, 90_000);
afterEach(async () => {
  // the relay first: closing a store whose connections are cut would wait for the server's goodbye
  await proxy?.close();
  await store?.close();
  proxy = undefined;
  store = undefined;
});
afterAll(async () => {
  await db?.drop();
  await release?.();
});

async function openViaProxy(opts: Parameters<typeof openPostgresStore>[1]): Promise<PostgresStore> {
  const target = new URL(db.url);
  proxy = await startBlackholeProxy(target.hostname, Number(target.port || 5432));
  target.port = String(proxy.port);
  store = await openPostgresStore(target.toString(), opts);
  return store;
}

const put = (s: PostgresStore, id: string) => s.transaction((tx) => tx.checkpoints.put(`file:${id}`, { ino: 1, dev: 1, offset: 1 }));

describe('PostgreSQL store when the server vanishes', () => {
  it('a job whose server vanishes while it holds the lock ends, and its lock connection is dropped', async () => {
    const s = await openViaProxy({ poolSize: 2, jobFenceWaitMs: 200, clientTimeoutMarginMs: 1000 });
    const t0 = Date.now();
    const r = await s.withJobLock('finalize', async () => {
      proxy!.blackhole();
      return 'ran';
    });
    // the job's work is done; only the unlock went unanswered (the server drops the lock with the session)
    expect(r).toEqual({ acquired: true, value: 'ran' });
    expect(Date.now() - t0).toBeLessThan(8_000);
    const { lockPool } = s as unknown as { lockPool: pg.Pool };
    expect(lockPool.totalCount).toBe(0);
  }, 20_000);

  it('a transaction waiting on a vanished server fails with a store error, and later ones commit once it is back', async () => {
    const s = await openViaProxy({ poolSize: 2, statementTimeoutMs: 500, clientTimeoutMarginMs: 1000 });
    await put(s, 'before');
    proxy!.blackhole();
    const t0 = Date.now();
    const err = await put(s, 'during').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(Date.now() - t0).toBeLessThan(8_000);
    proxy!.restore();
    // connections cut with the server are given up one by one (each within the timeout); a new one then commits
    let committed = false;
    for (let attempt = 0; attempt < 4 && !committed; attempt++) committed = await put(s, 'after').then(() => true, () => false);
    expect(committed).toBe(true);
    expect(await s.checkpoints.get('file:after')).toEqual({ ino: 1, dev: 1, offset: 1 });
  }, 40_000);

  it('every connection has TCP keepalive on its own side, so an idle one to a vanished server is noticed', async () => {
    const s = await openViaProxy({ poolSize: 2 });
    const seen: string[] = [];
    await s.withJobLock('rollup', async () => {
      const { pool, lockPool } = s as unknown as { pool: pg.Pool; lockPool: pg.Pool };
      for (const p of [lockPool, pool]) {
        const c = await p.connect();
        try {
          const local = (c as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
          // ss -o prints a socket's timer: "timer:(keepalive,…)" once SO_KEEPALIVE is set and the socket is idle
          seen.push(execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${local} )`], { encoding: 'utf8' }));
        } finally {
          c.release();
        }
      }
    });
    expect(seen).toHaveLength(2);
    for (const line of seen) expect(line).toMatch(/timer:\(keepalive,/);
  }, 20_000);
});
