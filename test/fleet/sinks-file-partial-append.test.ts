/**
 * A file sink whose append fails part-way (the disk full mid-batch) or was cut by a kill: the lines written after it
 * are whole and parseable. The failure is injected into node:fs/promises' appendFile.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';

const inject = vi.hoisted(() => ({ partialAppends: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...orig,
    open: async (...a: Parameters<typeof orig.open>) => {
      const fh = await orig.open(...a);
      const append = fh.appendFile.bind(fh);
      // ENOSPC after part of the data reached the file, as write(2) does when the disk fills mid-batch
      (fh as { appendFile: unknown }).appendFile = async (data: string | Uint8Array) => {
        if (inject.partialAppends > 0) {
          inject.partialAppends--;
          const text = String(data);
          await append(text.slice(0, Math.floor(text.length / 3)));
          throw Object.assign(new Error('ENOSPC: no space left on device, write (injected)'), { code: 'ENOSPC' });
        }
        return append(data);
      };
      return fh;
    },
  };
});

import { JsonlFileSink } from '../../fleet/sinks/jsonl.js';
import { sampleDetection } from './serve-fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sinks-file-partial-'));
  inject.partialAppends = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('after an append that failed part-way, the batch offered again is written as whole, parseable lines', async () => {
  const file = path.join(dir, 'detections.jsonl');
  const sink = new JsonlFileSink(file, (d) => d);
  const batch = [sampleDetection({ id: 'det-a' }), sampleDetection({ id: 'det-b', hostname: 'a-longer-hostname-than-the-first.local' })];
  await sink.write([sampleDetection({ id: 'det-0' })]);
  inject.partialAppends = 1;
  await expect(sink.write(batch)).rejects.toThrow(/cannot append detections/);
  // the outbox did not move the cursor: the same batch is offered again on the next run, and taken
  await sink.write(batch);
  await sink.close();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const unparseable = lines.filter((l) => {
    try {
      JSON.parse(l);
      return false;
    } catch {
      return true;
    }
  });
  expect(unparseable.map((l) => l.slice(0, 60))).toEqual([]);
  expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(expect.arrayContaining(['det-0', 'det-a', 'det-b']));
});

it('a fragment a killed process left at the end of the file is ended before the next batch, which stays parseable', async () => {
  const file = path.join(dir, 'detections.jsonl');
  const first = new JsonlFileSink(file, (d) => d);
  await first.write([sampleDetection({ id: 'det-0' })]);
  await first.close();
  // killed in the middle of its next append
  appendFileSync(file, JSON.stringify(sampleDetection({ id: 'det-cut' })).slice(0, 40));
  const next = new JsonlFileSink(file, (d) => d);
  await next.write([sampleDetection({ id: 'det-a' }), sampleDetection({ id: 'det-b' })]);
  await next.write([sampleDetection({ id: 'det-c' })]);
  await next.close();
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  expect(lines).toHaveLength(5);
  expect(lines[1]).toBe(JSON.stringify(sampleDetection({ id: 'det-cut' })).slice(0, 40));
  expect([lines[0], ...lines.slice(2)].map((l) => (JSON.parse(l!) as { id: string }).id)).toEqual(['det-0', 'det-a', 'det-b', 'det-c']);
});
