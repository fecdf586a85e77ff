/**
 * A migration file is one query of several statements, and the server bounds each statement of a multi-statement
 * query separately (PostgreSQL 13+). A migration whose statements each finish within statement_timeout_ms (as
 * docs/postgres-nats.md asks) but take longer together than statement_timeout_ms + the margin (0002's UPDATE then
 * CREATE INDEX on a big detections table) must still apply: the client-side timeout of a pool query is no bound
 * for it.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { createTestDatabase, holdServerShared, pgQuery, type TestDatabase } from '../helpers/pg.js';

vi.mock('../../fleet/store/migrations.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../fleet/store/migrations.js')>();
  return {
    ...real,
    // one more migration: three statements of 0.7 s each, every one within a 1 s statement_timeout
    loadMigrations: (backend: 'sqlite' | 'postgres') =>
      backend === 'postgres' ? [...real.loadMigrations(backend), { id: '9999_slow_steps', sql: 'SELECT pg_sleep(0.7);\nSELECT pg_sleep(0.7);\nSELECT pg_sleep(0.7);\n' }] : real.loadMigrations(backend),
  };
});

let release: () => Promise<void>;
let db: TestDatabase;
beforeAll(async () => {
  release = await holdServerShared(60_000);
  db = await createTestDatabase('mig_client_timeout');
}, 90_000);
afterAll(async () => {
  await db?.drop();
  await release?.();
});

it('a migration whose statements each stay within statement_timeout applies, however long they take together', async () => {
  const store = await openPostgresStore(db.url, { statementTimeoutMs: 1000, clientTimeoutMarginMs: 500 }).catch((e: unknown) => e as Error);
  if (store instanceof Error) throw store;
  await store.close();
  const rows = await pgQuery<{ id: string }>(db.url, `SELECT id FROM schema_migrations WHERE id = '9999_slow_steps'`);
  expect(rows).toHaveLength(1);
}, 60_000);
