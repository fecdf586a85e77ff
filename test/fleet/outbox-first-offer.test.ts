/**
 * OCSF Create on a sink's first offer of a detection, across delivery calls: a call that stopped mid-backlog
 * (maxPerCall, a refused page, a partial write) may leave a detection whose row moved past the stop point
 * before it was read. Its first offer, in a later call, must still be a Create.
 */
import { describe, expect, it } from 'vitest';
import { deliverDetections, prepareSinkCursors, sinkCursorId } from '../../fleet/sinks/outbox.js';
import { PartialWriteError, type Sink, type WriteContext } from '../../fleet/sinks/sink.js';
import type { Detection, Store } from '../../fleet/store/store.js';
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
