/**
 * `npm run bench -- extension`: generate of a 5 000-row table in the real `outflow extension` process,
 * called through the fake manager the way osqueryd calls it (new connection per call). Reports rows/s and
 * per-call p50/p95, sequential and with 4 calls in flight, plus the extension's own share measured in
 * process (generate, string conversion and reply encoding; osqueryd's decoding is C++, the double's is JS).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { startExtension, tempDir, writeTestConfig } from '../extension/harness.js';
import { encodeCallReply } from '../../extension/sdk/fast-codec.js';
import { TableRouter } from '../../extension/sdk/table-plugin.js';
import type { ExtensionContext } from '../../extension/runtime/context.js';
import { toTablePlugin } from '../../extension/runtime/table-host.js';
import { TABLES as TEST_TABLE_DEFS } from '../extension/fixtures/test-tables.js';
import type { BenchContext } from './run.js';

const ROWS = 5000;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export default async function (b: BenchContext): Promise<void> {
  const dir = tempDir('bench-ext');
  const manager = await FakeManager.start(path.join(dir, 'osquery.em'));
  const ext = startExtension({ socket: manager.socketPath, config: writeTestConfig(dir), timeout: '60', interval: '5' });
  try {
    const reg = await manager.waitForExtension(60_000);
    const call = async () => {
      const t = performance.now();
      const res = await manager.generate(reg.uuid, 'ext_test_big');
      const ms = performance.now() - t;
      if (res.status.code !== 0 || res.response.length !== ROWS) throw new Error(`bad reply: ${res.status.message} (${res.response.length} rows)`);
      return ms;
    };
    for (let i = 0; i < 3; i++) await call(); // warm-up (JIT, first-call allocation)

    const n = b.quick ? 10 : 40;
    const sequential: number[] = [];
    const started = performance.now();
    for (let i = 0; i < n; i++) sequential.push(await call());
    const wall = (performance.now() - started) / 1000;
    sequential.sort((x, y) => x - y);
    b.report('generate 5000 rows, sequential calls', {
      calls: n,
      rows_per_s: Math.round((n * ROWS) / wall),
      p50_ms: percentile(sequential, 50),
      p95_ms: percentile(sequential, 95),
    });

    const concurrency = 4;
    const rounds = b.quick ? 3 : 10;
    const parallel: number[] = [];
    const pStarted = performance.now();
    for (let r = 0; r < rounds; r++) parallel.push(...(await Promise.all(Array.from({ length: concurrency }, call))));
    const pWall = (performance.now() - pStarted) / 1000;
    parallel.sort((x, y) => x - y);
    b.report(`generate 5000 rows, ${concurrency} calls in flight`, {
      calls: parallel.length,
      rows_per_s: Math.round((parallel.length * ROWS) / pWall),
      p50_ms: percentile(parallel, 50),
      p95_ms: percentile(parallel, 95),
    });

    // The extension's own share of a call, in process: generate + string conversion + reply encoding.
    const bigTable = TEST_TABLE_DEFS.find((t) => t.name === 'ext_test_big');
    if (!bigTable) throw new Error('ext_test_big missing from the test tables');
    const router = new TableRouter([toTablePlugin(bigTable, {} as ExtensionContext)]);
    const serverSide: number[] = [];
    const m = b.quick ? 10 : 40;
    const sStarted = performance.now();
    for (let i = 0; i < m; i++) {
      const t = performance.now();
      const res = await router.call('table', 'ext_test_big', { action: 'generate', context: '{}' });
      encodeCallReply(i, res);
      serverSide.push(performance.now() - t);
    }
    const sWall = (performance.now() - sStarted) / 1000;
    serverSide.sort((x, y) => x - y);
    b.report('server side only: generate + encode 5000 rows', {
      calls: m,
      rows_per_s: Math.round((m * ROWS) / sWall),
      p50_ms: percentile(serverSide, 50),
      p95_ms: percentile(serverSide, 95),
    });
  } finally {
    ext.child.kill('SIGTERM');
    await Promise.race([ext.exited, new Promise((r) => setTimeout(r, 3000))]);
    ext.kill();
    await manager.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
