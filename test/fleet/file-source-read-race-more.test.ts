/** A rewrite found under a read: the rotated-away file's, a changed unterminated line after an unchanged offset, and an older rotation that starts like a half-read first line. */
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { capturingLog, lineAt, recordingIngest, setupFileSource, sleep } from './file-source-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-read-race-more-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recording = recordingIngest;
const count = (sent: string[], line: string) => sent.filter((l) => l === line).length;
async function until(cond: () => boolean) {
  for (let i = 0; i < 400 && !cond(); i++) await sleep(10);
}

it('following: a rewrite found while draining the rotated-away file does not restart the new file (its lines read once)', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'stale-flag.log');
  const { sent, wrapped } = recording(ingest);
  writeFileSync(file, `${lineAt(0)}\npartial`);
  const ac = new AbortController();
  const { log, warned } = capturingLog();
  const done = ingestFile(file, { ingest: wrapped, store, log, follow: true, pollIntervalMs: 20, rotateGraceMs: 0, signal: ac.signal });
  await until(() => sent.length >= 1); // line 0 sent, "partial" held
  await sleep(60);
  // between two polls: rotated away (rename), the rotated file rewritten, a new file with lines 1 and 2
  renameSync(file, `${file}.1`);
  writeFileSync(`${file}.1`, `${'x'.repeat(2000)}\n`);
  writeFileSync(file, `${lineAt(1)}\n${lineAt(2)}\n`);
  await until(() => sent.length >= 3);
  await sleep(300);
  ac.abort();
  await done;
  await store.close();
  expect({ l1: count(sent, lineAt(1)), l2: count(sent, lineAt(2)), warned }).toMatchObject({ l1: 1, l2: 1 });
}, 30_000);

it('following: held bytes that change while the bytes before the offset do not (NUL-filled tail written in place) are read from the offset, not the whole file again', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'nul-tail.log');
  const { sent, wrapped } = recording(ingest);
  const head = `${lineAt(0)}\n${lineAt(1)}\n`;
  // what a reader can see of a file whose size grew before its data (NFS client, crash): NULs after the last line
  writeFileSync(file, head + '\0'.repeat(64));
  const ac = new AbortController();
  const { log, warned } = capturingLog();
  const done = ingestFile(file, { ingest: wrapped, store, log, follow: true, pollIntervalMs: 20, signal: ac.signal });
  await until(() => sent.length >= 2);
  await sleep(60);
  // the data arrives where the NULs were (no rewrite of anything read), and the line ends
  const fd = openSync(file, 'r+');
  writeSync(fd, `${lineAt(2)}\n`, Buffer.byteLength(head));
  closeSync(fd);
  await until(() => sent.length >= 3);
  await sleep(300);
  ac.abort();
  await done;
  await store.close();
  expect({ l0: count(sent, lineAt(0)), l1: count(sent, lineAt(1)), l2: count(sent, lineAt(2)), warned }).toMatchObject({ l0: 1, l1: 1, l2: 1 });
}, 30_000);

it('following at offset 0: a plain truncation does not take an older rotation whose first bytes equal the half-read first line for its copy', async () => {
  const { file, store, ingest } = await setupFileSource(dir, 'wrong-copy.log');
  const { sent, wrapped } = recording(ingest);
  // yesterday's rotation, read long ago: its first line starts as every line of host H-0000 does
  writeFileSync(`${file}.1`, `${lineAt(0)}\n${lineAt(1)}\n`);
  // (made 300 ms before the half line is read, and only 100 ms count: a test cannot make it a day old)
  await sleep(300);
  writeFileSync(file, lineAt(3).slice(0, 60)); // osquery is writing the first line
  const ac = new AbortController();
  const infos: string[] = [];
  const { log } = capturingLog((m) => void infos.push(String(m)));
  const done = ingestFile(file, { ingest: wrapped, store, log, follow: true, pollIntervalMs: 20, copySlackMs: 100, signal: ac.signal });
  await sleep(200); // the half line is held (offset 0)
  truncateSync(file, 0); // the operator empties the file (no copy is made)
  await sleep(200);
  writeFileSync(file, `${lineAt(4)}\n`);
  await until(() => sent.some((l) => l === lineAt(4)));
  await sleep(200);
  ac.abort();
  await done;
  await store.close();
  expect({ fromOldRotation: sent.filter((l) => l === lineAt(0) || l === lineAt(1)), copyInfo: infos.filter((m) => /copy/.test(m)) }).toEqual({ fromOldRotation: [], copyInfo: [] });
}, 30_000);
