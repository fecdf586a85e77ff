/**
 * How the extension reads osquery core's answers to registerExtension (ExtensionManagerInterface::registerExtension):
 * - "Duplicate extension registered" is an extension of our name; core prefixes addBroadcast's status with "Failed
 *   adding registry: ", so a uuid it drew twice (older cores) reads "Failed adding registry: Duplicate extension UUID:
 *   N". Both clear on a retry and are retried.
 * - "Failed adding registry: Duplicate registry item: <table>" is a table of ours that core or another extension
 *   already provides (RegistryFactory::addBroadcast): a retry cannot help, and it is not "another outflow".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OsqueryExtension } from './extension.js';
import { testExtensionOptions } from './testing/fake-manager.js';
import { serveExtensionManager, type ThriftServer } from './thrift-bridge.js';

let dir: string;
let manager: ThriftServer;
let attempts = 0;
/** What core answers to the next registerExtension calls, in order (the last one repeats). */
let answers: { code: number; message: string; uuid: number }[] = [];
const status = (code: number, message: string, uuid = 0) => ({ code, message, uuid });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-register-'));
  manager = await serveExtensionManager(path.join(dir, 'm.em'), {
    ping: async () => status(0, 'OK'),
    call: async () => ({ status: status(1, 'no'), response: [] }),
    shutdown: async () => undefined,
    extensions: async () => new Map(),
    options: async () => ({}),
    registerExtension: async () => answers[Math.min(attempts++, answers.length - 1)]!,
    deregisterExtension: async () => status(0, 'OK'),
    query: async () => ({ status: status(1, 'no'), response: [] }),
    getQueryColumns: async () => ({ status: status(1, 'no'), response: [] }),
  });
});
afterAll(async () => {
  await manager.close();
  rmSync(dir, { recursive: true, force: true });
});

async function register(startTimeoutMs: number): Promise<{ err: Error | null; ms: number }> {
  const ext = new OsqueryExtension(testExtensionOptions(manager.path, { startTimeoutMs }));
  const t0 = Date.now();
  const err = await ext.start().then(() => null, (e: unknown) => e as Error);
  const ms = Date.now() - t0;
  await ext.stop();
  return { err, ms };
}

it('a table-name clash is not retried as a duplicate extension, and says which table clashes', async () => {
  attempts = 0;
  answers = [status(1, 'Failed adding registry: Duplicate registry item: t')];
  const { err, ms } = await register(3000);
  expect({ attempts, quick: ms < 1000, blamesAnotherOutflow: /another outflow is registered/.test(err?.message ?? '') }).toEqual({
    attempts: 1,
    quick: true,
    blamesAnotherOutflow: false,
  });
  expect(err?.message).toContain('Duplicate registry item: t');
});

it('a uuid core drew twice (core wraps it in "Failed adding registry: …") is retried, not fatal', async () => {
  attempts = 0;
  answers = [status(1, 'Failed adding registry: Duplicate extension UUID: 4242'), status(0, 'OK', 7)];
  const { err } = await register(5000);
  expect(err?.message ?? null).toBeNull();
  expect(attempts).toBe(2);
});
