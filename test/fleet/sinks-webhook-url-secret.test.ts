/**
 * A webhook URL may carry its token in the path or query (sinkDeliveryId hashes it for that reason); the
 * spool-full error, which the outbox logs on every finalize run while the receiver is down, must not print it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { deliverDetections, prepareSinkCursors } from '../../fleet/sinks/outbox.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { MemoryStream, freePort, sampleDetection } from './serve-fixtures.js';

const TOKEN = 'hook-token-7f3a9c1e5b';
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

it('a full spool is reported and logged without the webhook URL\'s token', async () => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'webhook-url-'));
  const port = await freePort(); // nothing listens: the receiver is down
  const logs = new MemoryStream();
  const log = createLogger({ destination: logs, level: 'info' });
  const sink = new WebhookSink({
    name: 'webhook#0',
    url: `http://127.0.0.1:${port}/services/${TOKEN}?token=${TOKEN}`,
    secret: 'test-webhook-secret-0123456789',
    format: 'json',
    spoolDir: path.join(dir, 'spool'),
    timeoutMs: 1000,
    backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2 },
    batchSize: 1,
    maxSpoolBytes: 1, // full after one batch
    headers: {},
    render: (d) => d,
    log,
  });
  const store = await openSqliteStore(':memory:');
  try {
    const group = { sinks: [sink] };
    await prepareSinkCursors(store, group);
    await store.detections.upsert([sampleDetection({ id: 'a', suppression_key: 'k-a' }), sampleDetection({ id: 'b', suppression_key: 'k-b' })]);
    const r = await deliverDetections(store, group, { log });
    expect(r.failures).toHaveLength(1);
    const e = r.failures[0]!.error as Error & { hint?: string };
    expect(`${e.message} ${e.hint ?? ''}`).toMatch(/is full/);
    expect(`${e.message} ${e.hint ?? ''}`).not.toContain(TOKEN);
    expect(logs.text).toContain('sink write failed');
    expect(logs.text).not.toContain(TOKEN);
  } finally {
    await sink.close();
    await store.close();
  }
});
