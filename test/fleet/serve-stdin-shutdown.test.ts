/**
 * retryingIngest sleeps up to 30 s between attempts at a stdin batch the store refuses. Shutdown (sourcesAbort) must
 * end that sleep: otherwise `fleet serve` takes the rest of it (up to 30 s, the whole SHUTDOWN_LIMIT_MS of runServe)
 * before it closes sinks and the store, and past the limit exits 1 with them open.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { stringify as yaml } from 'yaml';
import { spawnOutflow } from '../helpers/cli.js';

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'rev-stdin-stop-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const line = (host: string) =>
  JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: host, unixTime: Math.floor(Date.now() / 1000) - 60, counter: 1, action: 'added', columns: { component: 'nettop', state: 'running' } });

async function until(what: string, ok: () => boolean, ms: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stderr().slice(-2500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('SIGTERM while a refused stdin batch waits for its next attempt shuts down promptly', async () => {
  const db = path.join(dir, 'store.db');
  const file = path.join(dir, 'outflow.yaml');
  writeFileSync(file, yaml({ fleet: { store: db, ingest: { stdin: true, quarantine_file: '', poll_interval_ms: 200, batch_lines: 1 }, http: { enabled: false }, sinks: [], scheduler: { enabled: false } } }));
  const child = spawnOutflow(['fleet', 'serve', '--config', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.resume();
  const stderr = () => err;
  await until('the aggregator to start', () => err.includes('fleet aggregator started'), 30_000, stderr);
  // the store refuses every batch at once (a table it writes is gone), as a broken store would
  const other = new Database(db);
  other.exec('ALTER TABLE hosts RENAME TO hosts_gone');
  other.close();
  child.stdin!.write(line('h1') + '\n'); // the pipe stays open, as under `tail -F`
  // the sixth failure: its next attempt is 12.8 s away
  await until('the sixth failed attempt', () => err.includes('"retry_in_ms":12800'), 40_000, stderr);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const t0 = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  expect({ code, shutdownMs: Date.now() - t0 < 5000 ? 'under 5 s' : Date.now() - t0 }).toEqual({ code: 0, shutdownMs: 'under 5 s' });
}, 90_000);
