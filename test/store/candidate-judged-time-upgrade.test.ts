/**
 * Upgrading a store whose candidates were finalized before judged_time existed (SQLite 0014, PostgreSQL 0009): a late
 * copy of the version a row was finalized at does not make its next version due at the copy's old time, as on a store
 * that judged the row after the upgrade (CandidatesRepo.upsertPending).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
import { candidateBodyDigest, candidateId, type CandidateInput, type Store } from '../../fleet/store/store.js';
import type { EgressCandidate } from '../../src/schemas/egress-candidate.js';
import { pgQuery, useTestDatabase } from '../helpers/pg.js';
import { sampleCandidate } from './store.contract.js';

const T0 = 1_772_409_600;
const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'judged-time-upgrade-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function input(eventTime: number, over: Partial<Record<keyof EgressCandidate, unknown>> = {}): CandidateInput {
  return { hostId: 'H1', eventTime, destinationKey: 'example.net', candidate: sampleCandidate(over) };
}

/** After the upgrade: the flow's next report and, in the same batch, its finalized report again (another source). */
async function dueBeforeNextReport(store: Store): Promise<number> {
  await store.candidates.upsertPending([input(T0 + 600, { bytes_out: 9_000_000 }), input(T0, { bytes_out: 2_000_000 })]);
  return (await store.candidates.pendingUpTo(T0 + 599, 10)).length;
}

const judgedBody = JSON.stringify(sampleCandidate({ bytes_out: 2_000_000 }));
const id = candidateId(input(T0));

it('sqlite: a candidate finalized before 0014 is not due again at the late copy of its judged version', async () => {
  const file = path.join(dir, 'pre-0014.db');
  const db = new Database(file);
  db.function('outflow_md5', { deterministic: true }, (body: unknown) => candidateBodyDigest(String(body)));
  db.exec('CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  for (const m of loadMigrations('sqlite').filter((m) => m.id < '0014')) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, 0)').run(m.id);
  }
  // the row as the previous release finalized it
  db.prepare(`INSERT INTO candidates (seq, id, host_id, event_time, analytic, destination_key, bytes_out, body_md5, status, branch) VALUES (1, ?, 'H1', ?, 'AN0990', 'example.net', 2000000, ?, 'finalized', 'no_fire')`).run(id, T0, candidateBodyDigest(judgedBody));
  db.prepare('INSERT INTO candidate_bodies (seq, body) VALUES (1, ?)').run(judgedBody);
  db.close();
  const store = await openSqliteStore(file);
  try {
    expect(await dueBeforeNextReport(store)).toBe(0);
  } finally {
    await store.close();
  }
});

// the file's database, held for the file (a server restarted by another file would drop it mid-test)
const pgDatabase = useTestDatabase('judged_time_upgrade');

it('postgres: a candidate finalized before 0009 is not due again at the late copy of its judged version', async () => {
  const db = pgDatabase();
  await pgQuery(db.url, 'CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
  for (const m of loadMigrations('postgres').filter((m) => m.id < '0009')) {
    await pgQuery(db.url, m.sql);
    await pgQuery(db.url, 'INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
  }
  await pgQuery(db.url, `INSERT INTO candidates (host_id, id, event_time, destination_key, bytes_out, body, status, branch) VALUES ('H1', $1, $2, 'example.net', 2000000, $3, 'finalized', 'no_fire')`, [id, T0, judgedBody]);
  const store = await openPostgresStore(db.url, { poolSize: 2 });
  try {
    expect(await dueBeforeNextReport(store)).toBe(0);
  } finally {
    await store.close();
  }
});
