/**
 * ?since= with a UTC offset typed as documented (2026-03-09T14:30:00+01:00) reaches the server as
 * "…14:30:00 01:00" ('+' is a space in a query string). It was refused with a 400 whose hint lists that very form.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { startServe, type RunningServe } from '../../fleet/serve.js';
import { MemoryStream, sampleDetection } from './serve-fixtures.js';

const TOKEN = 'api-test-token-0123456789abcdef';
let dir: string;
let serve: RunningServe;

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'api-since-plus-'));
  serve = await startServe({
    loaded: parseConfig({ fleet: {
      store: path.join(dir, 's.db'),
      http: { host: '127.0.0.1', port: 0, token: TOKEN },
      sinks: [{ type: 'stdout', format: 'json' }],
      scheduler: { finalize: { cron: '0 0 1 1 *' }, rollup: { cron: '0 0 1 1 *' }, retention: { cron: '0 0 1 1 *' } },
    } }),
    log: silentLogger(),
    stdout: new MemoryStream(),
  });
  // last seen 2026-03-09T13:45:00Z: after 14:30+01:00 (13:30Z), before 14:30Z
  const t = Date.UTC(2026, 2, 9, 13, 45) / 1000;
  await serve.store.detections.upsert([sampleDetection({ id: 'd1', suppression_key: 'k1', first_seen: t - 10, last_seen: t, created_at: t, updated_at: t })]);
}, 60_000);
afterAll(async () => {
  await serve?.stop('test');
  rmSync(dir, { recursive: true, force: true });
});

async function count(query: string): Promise<[number, unknown]> {
  const r = await fetch(`${serve.url}/v1/detections?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await r.json()) as { count?: number; error?: string };
  return [r.status, body.count ?? body.error];
}

it('reads an unencoded "+" of a UTC offset as the "+" it was', async () => {
  expect(await count('since=2026-03-09T14:30:00%2B01:00')).toEqual([200, 1]);
  expect(await count('since=2026-03-09T14:30:00+01:00')).toEqual([200, 1]);
  expect(await count('since=2026-03-09T14:30:00-01:00')).toEqual([200, 0]);
});
