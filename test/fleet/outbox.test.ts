/**
 * Sinks fed from the store's change feed (fleet/sinks/outbox.ts): every committed detection reaches every
 * sink even when the process dies between COMMIT and the write, or a sink refuses a batch, and none is
 * handed over twice in normal operation.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simulateFleet } from '../../scripts/simulate-fleet.js';
import { createFleetMetrics } from '../../fleet/metrics.js';
import { FLEET_JOBS, type JobDeps } from '../../fleet/scheduler/jobs.js';
import { SinkSet, createSinks, sinkDeliveryId, type Sink } from '../../fleet/sinks/index.js';
import { fleetServeConfigShape } from '../../src/config/fleet-serve.js';
import { deliverDetections, prepareSinkCursors, sinkCursorId } from '../../fleet/sinks/outbox.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import type { Detection, Store } from '../../fleet/store/store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { silentLogger } from '../../src/log.js';
import { systemClock } from '../../src/clock.js';
import { StoreError } from '../../src/errors.js';
import { memoryStore, runPipeline } from './fleet-helpers.js';
import { MemoryStream, TestReceiver, freePort, sampleDetection, waitFor } from './serve-fixtures.js';

/** A sink that keeps what it was given, and fails the writes the test tells it to. */
class RecordingSink implements Sink {
  readonly written: Detection[] = [];
  failNext = 0;
  constructor(readonly name: string) {}
  async write(detections: readonly Detection[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error(`${this.name} is down`);
    }
    this.written.push(...detections);
  }
  async close(): Promise<void> {}
  ids(): string[] {
    return this.written.map((d) => `${d.id}:${d.count}`);
  }
}

function group(...sinks: Sink[]) {
  return { sinks };
}

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'outbox-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function upsert(store: Store, id: string, count = 1): Promise<void> {
  await store.detections.upsert([sampleDetection({ id, suppression_key: `k-${id}`, count })]);
}

