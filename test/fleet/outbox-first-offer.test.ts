/**
 * OCSF Create on a sink's first offer of a detection, across delivery calls: a call that stopped mid-backlog
 * (maxPerCall, a refused page, a partial write) may leave a detection whose row moved past the stop point
 * before it was read. Its first offer, in a later call, must still be a Create.
 */
import { describe, expect, it } from 'vitest';
import { deliverDetections, prepareSinkCursors, sinkCursorId } from '../../fleet/sinks/outbox.js';
import { PartialWriteError, type Sink, type WriteContext } from '../../fleet/sinks/sink.js';
import type { Detection, Store } from '../../fleet/store/store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { memoryStore } from './fleet-helpers.js';
import { sampleDetection } from './serve-fixtures.js';

class FirstOfferSink implements Sink {
  readonly name = 'rec';
  readonly offers: [string, boolean][] = [];
  failNext = 0;
  acceptOnly: number | undefined;
  async write(detections: readonly Detection[], ctx?: WriteContext): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('down');
    }
    const n = this.acceptOnly ?? detections.length;
    this.acceptOnly = undefined;
    for (const d of detections.slice(0, n)) this.offers.push([d.id, ctx!.firstOffered!.has(d.id)]);
    if (n < detections.length) throw new PartialWriteError(n, new Error('spool full'));
  }
  async close(): Promise<void> {}
}

async function upsert(store: Store, id: string, count = 1): Promise<void> {
  await store.detections.upsert([sampleDetection({ id, suppression_key: `k-${id}`, count })]);
}

/** Each detection is offered once, and each time as a first offer (a Create). */
const BOTH_FIRST_OFFERS = [
  ['other', true],
  ['moved', true],
];

/** moved: change 1, other: change 2, moved again: change 3 (its row is now after other's). */
async function setup() {
  const store = await memoryStore();
  const sink = new FirstOfferSink();
  const g = { sinks: [sink] };
  await prepareSinkCursors(store, g);
  await upsert(store, 'moved');
  await upsert(store, 'other');
  await upsert(store, 'moved', 2);
  return { store, sink, g };
}

describe('first offer across call boundaries', () => {
  it('a call stopped by maxPerCall: the next call still offers the never-offered detection as first', async () => {
    const { store, sink, g } = await setup();
    await deliverDetections(store, g, { batchSize: 1, maxPerCall: 1 }); // delivers 'other', stops (behind)
    await deliverDetections(store, g, { batchSize: 1, maxPerCall: 1 }); // delivers 'moved'
    expect(sink.offers).toEqual(BOTH_FIRST_OFFERS);
    await store.close();
  });

  it('a failed second page: the refused detection is still a first offer next run', async () => {
    const { store, sink, g } = await setup();
    const realWrite = sink.write.bind(sink);
    let calls = 0;
    sink.write = async (d, c) => {
      if (++calls === 2) throw new Error('sink went down');
      return realWrite(d, c);
    };
    await deliverDetections(store, g, { batchSize: 1 }); // 'other' accepted, 'moved' refused
    await deliverDetections(store, g, { batchSize: 1 });
    expect(sink.offers).toEqual(BOTH_FIRST_OFFERS);
    await store.close();
  });

  it('a partial write: the refused tail is still a first offer next run', async () => {
    const { store, sink, g } = await setup();
    sink.acceptOnly = 1; // page ['other', 'moved']: only 'other' taken
    await deliverDetections(store, g);
    await deliverDetections(store, g);
    expect(sink.offers).toEqual(BOTH_FIRST_OFFERS);
    await store.close();
  });
});

