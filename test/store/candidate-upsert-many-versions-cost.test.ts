/**
 * CandidatesRepo.upsertPending with many versions of one candidate in a batch (a long-lived flow reported on every
 * pack run, a replayed day of logs): the work per candidate stays linear in its versions. Counted as the array
 * elements scanned by Array.prototype.includes while the batch is ingested, so the bound does not depend on timing.
 * SQLite and PostgreSQL alike.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CandidateInput, Store } from '../../fleet/store/store.js';
import { useTestDatabase } from '../helpers/pg.js';
import { candidateStoreBackends } from './candidate-backends.js';
import { sampleCandidate } from './store.contract.js';

const T0 = 1_772_409_600;
const N = 4000;
const testDb = useTestDatabase('upsert_versions_cost');

const backends = candidateStoreBackends(testDb);

afterEach(() => {
  vi.restoreAllMocks();
});

for (const [name, open] of backends) {
  describe(`upsertPending cost per candidate: ${name}`, () => {
    it(`${N} versions of one flow in one batch: linear work, and due at the earliest`, async () => {
      const store = await open();
      try {
        const rows: CandidateInput[] = Array.from({ length: N }, (_, i) => ({ hostId: 'H1', eventTime: T0 + (N - i) * 60, destinationKey: 'example.net', candidate: sampleCandidate({ bytes_out: 2_000_000 + i }) }));
        let scanned = 0;
        const includes = Array.prototype.includes;
        vi.spyOn(Array.prototype, 'includes').mockImplementation(function (this: unknown[], ...args: Parameters<typeof includes>) {
          scanned += this.length;
          return includes.apply(this, args);
        });
        await store.candidates.upsertPending(rows);
        vi.restoreAllMocks();
        // quadratic: ~N²/2 elements scanned to collect the batch's distinct times
        expect(scanned).toBeLessThan(10 * N);
        expect((await store.candidates.pendingUpTo(T0 + 60, 10)).map((p) => p.dueTime)).toEqual([T0 + 60]);
      } finally {
        await store.close();
      }
    });
  });
}
