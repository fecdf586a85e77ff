/**
 * GET /v1/detections?host= takes every host id ingest keeps (up to 512 characters): an id osquery's host_identifier
 * setting makes long (a specified identifier, a hostname with a long domain) must not be a 400.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { startServe, type RunningServe } from '../../fleet/serve.js';
import { MemoryStream, sampleDetection } from './serve-fixtures.js';

const TOKEN = 'api-long-host-token-0123456789abcdef';
let dir: string;
let running: RunningServe;

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'outflow-api-long-host-'));
  running = await startServe({
    loaded: parseConfig({ fleet: { store: path.join(dir, 's.db'), ingest: { quarantine_file: '' }, http: { host: '127.0.0.1', port: 0, token: TOKEN }, sinks: [], scheduler: { enabled: false } } }),
    log: silentLogger(),
    stdout: new MemoryStream(),
  });
}, 60_000);
afterAll(async () => {
  await running?.stop('test');
  rmSync(dir, { recursive: true, force: true });
});

const ask = (host: string) => fetch(`${running.url}/v1/detections?host=${encodeURIComponent(host)}`, { headers: { authorization: `Bearer ${TOKEN}` } });

it('finds the detections of a host whose id is 512 characters long, and refuses 513 (longer than ingest keeps)', async () => {
  const hostId = `host-${'a'.repeat(507)}`;
  expect(hostId.length).toBe(512);
  await running.store.detections.upsert([sampleDetection({ id: 'det-long-host', host_id: hostId })]);
  const r = await ask(hostId);
  expect(r.status).toBe(200);
  const body = (await r.json()) as { detections: { id: string }[] };
  expect(body.detections.map((d) => d.id)).toEqual(['det-long-host']);
  expect((await ask(`${hostId}x`)).status).toBe(400);
});
