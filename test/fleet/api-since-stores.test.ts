/** ?since= with a duration past 1970 answers alike on SQLite and PostgreSQL (PostgreSQL refused the unbound integer: 503). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { startServe, type RunningServe } from '../../fleet/serve.js';
import { useTestDatabase } from '../helpers/pg.js';
import { MemoryStream } from './serve-fixtures.js';

const database = useTestDatabase('api_since');
const TOKEN = 'api-test-token-0123456789abcdef';
let dir: string;
let sqlite: RunningServe;
let postgres: RunningServe;

const config = (store: string) => parseConfig({ fleet: {
  store, ingest: { quarantine_file: path.join(dir, 'q.ndjson') },
  http: { host: '127.0.0.1', port: 0, token: TOKEN },
  sinks: [{ type: 'stdout', format: 'json' }],
  scheduler: { finalize: { cron: '0 0 1 1 *' }, rollup: { cron: '0 0 1 1 *' }, retention: { cron: '0 0 1 1 *' } },
} });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-api-since-'));
  sqlite = await startServe({ loaded: config(path.join(dir, 's.db')), log: silentLogger(), stdout: new MemoryStream() });
  postgres = await startServe({ loaded: config(database().url), log: silentLogger(), stdout: new MemoryStream() });
}, 60_000);
afterAll(async () => {
  await sqlite?.stop('test');
  await postgres?.stop('test');
  rmSync(dir, { recursive: true, force: true });
});

it.each(['200000000000000d', '99999999999999999999999w'])('GET /v1/detections?since=%s answers the same on both stores, and never 503', async (since) => {
  const get = async (s: RunningServe) => {
    const r = await fetch(`${s.url}/v1/detections?since=${since}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return [r.status, r.headers.get('retry-after')];
  };
  const onSqlite = await get(sqlite);
  const onPostgres = await get(postgres);
  expect(onSqlite[0]).not.toBe(503);
  expect(onPostgres).toEqual(onSqlite);
});