describe('a backlog larger than the offered list once was (10 000)', () => {
  it('a detection offered early in a call stopped by maxPerCall is not offered as first again', async () => {
    const store = await memoryStore();
    const creates = new Map<string, number>();
    const sink: Sink = {
      name: 'rec',
      async write(ds: readonly Detection[], ctx?: WriteContext) {
        for (const d of ds) if (ctx!.firstOffered!.has(d.id)) creates.set(d.id, (creates.get(d.id) ?? 0) + 1);
      },
      async close() {},
    };
    const g = { sinks: [sink] };
    await prepareSinkCursors(store, g);
    for (let k = 0; k < 12_500; k += 2500) {
      await store.detections.upsert(Array.from({ length: 2500 }, (_, i) => sampleDetection({ id: `d${k + i}`, suppression_key: `k${k + i}` })));
    }
    await deliverDetections(store, g, { batchSize: 500, maxPerCall: 12_000 }); // stops mid-backlog
    await store.detections.upsert([sampleDetection({ id: 'd0', suppression_key: 'k0', count: 2 })]);
    await deliverDetections(store, g, { batchSize: 500, maxPerCall: 12_000 });
    expect(creates.get('d0')).toBe(1);
    await store.close();
  }, 120_000);
});

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

class Rec implements Sink {
  readonly name = 'rec';
  offers = new Map<string, boolean[]>();
  mode: 'ok' | 'fail' | number = 'ok';
  async write(ds: readonly Detection[], ctx?: WriteContext) {
    if (this.mode === 'fail') throw new Error('down');
    const n = typeof this.mode === 'number' ? Math.min(this.mode, ds.length) : ds.length;
    for (const d of ds.slice(0, n)) {
      const l = this.offers.get(d.id) ?? [];
      l.push(ctx!.firstOffered!.has(d.id));
      this.offers.set(d.id, l);
    }
    if (n < ds.length) throw new PartialWriteError(n, new Error('partial'));
  }
  async close() {}
}

