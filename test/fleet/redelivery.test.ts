/**
 * At-least-once delivery (Fleet re-sends a batch its destination refused; a file is re-read from the start)
 * must change nothing, on both stores. Only candidate and rejected rows are recognized by a dedupe key;
 * every other row is applied again, so this checks that each of those merges is idempotent: the whole state
 * (hosts, status, prevalence keys and host rows, apps and their attributes, candidates, detections, the event
 * clock, the change feed counter) is compared table by table before and after the fleet is delivered again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import type { Store } from '../../fleet/store/store.js';
import { simulateFleet } from '../../scripts/simulate-fleet.js';
import { createTestDatabase, holdServerShared, pgStateDump, type TestDatabase } from '../helpers/pg.js';
import { canonical, runPipeline, sqliteStateDump } from './fleet-helpers.js';

const fleet = simulateFleet({ hosts: 30, days: 9, seed: 23, files: 3, duplicateRate: 0.02 });
const allLines = fleet.files.flat();
const candidateRows = allLines.filter((l) => l.includes('outflow_candidates')).length;

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'redelivery-'));
let db: TestDatabase | undefined;
let release: (() => Promise<void>) | undefined;
beforeAll(async () => {
  release = await holdServerShared(85_000);
  db = await createTestDatabase('redelivery');
}, 90_000);
afterAll(async () => {
  await db?.drop();
  await release?.();
  rmSync(dir, { recursive: true, force: true });
});

interface Backend {
  open(): Promise<Store>;
  dump(): Promise<Record<string, string[]>>;
}

const backends: [string, () => Backend][] = [
  [
    'sqlite',
    () => {
      const file = path.join(dir, 'state.db');
      return { open: () => openSqliteStore(file), dump: async () => sqliteStateDump(file) };
    },
  ],
  ['postgres', () => ({ open: () => openPostgresStore(db!.url), dump: () => pgStateDump(db!.url) })],
];

describe.each(backends)('re-delivery of a whole fleet (%s)', (_name, backend) => {
  it('leaves every state table as it was: the same files again, in reverse order, and candidates re-dumped with counter 0', async () => {
    const b = backend();
    const store = await b.open();
    try {
      const first = await runPipeline(store, fleet.files);
      expect(first.detections.length).toBeGreaterThan(3);
      const before = await b.dump();
      expect(before.destination_hosts!.length).toBeGreaterThan(100);
      expect(before.host_status!.length).toBeGreaterThan(30);
      expect(before.apps!.length).toBeGreaterThan(5);

      // Another order and batch size than the first delivery, so no merge can lean on arrival order.
      const redump = allLines.filter((l) => l.includes('outflow_candidates')).map((l) => l.replace(/"counter":\d+/, '"counter":0'));
      const replay = await runPipeline(store, [...[...fleet.files].reverse(), redump], { batch: 333 });
      // Every re-delivered candidate row is recognized; nothing becomes pending or is finalized again.
      expect(replay.ingested.reduce((n, r) => n + r.duplicates, 0)).toBeGreaterThanOrEqual(candidateRows);
      expect(replay.ingested.reduce((n, r) => n + r.candidates, 0)).toBe(0);
      expect(replay.finalized.examined).toBe(0);
      expect(canonical(replay.detections)).toEqual(canonical(first.detections));
      expect(await b.dump()).toEqual(before);
    } finally {
      await store.close();
    }
  }, 180_000);
});