describe('sink outbox', () => {
  it('starts a new sink at the newest change, then hands it each change once, latest version', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    await upsert(store, 'history');
    const sink = new RecordingSink('rec');
    await prepareSinkCursors(store, group(sink));
    await prepareSinkCursors(store, group(sink)); // idempotent: the cursor stays where it was
    await upsert(store, 'a');
    await upsert(store, 'b');
    expect((await deliverDetections(store, group(sink))).delivered).toEqual({ rec: 2 });
    expect(sink.ids()).toEqual(['a:1', 'b:1']);
    expect((await deliverDetections(store, group(sink))).delivered).toEqual({ rec: 0 });
    await upsert(store, 'a', 4);
    await deliverDetections(store, group(sink));
    expect(sink.ids()).toEqual(['a:1', 'b:1', 'a:4']);
    expect(await store.checkpoints.get(sinkCursorId(sink))).toMatchObject({ cursor: await store.detections.changeCursor() });
  });

  it('a new sink whose cursor could not be saved at start (busy store) starts at the start, not at its first finalize run', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    await upsert(store, 'history');
    const sink = new RecordingSink('rec');
    // serve's start: the newest change is read, but saving the cursor fails (the store is busy)
    const sinks = { sinks: [sink] as const, startCursor: await store.detections.changeCursor() };
    let busy = true;
    const busyStore = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'transaction' && busy) return async () => Promise.reject(new StoreError('STORE_WRITE', 'sqlite: transaction failed: database is locked'));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    await prepareSinkCursors(busyStore, sinks);
    expect(await store.checkpoints.get(sinkCursorId(sink))).toBeNull();
    busy = false;
    // another process (`fleet ingest` beside serve) finalizes a detection before serve's first finalize run
    await upsert(store, 'between');
    await prepareSinkCursors(store, sinks);
    expect((await deliverDetections(store, sinks)).delivered).toEqual({ rec: 1 });
    expect(sink.ids()).toEqual(['between:1']);
    // a start cursor this store did not hand out: the newest change, as without one
    const other = new RecordingSink('other');
    await prepareSinkCursors(store, { sinks: [other], startCursor: 'sqlite:99999' });
    expect(await store.checkpoints.get(sinkCursorId(other))).toMatchObject({ cursor: await store.detections.changeCursor() });
  });

  it('two instances setting up a new sink at once: the older start cursor wins, whichever saves first, so nothing is skipped', async () => {
    /** The store, with its first `transaction` held until the returned release() (a slow cursor save). */
    const slowSave = (store: Store) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let held = false;
      const proxy = new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'transaction' && !held) {
            held = true;
            return async (...args: Parameters<Store['transaction']>) => {
              await gate;
              return target.transaction(...args);
            };
          }
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
      return { proxy, release };
    };
    for (const olderSavesFirst of [true, false]) {
      const file = path.join(dir, `two-instances-${olderSavesFirst}.db`);
      const a = await openSqliteStore(file);
      const b = await openSqliteStore(file);
      cleanups.push(() => a.close(), () => b.close());
      await upsert(a, 'history');
      // A starts (the older start cursor); detections are finalized; B starts (a newer one); both find no cursor
      const sinkA = new RecordingSink('rec');
      const groupA = { sinks: [sinkA], startCursor: await a.detections.changeCursor() };
      await upsert(a, 'after-a-1');
      await upsert(a, 'after-a-2');
      const sinkB = new RecordingSink('rec');
      const groupB = { sinks: [sinkB], startCursor: await b.detections.changeCursor() };
      const slow = slowSave(olderSavesFirst ? b : a);
      const first = olderSavesFirst ? prepareSinkCursors(a, groupA) : prepareSinkCursors(b, groupB);
      const second = olderSavesFirst ? prepareSinkCursors(slow.proxy, groupB) : prepareSinkCursors(slow.proxy, groupA);
      await first;
      slow.release();
      await second;
      // one cursor, A's older start; whichever instance delivers skips nothing after it
      expect(await a.checkpoints.get(sinkCursorId(sinkA)), `older saves first: ${olderSavesFirst}`).toMatchObject({ cursor: groupA.startCursor });
      await upsert(a, 'later');
      await deliverDetections(b, groupB);
      expect(sinkB.ids()).toEqual(['after-a-1:1', 'after-a-2:1', 'later:1']);
    }
  });

  it('does not move a cursor from a finalize job that lost its lock to another process (SQLite lease fence)', async () => {
    const file = path.join(dir, 'fence.db');
    const store = await openSqliteStore(file);
    cleanups.push(() => store.close());
    const sink = new RecordingSink('rec');
    await prepareSinkCursors(store, group(sink));
    const before = await store.checkpoints.get(sinkCursorId(sink));
    await upsert(store, 'late');
    const second = new RecordingSink('second');
    await prepareSinkCursors(store, group(second));
    const job = store.withJobLock('finalize', async () => {
      // this process stalled past its lease and another one took the job over
      const raw = new Database(file);
      raw.prepare(`UPDATE job_leases SET owner = 'other-process', expires_at = ? WHERE name = 'finalize'`).run(Date.now() + 60_000);
      raw.close();
      await deliverDetections(store, group(sink, second));
      return 'carried on';
    });
    // the job stops with the lock's loss (not a sink failure it could carry on after)
    await expect(job).rejects.toMatchObject({ code: 'JOB_LOCK_LOST' });
    // handed over at most once more (at-least-once), but the cursors are the new holder's to move
    expect(sink.ids()).toEqual(['late:1']);
    expect(await store.checkpoints.get(sinkCursorId(sink))).toEqual(before);
    // and setting up a cursor inside a job that lost its lease stops the job too
    const raw = new Database(file);
    raw.prepare(`UPDATE job_leases SET expires_at = ? WHERE name = 'finalize'`).run(Date.now() - 1);
    const setUp = store.withJobLock('finalize', async () => {
      raw.prepare(`UPDATE job_leases SET owner = 'other-process', expires_at = ? WHERE name = 'finalize'`).run(Date.now() + 60_000);
      await prepareSinkCursors(store, group(new RecordingSink('new-sink')));
      return 'carried on';
    });
    await expect(setUp).rejects.toMatchObject({ code: 'JOB_LOCK_LOST' });
    raw.close();
  });

  it('offers a refused batch again on the next run, without holding up the other sinks', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const flaky = new RecordingSink('flaky');
    const steady = new RecordingSink('steady');
    const metrics = createFleetMetrics();
    await prepareSinkCursors(store, group(flaky, steady));
    for (const id of ['a', 'b', 'c']) await upsert(store, id);
    flaky.failNext = 2;
    const first = await deliverDetections(store, group(flaky, steady), { metrics });
    expect(first.failures.map((f) => [f.sink, f.error.message])).toEqual([['flaky', 'flaky is down']]);
    expect(first.delivered).toEqual({ flaky: 0, steady: 3 });
    expect(metrics.sinkDeliveries.get({ sink: 'flaky', outcome: 'error' })).toBe(1);
    expect((await deliverDetections(store, group(flaky, steady))).failures).toHaveLength(1);
    await upsert(store, 'd');
    const third = await deliverDetections(store, group(flaky, steady));
    expect(third.failures).toEqual([]);
    expect(flaky.ids()).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
    expect(steady.ids()).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
  });

  it('pages through a backlog and stops at maxPerCall, reporting the sink as behind', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const sink = new RecordingSink('rec');
    await prepareSinkCursors(store, group(sink));
    for (let i = 0; i < 7; i++) await upsert(store, `d${i}`);
    const first = await deliverDetections(store, group(sink), { batchSize: 3, maxPerCall: 5 });
    expect(first).toMatchObject({ delivered: { rec: 5 }, pending: { rec: 2 }, behind: ['rec'] });
    const second = await deliverDetections(store, group(sink), { batchSize: 3, maxPerCall: 5 });
    expect(second).toMatchObject({ delivered: { rec: 2 }, pending: { rec: 0 }, behind: [] });
    expect(sink.ids()).toEqual(['d0:1', 'd1:1', 'd2:1', 'd3:1', 'd4:1', 'd5:1', 'd6:1']);
    // exactly maxPerCall waiting: all taken, nothing behind
    for (let i = 7; i < 12; i++) await upsert(store, `d${i}`);
    expect(await deliverDetections(store, group(sink), { batchSize: 3, maxPerCall: 5 })).toMatchObject({ delivered: { rec: 5 }, pending: { rec: 0 }, behind: [] });
  });

  it('shows a refusing sink\'s backlog in outflow_sink_pending_detections', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const sink = new RecordingSink('rec');
    const metrics = createFleetMetrics();
    await prepareSinkCursors(store, group(sink));
    for (const id of ['a', 'b', 'c']) await upsert(store, id);
    sink.failNext = 1;
    expect(await deliverDetections(store, group(sink), { metrics })).toMatchObject({ delivered: { rec: 0 }, pending: { rec: 3 } });
    expect(metrics.sinkPending.get({ sink: 'rec' })).toBe(3);
    await deliverDetections(store, group(sink), { metrics });
    expect(metrics.sinkPending.get({ sink: 'rec' })).toBe(0);
  });

  it('repairs a cursor row it did not write, and restarts a cursor from another store at the newest change', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const sink = new RecordingSink('rec');
    await upsert(store, 'old');
    // a hand-edited row: not a string cursor → replaced by the newest change, and later changes still arrive
    await store.checkpoints.put(sinkCursorId(sink), { cursor: 0 });
    await prepareSinkCursors(store, group(sink));
    expect(await store.checkpoints.get(sinkCursorId(sink))).toMatchObject({ cursor: await store.detections.changeCursor() });
    await upsert(store, 'a');
    await deliverDetections(store, group(sink));
    expect(sink.ids()).toEqual(['a:1']);
    // a cursor beyond this store's newest change (the database was re-created): start again at the newest
    await store.checkpoints.put(sinkCursorId(sink), { cursor: '9999' });
    const r = await deliverDetections(store, group(sink));
    expect(r).toMatchObject({ delivered: { rec: 0 }, failures: [] });
    await upsert(store, 'b');
    await deliverDetections(store, group(sink));
    expect(sink.ids()).toEqual(['a:1', 'b:1']);
    // a malformed cursor string is repaired by prepare, before the run's finalize, so that run's detections arrive
    await store.checkpoints.put(sinkCursorId(sink), { cursor: '812:45' });
    await prepareSinkCursors(store, group(sink));
    await upsert(store, 'c');
    await deliverDetections(store, group(sink));
    expect(sink.ids()).toEqual(['a:1', 'b:1', 'c:1']);
  });

  it('delivers detections committed just before a crash, from the reopened store, on the next finalize run', async () => {
    const file = path.join(dir, 'outflow.db');
    const stdout = new MemoryStream();
    const sinks = async () => new SinkSet(await createSinks([{ type: 'stdout', format: 'json' }], { log: silentLogger(), stdout }), silentLogger());
    const jobDeps = async (store: Store): Promise<JobDeps> => ({
      store,
      analytics: defaultAnalyticsConfig(),
      retention: { detections_days: 90, quarantine_days: 14, dedupe_hours: 48 },
      sinks: await sinks(),
      log: silentLogger(),
      clock: systemClock,
    });
    const finalize = FLEET_JOBS.find((j) => j.name === 'finalize')!;

    // the running aggregator: one finalize run (nothing yet) put the sink's cursor in place
    const before = await openSqliteStore(file);
    await finalize.run(await jobDeps(before), new Date());
    // then a finalizer commits detections, and the process dies before any sink sees them
    const fleet = simulateFleet({ hosts: 30, days: 9, seed: 5, files: 1 });
    const run = await runPipeline(before, fleet.files);
    expect(run.detections.length).toBeGreaterThan(0);
    await before.close();
    expect(stdout.lines()).toEqual([]);

    const after = await openSqliteStore(file);
    cleanups.push(() => after.close());
    const r = await finalize.run(await jobDeps(after), new Date());
    expect(r).toMatchObject({ delivered: run.detections.length, sink_failures: 0 });
    const delivered = stdout.lines() as Detection[];
    expect(delivered.map((d) => d.id).sort()).toEqual(run.detections.map((d) => d.id).sort());
    // and only once
    expect(await finalize.run(await jobDeps(after), new Date())).toMatchObject({ delivered: 0 });
    expect(stdout.lines()).toHaveLength(run.detections.length);
  });

  it('a webhook spool takes a batch larger than max_spool_bytes when it is empty, so such a batch is delayed, not refused forever', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const receiver = new TestReceiver(() => 200);
    await receiver.start();
    cleanups.push(() => receiver.stop());
    const webhook = new WebhookSink({
      name: 'webhook#0',
      url: receiver.url,
      secret: 'test-webhook-secret-0123456789',
      format: 'json',
      spoolDir: path.join(dir, 'spool'),
      timeoutMs: 2000,
      backoff: { initialMs: 20, maxMs: 100, factor: 2 },
      batchSize: 100,
      maxSpoolBytes: 1000,
      headers: {},
      render: (d) => d,
      log: silentLogger(),
    });
    cleanups.push(() => webhook.close());
    await prepareSinkCursors(store, group(webhook));
    for (const id of ['big1', 'big2', 'big3']) await upsert(store, id);
    expect(await deliverDetections(store, group(webhook))).toMatchObject({ delivered: { 'webhook#0': 3 }, failures: [] });
    await waitFor(() => webhook.pending === 0, 'the oversized batch to be delivered');
    expect(receiver.delivered).toHaveLength(1);
  });

  it('a webhook whose spool was full gets the refused detections once its receiver recovers', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const receiver = new TestReceiver(() => 200);
    const port = await freePort();
    const oneBody = JSON.stringify(sampleDetection({ id: 'xx' })).length + 250;
    const webhook = new WebhookSink({
      name: 'webhook#0',
      url: `http://127.0.0.1:${port}/hook`,
      secret: 'test-webhook-secret-0123456789',
      format: 'json',
      spoolDir: path.join(dir, 'spool'),
      timeoutMs: 2000,
      backoff: { initialMs: 20, maxMs: 100, factor: 2 },
      batchSize: 1,
      maxSpoolBytes: Math.floor(2.5 * oneBody),
      headers: {},
      render: (d) => d,
      log: silentLogger(),
    });
    cleanups.push(() => webhook.close());
    cleanups.push(() => receiver.stop());
    await prepareSinkCursors(store, group(webhook));
    for (const id of ['w1', 'w2', 'w3', 'w4']) await upsert(store, id);

    // receiver down: two batches fit in the spool, the rest is refused and stays behind the cursor
    const refused = await deliverDetections(store, group(webhook));
    expect(refused.failures.map((f) => f.error.message)).toEqual([expect.stringMatching(/spool .* is full/)]);

    expect(refused.delivered).toEqual({ 'webhook#0': 2 });
    expect(webhook.pending).toBe(2);

    await receiver.start(port);
    await waitFor(() => webhook.pending === 0, 'the spool to drain');
    const retried = await deliverDetections(store, group(webhook));
    expect(retried).toMatchObject({ delivered: { 'webhook#0': 2 }, failures: [] });
    await waitFor(() => webhook.pending === 0, 'the retried batches to be delivered');
    const ids = receiver.delivered.flatMap((r) => (JSON.parse(r.body.toString('utf8')) as { detections: { id: string }[] }).detections.map((d) => d.id));
    // the two spooled before the refusal were not offered again
    expect(ids).toEqual(['w1', 'w2', 'w3', 'w4']);
  });
});

