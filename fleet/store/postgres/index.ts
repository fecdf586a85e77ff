/** PostgreSQL backend entry point, loaded lazily by fleet/store/open.ts for `postgres://` stores. */
export { PostgresStore, openPostgresStore, redactPostgresUrl, type PostgresStoreOptions } from './pg-store.js';
