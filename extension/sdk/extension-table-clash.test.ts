/**
 * osquery core answers registerExtension with "Duplicate extension registered" for a second extension of the
 * same name, but with "Failed adding registry: Duplicate registry item: <table>" when one of our TABLES clashes with a
 * table core or another extension already provides (RegistryFactory::addBroadcast). Retrying the latter cannot help,
 * and it is not "another outflow".
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
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-dup-'));
  manager = await serveExtensionManager(path.join(dir, 'm.em'), {
    ping: async () => status(0, 'OK'),
    call: async () => ({ status: status(1, 'no'), response: [] }),
    shutdown: async () => undefined,
    extensions: async () => new Map(),
    options: async () => ({}),
    registerExtension: async () => {
      attempts++;
      // osquery 5.x ExtensionManagerInterface::registerExtension, when addBroadcast refuses a plugin name
      return status(1, 'Failed adding registry: Duplicate registry item: t');
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

it('a table-name clash is not retried as a duplicate extension, and says which table clashes', async () => {
  const ext = new OsqueryExtension(testExtensionOptions(manager.path, { startTimeoutMs: 3000 }));
  const t0 = Date.now();
  const err = (await ext.start().catch((e: unknown) => e)) as Error;
  await ext.stop();
  expect({ attempts, quick: Date.now() - t0 < 1000, blamesAnotherOutflow: /another outflow is registered/.test(err.message) }).toEqual({
    attempts: 1,
    quick: true,
    blamesAnotherOutflow: false,
  });
  expect(err.message).toContain('Duplicate registry item: t');
});
