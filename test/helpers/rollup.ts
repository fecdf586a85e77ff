/**
 * For the tests of the rollup in slices (fleet/rules/maintenance.ts rollup): a seeded store with something to
 * expire and to compact in every prevalence family, the rollup as it ran before slices (one exclusive
 * transaction), a dump of what a store answers, and a store whose rollup slices a test can step into.
 */
import { expect } from 'vitest';
import { commonThreshold } from '../../src/analytics/index.js';
import { fixedClock, type Clock } from '../../src/clock.js';
import { defaultAnalyticsConfig, type AnalyticsConfig } from '../../src/config/analytics.js';
import { rollup, rollupBounds, type RollupResult } from '../../fleet/rules/maintenance.js';
import { type AppSighting, type CompactionResult, type DestinationSighting, type PairSighting, type PrevalenceKeyRef, type PrevalenceRepo, type Store, type StoreRepos, type TransactionOptions } from '../../fleet/store/store.js';
import { mulberry32 } from '../../scripts/simulate-fleet.js';

const DAY = 86_400;
/** A wall clock far ahead of every event: the rollup's present is the store's newest event. */
export const FAR_CLOCK: Clock = fixedClock(4e9);

/** What seedRollupStore wrote: every key (expired ones too) and host, and the newest event time. */
export interface RollupSeed {
  newest: number;
  destinations: string[];
  pairs: { identity: string; key: string }[];
  apps: string[];
  hosts: string[];
}

/**
 * A store 80 days into its life, as its rollup finds it: keys seen only in the first two weeks (compacted then,
 * with day sketches that are now old; or still exact), keys seen then and again lately, and keys of the last month,
 * some past the common threshold (10 of 30 active hosts), some with host rows older than the rollup keeps. Every
 * family gets each kind; hosts and their counts are drawn from `seed`.
 */
export async function seedRollupStore(store: Store, t0: number, seed: number): Promise<RollupSeed> {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const newest = t0 + 80 * DAY;
  const hosts = Array.from({ length: 40 }, (_, i) => `H${String(i).padStart(2, '0')}`);
  // 30 hosts active in the last month, 10 gone since the first two weeks
  await store.hosts.touch(hosts.map((hostId, i) => ({ hostId, hostname: `${hostId.toLowerCase()}.local`, firstSeen: t0, lastSeen: i < 30 ? newest - int(0, 5) * DAY : t0 + 14 * DAY })));
  await store.clock.observe(t0, newest);
  await store.results.markSeen(Array.from({ length: 20 }, (_, i) => ({ digest: `digest-${i}`, unixTime: newest - i * 6 * 3600 })));

  /** `n` distinct hosts of `pool`, each with one span inside [from, to]. */
  const spans = (pool: readonly string[], n: number, from: number, to: number) => {
    const picked = [...pool];
    for (let i = picked.length - 1; i > 0; i--) {
      const j = int(0, i);
      [picked[i], picked[j]] = [picked[j]!, picked[i]!];
    }
    return picked.slice(0, n).map((hostId) => {
      const a = int(from, to);
      const b = int(from, to);
      return { hostId, firstSeen: Math.min(a, b), lastSeen: Math.max(a, b) };
    });
  };
  const early = (n: number) => spans(hosts, n, t0, t0 + 14 * DAY);
  const late = (n: number) => spans(hosts.slice(0, 30), n, t0 + 45 * DAY, newest);
  const out: RollupSeed = { newest, destinations: [], pairs: [], apps: [], hosts };
  const batches: { early: [DestinationSighting[], PairSighting[], AppSighting[]]; late: [DestinationSighting[], PairSighting[], AppSighting[]] } = { early: [[], [], []], late: [[], [], []] };
  const kinds = ['early', 'both', 'late'] as const;
  for (const kind of kinds) {
    for (let i = 0; i < 12; i++) {
      const dest = `${kind}-${i}.example.net`;
      const identity = `team:T${i % 4}/${kind}.app${i}`;
      out.destinations.push(dest);
      out.pairs.push({ identity, key: dest });
      out.apps.push(identity);
      for (const when of ['early', 'late'] as const) {
        if (kind !== 'both' && kind !== when) continue;
        const draw = () => (when === 'early' ? early : late)(int(1, 20));
        const [d, p, a] = batches[when];
        d.push(...draw().map((s) => ({ key: dest, ...s })));
        p.push(...draw().map((s) => ({ identity, key: dest, ...s })));
        a.push(...draw().map((s) => ({ identity, ...s, path: `/Applications/${identity}`, signatureClass: 'developer_id', teamId: `T${i % 4}` })));
      }
    }
  }
  const observe = async ([d, p, a]: [DestinationSighting[], PairSighting[], AppSighting[]]) => {
    await store.prevalence.observeDestinations(d);
    await store.prevalence.observePairs(p);
    await store.prevalence.observeApps(a);
  };
  await observe(batches.early);
  // the early keys common then are compacted then: their later sightings go to day sketches
  await store.prevalence.compact(10, { from: t0 - 16 * DAY, to: t0 + 14 * DAY });
  await observe(batches.late);
  return out;
}

