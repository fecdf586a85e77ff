/**
 * When a pending candidate is due (docs/fleet.md Finalization): at the event time of the earliest version reported
 * since it was last judged. After a judgement, also when one batch brings a late copy of the judged version beside
 * newer reports, in any order within the batch; and after markFinalized folded onto a newer version ingested between
 * finalization's read and its commit, at that version's own report, as when it arrives after the commit. SQLite and
 * PostgreSQL alike.
 */
import { describe, expect, it } from 'vitest';
import type { CandidateInput, Store } from '../../fleet/store/store.js';
import type { EgressCandidate } from '../../src/schemas/egress-candidate.js';
import { useTestDatabase } from '../helpers/pg.js';
import { candidateStoreBackends } from './candidate-backends.js';
import { sampleCandidate } from './store.contract.js';

const T0 = 1_772_409_600;
const testDb = useTestDatabase('candidate_due_time');

function input(eventTime: number, over: Partial<Record<keyof EgressCandidate, unknown>> = {}): CandidateInput {
  return { hostId: 'H1', eventTime, destinationKey: 'example.net', candidate: sampleCandidate(over) };
}

/** Judge what is due up to `cutoff` and mark it, in a transaction, as finalization does. */
async function judge(store: Store, cutoff: number, between?: () => Promise<void>): Promise<void> {
  const due = await store.candidates.pendingUpTo(cutoff, 10);
  expect(due).toHaveLength(1);
  await between?.();
  await store.transaction((tx) =>
    tx.candidates.markFinalized(due.map((p) => ({ id: p.id, detectionId: null, countedBytesOut: 0, countedBytesIn: 0, branch: 'no_fire', version: p.version }))),
  );
}

const backends = candidateStoreBackends(testDb);

for (const [name, open] of backends) {
  describe(`candidate due time after a fold: ${name}`, () => {
    it('a newer version ingested while the judged one was being judged is due at its own time, as when it arrives after', async () => {
      const store = await open();
      try {
        await store.candidates.upsertPending([input(T0, { bytes_out: 2_000_000 })]);
        // the next report lands between finalization's read and its commit
        await judge(store, T0, async () => void (await store.candidates.upsertPending([input(T0 + 60, { bytes_out: 3_000_000 })])));
        expect(await store.candidates.countPending()).toBe(1);
        // arriving after the commit it would not be due before T0 + 60: it was reported at T0 + 60
        expect(await store.candidates.pendingUpTo(T0 + 59, 10)).toHaveLength(0);
        expect((await store.candidates.pendingUpTo(T0 + 60, 10)).map((p) => p.eventTime)).toEqual([T0 + 60]);
      } finally {
        await store.close();
      }
    });
  });
}

for (const [name, open] of backends) {
  describe(`candidate due time, a batch with a late copy: ${name}`, () => {
    it('a batch holding a late copy of the judged version and an unjudged report is due at that report, in any order', async () => {
      const batch = [input(T0, { bytes_out: 2_000_000 }), input(T0 + 60, { bytes_out: 3_000_000 }), input(T0 + 600, { bytes_out: 9_000_000 })];
      const due: Record<string, number[]> = {};
      for (const [order, rows] of [['oldest first', batch], ['newest first', [...batch].reverse()]] as const) {
        const store = await open();
        try {
          await store.candidates.upsertPending([input(T0, { bytes_out: 2_000_000 })]);
          await judge(store, T0);
          // one batch: the judged report again (another source), the next report (unjudged) and the one after
          await store.candidates.upsertPending(rows);
          due[order] = (await store.candidates.pendingUpTo(T0 + 60, 10)).map((p) => p.eventTime);
        } finally {
          await store.close();
        }
      }
      // due at T0 + 60, the earliest version reported since it was judged
      expect(due).toEqual({ 'oldest first': [T0 + 600], 'newest first': [T0 + 600] });
    });

  });
}
