/**
 * What the aggregator writes holds every Mac's process paths, hostnames and destinations: created readable by
 * its owner and group (a log shipper), never by every local user, whatever the umask lets through.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { JsonlFileSink } from '../../fleet/sinks/jsonl.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { silentLogger } from '../../src/log.js';
import { sampleDetection } from '../store/store.contract.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('files and directories the aggregator creates', () => {
  let dir: string;
  let umask: number;
  beforeAll(() => {
    dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'modes-'));
    // the permissive umask of many shells: the modes must not rely on a stricter one
    umask = process.umask(0o002);
  });
  afterAll(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the SQLite store (and its WAL) and the quarantine file: 0640 in 0750 directories', async () => {
    const file = path.join(dir, 'state/outflow.db');
    const store = await openSqliteStore(file);
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: path.join(dir, 'state/quarantine.ndjson') });
      await ingest.ingestLines(['not a result line'], { kind: 'test', id: 'modes' });
      expect(mode(path.join(dir, 'state'))).toBe(0o750);
      expect(mode(file)).toBe(0o640);
      expect(mode(`${file}-wal`)).toBe(0o640);
      expect(mode(path.join(dir, 'state/quarantine.ndjson'))).toBe(0o640);
    } finally {
      await store.close();
    }
  });

  it('a store an earlier version left readable by everyone is no longer', async () => {
    const file = path.join(dir, 'old.db');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    const store = await openSqliteStore(file);
    await store.close();
    expect(mode(file)).toBe(0o640);
  });

  it('the detections file and the webhook spool', async () => {
    const out = path.join(dir, 'out/detections.jsonl');
    const fileSink = new JsonlFileSink(out, (d) => d);
    await fileSink.write([sampleDetection()]);
    await fileSink.close?.();
    expect([mode(path.dirname(out)), mode(out)]).toEqual([0o750, 0o640]);

    const spoolDir = path.join(dir, 'spool');
    const webhook = new WebhookSink({
      name: 'webhook#0',
      url: 'http://127.0.0.1:9/hook',
      secret: 'a-long-enough-secret',
      format: 'json',
      spoolDir,
      timeoutMs: 200,
      backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2 },
      batchSize: 10,
      maxSpoolBytes: 1 << 20,
      headers: {},
      render: (d) => d,
      log: silentLogger(),
    });
    try {
      await webhook.write([sampleDetection()]);
      const spooled = (await import('node:fs')).readdirSync(spoolDir).filter((f) => !f.startsWith('.') && f !== 'dead');
      expect(spooled.length).toBe(1);
      expect([mode(spoolDir), mode(path.join(spoolDir, 'dead')), mode(path.join(spoolDir, spooled[0]!))]).toEqual([0o750, 0o750, 0o640]);
    } finally {
      await webhook.close();
    }
  });
});
