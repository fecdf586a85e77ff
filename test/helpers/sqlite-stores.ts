import { openSqliteStore, type SqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';

/** Two stores on one file, as two processes (`fleet serve` and a CLI run) would have them. */
export async function withTwoProcesses(file: string, fn: (a: SqliteStore, b: SqliteStore) => Promise<void>): Promise<void> {
  const a = await openSqliteStore(file);
  const b = await openSqliteStore(file);
  try {
    await fn(a, b);
  } finally {
    await a.close();
    await b.close();
  }
}
