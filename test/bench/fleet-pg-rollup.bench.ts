/**
 * The first rollup after a backfill (docs/postgres-nats.md, "Schema, migrations and Citus"): 2 000 destination keys
 * that became common, each with 12 host rows a month long, compacted into day sketches — on PostgreSQL and, for
 * comparison, SQLite. Reports how long the rollup took and the longest time it held the store alone (one
 * exclusive transaction, BEGIN to COMMIT): every instance's ingest batches wait that long at most. PostgreSQL twice:
 * right after the backfill, and with its tables analyzed, as autovacuum leaves them by the next hourly rollup
 * (without statistics the planner reads whole tables for each slice's few keys). Part of
 * `npm run bench -- fleet-pg`; alone with `npm run bench -- fleet-pg-rollup`.
 */
import type { BenchContext } from './run.js';
import { rollup } from '../../fleet/rules/maintenance.js';
import { openStore } from '../../fleet/store/open.js';
import type { DestinationSighting, HostSighting, Store, StoreRepos, TransactionOptions } from '../../fleet/store/store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createTestDatabase, pgQuery } from '../helpers/pg.js';
import { FAR_CLOCK, withTransaction } from '../helpers/rollup.js';

const DAY = 86_400;
const NEWEST = 1_780_000_000;

/** `store`, recording how long each exclusive transaction took (s, its lock wait included). */
function timingExclusive(store: Store): { store: Store; holds: number[] } {
  const holds: number[] = [];
  const transaction = async <T>(fn: (tx: StoreRepos) => Promise<T>, opts?: TransactionOptions): Promise<T> => {
    if (!opts?.exclusive) return store.transaction(fn, opts);
    const t0 = performance.now();
    try {
      return await store.transaction(fn, opts);
    } finally {
      holds.push((performance.now() - t0) / 1000);
    }
  };
  return { store: withTransaction(store, transaction), holds };
}

/** `keys` destinations, each sighted by `perKey` of `hosts` hosts (the common threshold is 10 % of them) over the last month. */
async function seedBackfill(store: Store, keys: number, perKey: number, hosts: number): Promise<void> {
  const ids = Array.from({ length: hosts }, (_, i) => `HOST-${String(i).padStart(5, '0')}`);
  await store.hosts.touch(ids.map((hostId): HostSighting => ({ hostId, hostname: '', firstSeen: NEWEST - 30 * DAY, lastSeen: NEWEST })));
  await store.clock.observe(NEWEST - 30 * DAY, NEWEST);
  let rows: DestinationSighting[] = [];
  for (let k = 0; k < keys; k++) {
    const key = `backfill-${String(k).padStart(5, '0')}.example.com`;
    for (let j = 0; j < perKey; j++) {
      rows.push({ key, hostId: ids[(k * 7 + j * 13) % hosts]!, firstSeen: NEWEST - 30 * DAY + ((k + j) % 600) * 60, lastSeen: NEWEST - ((k * j) % 600) * 60 });
    }
    if (rows.length >= 5000) {
      await store.prevalence.observeDestinations(rows);
      rows = [];
    }
  }
  await store.prevalence.observeDestinations(rows);
}

async function rollupAfterBackfill(url: string, keys: number, analyze = false): Promise<{ seconds: number; longest: number; transactions: number }> {
  const opened = await openStore(url);
  try {
    await seedBackfill(opened, keys, 12, 100);
    if (analyze) await pgQuery(url, 'ANALYZE');
    const { store, holds } = timingExclusive(opened);
    const t0 = performance.now();
    const r = await rollup(store, { analytics: defaultAnalyticsConfig(), clock: FAR_CLOCK });
    const seconds = (performance.now() - t0) / 1000;
    if (r.compacted.destinations !== keys) throw new Error(`compacted ${r.compacted.destinations} of ${keys} keys`);
    return { seconds, longest: Math.max(...holds), transactions: holds.length };
  } finally {
    await opened.close();
  }
}

export default async function (b: BenchContext): Promise<void> {
  const keys = b.quick ? 500 : 2000;
  const sqlite = await rollupAfterBackfill(':memory:', keys);
  const onPostgres = async (analyze: boolean) => {
    const db = await createTestDatabase('benchrollup');
    try {
      return await rollupAfterBackfill(db.url, keys, analyze);
    } finally {
      await db.drop();
    }
  };
  const pg = await onPostgres(false);
  // as the hourly rollup finds the tables after a real backfill: autovacuum has analyzed them
  const analyzed = await onPostgres(true);
  b.report(`first rollup after a backfill: ${keys} common keys × 12 month-long host rows`, {
    postgres_rollup_s: Number(pg.seconds.toFixed(3)),
    postgres_longest_exclusive_s: Number(pg.longest.toFixed(3)),
    postgres_exclusive_transactions: pg.transactions,
    postgres_analyzed_rollup_s: Number(analyzed.seconds.toFixed(3)),
    postgres_analyzed_longest_exclusive_s: Number(analyzed.longest.toFixed(3)),
    sqlite_rollup_s: Number(sqlite.seconds.toFixed(3)),
    sqlite_longest_exclusive_s: Number(sqlite.longest.toFixed(3)),
    sqlite_exclusive_transactions: sqlite.transactions,
  });
}
