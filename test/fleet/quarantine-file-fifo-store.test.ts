/**
 * The quarantine file may be a named pipe (appendQuarantineFile reads through a descriptor of its own for that): a pipe
 * nobody reads yet (its reader restarting) holds the open, and one whose reader does not keep up (a stalled `logger`,
 * `tee` to a full disk: the pipe's 64 KiB buffer full) holds the write. Neither may hold the store's write
 * transaction with it: the finalize job, the API and every other source write through the same store.
 */
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'quarantine-fifo-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('a quarantine pipe without a reader leaves the store free for other transactions', async () => {
  const fifo = path.join(dir, 'quarantine.pipe');
  execFileSync('mkfifo', [fifo]);
  const store = await openSqliteStore(path.join(dir, 'outflow.db'));
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: fifo });
  const pending = ingest.ingestLines(['not a result line'], { kind: 'test', id: 'fifo' });
  pending.catch(() => undefined);
  try {
    // another writer (the finalize job, a second source) after the batch was handed over
    await new Promise((r) => setTimeout(r, 200));
    const other = store.transaction(async () => 'done');
    const outcome = await Promise.race([other, new Promise((r) => setTimeout(() => r('store held by the quarantine append'), 3000))]);
    expect(outcome).toBe('done');
  } finally {
    // a reader comes: the append ends, and with it the ingest
    const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    await pending.catch(() => undefined);
    await reader.close();
    await store.close();
  }
}, 30_000);

it('a batch whose only rejects are rows held for settling (an invalid Outflow row) still writes them to the file', async () => {
  const file = path.join(dir, 'quarantine.jsonl');
  const store = await openSqliteStore(path.join(dir, 'outflow.db'));
  try {
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: file });
    // a candidate row without the columns its schema needs: rejected as a row, keyed (a re-delivery is a duplicate)
    const bad = JSON.stringify({ name: 'pack/Global/outflow_candidates', hostIdentifier: 'h1', unixTime: 1_772_409_600, counter: 1, action: 'added', columns: { analytic: 'AN0082' } });
    const r = await ingest.ingestLines([bad], { kind: 'test', id: 'held' });
    expect(r.quarantined).toBe(1);
    const records = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { line: string; reason: string });
    expect(records).toHaveLength(1);
    expect(records[0]!.reason).toMatch(/^outflow_candidates row invalid/);
  } finally {
    await store.close();
  }
});

// the reader is there (the open for appending does not wait) but reads nothing
it('a quarantine pipe whose reader has stopped reading leaves the store free for other transactions', async () => {
  const fifo = path.join(dir, 'quarantine.pipe');
  execFileSync('mkfifo', [fifo]);
  const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const store = await openSqliteStore(path.join(dir, 'outflow.db'));
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: fifo });
  // 300 rejected lines of 1 KiB: more than the pipe holds
  const lines = Array.from({ length: 300 }, (_, i) => `not a result line ${i} ${'x'.repeat(1024)}`);
  const pending = ingest.ingestLines(lines, { kind: 'test', id: 'pipe-full' });
  pending.catch(() => undefined);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const other = store.transaction(async () => 'done');
    const outcome = await Promise.race([other, new Promise((r) => setTimeout(() => r('store held by the quarantine append'), 3000))]);
    expect(outcome).toBe('done');
  } finally {
    // the reader drains the pipe: the append ends, and with it the ingest
    const buf = Buffer.alloc(1 << 16);
    const drain = setInterval(() => void reader.read(buf, 0, buf.length, null).catch(() => undefined), 5);
    await pending.catch(() => undefined);
    clearInterval(drain);
    await reader.close();
    await store.close();
  }
}, 30_000);
