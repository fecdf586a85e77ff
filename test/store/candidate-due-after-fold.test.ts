/**
 * CandidatesRepo.markFinalized folding onto a newer version ingested between finalization's read and its commit
 * (docs/fleet.md Finalization): the newer version is due at its own report, as when it arrives after the commit, not
 * at the version just judged. SQLite and PostgreSQL alike.
 */
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { CandidateInput, Store } from '../../fleet/store/store.js';
import type { EgressCandidate } from '../../src/schemas/egress-candidate.js';
import { pgQuery, useTestDatabase } from '../helpers/pg.js';
import { sampleCandidate } from './store.contract.js';

const T0 = 1_772_409_600;
const testDb = useTestDatabase('due_after_fold');

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

const backends: [string, () => Promise<Store>][] = [
  ['sqlite', () => openSqliteStore(':memory:')],
  [
    'postgres',
    async () => {
      const s = await openPostgresStore(testDb().url, { poolSize: 3 });
      await pgQuery(testDb().url, 'DELETE FROM candidates');
      return s;
    },
  ],
];

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
