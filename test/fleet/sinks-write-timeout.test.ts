/**
 * A file sink whose path is a named pipe (a log shipper's, supported: sinks.test.ts) with no reader
 * (the shipper down or restarting) must fail its own write, not stall delivery to every sink (and so the finalize job).
 */
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { JsonlFileSink } from '../../fleet/sinks/jsonl.js';
import { deliverDetections, prepareSinkCursors } from '../../fleet/sinks/outbox.js';
import type { Detection, Sink } from '../../fleet/sinks/sink.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { sampleDetection } from './serve-fixtures.js';

class RecordingSink implements Sink {
  readonly written: Detection[] = [];
  constructor(readonly name: string) {}
  async write(d: readonly Detection[]): Promise<void> {
    this.written.push(...d);
  }
  async close(): Promise<void> {}
}

let dir: string | undefined;
let fifo: string | undefined;
afterEach(() => {
  // a writer blocked in open() of the FIFO gets its reader, so the thread it holds is given back
  if (fifo) closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = fifo = undefined;
});

it('a FIFO file sink with no reader fails its write after writeTimeoutMs; the other sinks still get the detections', async () => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'fifo-stall-'));
  fifo = path.join(dir, 'shipper.fifo');
  execFileSync('mkfifo', [fifo]);
  const store = await openSqliteStore(':memory:');
  try {
    const piped = new JsonlFileSink(fifo, (d) => d, 'file#0');
    const other = new RecordingSink('webhook#1');
    const group = { sinks: [piped, other] };
    await prepareSinkCursors(store, group);
    await store.detections.upsert([sampleDetection({ id: 'd1', suppression_key: 'k-d1' })]);
    const outcome = await Promise.race([
      deliverDetections(store, group, { writeTimeoutMs: 500 }).then((r) => ({ done: true as const, r })),
      new Promise<{ done: false }>((resolve) => setTimeout(() => resolve({ done: false }), 3000)),
    ]);
    expect(outcome.done, 'deliverDetections (the finalize job) still waiting after 3 s').toBe(true);
    expect(other.written.map((d) => d.id)).toEqual(['d1']);
    if (outcome.done) expect(outcome.r.failures.map((f) => f.sink)).toEqual(['file#0']);
  } finally {
    await store.close();
  }
});

it('a sink whose write never settles fails after writeTimeoutMs, is skipped while it hangs, and gets the batch again later', async () => {
  const store = await openSqliteStore(':memory:');
  try {
    let release: (() => void) | undefined;
    const hung: Sink & { calls: number } = {
      name: 'file#0',
      calls: 0,
      write() {
        this.calls++;
        return new Promise<void>((resolve) => (release = resolve));
      },
      async close() {},
    };
    const other = new RecordingSink('webhook#1');
    const group = { sinks: [hung, other] };
    await prepareSinkCursors(store, group);
    await store.detections.upsert([sampleDetection({ id: 'd1', suppression_key: 'k-d1' })]);
    const first = await deliverDetections(store, group, { writeTimeoutMs: 200 });
    expect(first.failures.map((f) => f.sink)).toEqual(['file#0']);
    expect(other.written.map((d) => d.id)).toEqual(['d1']);
    // still hanging: not handed another batch
    const second = await deliverDetections(store, group, { writeTimeoutMs: 200 });
    expect(second.failures.map((f) => f.sink)).toEqual(['file#0']);
    expect(hung.calls).toBe(1);
    release!();
    await new Promise((r) => setTimeout(r, 10));
    // settled: offered again (its cursor never moved past d1)
    const third = await deliverDetections(store, group, { writeTimeoutMs: 200 });
    expect(hung.calls).toBe(2);
    expect(third.delivered['file#0']).toBe(0);
  } finally {
    await store.close();
  }
});
