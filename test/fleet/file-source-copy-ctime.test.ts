/** Genuine copytruncate copies of a half-read first line pass the ctime rule (openCopyOf without fingerprint). */
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync, appendFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { capturingLog, lineAt, recordingIngest, setupFileSource, sleep } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-copy-ctime-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recording = recordingIngest;
async function until(cond: () => boolean) {
  for (let i = 0; i < 400 && !cond(); i++) await sleep(10);
}

it('copytruncate: copy made (and fsynced) before the poll reads the half first line, truncated after: the copy is still its copy', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'fsync-window.log');
  const { sent, wrapped } = recording(ingest);
  const half = lineAt(3).slice(0, 60);
  writeFileSync(file, half);
  copyFileSync(file, `${file}.1`); // logrotate: copy, fsync ...
  await sleep(30);
  const ac = new AbortController();
  const infos: string[] = [];
  const { log } = capturingLog((m) => void infos.push(String(m)));
  const done = ingestFile(file, { ingest: wrapped, store, log, follow: true, pollIntervalMs: 20, signal: ac.signal });
  await sleep(200); // the half line is read and held (offset 0)
  truncateSync(file, 0); // ... then ftruncate; osquery (O_APPEND) ends its line in the emptied file
  appendFileSync(file, `${lineAt(3).slice(60)}\n${lineAt(4)}\n`);
  await until(() => sent.includes(lineAt(4)));
  await sleep(200);
  ac.abort();
  await done;
  await store.close();
  expect({ halfSent: sent.includes(half), copyInfo: infos.filter((m) => /copy/.test(m)).length }).toEqual({ halfSent: true, copyInfo: 1 });
}, 30_000);

it('copytruncate: copy made right after the half first line was read (ctime from the coarse kernel clock) is taken for its copy', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'coarse-ctime.log');
  const { sent, wrapped } = recording(ingest);
  const half = lineAt(5).slice(0, 60);
  writeFileSync(file, half);
  // hook the first read of the file at the path: logrotate copies it right after (the copy is made after the read)
  const probe = await open(file, 'r');
  const proto = Object.getPrototypeOf(probe);
  await probe.close();
  const orig = proto.read;
  let copiedCtime = 0, readAt = 0;
  const spy = vi.spyOn(proto, 'read').mockImplementation(async function (this: unknown, ...args: unknown[]) {
    const r = await orig.apply(this, args);
    if (!readAt && r.bytesRead === half.length) {
      readAt = Date.now();
      for (let i = 0; i < 200; i++) {
        copyFileSync(file, `${file}.1`);
        copiedCtime = statSync(`${file}.1`).ctimeMs;
        if (copiedCtime < Date.now()) break; // made after the read, its ctime (jiffy clock) behind Date.now()
      }
    }
    return r;
  });
  const ac = new AbortController();
  const infos: string[] = [];
  const { log } = capturingLog((m) => void infos.push(String(m)));
  const done = ingestFile(file, { ingest: wrapped, store, log, follow: true, pollIntervalMs: 20, signal: ac.signal });
  await until(() => readAt > 0);
  await sleep(100);
  spy.mockRestore();
  truncateSync(file, 0);
  appendFileSync(file, `${lineAt(5).slice(60)}\n${lineAt(6)}\n`);
  await until(() => sent.includes(lineAt(6)));
  await sleep(200);
  ac.abort();
  await done;
  await store.close();
  expect({ copyMadeAfterRead: copiedCtime >= readAt - 10, halfSent: sent.includes(half) }).toEqual({ copyMadeAfterRead: true, halfSent: true });
}, 30_000);