/** Four destinations each 12 of 13 hosts saw a day before `newest` (the common threshold is 10): a rollup compacts them all. */
export async function seedFourCommonKeys(store: Store, newest: number): Promise<string[]> {
  const keys = ['a.example', 'b.example', 'c.example', 'd.example'];
  await store.clock.observe(newest - 40 * DAY, newest);
  await store.hosts.touch(Array.from({ length: 13 }, (_, i) => ({ hostId: `H${i}`, hostname: '', firstSeen: newest - 40 * DAY, lastSeen: newest })));
  await store.prevalence.observeDestinations(keys.flatMap((key) => Array.from({ length: 12 }, (_, i) => ({ key, hostId: `H${i}`, firstSeen: newest - DAY, lastSeen: newest - DAY }))));
  return keys;
}

/**
 * The rollup in slices is one job, on any backend: before A's second exclusive transaction (compaction slice 2 of 4)
 * `loseJob` takes the rollup job from A (each backend its own way: a lost lock connection, an expired lease), then B
 * takes the job and runs it whole; A must stop at its next slice with JOB_LOCK_LOST and write nothing after.
 */
export async function expectRollupHandover(a: Store, b: Store, loseJob: () => Promise<void>): Promise<void> {
  const analytics = defaultAnalyticsConfig();
  const newest = 1_772_409_600;
  const keys = await seedFourCommonKeys(a, newest);
  let takeover: unknown;
  const hooked = hookSlices(
    a,
    (_kind, _n, run) => run(),
    async (n) => {
      if (n !== 2) return;
      await loseJob();
      takeover = await b.withJobLock('rollup', () => rollup(b, { analytics, clock: FAR_CLOCK, sliceRows: 13 }));
    },
  );
  await expect(a.withJobLock('rollup', () => rollup(hooked.store, { analytics, clock: FAR_CLOCK, sliceRows: 13 }))).rejects.toMatchObject({ code: 'JOB_LOCK_LOST' });
  // A compacted one key before it lost the job, B the three others; A wrote nothing after
  expect(takeover).toMatchObject({ acquired: true, value: { compacted: { destinations: 3 } } });
  expect(hooked.exclusive()).toBe(2);
  const stats = await b.prevalence.destinations(keys, { from: newest - 30 * DAY, to: newest });
  for (const k of keys) expect(stats.get(k)).toMatchObject({ hosts: 12, saturated: true });
}

/** The rollup as it ran before slices: everything in one exclusive transaction, from the same bounds. */
export async function rollupInOneTransaction(store: Store, cfg: AnalyticsConfig): Promise<RollupResult> {
  const newest = (await store.clock.get()).newest!;
  const b = rollupBounds(newest, cfg);
  return store.transaction(
    async (tx) => {
      const activeHosts = await tx.hosts.activeCount(b.window);
      const threshold = commonThreshold(activeHosts, cfg);
      const expired = await tx.prevalence.expire(b.keepFrom, { sketchesBefore: b.sketchesBefore });
      const compacted = await tx.prevalence.compact(threshold, b.window, { keptFrom: b.keepFrom });
      const dedupeKeysExpired = await tx.results.expire(b.dedupeBefore);
      const hostsExpired = await tx.hosts.expire(b.hostsBefore);
      return { newest, activeHosts, commonThreshold: threshold, compacted, expired, dedupeKeysExpired, hostsExpired };
    },
    { exclusive: true },
  );
}

