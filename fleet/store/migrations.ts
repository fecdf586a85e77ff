/**
 * Numbered SQL migrations per backend (fleet/store/migrations/<backend>/NNNN_name.sql), applied in
 * order and recorded in `schema_migrations`. Each backend applies them in its own way; this module
 * only finds and orders the files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreError } from '../../src/errors.js';

export interface Migration {
  /** File name without .sql, e.g. `0001_init`. */
  id: string;
  sql: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Sources keep the .sql next to this file; a compiled dist/ tree finds them in the checkout. */
function migrationsDir(backend: 'sqlite' | 'postgres'): string {
  const candidates = [path.join(here, 'migrations', backend), path.resolve(here, '../../../fleet/store/migrations', backend)];
  const dir = candidates.find((d) => existsSync(d));
  if (!dir) throw new StoreError('STORE_MIGRATE', `migrations for ${backend} not found (looked in ${candidates.join(', ')})`, 'reinstall Outflow; the .sql files ship with it');
  return dir;
}

const loaded = new Map<'sqlite' | 'postgres', readonly Migration[]>();

/** The backend's migrations in order, read from disk once per process (they ship with this version). */
export function loadMigrations(backend: 'sqlite' | 'postgres'): readonly Migration[] {
  let migrations = loaded.get(backend);
  if (!migrations) {
    const dir = migrationsDir(backend);
    migrations = readdirSync(dir)
      .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
      .sort()
      .map((f) => ({ id: f.slice(0, -4), sql: readFileSync(path.join(dir, f), 'utf8') }));
    loaded.set(backend, migrations);
  }
  return migrations;
}

/**
 * Refuse a store migrated by a newer Outflow: its schema may mean things this version does not do (an older
 * binary writing detections without change numbers would hide them from every sink, for one).
 */
export function assertNoUnknownMigrations(backend: 'sqlite' | 'postgres', location: string, applied: Iterable<string>): void {
  const known = new Set(loadMigrations(backend).map((m) => m.id));
  const unknown = [...applied].filter((id) => !known.has(id)).sort();
  if (unknown.length) {
    throw new StoreError(
      'STORE_MIGRATE',
      `store ${location} was migrated by a newer Outflow (migrations ${unknown.join(', ')} are unknown to this version)`,
      'run the newer Outflow against it, or point this one at another store',
    );
  }
}
