/** What a bench's SQLite store holds on disk, read after (or beside) the run. */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';

/** The store file and its WAL, in MiB. */
export function fileMb(file: string): { db_mb: number; wal_mb: number } {
  const mb = (f: string) => {
    try {
      return Number((statSync(f).size / 1024 / 1024).toFixed(1));
    } catch {
      return 0; // no WAL right after a checkpoint
    }
  };
  return { db_mb: mb(file), wal_mb: mb(`${file}-wal`) };
}

/** Prevalence keys (all, compacted), host rows and day-sketch rows, over the three families. */
export function rowCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const count = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    const saturated = (t: string) => (db.prepare(`SELECT count(*) AS n FROM ${t} WHERE saturated = 1`).get() as { n: number }).n;
    return {
      keys: count('destinations') + count('pairs') + count('apps'),
      saturated_keys: saturated('destinations') + saturated('pairs') + saturated('apps'),
      host_rows: count('destination_hosts') + count('pair_hosts') + count('app_hosts'),
      sketch_rows: count('destination_sketches') + count('pair_sketches') + count('app_sketches'),
    };
  } finally {
    db.close();
  }
}
