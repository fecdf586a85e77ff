/**
 * process_network_flows (issue 3 targets): nettop parse ≥ 200k flow rows/s on a 5 000-flow sample; one
 * sampler tick of 1 000 flows (parse → process join → store update) ≤ 20 ms CPU; steady-state RSS
 * ≤ 100 MB; plus generate latency of a 5 000-flow table through the fake osquery manager (Thrift, real socket).
 */
import { spawnSync } from 'node:child_process';
import { EXTENSION_NODE_FLAG } from '../../extension/runtime/node-flags.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { fixedClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { createContext } from '../../extension/runtime/create-context.js';
import { toTablePlugin } from '../../extension/runtime/table-host.js';
import { OsqueryExtension } from '../../extension/sdk/extension.js';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { mutableFlows, resolveProcesses } from '../../extension/tables/process_network_flows/attribute.js';
import { toObservation } from '../../extension/tables/process_network_flows/collector.darwin.js';
import { parseNettop } from '../../extension/tables/process_network_flows/parse-nettop.js';
import { processNetworkFlows } from '../../extension/tables/process_network_flows/table.js';
import { nettopSample, NOW, PROCS } from './flows-sample.js';
import type { BenchContext } from './run.js';

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const gc = () => (globalThis as { gc?: () => void }).gc?.();

