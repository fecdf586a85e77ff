/**
 * osquery core reports a uuid it drew twice as "Failed adding registry: Duplicate extension UUID: N"
 * (ExtensionManagerHandler::registerExtension wraps RegistryFactory::addBroadcast's status), not as a message that
 * starts with "Duplicate extension UUID". That case clears on a retry and must be retried.
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
const status = (code: number, message: string, uuid = 0) => ({ code, message, uuid });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-uuid-'));
  manager = await serveExtensionManager(path.join(dir, 'm.em'), {
    ping: async () => status(0, 'OK'),
    call: async () => ({ status: status(1, 'no'), response: [] }),
    shutdown: async () => undefined,
    extensions: async () => new Map(),
    options: async () => ({}),
    registerExtension: async () => {
      attempts++;
      // osquery core: "Failed adding registry: " + addBroadcast's "Duplicate extension UUID: " + uuid
      return attempts === 1 ? status(1, 'Failed adding registry: Duplicate extension UUID: 4242') : status(0, 'OK', 7);
    },
    deregisterExtension: async () => status(0, 'OK'),
    query: async () => ({ status: status(1, 'no'), response: [] }),
    getQueryColumns: async () => ({ status: status(1, 'no'), response: [] }),
  });
});
afterAll(async () => {
  await manager.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a uuid core drew twice (core wraps it in "Failed adding registry: …") is retried, not fatal', async () => {
  const ext = new OsqueryExtension(testExtensionOptions(manager.path, { startTimeoutMs: 5000 }));
  const err = await ext.start().then(() => null, (e: unknown) => e as Error);
  await ext.stop();
  expect(err?.message ?? null).toBeNull();
  expect(attempts).toBe(2);
});
