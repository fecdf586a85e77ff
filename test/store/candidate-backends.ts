/**
 * Both stores, each opened empty of candidates, for the candidate-row suites that must hold on SQLite and PostgreSQL
 * alike. `testDb` is the file's own `useTestDatabase` (called at its top level, so the file holds the server).
 */
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { Store } from '../../fleet/store/store.js';
import { pgQuery, type TestDatabase } from '../helpers/pg.js';

export function candidateStoreBackends(testDb: () => TestDatabase): [string, () => Promise<Store>][] {
  return [
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
}
