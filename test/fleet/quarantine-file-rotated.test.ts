/**
 * logrotate (rename, create on next open) may move the quarantine file away between the open before the store
 * transaction and the append inside it: the append goes to the descriptor opened (the rotated file), and must not fail
 * because the path names no file any more (the lines would be in neither file).
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'quarantine-rotated-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('a quarantine file rotated away after its open still gets the batch appended', async () => {
  const file = path.join(dir, 'quarantine.jsonl');
  writeFileSync(file, '{"line":"earlier"}\n');
  const real = await openSqliteStore(path.join(dir, 'outflow.db'));
  // the rotation happens once the batch's file is open: at the start of its transaction
  const store = new Proxy(real, {
    get(t, k, r) {
      if (k === 'transaction') return (fn: (tx: unknown) => Promise<unknown>, o?: unknown) => t.transaction(async (tx) => (renameSync(file, `${file}.1`), fn(tx)), o as never);
      const v = Reflect.get(t, k, r) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  try {
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: file });
    const r = await ingest.ingestLines(['not a result line'], { kind: 'test', id: 'rotated' });
    expect(r.quarantined).toBe(1);
    const lines = readFileSync(`${file}.1`, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect((JSON.parse(lines[1]!) as { line: string }).line).toBe('not a result line');
  } finally {
    await real.close();
  }
});
