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
