/**
 * The real `outflow extension` process, registered with the fake manager, answering table calls the way
 * osqueryd makes them (a new connection per call, spec-shaped context JSON).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeManager, type RegisteredExtension } from '../../extension/sdk/testing/fake-manager.js';
import { Op } from '../../extension/sdk/query-context.js';
import { VERSION } from '../../src/version.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { BARRIER } from './fixtures/test-tables.js';
import { startExtension, tempDir, versionAtLeast, within, writeTestConfig, type ExtensionChild } from './harness.js';

const STATUS_ROUTES = [
  { id: 'column', name: 'component', type: 'TEXT', op: '1' },
  { id: 'column', name: 'platform', type: 'TEXT', op: '0' },
  { id: 'column', name: 'state', type: 'TEXT', op: '0' },
  { id: 'column', name: 'detail', type: 'TEXT', op: '0' },
  { id: 'column', name: 'events', type: 'BIGINT', op: '0' },
  { id: 'column', name: 'dropped', type: 'BIGINT', op: '0' },
  { id: 'column', name: 'last_event', type: 'BIGINT', op: '0' },
  { id: 'column', name: 'version', type: 'TEXT', op: '0' },
];
const TEST_TABLE_NAMES = ['ext_test_echo', 'ext_test_throws', 'ext_test_hangs', 'ext_test_barrier', 'ext_test_big'];

describe('outflow extension serving tables to a manager', () => {
  let dir: string;
  let manager: FakeManager;
  let ext: ExtensionChild;
  let reg: RegisteredExtension;

  beforeAll(async () => {
    dir = tempDir('ext');
    manager = await FakeManager.start(path.join(dir, 'osquery.em'));
    ext = startExtension({ socket: manager.socketPath, config: writeTestConfig(dir), timeout: '20', interval: '1' });
    reg = await within(manager.waitForExtension(40_000), 40_000, `registration (stderr: ${ext.stderr().slice(-500)})`);
  }, 60_000);

  afterAll(async () => {
    ext?.kill();
    await manager?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers as outflow with an acceptable SDK version and a route list per table', () => {
    expect(reg.info.name).toBe('outflow');
    expect(reg.info.version).toBe(VERSION);
    expect(versionAtLeast(reg.info.sdk_version, '1.7.7')).toBe(true);
    expect(Object.keys(reg.registry)).toEqual(['table']);
    const tables = reg.registry.table ?? {};
    expect(tables.outflow_status).toEqual(STATUS_ROUTES);
    for (const name of TEST_TABLE_NAMES) expect(tables[name]?.length).toBeGreaterThan(0);
    expect(tables.ext_test_echo?.[0]).toEqual({ id: 'column', name: 'name', type: 'TEXT', op: '1' });
    for (const routes of Object.values(tables)) for (const r of routes) expect(Object.keys(r).sort()).toEqual(['id', 'name', 'op', 'type']);
    expect(existsSync(manager.extensionSocket(reg.uuid))).toBe(true);
  });

  it('answers action=columns with exactly the registered routes, for every table', async () => {
    for (const [name, routes] of Object.entries(reg.registry.table ?? {})) {
      const res = await manager.columns(reg.uuid, name);
      expect(res.status.code, name).toBe(0);
      expect(res.response, name).toEqual(routes);
    }
  });

  it('answers ping with our uuid', async () => {
    expect(await manager.pingExtension(reg.uuid)).toMatchObject({ code: 0, uuid: reg.uuid });
  });

  it('serves outflow_status: one row per component, with the extension itself running', async () => {
    const res = await manager.generate(reg.uuid, 'outflow_status');
    expect(res.status.code).toBe(0);
    const self = res.response.find((r) => r.component === 'extension');
    expect(self).toMatchObject({ platform: 'linux', state: 'running', version: VERSION });
    expect(self?.detail).toMatch(new RegExp(`uuid ${reg.uuid}`));
    // docs/extension.md gives this row's detail as served
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/extension.md'), 'utf8').replace(/\s+/g, ' ');
    const documented = /Under osqueryd its detail is `([^`]+)`/.exec(doc)?.[1];
    expect(documented).toBe('registered with osquery as uuid N; serving K tables; config FILE');
    const tables = Object.keys(reg.registry.table ?? {}).length;
    expect(self?.detail).toBe(documented!.replace('N', String(reg.uuid)).replace('K', String(tables)).replace('FILE', path.join(dir, 'outflow.yaml')));
    for (const row of res.response) {
      expect(Object.keys(row).sort()).toEqual(STATUS_ROUTES.map((r) => r.name).sort());
      expect(['running', 'degraded', 'unavailable', 'permission_denied', 'disabled']).toContain(row.state);
      expect(row.events).toMatch(/^\d+$/);
    }
  });

  it('passes = and LIKE constraints through to generate, values as strings, numbers as decimal text', async () => {
    const res = await manager.generate(
      reg.uuid,
      'ext_test_echo',
      [
        { name: 'name', op: Op.EQUALS, expr: '/bin/zsh' },
        { name: 'expr', op: Op.LIKE, expr: '%.zip' },
        { name: 'op', op: Op.GREATER_THAN, expr: '900' },
      ],
      ['name', 'op'],
    );
    expect(res.status.code).toBe(0);
    expect(res.response.map((r) => [r.name, r.op, r.expr])).toEqual([
      ['expr', '65', '%.zip'],
      ['name', '2', '/bin/zsh'],
      ['op', '4', '900'],
      ['(marker)', '0', ''],
    ]);
    expect(res.response[0]).toMatchObject({ cols_used: 'name,op', big: String(2 ** 40), ratio: '0.25', missing: '' });
  });

  it('accepts the legacy context (op as a string, list as "")', async () => {
    const context = JSON.stringify({
      constraints: [
        { name: 'name', list: [{ op: '2', expr: '/usr/bin/ditto' }], affinity: 'TEXT' },
        { name: 'op', list: '', affinity: 'INTEGER' },
      ],
    });
    const res = await manager.callExtension(reg.uuid, 'table', 'ext_test_echo', { action: 'generate', context });
    expect(res.status.code).toBe(0);
    expect(res.response.map((r) => [r.name, r.op, r.expr])).toEqual([
      ['name', '2', '/usr/bin/ditto'],
      ['(marker)', '0', ''],
    ]);
  });

  it.each([
    ['table', 'no_such_table', { action: 'generate' }, /unknown table "no_such_table"/],
    ['table', 'outflow_status', { action: 'frobnicate' }, /unsupported action "frobnicate"/],
    ['logger', 'outflow_status', { action: 'generate' }, /unknown registry "logger"/],
  ])('answers status 1 for %s/%s %j', async (registry, item, request, message) => {
    const res = await manager.callExtension(reg.uuid, registry, item, request);
    expect(res.status.code).toBe(1);
    expect(res.status.message).toMatch(message);
    expect(res.response).toEqual([]);
  });

  it('turns a throwing generate into status 1 with its message, and keeps serving', async () => {
    const res = await manager.generate(reg.uuid, 'ext_test_throws');
    expect(res.status).toMatchObject({ code: 1, message: 'table ext_test_throws: generate failed: boom: the test table failed on purpose' });
    expect((await manager.generate(reg.uuid, 'outflow_status')).status.code).toBe(0);
  });

  it('answers a hanging generate with a timeout status 1 (generate_timeout_ms), and keeps serving', async () => {
    const res = await manager.generate(reg.uuid, 'ext_test_hangs');
    expect(res.status.code).toBe(1);
    expect(res.status.message).toMatch(/ext_test_hangs: generate did not finish within 5000 ms/);
    expect((await manager.pingExtension(reg.uuid)).code).toBe(0);
  });

  it(`serves ${BARRIER} concurrent calls, each on its own connection`, async () => {
    const results = await Promise.all(Array.from({ length: BARRIER }, () => manager.generate(reg.uuid, 'ext_test_barrier')));
    // The barrier table answers only once all calls are in flight together; a serial server would time out.
    expect(results.map((r) => r.status.code)).toEqual(Array(BARRIER).fill(0));
    expect(results.map((r) => Number(r.response[0]?.arrived)).sort((a, b) => a - b)).toEqual(Array.from({ length: BARRIER }, (_, i) => i + 1));
  });

  it('returns a 5 000-row table intact', async () => {
    const res = await manager.generate(reg.uuid, 'ext_test_big');
    expect(res.status.code).toBe(0);
    expect(res.response).toHaveLength(5000);
    expect(res.response[4999]).toMatchObject({ flow_id: 'f00001387', remote_port: '443', bytes_out: String(4999 * 1500), pcr: '0.66' });
  });

  it('survives garbage and half-sent messages on its socket', async () => {
    const sock = manager.extensionSocket(reg.uuid);
    const send = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const s = net.createConnection(sock, () => s.end(bytes));
        s.on('close', () => resolve());
        s.on('error', () => resolve());
        s.resume();
      });
    await send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await send(Buffer.from([0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x63, 0x61])); // truncated header
    await send(Buffer.from([0x80, 0x01, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff])); // absurd name length
    expect(await manager.pingExtension(reg.uuid)).toMatchObject({ code: 0 });
    expect(ext.child.exitCode).toBeNull();
  });

  it('cuts off a peer declaring an oversized string or map before buffering it, warns once per connection, and keeps answering', async () => {
    const sock = manager.extensionSocket(reg.uuid);
    const rejectedLogs = () => ext.logs().filter((l) => l.msg === 'extension connection rejected');
    const before = rejectedLogs().length;
    const callHeader = Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, ...Buffer.from('call'), 0, 0, 0, 1]);
    /** Write `head`, then offer 64 MB more; report how much the extension took before closing. */
    const flood = (head: Buffer) =>
      new Promise<{ closed: boolean; written: number; ms: number }>((resolve) => {
        const t0 = Date.now();
        const chunk = Buffer.alloc(1 << 20, 0x41);
        let written = 0;
        let closed = false;
        const s = net.createConnection(sock, async () => {
          s.write(head);
          while (!closed && written < 64 << 20 && Date.now() - t0 < 10_000) {
            written += chunk.length;
            if (!s.write(chunk)) await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => s.once('close', r))]);
          }
          s.destroy();
          resolve({ closed, written, ms: Date.now() - t0 });
        });
        s.on('error', () => undefined);
        s.on('close', () => (closed = true));
      });
    // Before: buffered to the runtime's 100 MB cap (the string) or until the peer gave up (the map).
    const str = await flood(Buffer.concat([callHeader, Buffer.from([11, 0, 1, 0x7f, 0xff, 0xff, 0xff])]));
    const map = await flood(Buffer.concat([callHeader, Buffer.from([13, 0, 3, 11, 11, 0x10, 0, 0, 0])]));
    for (const r of [str, map]) {
      expect(r.closed).toBe(true);
      expect(r.written).toBeLessThan(16 << 20);
      expect(r.ms).toBeLessThan(5000);
    }
    expect(await manager.pingExtension(reg.uuid)).toMatchObject({ code: 0 });
    await new Promise((r) => setTimeout(r, 100));
    const logged = rejectedLogs().slice(before);
    expect(logged.map((l) => (l.err as { message?: string } | undefined)?.message)).toEqual([
      expect.stringMatching(/declared string length 2147483647 exceeds the 8388608-byte message cap/),
      expect.stringMatching(/declared container size 268435456 exceeds the 8388608-byte message cap/),
    ]);
    expect(ext.child.exitCode).toBeNull();
  }, 30_000);

  it('keeps stdout empty and logs JSON to stderr', () => {
    expect(ext.stdout()).toBe('');
    const logs = ext.logs();
    expect(logs.some((l) => l.msg === 'extension registered' && l.uuid === reg.uuid)).toBe(true);
    expect(logs.some((l) => l.msg === 'generate failed' && l.table === 'ext_test_throws')).toBe(true);
  });
});
