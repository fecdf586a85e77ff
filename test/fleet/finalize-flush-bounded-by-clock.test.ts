/**
 * A flush ("finalize every pending candidate", `fleet ingest --flush`, `fleet finalize --flush`) takes what is pending
 * as of the event clock it read, held versions of firing open flows included. Versions ingested while it runs
 * (`fleet serve` ingesting into the same store) are dated after that clock: they wait for the next run, so the flush
 * ends, as it did before open_flow_update_interval, however fast they arrive.
 */
import { expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { memoryStore, T0 } from './fleet-helpers.js';
import { sampleCandidate } from '../store/store.contract.js';

it('a flush ends although versions dated after its event clock arrive while it runs', async () => {
  const cfg = defaultAnalyticsConfig();
  const store = await memoryStore();
  try {
    await store.clock.observe(T0, T0);
    await store.candidates.upsertPending([{ hostId: 'H1', eventTime: T0, destinationKey: 'example.net', candidate: sampleCandidate({ flow_id: 'f-0' }), rejudgeHold: 600 }]);
    // ingest running beside the flush: one new flow reported (closed, never judged: due at its report) per batch read
    const read = store.candidates.pendingUpTo.bind(store.candidates);
    let calls = 0;
    store.candidates.pendingUpTo = async (cutoff, limit) => {
      calls++;
      if (calls > 25) throw new Error(`flush still reading after ${calls - 1} batches`);
      await store.candidates.upsertPending([{ hostId: 'H1', eventTime: T0 + calls * 60, destinationKey: 'example.net', candidate: sampleCandidate({ flow_id: `f-${calls}`, closed: 1 }), rejudgeHold: 0 }]);
      return read(cutoff, limit);
    };
    const r = await finalizePending(store, { analytics: cfg, flush: true, batchSize: 1 });
    expect(r.cutoff).toBe(T0);
    // the row pending when it started, and none dated after its clock
    expect(r.examined).toBe(1);
  } finally {
    await store.close();
  }
}, 60_000);
