/**
 * Finalization's read of day sketches on PostgreSQL (pg-store.ts loadSketches): 500 compacted destination keys with
 * 31 days of sketches each (a 30-day window), asked for in two windows as finalization asks (its candidates' start
 * and line). Reports `statsMany` for an instance that keeps no sketches (every read sends every key's registers) and
 * for one that keeps them (SketchRowCache): its first read, the next ones, and a read after another instance raised
 * the newest day of every key (what ingest does between two finalization runs). The rest of `statsMany` (the key
 * rows, merging the days) is the same in every row, so the difference is the sketch read. Part of
 * `npm run bench -- fleet-pg`; alone with `npm run bench -- fleet-pg-sketches`.
 */
import type { BenchContext } from './run.js';
import { openPostgresStore, type PostgresStore } from '../../fleet/store/postgres/index.js';
import { addPoints, emptySketch, hostPoint } from '../../fleet/store/host-sketch.js';
import { createTestDatabase, pgQuery } from '../helpers/pg.js';

const DAY = 86_400;
const LAST_DAY = 20_600;
const DAYS = 31;

/** `keys` saturated destinations with a day sketch on each of DAYS days, 30 to 3 000 hosts a day (12 % of registers set). */
async function seed(url: string, keys: number): Promise<string[]> {
  // a few host sets, each (key, day) made distinct by two registers of its own (the cache matches rows by digest)
  const bases = [30, 100, 300, 1000, 3000].map((n, b) => {
    const r = emptySketch();
    addPoints(r, Array.from({ length: n }, (_, i) => hostPoint(`HOST-${b}-${i}`)));
    return r;
  });
  const names = Array.from({ length: keys }, (_, k) => `common-${String(k).padStart(4, '0')}.example.com`);
  for (let from = 0; from < keys; from += 100) {
    const part = names.slice(from, from + 100);
    const rows = part.flatMap((key, i) =>
      Array.from({ length: DAYS }, (_, d) => {
        const k = from + i;
        const r = Uint8Array.from(bases[(k + d) % bases.length]!);
        r[(k * 131 + d * 7) % r.length] = 1 + (k % 21);
        r[(k * 17 + d * 257) % r.length] = 1 + (d % 21);
        return { key, day: LAST_DAY - d, registers: Buffer.from(r) };
      }),
    );
    await pgQuery(url, `INSERT INTO destinations (dest_key, first_seen, last_seen, saturated, host_count) SELECT k, $2, $3, TRUE, 1000 FROM unnest($1::text[]) AS k`, [part, (LAST_DAY - DAYS) * DAY, LAST_DAY * DAY]);
    await pgQuery(
      url,
      `INSERT INTO destination_sketches (dest_key, day, registers) SELECT * FROM unnest($1::text[], $2::int[], $3::bytea[])`,
      [rows.map((r) => r.key), rows.map((r) => r.day), rows.map((r) => r.registers)],
    );
  }
  await pgQuery(url, 'VACUUM ANALYZE');
  return names;
}

export default async function (b: BenchContext): Promise<void> {
  const keys = b.quick ? 100 : 500;
  const db = await createTestDatabase('benchsketch');
  const stores: PostgresStore[] = [];
  try {
    stores.push(await openPostgresStore(db.url));
    const names = await seed(db.url, keys);
    const [uncached, cached, writer] = [await openPostgresStore(db.url, { sketchCacheBytes: 0 }), await openPostgresStore(db.url), stores[0]!];
    stores.push(uncached, cached);
    const to = LAST_DAY * DAY + 3600;
    const window = { from: to - 30 * DAY, to };
    const read = async (store: PostgresStore) => {
      const t0 = performance.now();
      await store.prevalence.statsMany([window, { from: window.from + 60, to: window.to + 60 }].map((w) => ({ window: w, destinations: names, pairs: [], apps: [] })));
      return performance.now() - t0;
    };
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const noCache: number[] = [];
    for (let i = 0; i < 3; i++) noCache.push(await read(uncached));
    const first = await read(cached);
    const warm: number[] = [];
    for (let i = 0; i < 3; i++) warm.push(await read(cached));
    // ingest between two runs: one more host on every key's newest day, by another instance
    await writer.prevalence.observeDestinations(names.map((key, i) => ({ key, hostId: `NEW-${i}`, firstSeen: to - 60, lastSeen: to - 60 })));
    const changed = await read(cached);
    const stats = cached.sketchCacheStats();
    b.report(`statsMany, ${keys} compacted keys × ${DAYS} day sketches, 2 windows`, {
      no_cache_ms: Math.round(median(noCache)),
      cache_first_ms: Math.round(first),
      cache_next_ms: Math.round(median(warm)),
      after_other_instance_wrote_ms: Math.round(changed),
      rows_served_from_cache: stats.served,
      rows_fetched: stats.fetched,
      cache_mb: Number((stats.bytes / 2 ** 20).toFixed(1)),
    });
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await db.drop();
  }
}