describe('OCSF lifecycle through the outbox', () => {
  it('the first version a sink is offered is a Create, even with flows folded in before it; later ones are Updates', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const stdout = new MemoryStream();
    const [ocsf] = await createSinks([{ type: 'stdout', format: 'ocsf' }], { log: silentLogger(), stdout });
    const sinks = group(ocsf!);
    await prepareSinkCursors(store, sinks);
    // two flows folded before the first delivery (a backlog, or both in one finalize run)
    await upsert(store, 'folded', 2);
    await deliverDetections(store, sinks);
    await upsert(store, 'folded', 3);
    await deliverDetections(store, sinks);
    const events = stdout.lines() as { activity_id: number; status_id?: number; count: number; finding_info: { uid: string } }[];
    // only the Create sets the status: after it, the status is the analyst's
    expect(events.map((e) => [e.finding_info.uid, e.activity_id, e.status_id])).toEqual([
      ['folded', 1, 1],
      ['folded', 2, undefined],
    ]);
    // a crash before the cursor moved: the same version is offered again, as the same event
    const saved = (await store.checkpoints.get(sinkCursorId(ocsf!)))!;
    await upsert(store, 'later', 1);
    await store.transaction((tx) => tx.checkpoints.put(sinkCursorId(ocsf!), saved));
    const before = stdout.lines().length;
    await deliverDetections(store, sinks);
    await store.transaction((tx) => tx.checkpoints.put(sinkCursorId(ocsf!), saved));
    await deliverDetections(store, sinks);
    const again = (stdout.lines() as { activity_id: number; metadata: { uid: string }; finding_info: { uid: string } }[]).slice(before);
    expect(again.map((e) => [e.finding_info.uid, e.activity_id])).toEqual([
      ['later', 1],
      ['later', 1],
    ]);
    expect(again[0]!.metadata.uid).toBe(again[1]!.metadata.uid);
  });

  async function ocsfSink(store: Store) {
    const stdout = new MemoryStream();
    const [ocsf] = await createSinks([{ type: 'stdout', format: 'ocsf' }], { log: silentLogger(), stdout });
    const events = () => (stdout.lines() as { activity_id: number; status_id?: number; finding_info: { uid: string } }[]).map((e) => [e.finding_info.uid, e.activity_id, e.status_id]);
    return { sink: ocsf!, group: group(ocsf!), events };
  }

  it('a sink set up after a detection was created gets a Create the first time it is offered it, then Updates', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    await upsert(store, 'old'); // delivered to the sinks of the day
    const { group: g, events } = await ocsfSink(store);
    await prepareSinkCursors(store, g); // a new SIEM sink starts at the newest change
    await upsert(store, 'old', 2); // a flow folds into the open detection
    await deliverDetections(store, g);
    await upsert(store, 'old', 3);
    await deliverDetections(store, g);
    expect(events()).toEqual([
      ['old', 1, 1],
      ['old', 2, undefined],
    ]);
  });

  it('a sink whose cursor had to be reset gets a Create for a finding it was never offered', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const { sink, group: g, events } = await ocsfSink(store);
    await upsert(store, 'x');
    // the cursor row names another store's position (a restored backup): reset to the newest change
    await store.transaction((tx) => tx.checkpoints.put(sinkCursorId(sink), { cursor: '999999' }));
    await prepareSinkCursors(store, g);
    await upsert(store, 'x', 2);
    await deliverDetections(store, g);
    expect(events()).toEqual([['x', 1, 1]]);
  });

  it('a detection updated past a page boundary before its page was read is still a Create', async () => {
    const store = await memoryStore();
    cleanups.push(() => store.close());
    const { group: g, events } = await ocsfSink(store);
    await prepareSinkCursors(store, g);
    await upsert(store, 'moved'); // change 1
    await upsert(store, 'other'); // change 2
    await upsert(store, 'moved', 2); // change 3: its row moved past 'other' before any delivery
    await deliverDetections(store, g, { batchSize: 1 }); // pages of one: 'other', then 'moved'
    expect(events()).toEqual([
      ['other', 1, 1],
      ['moved', 1, 1],
    ]);
  });
});