describe('outbox first offer, randomized', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}`, async () => {
      const r = rng(seed);
      const store = await memoryStore();
      const sink = new Rec();
      const g = { sinks: [sink] };
      await prepareSinkCursors(store, g);
      const counts = new Map<string, number>();
      let next = 0;
      for (let step = 0; step < 60; step++) {
        const k = Math.floor(r() * 4);
        for (let i = 0; i < k; i++) {
          const id = r() < 0.5 || counts.size === 0 ? `d${next++}` : [...counts.keys()][Math.floor(r() * counts.size)]!;
          const c = (counts.get(id) ?? 0) + 1;
          counts.set(id, c);
          await store.detections.upsert([sampleDetection({ id, suppression_key: `k-${id}`, count: c })]);
        }
        if (r() < 0.6) {
          const m = r();
          sink.mode = m < 0.15 ? 'fail' : m < 0.3 ? Math.floor(r() * 3) : 'ok';
          await deliverDetections(store, g, { batchSize: 1 + Math.floor(r() * 3), maxPerCall: 1 + Math.floor(r() * 5) });
        }
      }
      sink.mode = 'ok';
      for (let i = 0; i < 50; i++) await deliverDetections(store, g, { batchSize: 3, maxPerCall: 100 });
      const bad: string[] = [];
      for (const id of counts.keys()) {
        const l = sink.offers.get(id) ?? [];
        if (l.length === 0 || !l[0] || l.slice(1).some(Boolean)) bad.push(`${id}:${JSON.stringify(l)}`);
      }
      expect(bad).toEqual([]);
      await store.close();
    });
  }
});

describe('the offered lists forget detections that can no longer change', () => {
  const HOUR = 3600;
  const DAY = 24 * HOUR;
  const T = 1_772_531_580;
  const analytics = defaultAnalyticsConfig(); // suppression_hours 24, finalize_delay 120
  const span = analytics.suppression_hours * HOUR;

  async function lists(store: Store, sink: Sink): Promise<{ offered: string[]; since: string[]; bytes: number }> {
    const cp = (await store.checkpoints.get(sinkCursorId(sink)))!;
    const parse = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as string[]) : []);
    return { offered: parse(cp.offered), since: parse(cp.since), bytes: JSON.stringify(cp).length };
  }
  const det = (id: string, createdAt: number, count = 1) => sampleDetection({ id, suppression_key: `k-${id}`, created_at: createdAt, count });
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const firstOffers = (sink: Rec, of: readonly string[]) => Object.fromEntries(of.map((id) => [id, sink.offers.get(id) ?? []]));

  it('once their suppression window is over (event time), with Create on a first offer and Update after, as before', async () => {
    const store = await memoryStore();
    await store.clock.observe(T, T);
    // detections of before the sink: their updates go to `offered`
    await store.detections.upsert(ids('old', 5).map((id) => det(id, T)));
    const sink = new Rec();
    const g = { sinks: [sink] };
    await prepareSinkCursors(store, g);
    await store.detections.upsert(ids('old', 5).map((id) => det(id, T, 2)));
    await store.detections.upsert(ids('a', 6).map((id) => det(id, T + HOUR)));
    // stops mid-backlog: the a-detections it offered go to `since`
    await deliverDetections(store, g, { batchSize: 4, maxPerCall: 8, analytics });
    const before = await lists(store, sink);
    expect(before.offered).toEqual(ids('old', 5));
    expect(before.since).toEqual(['a0', 'a1', 'a2']);

    // a day and a half later (event time) nothing can fold into them any more but a line a day late; a busy day
    // keeps the sink behind
    await store.clock.observe(T, T + HOUR + 2 * span + analytics.finalize_delay);
    await store.detections.upsert(ids('b', 3).map((id) => det(id, T + 2 * DAY)));
    await deliverDetections(store, g, { batchSize: 4, maxPerCall: 4, analytics });
    const after = await lists(store, sink);
    expect(after.offered).toEqual([]);
    expect(after.since).toEqual(['b0']);
    expect(after.bytes).toBeLessThan(before.bytes);

    // b0 is still open: its update is an Update; b1, b2 are offered first (Create)
    await store.detections.upsert([det('b0', T + 2 * DAY, 2)]);
    await deliverDetections(store, g, { analytics });
    expect(firstOffers(sink, [...ids('old', 5), ...ids('a', 6), ...ids('b', 3)])).toEqual({
      ...Object.fromEntries([...ids('old', 5), ...ids('a', 6), 'b1', 'b2'].map((id) => [id, [true]])),
      b0: [true, false],
    });
    // read to the end: `since` is empty again, `offered` holds none of the old ones
    expect(await lists(store, sink)).toMatchObject({ offered: [], since: [] });

    // What forgetting costs: a line later than a suppression window past the newest event folding into a forgotten
    // detection is offered as a Create again (a duplicate Create, never a missing one).
    await store.detections.upsert([det('old0', T, 3)]);
    await deliverDetections(store, g, { analytics });
    expect(sink.offers.get('old0')).toEqual([true, true]);
    await store.close();
  });

  it('not before the sink read their latest change: one changed while open, read after its window closed, is an Update', async () => {
    const store = await memoryStore();
    await store.clock.observe(T, T);
    await store.detections.upsert([det('old', T)]);
    const sink = new Rec();
    const g = { sinks: [sink] };
    await prepareSinkCursors(store, g);
    await store.detections.upsert([det('old', T, 2)]);
    await deliverDetections(store, g, { analytics });
    expect((await lists(store, sink)).offered).toEqual(['old']);
    // changed again within its window, while the sink is down for days
    await store.detections.upsert([det('old', T, 3)]);
    sink.mode = 'fail';
    await deliverDetections(store, g, { analytics });
    await store.clock.observe(T, T + 3 * DAY);
    await deliverDetections(store, g, { analytics });
    expect((await lists(store, sink)).offered).toEqual(['old']);
    sink.mode = 'ok';
    await deliverDetections(store, g, { analytics });
    expect(sink.offers.get('old')).toEqual([true, false]);
    // read at its latest change: forgotten by the next call
    await deliverDetections(store, g, { analytics });
    expect((await lists(store, sink)).offered).toEqual([]);
    await store.close();
  });

  it('once retention deleted them, whatever the event time (and without the analytics settings)', async () => {
    const store = await memoryStore();
    await store.detections.upsert(ids('old', 3).map((id) => ({ ...det(id, T), last_seen: T })));
    const sink = new Rec();
    const g = { sinks: [sink] };
    await prepareSinkCursors(store, g);
    await store.detections.upsert([...ids('old', 3).map((id) => ({ ...det(id, T, 2), last_seen: T })), { ...det('new', T + DAY), last_seen: T + DAY }]);
    await deliverDetections(store, g);
    expect((await lists(store, sink)).offered).toEqual(ids('old', 3));
    expect(await store.detections.expire(T + 1)).toBe(3);
    // nothing to deliver: the checkpoint is written for the pruning alone
    await deliverDetections(store, g);
    expect((await lists(store, sink)).offered).toEqual([]);
    await store.close();
  });
});

describe('outbox first offer, randomized, with detections aging out', () => {
  const HOUR = 3600;
  const analytics = defaultAnalyticsConfig();
  const span = analytics.suppression_hours * HOUR;
  for (let seed = 1; seed <= 20; seed++) {
    it(`seed ${seed}`, async () => {
      const r = rng(seed * 7919);
      const store = await memoryStore();
      let now = 1_772_531_580;
      await store.clock.observe(now, now);
      const created = new Map<string, number>();
      const counts = new Map<string, number>();
      let changed: Set<string> | undefined;
      let next = 0;
      const upsert = async (id: string) => {
        const c = (counts.get(id) ?? 0) + 1;
        counts.set(id, c);
        if (!created.has(id)) created.set(id, now);
        await store.detections.upsert([sampleDetection({ id, suppression_key: `k-${id}`, created_at: created.get(id)!, count: c })]);
        changed?.add(id);
      };
      // some detections of before the sink
      for (let i = 0; i < 4; i++) await upsert(`d${next++}`);
      const sink = new Rec();
      const g = { sinks: [sink] };
      await prepareSinkCursors(store, g);
      // the sink is offered what changed since it was set up, not the others
      changed = new Set<string>();
      for (let step = 0; step < 80; step++) {
        now += Math.floor(r() * 6 * HOUR);
        await store.clock.observe(now, now);
        const k = Math.floor(r() * 4);
        for (let i = 0; i < k; i++) {
          // finalization folds only into a detection whose suppression window is still open
          const open = [...created].filter(([, at]) => now - at < span).map(([id]) => id);
          await upsert(r() < 0.5 || open.length === 0 ? `d${next++}` : open[Math.floor(r() * open.length)]!);
        }
        if (r() < 0.6) {
          const m = r();
          sink.mode = m < 0.15 ? 'fail' : m < 0.3 ? Math.floor(r() * 3) : 'ok';
          const from = BigInt((await store.checkpoints.get(sinkCursorId(sink)))!.cursor as string);
          await deliverDetections(store, g, { batchSize: 1 + Math.floor(r() * 3), maxPerCall: 1 + Math.floor(r() * 5), analytics });
          const cp = (await store.checkpoints.get(sinkCursorId(sink)))!;
          const listed = [...JSON.parse((cp.offered as string | undefined) ?? '[]'), ...JSON.parse((cp.since as string | undefined) ?? '[]')] as string[];
          // Nothing listed whose window closed more than a window before the newest event (less finalize_delay),
          // but what changed after the call's start (it may be offered again; the next call forgets it once read).
          const latest = await store.detections.latestChanges(listed);
          const stale = listed.filter((id) => created.get(id)! <= now - analytics.finalize_delay - 2 * span && BigInt(latest.get(id)!.cursor) <= from);
          expect(stale).toEqual([]);
        }
      }
      sink.mode = 'ok';
      for (let i = 0; i < 80; i++) await deliverDetections(store, g, { batchSize: 3, maxPerCall: 100, analytics });
      const bad: string[] = [];
      for (const id of changed) {
        const l = sink.offers.get(id) ?? [];
        if (l.length === 0 || !l[0] || l.slice(1).some(Boolean)) bad.push(`${id}:${JSON.stringify(l)}`);
      }
      expect(bad).toEqual([]);
      expect(next).toBeGreaterThan(40);
      await store.close();
    });
  }
});
