/**
 * POST /v1/ingest through the server with the bodies Fleet's webhook writer sends (fleetdm/fleet
 * server/logging/webhook.go: per batch, or one wrapper per line in the versions that take a bearer token), a
 * byte-order mark, and an error answer that stays small.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { startServe, type RunningServe } from '../../fleet/serve.js';
import { generateFleetLines } from '../helpers/fleet-lines.js';
import { MemoryStream } from './serve-fixtures.js';

const TOKEN = 'webhook-bodies-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
let dir: string;
let server: RunningServe;

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'api-webhook-bodies-'));
  const loaded = parseConfig({
    fleet: {
      store: path.join(dir, 'a.db'),
      http: { host: '127.0.0.1', port: 0, token: TOKEN },
      sinks: [{ type: 'stdout', format: 'json' }],
      scheduler: { enabled: false },
    },
  });
  server = await startServe({ loaded, log: silentLogger(), stdout: new MemoryStream() });
});
afterAll(async () => {
  await server?.stop('test');
  rmSync(dir, { recursive: true, force: true });
});

async function post(body: string): Promise<Record<string, unknown> & { status: number }> {
  const res = await fetch(`${server.url}/v1/ingest`, { method: 'POST', body, headers: auth });
  return { status: res.status, ...((await res.json()) as Record<string, unknown>) };
}

describe('Fleet webhook bodies', () => {
  it("ingests Fleet's webhook writer body: a JSON array of {timestamp, details: <line>} (one wrapper per line)", async () => {
    // fleetdm/fleet server/logging/webhook.go: Write() builds []webhookDetails{Timestamp, Details: log} and
    // json.Marshal()s the slice; formats.md §6.5 names this variant ("one {timestamp, details} per line") [?]
    const lines = generateFleetLines({ lines: 6, hosts: 2, days: 1, seed: 41 }).map((l) => l.replaceAll('HOST-', 'FLEETWH-'));
    const body = JSON.stringify(lines.map((l) => ({ timestamp: '2026-03-03T09:53:00.123456789Z', details: JSON.parse(l) })));
    const r = await post(body);
    expect(r.status).toBe(200);
    expect(r).toMatchObject({ lines: 6, quarantined: 0 });
  });

  it('ingests a single {timestamp, details: <line object>} wrapper instead of refusing it with 400', async () => {
    const [line] = generateFleetLines({ lines: 1, hosts: 1, days: 1, seed: 42 }).map((l) => l.replaceAll('HOST-', 'FLEETONE-'));
    const r = await post(JSON.stringify({ timestamp: '2026-03-03T09:53:00Z', details: JSON.parse(line!) }));
    expect(r.status).toBe(200);
    expect(r).toMatchObject({ lines: 1, quarantined: 0 });
  });
});

describe('byte order mark', () => {
  it('a Fleet webhook body that starts with a UTF-8 BOM is still read as a webhook body, not one quarantined NDJSON line', async () => {
    const lines = generateFleetLines({ lines: 3, hosts: 1, days: 1, seed: 43 }).map((l) => l.replaceAll('HOST-', 'BOM-'));
    const r = await post('\uFEFF' + JSON.stringify({ timestamp: '2026-03-03T09:53:00Z', details: lines.map((l) => JSON.parse(l)) }));
    expect(r.status).toBe(200);
    expect(r).toMatchObject({ shape: 'webhook', lines: 3, quarantined: 0 });
  });
});

describe('error answers stay small', () => {
  it('a Kafka REST body of 100 000 malformed records (200 KB) gets a bounded 400, not one issue per record', async () => {
    const body = JSON.stringify({ records: Array.from({ length: 100_000 }, () => 1) });
    const res = await fetch(`${server.url}/v1/ingest`, { method: 'POST', body, headers: auth });
    const text = await res.text();
    expect(res.status).toBe(400);
    // 200 KB in; the prevalence routes already cap what a 400 lists (SHOWN_UNKNOWN_PARAMS)
    expect(text.length, `${body.length} bytes in, ${(JSON.parse(text) as { issues: unknown[] }).issues.length} issues out`).toBeLessThan(64 * 1024);
  });
});