describe('sink delivery ids', () => {
  it('name the target and format, hide webhook URLs, and tell identical sinks apart', async () => {
    const sinks = await createSinks(
      [
        { type: 'stdout', format: 'json' },
        { type: 'file', path: 'out/detections.jsonl', format: 'ocsf' },
        { type: 'stdout', format: 'json' },
      ],
      { log: silentLogger(), stdout: new MemoryStream() },
    );
    expect(sinks.map((s) => s.deliveryId)).toEqual(['stdout:json', `file:ocsf:${path.resolve('out/detections.jsonl')}`, 'stdout:json#2']);
    expect(sinks.map(sinkCursorId)).toEqual(['sink:stdout:json', `sink:file:ocsf:${path.resolve('out/detections.jsonl')}`, 'sink:stdout:json#2']);
  });

  it('hash a webhook URL (it may carry a token) and follow it when it changes', async () => {
    const url = 'https://siem.example.com/hook?token=hunter2';
    const config = (u: string) => fleetServeConfigShape.sinks.parse([{ type: 'webhook', url: u, secret: 'a-long-enough-secret', spool_dir: path.join(dir, 'spool') }]);
    const [sink] = await createSinks(config(url), { log: silentLogger() });
    cleanups.push(() => sink!.close());
    expect(sink!.deliveryId).toMatch(/^webhook:json:[0-9a-f]{16}$/);
    expect(sink!.deliveryId).not.toContain('hunter2');
    expect(sinkDeliveryId(config(url)[0]!)).toBe(sink!.deliveryId);
    expect(sinkDeliveryId(config('https://siem.example.com/other')[0]!)).not.toBe(sink!.deliveryId);
  });
});
