/** The webhook spool across faults of the file system: a failed directory fsync and a transient read error. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';

const inject = vi.hoisted(() => ({ openDirFails: 0, readFails: 0, deadListFails: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs')>();
  return {
    ...orig,
    readdirSync: (...a: unknown[]) => {
      if (inject.deadListFails > 0 && String(a[0]).endsWith('/dead')) {
        inject.deadListFails--;
        throw Object.assign(new Error('EACCES: injected'), { code: 'EACCES' });
      }
      return (orig.readdirSync as (...x: unknown[]) => unknown)(...a);
    },
  };
});
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  const fail = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
  return {
    ...orig,
    open: async (...a: Parameters<typeof orig.open>) => {
      if (inject.openDirFails > 0 && a[1] === 'r') {
        inject.openDirFails--;
        throw fail('EMFILE');
      }
      return orig.open(...a);
    },
    readFile: async (...a: Parameters<typeof orig.readFile>) => {
      if (inject.readFails > 0 && String(a[0]).endsWith('.json')) {
        inject.readFails--;
        throw fail('EMFILE');
      }
      return orig.readFile(...(a as [string]));
    },
  };
});

import { silentLogger } from '../../src/log.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { TestReceiver, waitFor } from './serve-fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'webhook-spool-faults-'));
  inject.openDirFails = 0;
  inject.readFails = 0;
  inject.deadListFails = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sinkAt = (url: string) =>
  new WebhookSink({
    name: 'webhook#0', url, secret: 'test-webhook-secret-0123456789', format: 'json', spoolDir: path.join(dir, 'spool'),
    timeoutMs: 2000, backoff: { initialMs: 20, maxMs: 100, factor: 2 }, batchSize: 1, maxSpoolBytes: 1 << 20,
    headers: {}, render: (d) => d, log: silentLogger(),
  });
const received = (r: TestReceiver) => r.delivered.map((q) => (JSON.parse(q.body.toString('utf8')) as { detections: { v: string }[] }).detections[0]!.v);

it('a spool write reported as failed (directory fsync) leaves no batch behind to be re-sent, stale, after a restart', async () => {
  const receiver = new TestReceiver(() => 200);
  await receiver.start();
  try {
    const s1 = sinkAt(receiver.url);
    inject.openDirFails = 1; // the rename succeeded; opening the directory for its fsync fails (EMFILE, EIO on fsync…)
    await expect(s1.enqueue([{ id: 'A', v: 'A@1' }])).rejects.toMatchObject({ code: 'SINK_FAILED' });
    // the outbox did not move the cursor: it offers the same detection again, then its next version
    await s1.enqueue([{ id: 'A', v: 'A@1' }]);
    await s1.enqueue([{ id: 'A', v: 'A@2' }]);
    await waitFor(() => s1.pending === 0 && receiver.delivered.length >= 2, 'delivered');
    await s1.close();
    const s2 = sinkAt(receiver.url); // fleet serve restarts
    await new Promise((r) => setTimeout(r, 300));
    await waitFor(() => s2.pending === 0, 'drained');
    await s2.close();
    expect({ received: received(receiver), left: readdirSync(path.join(dir, 'spool')).filter((f) => f.endsWith('.json')) }).toEqual({ received: ['A@1', 'A@2'], left: [] });
  } finally {
    await receiver.stop();
  }
});

it('a transient read error (EMFILE) on a spooled batch does not skip it: it is delivered in order in this run', async () => {
  const receiver = new TestReceiver(() => 200);
  await receiver.start();
  const s = sinkAt(receiver.url);
  try {
    inject.readFails = 1;
    await s.enqueue([{ id: 'A', v: 'A' }]);
    await s.enqueue([{ id: 'B', v: 'B' }]);
    await waitFor(() => s.pending === 0, 'drained');
    await new Promise((r) => setTimeout(r, 300));
    expect(received(receiver)).toEqual(['A', 'B']);
  } finally {
    await s.close();
    await receiver.stop();
  }
});

it('a refused batch never replaces a dead letter, even when dead/ could not be listed at start', async () => {
  const receiver = new TestReceiver(() => 401);
  await receiver.start();
  try {
    const deadDir = path.join(dir, 'spool', 'dead');
    mkdirSync(deadDir, { recursive: true });
    const kept = path.join(deadDir, `${'1'.padStart(16, '0')}.json`);
    writeFileSync(kept, '{"detections":[{"v":"refused before"}]}');
    inject.deadListFails = 1; // the start's listing of dead/ fails: numbering starts at 1, the dead letter's number
    const s = sinkAt(receiver.url);
    await s.enqueue([{ id: 'B', v: 'refused now' }]);
    await waitFor(() => s.pending === 0, 'refused');
    await s.close();
    expect(readFileSync(kept, 'utf8')).toBe('{"detections":[{"v":"refused before"}]}');
    const values = readdirSync(deadDir).map((f) => (JSON.parse(readFileSync(path.join(deadDir, f), 'utf8')) as { detections: { v: string }[] }).detections[0]!.v);
    expect(values.sort()).toEqual(['refused before', 'refused now']);
  } finally {
    await receiver.stop();
  }
});

it('a refused batch still becomes a dead letter when dead/ was removed while serving', async () => {
  const receiver = new TestReceiver(() => 401);
  await receiver.start();
  try {
    const s = sinkAt(receiver.url);
    const deadDir = path.join(dir, 'spool', 'dead');
    rmSync(deadDir, { recursive: true, force: true }); // an operator clearing dead letters by removing the directory
    await s.enqueue([{ id: 'C', v: 'refused' }]);
    await waitFor(() => s.pending === 0, 'refused');
    await s.close();
    expect(readdirSync(path.join(dir, 'spool')).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(readdirSync(deadDir).map((f) => (JSON.parse(readFileSync(path.join(deadDir, f), 'utf8')) as { detections: { v: string }[] }).detections[0]!.v)).toEqual(['refused']);
  } finally {
    await receiver.stop();
  }
});
