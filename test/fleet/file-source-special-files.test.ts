/**
 * What is at the path is not always a plain log file: a named pipe (mkfifo, a shell's `<(zcat …)`), and a caller
 * whose onStart throws after the source has opened its files.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, createWriteStream, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { runOutflow } from '../helpers/cli.js';
import { T0, destinationLine, hostsOf, memoryStore } from './fleet-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-special-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const [host] = hostsOf(1);
const line = (i: number) => destinationLine(host!, T0 + i, `s${i}.example.com`);
const openDescriptors = () => readdirSync('/proc/self/fd').length;

describe('file source: a named pipe at the path', () => {
  it('is refused at once with a clear error, not waited on for a writer that never comes', async () => {
    const fifo = path.join(dir, 'results.fifo');
    execFileSync('mkfifo', [fifo]);
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting after 5 s'), 5000)));
    const outcome = await Promise.race([ingestFile(fifo, { ingest, store }).then(() => 'resolved', (err: Error & { code?: string }) => `${err.code}: ${err.message}`), hung]);
    clearTimeout(timer);
    expect(outcome).toMatch(/^INPUT_INVALID: .*not a regular file \(a named pipe\)/);
    await store.close();
  });

  it('outflow fleet ingest reads it to its end, as it reads stdin (no checkpoint)', async () => {
    const fifo = path.join(dir, 'replay.fifo');
    execFileSync('mkfifo', [fifo]);
    const lines = Array.from({ length: 40 }, (_, i) => line(i));
    const run = runOutflow(['fleet', 'ingest', fifo, '--store', path.join(dir, 'fifo.db'), '--no-finalize', '--json'], { timeoutMs: 60_000 });
    // the writer's open waits for the CLI to open the pipe for reading
    const writer = createWriteStream(fifo);
    writer.end(`${lines.join('\n')}\n`);
    const r = await run;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ files: 1, failed_files: 0, lines: 40, accepted: 40, quarantined: 0 });
  }, 90_000);

  it('outflow fleet ingest refuses a socket by name before it opens the store', async () => {
    const sock = path.join(dir, 'results.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const db = path.join(dir, 'socket.db');
      const r = await runOutflow(['fleet', 'ingest', sock, '--store', db, '--no-finalize'], { timeoutMs: 60_000 });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${sock}: not a regular file or a pipe (a socket)`);
      expect(existsSync(db)).toBe(false);
    } finally {
      server.close();
    }
  }, 90_000);
});

describe('file source: the caller\'s onStart throws', () => {
  it('closes the files it opened (the path and the rotated file) and rejects with that error', async () => {
    const file = path.join(dir, 'results.log');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    writeFileSync(file, `${line(0)}\n`);
    await ingestFile(file, { ingest, store });
    // rotated while down: the rest of .1 and the new file are both opened before onStart
    writeFileSync(file, `${line(0)}\n${line(1)}\n`);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${line(2)}\n`);
    const before = openDescriptors();
    await expect(
      ingestFile(file, {
        ingest,
        store,
        onStart: () => {
          throw new Error('caller failed');
        },
      }),
    ).rejects.toThrow('caller failed');
    expect(openDescriptors()).toBe(before);
    await store.close();
  });

  it('closes a rotation read after the path when the logger throws on it (copytruncate\'s copy)', async () => {
    const file = path.join(dir, 'copy.log');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    writeFileSync(file, `${line(0)}\n`);
    await ingestFile(file, { ingest, store });
    appendFileSync(file, `${line(1)}\n`);
    copyFileSync(file, `${file}.1`);
    writeFileSync(file, '');
    appendFileSync(file, `${line(2)}\n${line(3)}\n`);
    const log = Object.create(silentLogger()) as Logger;
    log.info = ((_o: unknown, msg?: string) => {
      if (msg?.startsWith('a copy of the checkpoint')) throw new Error('logger failed');
    }) as Logger['info'];
    const before = openDescriptors();
    await expect(ingestFile(file, { ingest, store, log })).rejects.toThrow('logger failed');
    expect(openDescriptors()).toBe(before);
    await store.close();
  });

  it('opens nothing when its read buffer cannot be allocated (max_line_bytes beyond what a Buffer holds)', async () => {
    const file = path.join(dir, 'huge-lines.log');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    writeFileSync(file, `${line(0)}\n`);
    const before = openDescriptors();
    await expect(ingestFile(file, { ingest, store, maxLineBytes: 8 * 1024 ** 3 })).rejects.toThrow();
    expect(openDescriptors()).toBe(before);
    await store.close();
  });
});
