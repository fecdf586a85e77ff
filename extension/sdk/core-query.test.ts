import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { coreQuery } from './core-query.js';
import { FakeManager } from './testing/fake-manager.js';
import { ExtensionCode, SdkError } from './types.js';

describe('coreQuery: SQL in osquery core over the manager socket', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function manager(): Promise<FakeManager> {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-core-'));
    const m = await FakeManager.start(path.join(dir, 'osquery.em'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => m.close());
    return m;
  }

  it('returns the rows core answers and sends the SQL as given', async () => {
    const m = await manager();
    m.queryHandler = () => ({ status: { code: ExtensionCode.SUCCESS, message: 'OK', uuid: 0 }, response: [{ pid: '1', path: '/sbin/launchd' }, { pid: '0', path: '' }] });
    const rows = await coreQuery(m.socketPath, { timeoutMs: 3000 }).query('SELECT pid, path FROM processes');
    expect(rows).toEqual([{ pid: '1', path: '/sbin/launchd' }, { pid: '0', path: '' }]);
    expect(m.calls.filter((c) => c.method === 'query').map((c) => c.args)).toEqual([['SELECT pid, path FROM processes']]);
  });

  it("rejects with core's message when core refuses the SQL (a disabled table, a syntax error)", async () => {
    const m = await manager();
    m.queryHandler = () => ({ status: { code: ExtensionCode.FAILED, message: 'no such table: processes', uuid: 0 }, response: [] });
    const err = await coreQuery(m.socketPath, { timeoutMs: 3000 }).query('SELECT pid, path FROM processes').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SdkError);
    expect(err).toMatchObject({ code: 'QUERY_FAILED', message: 'osquery core refused the query (1): no such table: processes' });
  });

  it('rejects a reply larger than maxReplyBytes instead of buffering it', async () => {
    const m = await manager();
    const rows = Array.from({ length: 2000 }, (_, i) => ({ pid: String(i + 1), path: `/Applications/App ${i}.app/Contents/MacOS/App ${i}` }));
    m.queryHandler = () => ({ status: { code: ExtensionCode.SUCCESS, message: 'OK', uuid: 0 }, response: rows });
    await expect(coreQuery(m.socketPath, { timeoutMs: 3000, maxReplyBytes: 16 * 1024 }).query('SELECT pid, path FROM processes')).rejects.toThrow(/larger than 16384 bytes/);
    // the same reply within a sufficient cap decodes whole
    expect(await coreQuery(m.socketPath, { timeoutMs: 3000, maxReplyBytes: 1024 * 1024 }).query('SELECT pid, path FROM processes')).toHaveLength(2000);
  });

  it('rejects when no manager listens on the socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-core-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    await expect(coreQuery(path.join(dir, 'nothing.em'), { timeoutMs: 1000 }).query('SELECT 1')).rejects.toThrow(/cannot talk to/);
  });
});
