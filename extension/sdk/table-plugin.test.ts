import { describe, expect, it } from 'vitest';
import { cellToString, ColumnOption, TableRouter, tableRoutes, type TablePlugin } from './table-plugin.js';

const plugin = (over: Partial<TablePlugin> = {}): TablePlugin => ({
  name: 'things',
  columns: [
    { name: 'path', type: 'TEXT', options: ColumnOption.INDEX | ColumnOption.OPTIMIZED },
    { name: 'pid', type: 'INTEGER' },
    { name: 'bytes', type: 'BIGINT', options: ColumnOption.HIDDEN },
    { name: 'pcr', type: 'DOUBLE' },
  ],
  generate: () => [{ path: '/bin/ls', pid: 42, bytes: 2 ** 60, pcr: 0.5 }],
  ...over,
});

describe('tableRoutes', () => {
  it('emits one column route per column with the option bitmask as a decimal string', () => {
    expect(tableRoutes(plugin())).toEqual([
      { id: 'column', name: 'path', type: 'TEXT', op: '9' },
      { id: 'column', name: 'pid', type: 'INTEGER', op: '0' },
      { id: 'column', name: 'bytes', type: 'BIGINT', op: '16' },
      { id: 'column', name: 'pcr', type: 'DOUBLE', op: '0' },
    ]);
  });
});

describe('cellToString', () => {
  it.each([
    [null, ''],
    [undefined, ''],
    ['', ''],
    ['text', 'text'],
    [0, '0'],
    [-1, '-1'],
    [1e21, '1000000000000000000000'],
    [0.25, '0.25'],
    [Number.NaN, ''],
    [Number.POSITIVE_INFINITY, ''],
    [12345678901234567890n, '12345678901234567890'],
    [true, '1'],
    [false, '0'],
  ])('%s → %j', (v, expected) => {
    expect(cellToString(v as never)).toBe(expected);
  });
});

describe('TableRouter', () => {
  it('answers columns with exactly the registered routes', async () => {
    const r = new TableRouter([plugin()]);
    const res = await r.call('table', 'things', { action: 'columns' });
    expect(res.status.code).toBe(0);
    expect(res.response).toEqual(r.registry().table?.things);
  });

  it('returns rows as strings, every declared column present, undeclared keys dropped', async () => {
    const r = new TableRouter([plugin({ generate: () => [{ path: '/x', pid: null, extra: 'dropped' } as never] })]);
    const res = await r.call('table', 'things', { action: 'generate', context: '{}' });
    expect(res).toEqual({ status: { code: 0, message: 'OK', uuid: 0 }, response: [{ path: '/x', pid: '', bytes: '', pcr: '' }] });
  });

  it('passes the parsed context to generate', async () => {
    let seen: unknown;
    const r = new TableRouter([
      plugin({
        generate: (q) => {
          seen = [...q.constraints];
          return [];
        },
      }),
    ]);
    await r.call('table', 'things', { action: 'generate', context: '{"constraints":[{"name":"path","list":[{"op":2,"expr":"/a"}],"affinity":"TEXT"}]}' });
    expect(seen).toEqual([['path', [{ op: 2, expr: '/a' }]]]);
  });

  it.each([
    ['config', 'things', { action: 'generate' }, /unknown registry "config"/],
    ['table', 'nope', { action: 'generate' }, /unknown table "nope".*things/],
    ['table', 'things', { action: 'explode' }, /unsupported action "explode"/],
    ['table', 'things', {}, /unsupported action ""/],
  ])('status 1 for %s/%s %j', async (registry, item, request, message) => {
    const res = await new TableRouter([plugin()]).call(registry, item, request as Record<string, string>);
    expect(res.status.code).toBe(1);
    expect(res.status.message).toMatch(message);
    expect(res.response).toEqual([]);
  });

  it('answers writes on a read-only table the way osquery does', async () => {
    const res = await new TableRouter([plugin()]).call('table', 'things', { action: 'insert', json_value_array: '[]' });
    expect(res).toMatchObject({ status: { code: 0 }, response: [{ status: 'readonly' }] });
  });

  it('turns a throwing generate (sync or async) into status 1 with the message', async () => {
    const r = new TableRouter([
      plugin({
        name: 'sync',
        generate: () => {
          throw new Error('disk on fire');
        },
      }),
      plugin({ name: 'async', generate: async () => Promise.reject(new Error('network gone')) }),
    ]);
    expect((await r.call('table', 'sync', { action: 'generate' })).status).toMatchObject({ code: 1, message: 'table sync: generate failed: disk on fire' });
    expect((await r.call('table', 'async', { action: 'generate' })).status).toMatchObject({ code: 1, message: 'table async: generate failed: network gone' });
  });

  it('answers status 1 when generate exceeds the timeout, and aborts its signal', async () => {
    let signal: AbortSignal | undefined;
    const r = new TableRouter(
      [
        plugin({
          generate: (_q, s) => {
            signal = s;
            return new Promise(() => undefined);
          },
        }),
      ],
      { generateTimeoutMs: 50 },
    );
    const res = await r.call('table', 'things', { action: 'generate' });
    expect(res.status.code).toBe(1);
    expect(res.status.message).toMatch(/did not finish within 50 ms/);
    expect(signal?.aborted).toBe(true);
  });

  it('refuses duplicate tables and tables without columns at construction', () => {
    expect(() => new TableRouter([plugin(), plugin()])).toThrow(/twice/);
    expect(() => new TableRouter([plugin({ columns: [] })])).toThrow(/no columns/);
  });
});
