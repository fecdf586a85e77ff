/**
 * A clean shutdown of `fleet serve` with fleet.ingest.stdin (stop() resolves: "shutdown complete", exit code 0) must
 * mean that every line the stdin source read was committed (docs/fleet-serve.md: exit 1 when stdin lines it had read
 * were never committed). stdin here is a real socket, as process.stdin is for a pipe: `bytesRead` counts what the
 * process took from the descriptor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { startServe } from '../../fleet/serve.js';
import { openStore } from '../../fleet/store/open.js';
import { MemoryStream, waitFor } from './serve-fixtures.js';

const realStdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'serve-stdin-buffered-'));
afterEach(() => {
  Object.defineProperty(process, 'stdin', realStdin);
});

const line = (i: number) =>
  JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: `host-${String(i).padStart(5, '0')}`, unixTime: Math.floor(Date.now() / 1000) - 60, counter: 1, action: 'added', columns: { component: 'nettop', state: 'running', detail: 'x'.repeat(200) } });

it('a shutdown that resolves cleanly has committed every stdin line the process read', async () => {
  // stdin: the accepted end of a local socket (a net.Socket, as process.stdin is for a pipe)
  const sockPath = path.join(dir, 'stdin.sock');
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer((s) => {
      server.close();
      resolve(s);
    });
    server.listen(sockPath);
  });
  const writer = net.connect(sockPath);
  const stdin = await accepted;
  stdin.pause();
  Object.defineProperty(process, 'stdin', { configurable: true, enumerable: true, get: () => stdin });

  const db = path.join(dir, 'buffered.db');
  const running = await startServe({
    loaded: parseConfig({ fleet: { store: db, ingest: { stdin: true, quarantine_file: '', poll_interval_ms: 50, batch_lines: 50 }, http: { enabled: false }, sinks: [], scheduler: { enabled: false } } }),
    log: silentLogger(),
    stdout: new MemoryStream(),
  });
  // the store is slow for a moment (a checkpoint, another writer): commits wait, and stdin backs up
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let waiting = 0;
  const transaction = running.store.transaction.bind(running.store);
  running.store.transaction = (async (...args: Parameters<typeof transaction>) => {
    waiting++;
    await gate;
    return transaction(...args);
  }) as typeof transaction;

  const sent = Array.from({ length: 3000 }, (_, i) => line(i) + '\n').join('');
  writer.write(sent);
  await waitFor(() => waiting > 0, 'a commit waiting on the store');
  // stdin stops flowing (the source is busy committing); what the socket read meanwhile stays in its buffer
  await waitFor(() => stdin.readableLength > 0 && stdin.isPaused(), 'stdin to back up');
  await new Promise((r) => setTimeout(r, 200));

  const stopped = running.stop('test');
  open();
  await expect(stopped).resolves.toBeUndefined(); // "shutdown complete": nothing read was lost, it says
  const bytesRead = stdin.bytesRead;
  const bufferedInStdinAtExit = stdin.readableLength;
  writer.destroy();
  stdin.destroy();

  // the lines the process read from its stdin descriptor (whole lines only)
  const read = sent.slice(0, bytesRead);
  const linesRead = read.split('\n').length - 1;
  const store = await openStore(db);
  try {
    const hosts = Array.from({ length: linesRead }, (_, i) => `host-${String(i).padStart(5, '0')}`);
    const stored = (await store.hosts.get(hosts)).size;
    expect({ stored, bufferedInStdinAtExit }).toEqual({ stored: linesRead, bufferedInStdinAtExit: 0 });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
