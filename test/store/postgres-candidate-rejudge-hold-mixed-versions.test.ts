/**
 * Rolling upgrade on PostgreSQL (0012_candidate_rejudge_hold): an instance not yet upgraded writes a candidate's
 * closing report without touching rejudge_hold, so the row keeps the hold of the open report an upgraded instance
 * wrote before. The closing report must still be due at its report, also when it arrives while an upgraded
 * finalizer judges the firing version it replaced (markFinalized's fold reads the row's hold).
 */
import { expect, it } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { candidateId, type CandidateInput } from '../../fleet/store/store.js';
import { pgQuery, useTestDatabase } from '../helpers/pg.js';
import { sampleCandidate } from './store.contract.js';

const T0 = 1_772_409_600;
const testDb = useTestDatabase('candidate_hold_mixed');

function report(eventTime: number, bytesOut: number, closed: boolean): CandidateInput {
  return { hostId: 'H1', eventTime, destinationKey: 'example.net', candidate: sampleCandidate({ bytes_out: bytesOut, closed: closed ? 1 : 0 }), rejudgeHold: closed ? 0 : 600 };
}

/** upsertPending as a release before 0012 runs it (its statement verbatim): it names no rejudge_hold. */
async function upsertAsOldInstance(url: string, r: CandidateInput): Promise<void> {
  await pgQuery(
    url,
    `INSERT INTO candidates AS c (host_id, id, event_time, destination_key, bytes_out, body, status, due_time)
     SELECT u.host_id, u.id, u.event_time, u.destination_key, u.bytes_out, u.body, 'pending', u.event_time
     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[]) AS u(host_id, id, event_time, destination_key, bytes_out, body)
     ON CONFLICT (host_id, id) DO UPDATE SET
       event_time = EXCLUDED.event_time, destination_key = EXCLUDED.destination_key,
       bytes_out = EXCLUDED.bytes_out, body = EXCLUDED.body, status = 'pending',
       due_time = CASE WHEN c.status = 'pending' THEN LEAST(coalesce(c.due_time, c.event_time), EXCLUDED.event_time) ELSE EXCLUDED.event_time END
     WHERE EXCLUDED.event_time > c.event_time
        OR (EXCLUDED.event_time = c.event_time AND EXCLUDED.bytes_out > c.bytes_out)
        OR (EXCLUDED.event_time = c.event_time AND EXCLUDED.bytes_out = c.bytes_out AND EXCLUDED.body COLLATE "C" > c.body COLLATE "C")`,
    [[r.hostId], [candidateId(r)], [r.eventTime], [r.destinationKey], [r.candidate.bytes_out], [JSON.stringify(r.candidate)]],
  );
}

it('a closing report written by an instance not yet upgraded, while the firing version was judged, is due at its report', async () => {
  const url = testDb().url;
  const store = await openPostgresStore(url, { poolSize: 3 });
  try {
    await store.candidates.upsertPending([report(T0, 2_000_000, false)]);
    const due = await store.candidates.pendingUpTo(T0, 10);
    expect(due).toHaveLength(1);
    // the flow closes; an instance still on the release before reports it while this one judges the open version
    await upsertAsOldInstance(url, report(T0 + 60, 3_000_000, true));
    await store.transaction((tx) =>
      tx.candidates.markFinalized(due.map((p) => ({ id: p.id, detectionId: 'det-1', countedBytesOut: p.candidate.bytes_out, countedBytesIn: 0, branch: 'rare', version: p.version }))),
    );
    expect(await store.candidates.countPending()).toBe(1);
    expect((await store.candidates.pendingUpTo(T0 + 60, 10)).map((p) => p.eventTime)).toEqual([T0 + 60]);
  } finally {
    await store.close();
  }
});
