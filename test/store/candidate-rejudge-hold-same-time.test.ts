/**
 * Two versions of a firing flow reported with the same event time, one still open (hold) and one closed (no hold),
 * the open one with more bytes (it keeps the row): the batch's closing report dates the row's due time, on SQLite
 * and PostgreSQL alike (upsertPending's per-version due times, whichever version the row keeps).
 */
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { CandidateInput, Store } from '../../fleet/store/store.js';
import { pgQuery, useTestDatabase } from '../helpers/pg.js';
import { sampleCandidate } from './store.contract.js';

const T0 = 1_772_409_600;
const testDb = useTestDatabase('candidate_hold_same_time');

function report(eventTime: number, bytesOut: number, closed: boolean): CandidateInput {
  return { hostId: 'H1', eventTime, destinationKey: 'example.net', candidate: sampleCandidate({ bytes_out: bytesOut, closed: closed ? 1 : 0 }), rejudgeHold: closed ? 0 : 600 };
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
  describe(`same-time open and closing reports: ${name}`, () => {
    it('one batch with an open and a closing report of the same time is due at that time, in any order', async () => {
      const batch = [report(T0 + 60, 4_000_000, false), report(T0 + 60, 3_000_000, true)];
      for (const rows of [batch, [...batch].reverse()]) {
        const store = await open();
        try {
          await store.candidates.upsertPending([report(T0, 2_000_000, false)]);
          const due = await store.candidates.pendingUpTo(T0, 10);
          await store.transaction((tx) =>
            tx.candidates.markFinalized(due.map((p) => ({ id: p.id, detectionId: 'det-1', countedBytesOut: p.candidate.bytes_out, countedBytesIn: 0, branch: 'rare', version: p.version }))),
          );
          await store.candidates.upsertPending(rows);
          expect((await store.candidates.pendingUpTo(T0 + 60, 10)).map((p) => p.eventTime)).toEqual([T0 + 60]);
        } finally {
          await store.close();
        }
      }
    });
  });
}
