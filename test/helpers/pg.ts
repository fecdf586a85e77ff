/**
 * Throwaway PostgreSQL databases for tests, on the local server that scripts/services.sh starts
 * (trust auth on 127.0.0.1:5432, user postgres). Every test file gets its own uniquely named database and
 * drops it afterwards, so parallel runs never see each other's rows. An unreachable server is an error,
 * never a skip.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

/** Admin connection (any database but the one under test). Override for a remote test server. */
export const PG_ADMIN_URL = process.env.OUTFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PREFIX = 'outflow_t';
/** Databases of crashed runs older than this are dropped by the next run. */
const STALE_AFTER_S = 3 * 3600;

export interface TestDatabase {
  name: string;
  /** postgres:// URL of the new database. */
  url: string;
  drop(): Promise<void>;
}

function urlFor(database: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL test server unreachable at ${PG_ADMIN_URL} (${(err as Error).message}); start it with: bash scripts/services.sh`,
      { cause: err },
    );
  }
  return client;
}

/** Database names carry their creation time, so leftovers of killed runs can be recognised and removed. */
function freshName(label: string): string {
  const safe = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 20);
  return `${PREFIX}_${Math.floor(Date.now() / 1000)}_${process.pid}_${randomBytes(3).toString('hex')}_${safe}`;
}

async function dropStale(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${PREFIX}\\_%`]);
  const now = Date.now() / 1000;
  for (const { datname } of rows) {
    const created = Number(datname.split('_')[2]);
    if (Number.isFinite(created) && now - created > STALE_AFTER_S) {
      await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
    }
  }
}

export async function createTestDatabase(label = 'db'): Promise<TestDatabase> {
  const name = freshName(label);
  const client = await adminClient();
  try {
    await dropStale(client);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return {
    name,
    url: urlFor(name),
    async drop() {
      const c = await adminClient();
      try {
        // FORCE: a killed child process may still hold a connection until the server notices.
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Run SQL against a test database with a short-lived client. */
export async function pgQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Major version of the local cluster (for pg_ctlcluster), e.g. "15". */
export function localClusterVersion(): string {
  const out = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => /\s5432\s/.test(l));
  if (!line) throw new Error('no local PostgreSQL cluster on port 5432 (pg_lsclusters)');
  return line.trim().split(/\s+/)[0]!;
}

/**
 * Restart the local cluster (the "PostgreSQL restarted mid-ingest" scenario) and wait until it accepts
 * connections again. Uses the Debian wrapper so it works without systemd.
 */
export async function restartLocalCluster(timeoutMs = 30_000): Promise<void> {
  const ver = localClusterVersion();
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', ver, 'main', 'restart', '-m', 'fast'], { stdio: 'ignore', timeout: timeoutMs });
  await waitForPostgres(timeoutMs);
}

export async function waitForPostgres(timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (err) {
      last = err;
      await c.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`PostgreSQL did not come back within ${timeoutMs} ms: ${(last as Error)?.message}`);
}

/**
 * The restart test restarts the whole local cluster; other test files using PostgreSQL in the same run hold
 * this advisory lock SHARED for their duration, the restart takes it EXCLUSIVE first, so it never pulls the
 * server from under them. (The restart itself ends the exclusive holder's session, releasing it.)
 */
const SERVER_LOCK = [0x6f757466, 0x7e57] as const;

async function lockClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/**
 * A database of the calling test file's own, on the server held shared for the file (a restart test cannot
 * take the server away meanwhile): registers the file's beforeAll (hold, create) and afterAll (drop, release).
 * The returned function gives the database inside tests.
 */
export function useTestDatabase(label: string): () => TestDatabase {
  let db: TestDatabase | undefined;
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    release = await holdServerShared(85_000);
    db = await createTestDatabase(label);
  }, 90_000);
  afterAll(async () => {
    await db?.drop();
    await release?.();
  });
  return () => {
    if (!db) throw new Error(`test database ${label} is used before its beforeAll ran`);
    return db;
  };
}

/** Hold the server lock shared until the returned function is called. Survives a restart in progress. */
export async function holdServerShared(timeoutMs = 60_000): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let c: pg.Client | undefined;
    try {
      c = await lockClient();
      await c.query('SELECT pg_advisory_lock_shared($1, $2)', [...SERVER_LOCK]);
      const held = c;
      return async () => {
        await held.query('SELECT pg_advisory_unlock_shared($1, $2)', [...SERVER_LOCK]).catch(() => undefined);
        await held.end().catch(() => undefined);
      };
    } catch (err) {
      await c?.end().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await waitForPostgres(Math.max(1000, deadline - Date.now()));
    }
  }
}

/**
 * Wait (bounded) until no other test file holds the server lock and take it; `restart()` then restarts the
 * local cluster (which ends the lock's session, so nothing else needs releasing after it).
 */
export async function takeServerExclusive(lockWaitMs = 25_000): Promise<{ restart(): Promise<void>; release(): Promise<void> }> {
  const c = await lockClient();
  try {
    await c.query(`SET statement_timeout = ${Math.round(lockWaitMs)}`);
    await c.query('SELECT pg_advisory_lock($1, $2)', [...SERVER_LOCK]);
  } catch (err) {
    await c.end().catch(() => undefined);
    throw new Error(`another test file kept PostgreSQL busy for ${lockWaitMs} ms; not restarting under it`, { cause: err });
  }
  return {
    restart: () => restartLocalCluster(),
    release: () => c.end().catch(() => undefined),
  };
}

/**
 * Every row of the store's state tables in a PostgreSQL database, as sorted JSON per table (the
 * counterpart of fleet-helpers' sqliteStateDump). Bookkeeping a re-delivery may touch is left out.
 */
export async function pgStateDump(url: string): Promise<Record<string, string[]>> {
  const bookkeeping = new Set(['checkpoints', 'quarantine', 'results_seen', 'schema_migrations']);
  const tables = (await pgQuery<{ tablename: string }>(url, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`))
    .map((t) => t.tablename)
    .filter((t) => !bookkeeping.has(t));
  const out: Record<string, string[]> = {};
  for (const t of tables) out[t] = (await pgQuery(url, `SELECT * FROM "${t}"`)).map((r) => JSON.stringify(r)).sort();
  return out;
}
