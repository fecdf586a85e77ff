/**
 * The quarantine file across a kill of `outflow fleet ingest` (SIGKILL): a line quarantined in the store must reach the
 * file too, and a fragment a killed append left at the file's end must not swallow the next record.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runOutflow, spawnOutflow } from '../helpers/cli.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'quarantine-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function parseable(l: string): boolean {
  try {
    JSON.parse(l);
    return true;
  } catch {
    return false;
  }
}

function quarantinedInStore(store: string): string[] {
  let db: Database.Database | undefined;
  try {
    db = new Database(store, { readonly: true, fileMustExist: true });
    return (db.prepare('SELECT line FROM quarantine').all() as { line: string }[]).map((r) => r.line);
  } catch {
    // not created, or not migrated yet
    return [];
  } finally {
    db?.close();
  }
}

async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('a fragment a killed append left at the end of the quarantine file does not swallow the next record', async () => {
  const q = path.join(dir, 'q.ndjson');
  const store = path.join(dir, 'o.db');
  const bad = path.join(dir, 'bad.log');
  // killed in the middle of an append: the record's first bytes only
  writeFileSync(q, JSON.stringify({ received_at: 1, source: 'file:x', reason: 'not JSON', line: 'x'.repeat(100) }) + '\n');
  appendFileSync(q, '{"received_at":2,"source":"file:x","reas');
  writeFileSync(bad, 'not json at all, line one\nsecond garbage line\n');
  const r = await runOutflow(['fleet', 'ingest', '--store', store, '--quarantine', q, '--no-finalize', bad], { timeoutMs: 90_000 });
  expect(r.code, r.stderr).toBe(3);
  const lines = readFileSync(q, 'utf8').split('\n').filter((l) => l !== '');
  const records = lines.filter(parseable).map((l) => JSON.parse(l) as { line: string });
  // both lines quarantined this run are whole records in the file
  expect(records.map((x) => x.line)).toEqual(expect.arrayContaining(['not json at all, line one', 'second garbage line']));
}, 120_000);

/** Whether a thread of process `pid` waits in open(2) of a named pipe for its reader (Linux: /proc/…/wchan). */
function waitsOnFifo(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((t) => {
      try {
        return readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8').includes('wait_for_partner');
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

it.runIf(process.platform === 'linux')('a line quarantined in the store is in the quarantine file after a kill at the quarantine append', async () => {
  const q = path.join(dir, 'q.ndjson');
  const store = path.join(dir, 'o.db');
  const bad = path.join(dir, 'bad.log');
  writeFileSync(bad, 'garbage before the kill\n');
  // The quarantine file is a named pipe with no reader for the first run: its append waits in open(2), which holds
  // the process at the quarantine append; it is killed there.
  execFileSync('mkfifo', [q]);
  const child = spawnOutflow(['fleet', 'ingest', '--store', store, '--quarantine', q, '--no-finalize', bad]);
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  try {
    await until(() => waitsOnFifo(child.pid!));
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
  }
  // restarted with a regular quarantine file, the source resumes from its stored offset
  unlinkSync(q);
  writeFileSync(q, '');
  const r = await runOutflow(['fleet', 'ingest', '--store', store, '--quarantine', q, '--no-finalize', bad], { timeoutMs: 90_000 });
  expect(r.code, r.stderr + stderr).not.toBe(1);
  const inStore = quarantinedInStore(store);
  expect(inStore).toContain('garbage before the kill');
  const inFile = readFileSync(q, 'utf8').split('\n').filter((l) => l !== '' && parseable(l)).map((l) => (JSON.parse(l) as { line: string }).line);
  // every line the store quarantined is in the file, the operator's copy ("quarantined, never lost")
  expect(inStore.filter((l) => !inFile.includes(l))).toEqual([]);
}, 180_000);
