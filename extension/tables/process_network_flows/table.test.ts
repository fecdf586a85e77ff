/**
 * `pid =` narrows the rows generate copies; it is a hint (SQLite re-filters), so it must never drop a row SQLite
 * would keep. osquery hands generate SQLite's text of the value: `WHERE pid = 1.0` arrives as "1.0".
 */
import { expect, it } from 'vitest';
import { formatQueryContext, Op, parseQueryContext } from '../../sdk/query-context.js';
import { processNetworkFlows } from './table.js';

const columns = Object.entries(processNetworkFlows.columns).map(([name, c]) => ({ name, type: c.type }));
const pidIs = (expr: string) => parseQueryContext(formatQueryContext(columns, [{ name: 'pid', op: Op.EQUALS, expr }]));

it('a pid = constraint whose SQLite text is not plain digits (1.0, " 1", 1e0) still finds pid 1', () => {
  const flows = [
    { pid: 1, path: '/bin/x', remote_address: '203.0.113.5', flow_id: 'f1' },
    { pid: 2, path: '/bin/y', remote_address: '203.0.113.6', flow_id: 'f2' },
  ];
  const ext = { flows: { rows: () => flows } } as never;
  const pidsFor = (expr: string) => (processNetworkFlows.generate(ext, pidIs(expr)) as { pid: number }[]).map((r) => r.pid);
  expect(['1', '1.0', ' 1', '1e0', '1.5', 'x'].map(pidsFor)).toEqual([[1], [1], [1], [1], [], []]);
});