/**
 * What the store answers about the seeded keys and hosts: every key's stats in windows over the whole life of the
 * store (day sketches included), exact host spans, keptFrom and the hosts.
 */
export async function dumpRollupState(store: Store, seed: RollupSeed, t0: number): Promise<unknown> {
  const windows = [
    { from: 0, to: 4e9 },
    { from: t0, to: t0 + 14 * DAY },
    { from: t0 + 10 * DAY, to: t0 + 40 * DAY },
    { from: t0 + 30 * DAY, to: t0 + 60 * DAY },
    { from: seed.newest - 35 * DAY, to: seed.newest - 5 * DAY },
    { from: seed.newest - 30 * DAY, to: seed.newest },
  ];
  const answers = await store.prevalence.statsMany(windows.map((window) => ({ window, destinations: seed.destinations, pairs: seed.pairs, apps: seed.apps })));
  const spans: Record<string, unknown> = {};
  for (const k of seed.destinations) spans[`destination ${k}`] = await store.prevalence.destinationHosts(k, windows[0]!, 1000);
  for (const k of seed.apps) spans[`app ${k}`] = await store.prevalence.appHosts(k, windows[0]!, 1000);
  const hosts = await store.hosts.get(seed.hosts);
  return {
    stats: answers.map((a) => ({ destinations: Object.fromEntries(a.destinations), pairs: Object.fromEntries(a.pairs), apps: Object.fromEntries(a.apps) })),
    spans,
    keptFrom: await store.prevalence.keptFrom(),
    hosts: seed.hosts.map((h) => hosts.get(h) ?? null),
  };
}

export type SliceKind = 'expire' | 'compact';

/**
 * `store` whose transactions hand `fn` repositories whose prevalence.expire and compact go through `onSlice` (with
 * the call's kind, its number from 1 per kind, and the keys it was given), which runs the real call with `run` — or
 * does something first, or fails. `exclusive()`: how many exclusive transactions were started.
 */
export function hookSlices(
  store: Store,
  onSlice: (kind: SliceKind, n: number, run: () => Promise<CompactionResult>, keys: readonly PrevalenceKeyRef[] | undefined) => Promise<CompactionResult>,
  /** Before exclusive transaction `n` (from 1) begins. */
  beforeExclusive?: (n: number) => Promise<void>,
): { store: Store; exclusive: () => number } {
  const calls = { expire: 0, compact: 0 };
  let exclusive = 0;
  const hooked = (tx: StoreRepos): StoreRepos => {
    const prevalence: PrevalenceRepo = {
      ...tx.prevalence,
      compact: (...args) => onSlice('compact', ++calls.compact, () => tx.prevalence.compact(...args), args[2]?.keys),
      expire: (...args) => onSlice('expire', ++calls.expire, () => tx.prevalence.expire(...args), args[1]?.keys),
    };
    const { results, hosts, clock, candidates, detections, quarantine, checkpoints } = tx;
    return { results, hosts, clock, prevalence, candidates, detections, quarantine, checkpoints };
  };
  const transaction = async <T>(fn: (tx: StoreRepos) => Promise<T>, opts?: TransactionOptions): Promise<T> => {
    if (opts?.exclusive) {
      exclusive++;
      await beforeExclusive?.(exclusive);
    }
    return store.transaction((tx) => fn(hooked(tx)), opts);
  };
  return { store: withTransaction(store, transaction), exclusive: () => exclusive };
}

/** `store` with its transaction method replaced by `transaction` (every other member is the store's own). */
export function withTransaction(store: Store, transaction: Store['transaction']): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'transaction') return transaction;
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
