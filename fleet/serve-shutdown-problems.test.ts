/**
 * startServe's stop() tells whether the shutdown went cleanly: runServe turns a rejected stop() into exit 1, which
 * systemd shows as a failed unit. A step that failed (the store that did not close) must not end in "shutdown
 * complete" and exit 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { OutflowError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { MemoryStream } from '../test/fleet/serve-fixtures.js';
import { startServe } from './serve.js';

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'serve-shutdown-problems-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(name: string) {
  const logs = new MemoryStream();
  const running = await startServe({
    loaded: parseConfig({ fleet: { store: path.join(dir, `${name}.db`), ingest: { quarantine_file: '' }, http: { enabled: false }, sinks: [], scheduler: { enabled: false } } }),
    log: createLogger({ destination: logs, level: 'info' }),
    stdout: new MemoryStream(),
  });
  const messages = () => logs.lines().map((l) => (l as { msg: string }).msg);
  return { running, messages };
}

it('a clean shutdown resolves and logs "shutdown complete"', async () => {
  const { running, messages } = await start('clean');
  await expect(running.stop()).resolves.toBeUndefined();
  expect(messages()).toContain('shutdown complete');
});

it('a shutdown step that fails makes stop() reject (exit 1), naming it, and never logs "shutdown complete"', async () => {
  const { running, messages } = await start('failing');
  const store = running.store;
  const close = store.close.bind(store);
  store.close = () => Promise.reject(new Error('disk I/O error while closing'));
  try {
    const err: unknown = await running.stop().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OutflowError);
    expect((err as OutflowError).code).toBe('SHUTDOWN_INCOMPLETE');
    expect((err as OutflowError).message).toContain('disk I/O error while closing');
    expect(messages()).toEqual(expect.arrayContaining(['cleanup step failed', 'shutdown finished with problems (see the errors above)']));
    expect(messages()).not.toContain('shutdown complete');
    // stop() is idempotent: asked again, the same answer
    await expect(running.stop()).rejects.toThrow(/shutdown finished with 1 problem/);
  } finally {
    await close();
  }
});
