/**
 * PostgreSQL restarted (pg_ctlcluster … restart of the local cluster) while two `outflow fleet serve`
 * instances ingest from one JetStream stream: 0 lost after recovery, same state as a single SQLite run.
 * The restart waits for (and blocks) other test files using PostgreSQL through a server-wide advisory lock
 * (test/helpers/pg.ts), so it never pulls the server from under them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testStream } from '../helpers/nats.js';
import { createTestDatabase, takeServerExclusive, waitForPostgres } from '../helpers/pg.js';
import {
  LINES,
  drained,
  finalizeAndSnapshot,
  publishAll,
  referenceRows,
  referenceRun,
  rowsStored,
  serve,
  stopAll,
  waitUntil,
  writeConfig,
  type Instance,
  type Snapshot,
} from './multi-instance-helpers.js';

let expected: Snapshot;

let server: Awaited<ReturnType<typeof takeServerExclusive>>;

beforeAll(async () => {
  expected = await referenceRun();
  expect(expected.detections.length).toBeGreaterThan(0);
}, 120_000);

// Its own hook and timeout: waiting for the other PostgreSQL test file running in parallel (at most one,
// maxWorkers 2; the longest, multi-instance.test.ts, takes ~75 s here) is not the test's time.
beforeAll(async () => {
  server = await takeServerExclusive(140_000);
}, 150_000);

afterAll(async () => {
  await waitForPostgres(30_000);
});

describe('PostgreSQL restart under several aggregator instances', () => {
  it('PostgreSQL restarted mid-ingest: 0 lost after recovery', async () => {
    const db = await createTestDatabase('multirestart');
    const ts = await testStream('multirestart', { create: true });
    const cfg = writeConfig(db, ts, 'restart');
    const instances: Instance[] = [];
    try {
      instances.push(serve(cfg), serve(cfg));
      await Promise.all(instances.map((i) => i.ready));
      await publishAll(ts, LINES);
      await waitUntil('ingest to be under way', async () => (await rowsStored(db)) >= referenceRows() * 0.2, 30_000);
      await server.restart();
      await waitUntil('the instances to recover and drain the stream', () => drained(ts, db), 40_000);
      for (const i of instances) expect(i.child.exitCode, i.stderr().slice(-2000)).toBeNull();
      expect(await rowsStored(db)).toBe(referenceRows());
      await stopAll(instances);
      const got = await finalizeAndSnapshot(db);
      expect(got).toEqual(expected);
    } finally {
      await stopAll(instances);
      await ts.cleanup();
      await server.release();
      await waitForPostgres(30_000);
      await db.drop();
    }
  }, 60_000);
});
