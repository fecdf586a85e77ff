/**
 * Webhook spool bookkeeping across restarts and hand edits: dead letters are never renamed over,
 * and a batch removed by hand gives back its share of max_spool_bytes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { TestReceiver, sampleDetection, waitFor } from './serve-fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-spool-accounting-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sinkAt = (url: string) => new WebhookSink({
  name: 'webhook#0', url, secret: 'test-webhook-secret-0123456789', format: 'json', spoolDir: path.join(dir, 'spool'),
  timeoutMs: 2000, backoff: { initialMs: 20, maxMs: 150, factor: 2 }, batchSize: 1, maxSpoolBytes: 1 << 20,
  headers: {}, render: (d) => d, log: silentLogger(),
});

it('a batch refused after a restart does not overwrite the dead letter of a batch refused before it', async () => {
  const receiver = new TestReceiver(() => 401); // e.g. a wrong secret: every body refused
  await receiver.start();
  try {
    const first = sinkAt(receiver.url);
    await first.write([sampleDetection({ id: 'before-restart' })]);
    await waitFor(() => first.pending === 0, 'refused');
    await first.close();
    const second = sinkAt(receiver.url); // fleet serve restarted; the spool itself is empty
    await second.write([sampleDetection({ id: 'after-restart' })]);
    await waitFor(() => second.pending === 0, 'refused');
    await second.close();
    const deadDir = path.join(dir, 'spool', 'dead');
    const ids = readdirSync(deadDir).map((f) => JSON.parse(readFileSync(path.join(deadDir, f), 'utf8')).detections[0].id);
    expect(ids.sort()).toEqual(['after-restart', 'before-restart']);
  } finally {
    await receiver.stop();
  }
});

it('a spool file removed by hand while the receiver is down stops counting toward max_spool_bytes', async () => {
  let up = false;
  const receiver = new TestReceiver(() => (up ? 200 : 503));
  await receiver.start();
  const oneBody = JSON.stringify(sampleDetection({ id: 'xx' })).length + 250;
  const sink = new WebhookSink({
    name: 'webhook#0', url: receiver.url, secret: 'test-webhook-secret-0123456789', format: 'json', spoolDir: path.join(dir, 'spool'),
    timeoutMs: 2000, backoff: { initialMs: 20, maxMs: 50, factor: 2 }, batchSize: 1, maxSpoolBytes: Math.floor(2.5 * oneBody),
    headers: {}, render: (d) => d, log: silentLogger(),
  });
  try {
    await sink.write([sampleDetection({ id: 's1' }), sampleDetection({ id: 's2' })]);
    await waitFor(() => receiver.requests.length >= 2, 'retrying');
    // the admin clears the stuck spool (wrong receiver, say)
    for (const f of readdirSync(path.join(dir, 'spool')).filter((f) => f.endsWith('.json'))) rmSync(path.join(dir, 'spool', f));
    up = true;
    await waitFor(() => sink.pending === 0, 'spool empty');
    // nothing is waiting: a new batch must fit
    await sink.write([sampleDetection({ id: 's3' })]);
    await waitFor(() => sink.pending === 0, 'delivered');
  } finally {
    await sink.close();
    await receiver.stop();
  }
});
