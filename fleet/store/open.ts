/**
 * Open the store named by `--store` / `fleet.store`: `postgres://…` or `postgresql://…` → PostgreSQL
 * (fleet/store/postgres/index.ts exports `openPostgresStore(url, opts)`), anything else → a SQLite file
 * path (`sqlite:` / `file:` prefixes allowed, `:memory:` for tests). Drivers load lazily so SQLite
 * users never load `pg` and vice versa.
 */
import { StoreError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** Apply pending migrations (default true). With false, an outdated schema is an error (unless checkMigrated is false). */
  migrate?: boolean;
  /** With `migrate: false`, false opens an outdated SQLite schema for the caller's `store.migrate()` (PostgreSQL never checks). */
  checkMigrated?: boolean;
  /** PostgreSQL pool and statement settings (`fleet.postgres`); ignored for SQLite. */
  postgres?: { pool_size?: number; statement_timeout_ms?: number; upsert_chunk?: number; sketch_cache_mb?: number };
  /** Store warnings (lost connections, job locks); silent by default. */
  log?: Logger;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export function sqlitePath(url: string): string {
  return url.replace(/^sqlite:(\/\/)?/i, '').replace(/^file:(\/\/)?/i, '');
}

export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (!url) throw new StoreError('STORE_OPEN', 'no store configured', 'pass --store or set fleet.store');
  if (isPostgresUrl(url)) {
    // A literal specifier so the packaged bundle (esbuild) includes the backend; still loaded lazily.
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(url, opts);
  }
  const { openSqliteStore } = await import('./sqlite/sqlite-store.js');
  return openSqliteStore(sqlitePath(url), { migrate: opts.migrate ?? true, checkMigrated: opts.checkMigrated ?? true, log: opts.log });
}
