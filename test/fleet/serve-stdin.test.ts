/**
 * `outflow fleet serve` with fleet.ingest.stdin: true on a live pipe (`tail -F … | outflow fleet serve`), as a
 * child process. (1) lines written to stdin are ingested soon, not only once batch_lines (5000) have piled up or the
 * pipe closes; (2) a batch the store could not commit (SQLITE_BUSY: another writer held the file past busy_timeout)
 * is retried, and the source goes on reading, as the file and NATS sources do; (3) shutdown ends a retry's wait (up to
 * 30 s) at once: otherwise `fleet serve` takes the rest of it, the whole SHUTDOWN_LIMIT_MS of runServe, before it
 * closes sinks and the store, and past the limit exits 1 with them open; (4) a stdin batch that shutdown could not
 * commit ends in exit 1: stdin cannot give its lines again.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { stringify as yaml } from 'yaml';
import { openStore } from '../../fleet/store/open.js';
import { spawnOutflow } from '../helpers/cli.js';

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'serve-stdin-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const line = (host: string) =>
  JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: host, unixTime: Math.floor(Date.now() / 1000) - 60, counter: 1, action: 'added', columns: { component: 'nettop', state: 'running' } });

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${stderr().slice(-2500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function start(db: string, ingest: Record<string, unknown>) {
  const file = path.join(dir, 'outflow.yaml');
  writeFileSync(file, yaml({ fleet: { store: db, ingest: { stdin: true, quarantine_file: '', poll_interval_ms: 200, ...ingest }, http: { enabled: false }, sinks: [], scheduler: { enabled: false } } }));
  const child = spawnOutflow(['fleet', 'serve', '--config', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.resume();
  const stderr = () => err;
  await until('the aggregator to start', () => err.includes('fleet aggregator started') || child.exitCode !== null, 30_000, stderr);
  return { child, stderr };
}

async function storedHosts(db: string, hosts: string[]): Promise<number> {
  const store = await openStore(db);
  try {
    return (await store.hosts.get(hosts)).size;
  } finally {
    await store.close();
  }
}

it('ingests lines from a live stdin pipe within a few poll intervals, without waiting for batch_lines of them', async () => {
  const db = path.join(dir, 'live.db');
  const { child, stderr } = await start(db, {});
  child.stdin!.write(['h1', 'h2', 'h3'].map(line).join('\n') + '\n'); // the pipe stays open, as under `tail -F`
  await until('the three stdin lines in the store', async () => (await storedHosts(db, ['h1', 'h2', 'h3'])) === 3, 8_000, stderr);
}, 60_000);

it('retries a stdin batch the store failed to commit and keeps reading stdin', async () => {
  const db = path.join(dir, 'busy.db');
  const { child, stderr } = await start(db, { batch_lines: 3 });
  // another writer holds the database past the store's busy_timeout (5 s)
  const other = new Database(db);
  other.pragma('busy_timeout = 10000');
  other.exec('BEGIN EXCLUSIVE');
  child.stdin!.write(['a1', 'a2', 'a3'].map(line).join('\n') + '\n');
  // the store gives up after its busy_timeout: the batch is not committed (logged by the source)
  await until('the commit to fail', () => /"level":(40|50).*(database is locked|SQLITE_BUSY|not stored)/i.test(stderr()), 20_000, stderr);
  other.exec('COMMIT');
  other.close();
  child.stdin!.write(['b1', 'b2', 'b3'].map(line).join('\n') + '\n');
  await until('all six stdin lines in the store', async () => (await storedHosts(db, ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'])) === 6, 20_000, stderr);
}, 90_000);

it('SIGTERM while a refused stdin batch waits for its next attempt shuts down promptly', async () => {
  const db = path.join(dir, 'refused.db');
  const { child, stderr } = await start(db, { batch_lines: 1 });
  // the store refuses every batch at once (a table it writes is gone), as a broken store would
  const other = new Database(db);
  other.exec('ALTER TABLE hosts RENAME TO hosts_gone');
  other.close();
  child.stdin!.write(line('h1') + '\n'); // the pipe stays open, as under `tail -F`
  // the sixth failure: its next attempt is 12.8 s away
  await until('the sixth failed attempt', () => stderr().includes('"retry_in_ms":12800'), 40_000, stderr);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const t0 = Date.now();
  child.kill('SIGTERM');
  const code = await exited;
  // promptly, and with exit 1: the line it read from stdin was never committed, and stdin cannot give it again
  expect({ code, shutdownMs: Date.now() - t0 < 5000 ? 'under 5 s' : Date.now() - t0 }).toEqual({ code: 1, shutdownMs: 'under 5 s' });
  expect(stderr()).toContain('shutdown finished with problems');
  // however often it failed before, the batch gets three attempts once shutdown has begun (two of them retried)
  expect(stderr()).toMatch(/"attempt":8,"retry_in_ms":500\b/);
  expect(stderr()).not.toContain('shutdown complete');
}, 90_000);