export default async function (b: BenchContext): Promise<void> {
  // RSS of this process before any flow work: node + tsx's loader worker (a second V8 isolate) + modules.
  // The shipped extension is a plain-node bundle without that worker, so the delta is what flows cost.
  gc();
  const baselineRss = process.memoryUsage().rss;
  // 1. Parser throughput on a 5 000-flow sample.
  const big = nettopSample(5000, 0);
  for (let i = 0; i < 5; i++) parseNettop(big);
  const parseRuns = b.quick ? 20 : 100;
  // CPU time, not wall time: the bench box is shared, and wall time mostly measures the neighbours.
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let parsed = 0;
  for (let i = 0; i < parseRuns; i++) parsed += parseNettop(big).rows.length;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  b.report('parse nettop sample (5 000 flows)', {
    rows_per_s: Math.round(parsed / (cpuMs / 1000)),
    rows_per_s_wall: Math.round(parsed / (wallMs / 1000)),
    cpu_ms_per_sample: cpuMs / parseRuns,
    kib: Math.round(big.length / 1024),
  });

  // 2. Sampler tick CPU with 1 000 flows: parse, join with the process model, update the store.
  const clock = fixedClock(NOW);
  const ctx = createContext({ platform: 'darwin', config: parseConfig({}), log: silentLogger(), clock });
  for (let p = 0; p < PROCS; p++) {
    ctx.processes.observe({ pid: 10_000 + p, processStart: NOW - 3600, ppid: 1, uid: 501, path: `/Applications/App${p}.app/Contents/MacOS/App${p}`, source: 'ps', seenAt: NOW });
  }
  const store = mutableFlows(ctx);
  const ticks = b.quick ? 60 : 400;
  const tickCpuMs: number[] = [];
  const noRefresh = async () => undefined;
  for (let t = 0; t < ticks; t++) {
    // made before the timed part; every tick's counters grow, as a socket's do (cycling a few precomputed samples made
    // them go back at each wrap, which the store reads as every socket replaced: twice the flows tracked)
    const text = nettopSample(1000, t);
    clock.advance(5);
    const c0 = process.cpuUsage();
    const flows = parseNettop(text).rows.filter((r) => !r.remote.wildcard);
    const at = clock.unix();
    const procs = await resolveProcesses(ctx, flows.map((f) => f.pid), at, noRefresh);
    store.applySample(
      flows.map((f) => {
        const o = toObservation(f);
        const p = procs.get(f.pid);
        if (p) o.process = p;
        return o;
      }),
      { at, counters: 'cumulative' },
    );
    const c = process.cpuUsage(c0);
    if (t >= 10) tickCpuMs.push((c.user + c.system) / 1000);
  }
  b.report('sampler tick CPU (1 000 flows, 5% churn)', {
    p50_cpu_ms: quantile(tickCpuMs, 0.5),
    p95_cpu_ms: quantile(tickCpuMs, 0.95),
    mean_cpu_ms: tickCpuMs.reduce((a, x) => a + x, 0) / tickCpuMs.length,
    open: store.openCount,
    tracked: store.size,
  });
  // Steady state of the sampler: 1 000 open flows plus the closed ones churn left within flows.retention.
  gc();
  const steady = process.memoryUsage();
  b.report('sampler steady-state memory', { rss_mb: steady.rss / 2 ** 20, rss_delta_mb: (steady.rss - baselineRss) / 2 ** 20, baseline_rss_mb: baselineRss / 2 ** 20, heap_used_mb: steady.heapUsed / 2 ** 20, flows_tracked: store.size });

  // 3. Generate latency of a 5 000-flow table through the fake manager (Thrift over a Unix socket).
  const genCtx = createContext({ platform: 'darwin', config: parseConfig({}), log: silentLogger(), clock });
  for (let p = 0; p < PROCS; p++) {
    genCtx.processes.observe({ pid: 10_000 + p, processStart: NOW - 3600, ppid: 1, uid: 501, path: `/Applications/App${p}.app/Contents/MacOS/App${p}`, source: 'ps', seenAt: NOW });
  }
  const genFlows = parseNettop(nettopSample(5000, 0)).rows;
  const genProcs = await resolveProcesses(genCtx, genFlows.map((f) => f.pid), clock.unix(), noRefresh);
  mutableFlows(genCtx).applySample(
    genFlows.map((f) => ({ ...toObservation(f), process: genProcs.get(f.pid)! })),
    { at: clock.unix(), counters: 'cumulative' },
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-bench-'));
  const manager = await FakeManager.start(path.join(dir, 'em'));
  const ext = new OsqueryExtension({
    socket: manager.socketPath,
    name: 'outflow',
    version: 'bench',
    sdkVersion: '1.8.0',
    tables: [toTablePlugin(processNetworkFlows, genCtx)],
    startTimeoutMs: 5000,
    intervalMs: 60_000,
  });
  // The double decodes with the Node thrift library, which re-parses a buffered message from the start as
  // chunks arrive (quadratic in reply size); osqueryd decodes in C++. Allow it time, and measure the
  // extension side alone (route + row encoding, no socket) separately.
  manager.callTimeoutMs = 120_000;
  try {
    await ext.start();
    const { uuid } = await manager.waitForRegistration();
    const routed: number[] = [];
    const generateContext = JSON.stringify({ constraints: [], colsUsed: Object.keys(processNetworkFlows.columns) });
    for (let i = 0; i < 23; i++) {
      const r0 = performance.now();
      const res = await ext.router.call('table', 'process_network_flows', { action: 'generate', context: generateContext });
      if (res.status.code !== 0) throw new Error(`generate failed: ${res.status.message}`);
      if (i >= 3) routed.push(performance.now() - r0);
    }
    b.report('generate in the extension (router, 5 000 flows)', { p50_ms: quantile(routed, 0.5), p95_ms: quantile(routed, 0.95) });
    const latencies: number[] = [];
    let rows = 0;
    const calls = b.quick ? 2 : 5;
    for (let i = 0; i < calls + 1; i++) {
      const g0 = performance.now();
      const res = await manager.generate(uuid, 'process_network_flows');
      if (res.status.code !== 0) throw new Error(`generate failed: ${res.status.message}`);
      if (i >= 1) latencies.push(performance.now() - g0);
      rows = res.response.length;
    }
    b.report('generate round trip via fake manager (5 000 flows)', { p50_ms: quantile(latencies, 0.5), p95_ms: quantile(latencies, 0.95), rows });
  } finally {
    await ext.stop({ kind: 'stopped' }).catch(() => undefined);
    await manager.close();
    rmSync(dir, { recursive: true, force: true });
  }

  // 4. Steady-state RSS of the sampler in a plain node process, bundled like the shipped extension.
  const bundleDir = mkdtempSync(path.join(tmpdir(), 'outflow-bench-steady-'));
  try {
    const out = await build({
      entryPoints: [fileURLToPath(new URL('./flows-steady.driver.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const file = path.join(bundleDir, 'steady.mjs');
    writeFileSync(file, out.outputFiles[0]!.contents);
    const mb = (x: number) => (x < 0 ? -1 : x / 2 ** 20);
    // Tuned = as outflow.ext runs (semi-space flag + runtime heap flags); untuned = semi-space flag only.
    for (const variant of ['tuned', 'untuned'] as const) {
      const r = spawnSync(process.execPath, ['--expose-gc', EXTENSION_NODE_FLAG, file, String(b.quick ? 100 : 400), variant], { encoding: 'utf8', timeout: 300_000 });
      if (r.status !== 0) throw new Error(`steady-state driver failed: ${r.stderr.slice(-2000)}`);
      const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
      b.report(`steady-state RSS, plain node bundle (1 000 open flows, churn, ${variant})`, {
        rss_mb: mb(m.rss!),
        loop_rss_max_mb: mb(m.loopRss!),
        peak_rss_mb: mb(m.peakRss!),
        baseline_rss_mb: mb(m.baseline!),
        heap_total_mb: mb(m.heapTotal!),
        loop_heap_total_max_mb: mb(m.loopHeapTotal!),
        heap_used_mb: mb(m.heapUsed!),
        old_space_mb: mb(m.oldSpaceSize!),
        old_space_used_mb: mb(m.oldSpaceUsed!),
        external_mb: mb(m.external!),
        array_buffers_mb: mb(m.arrayBuffers!),
        tick_cpu_ms: m.tickCpuMs!,
        flows_tracked: m.tracked!,
      });
    }
  } finally {
    rmSync(bundleDir, { recursive: true, force: true });
  }

  // 5. Whole process after the round trips (includes the Node Thrift client's buffers of the double).
  gc();
  const mem = process.memoryUsage();
  b.report('memory after generate round trips', { rss_mb: mem.rss / 2 ** 20, heap_used_mb: mem.heapUsed / 2 ** 20, flows_tracked: store.size + genCtx.flows.size });
}
