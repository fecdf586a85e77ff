/**
 * A flow already folded into a detection and still open is judged again (a detection update, offered to every sink) at
 * most every `open_flow_update_interval`: a version reported after such a judgement is due no earlier than the judged
 * version plus its `rejudgeHold`. A flow whose judgement did not fire, and a flow's closing report (hold 0), are due at
 * their report. SQLite and PostgreSQL alike, through upsert, a batch of several versions, and markFinalized's fold.
 */
import { describe, expect, it } from 'vitest';
import type { CandidateInput, Store } from '../../fleet/store/store.js';
import type { EgressCandidate } from '../../src/schemas/egress-candidate.js';
import { useTestDatabase } from '../helpers/pg.js';
import { candidateStoreBackends } from './candidate-backends.js';
import { sampleCandidate } from './store.contract.js';

const T0 = 1_772_409_600;
const HOLD = 600;
const testDb = useTestDatabase('candidate_rejudge_hold');

function report(eventTime: number, bytesOut: number, closed = false): CandidateInput {
  return { hostId: 'H1', eventTime, destinationKey: 'example.net', candidate: sampleCandidate({ bytes_out: bytesOut, closed: closed ? 1 : 0 }), rejudgeHold: closed ? 0 : HOLD };
}

/** Judge what is due up to `cutoff` and mark it in a transaction, as finalization does: fired or not. */
async function judge(store: Store, cutoff: number, fired: boolean, between?: () => Promise<void>): Promise<void> {
  const due = await store.candidates.pendingUpTo(cutoff, 10);
  expect(due).toHaveLength(1);
  await between?.();
  await store.transaction((tx) =>
    tx.candidates.markFinalized(
      due.map((p) => ({ id: p.id, detectionId: fired ? 'det-1' : null, countedBytesOut: fired ? p.candidate.bytes_out : 0, countedBytesIn: 0, branch: fired ? 'rare' : 'no_fire', version: p.version })),
    ),
  );
}

const dueAt = async (store: Store, cutoff: number) => (await store.candidates.pendingUpTo(cutoff, 10)).map((p) => p.eventTime);

const backends = candidateStoreBackends(testDb);

/**
 * A fresh store (`open`) whose flow was reported at T0 and judged there, fired or not (`between` runs between the
 * judgement's read and its commit), handed to `check`, then closed.
 */
async function afterJudgement(open: () => Promise<Store>, fired: boolean, check: (store: Store) => Promise<void>, between?: (store: Store) => Promise<void>): Promise<void> {
  const store = await open();
  try {
    await store.candidates.upsertPending([report(T0, 2_000_000)]);
    await judge(store, T0, fired, between && (() => between(store)));
    await check(store);
  } finally {
    await store.close();
  }
}

for (const [name, open] of backends) {
  describe(`open flow re-judge hold: ${name}`, () => {
    it('after a firing judgement, the next open report is due at the judged version plus the hold, holding the newest version', async () => {
      await afterJudgement(open, true, async (store) => {
        for (let t = T0 + 60; t <= T0 + 540; t += 60) await store.candidates.upsertPending([report(t, t - T0 + 2_000_000)]);
        expect(await dueAt(store, T0 + HOLD - 1)).toEqual([]);
        expect(await dueAt(store, T0 + HOLD)).toEqual([T0 + 540]);
      });
    });

    it('a flush (reportedUpTo) takes a held version reported by then, and only such', async () => {
      await afterJudgement(open, true, async (store) => {
        await store.candidates.upsertPending([report(T0 + 60, 3_000_000)]);
        expect(await dueAt(store, T0 + 60)).toEqual([]);
        expect((await store.candidates.pendingUpTo(T0 + 60, 10, { reportedUpTo: T0 + 59 })).map((p) => p.eventTime)).toEqual([]);
        expect((await store.candidates.pendingUpTo(T0 + 60, 10, { reportedUpTo: T0 + 60 })).map((p) => p.eventTime)).toEqual([T0 + 60]);
      });
    });

    it('after a judgement that did not fire, the next report is due at its report', async () => {
      await afterJudgement(open, false, async (store) => {
        await store.candidates.upsertPending([report(T0 + 60, 3_000_000)]);
        expect(await dueAt(store, T0 + 60)).toEqual([T0 + 60]);
      });
    });

    it('the closing report is due at its report, also after open reports that were held', async () => {
      await afterJudgement(open, true, async (store) => {
        await store.candidates.upsertPending([report(T0 + 60, 3_000_000)]);
        await store.candidates.upsertPending([report(T0 + 120, 4_000_000, true)]);
        expect(await dueAt(store, T0 + 119)).toEqual([]);
        expect(await dueAt(store, T0 + 120)).toEqual([T0 + 120]);
      });
    });

    it('one batch with an open and a closing report is due at the closing one, in any order', async () => {
      const batch = [report(T0 + 60, 3_000_000), report(T0 + 120, 4_000_000, true)];
      for (const rows of [batch, [...batch].reverse()]) {
        await afterJudgement(open, true, async (store) => {
          await store.candidates.upsertPending(rows);
          expect(await dueAt(store, T0 + 119)).toEqual([]);
          expect(await dueAt(store, T0 + 120)).toEqual([T0 + 120]);
        });
      }
    });

    it('one batch with an open and a closing report of the same time (the open one keeps the row) is due at that time, in any order', async () => {
      const batch = [report(T0 + 60, 4_000_000), report(T0 + 60, 3_000_000, true)];
      for (const rows of [batch, [...batch].reverse()]) {
        await afterJudgement(open, true, async (store) => {
          await store.candidates.upsertPending(rows);
          expect(await dueAt(store, T0 + 60)).toEqual([T0 + 60]);
        });
      }
    });

    it('a late open report in a batch with a held one keeps the hold: due at the judged version plus the hold', async () => {
      await afterJudgement(open, true, async (store) => {
        await store.candidates.upsertPending([report(T0 + 180, 5_000_000), report(T0 + 60, 3_000_000), report(T0 + 120, 4_000_000)]);
        expect(await dueAt(store, T0 + HOLD - 1)).toEqual([]);
        expect(await dueAt(store, T0 + HOLD)).toEqual([T0 + 180]);
      });
    });

    it('a newer open report ingested while a firing version was judged is held past that version; without a fire, due at its report', async () => {
      for (const fired of [true, false]) {
        const ingested = async (store: Store) => void (await store.candidates.upsertPending([report(T0 + 60, 3_000_000)]));
        await afterJudgement(open, fired, async (store) => {
          expect(await store.candidates.countPending()).toBe(1);
          const at = fired ? T0 + HOLD : T0 + 60;
          expect(await dueAt(store, at - 1)).toEqual([]);
          expect(await dueAt(store, at)).toEqual([T0 + 60]);
        }, ingested);
      }
    });
  });
}
