/**
 * Steady-state memory of the flow sampler in a plain node process (no tsx loader), as the shipped
 * extension bundle runs: 1 000 open flows sampled every tick with 5% churn, closed flows retained for
 * flows.retention. flows.bench.ts bundles this with esbuild and runs it; it prints one JSON line.
 *
 * RSS is read at three points, because one read alone misleads:
 * - `loopRss`: the highest RSS seen at tick boundaries over the second half of the run, no forced GC — what
 *   `top` shows while the sampler works (ticks back to back here, so old-space garbage has no idle time
 *   to be collected: the worst case of a 5 s sampler).
 * - `rss`: after a full GC *and* after V8's background unmapper has handed the freed pages back. Read in
 *   the same turn as gc(), RSS still counts tens of MB V8 already freed (observed 122 MB → 82 MB within
 *   200 ms, with heapTotal unchanged) — that was the previous measurement.
 * - `peakRss`: the process high-water mark (VmHWM, Linux).
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { fixedClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { createContext } from '../../extension/runtime/create-context.js';
import { applyExtensionHeapTuning } from '../../extension/runtime/node-flags.js';
import { mutableFlows, resolveProcesses } from '../../extension/tables/process_network_flows/attribute.js';
import { toObservation } from '../../extension/tables/process_network_flows/collector.darwin.js';
import { parseNettop } from '../../extension/tables/process_network_flows/parse-nettop.js';
import { nettopSample, NOW, PROCS } from './flows-sample.js';

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const ticks = Number(process.argv[2] ?? 400);
// `untuned` measures the process without the extension's runtime heap flags (for comparison in docs).
if (process.argv[3] !== 'untuned') applyExtensionHeapTuning();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** VmHWM in bytes, or -1 where /proc is not available. */
const highWaterMark = () => {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : -1;
  } catch {
    return -1;
  }
};

gc();
await sleep(300);
const baseline = process.memoryUsage().rss;
const clock = fixedClock(NOW);
const ctx = createContext({ platform: 'darwin', config: parseConfig({}), log: silentLogger(), clock });
for (let p = 0; p < PROCS; p++) {
  ctx.processes.observe({ pid: 10_000 + p, processStart: NOW - 3600, ppid: 1, uid: 501, path: `/Applications/App${p}.app/Contents/MacOS/App${p}`, source: 'ps', seenAt: NOW });
}
const store = mutableFlows(ctx);
let loopRss = 0;
let loopHeapTotal = 0;
const cpu0 = process.cpuUsage();
for (let t = 0; t < ticks; t++) {
  clock.advance(5);
  const at = clock.unix();
  // A fresh string every tick, like nettop's stdout: retained flows must not pin old outputs.
  // (generation t: counters grow every tick, as a socket's do; see flows.bench.ts)
  const flows = parseNettop(nettopSample(1000, t)).rows.filter((r) => !r.remote.wildcard);
  const procs = await resolveProcesses(ctx, flows.map((f) => f.pid), at, async () => undefined);
  store.applySample(
    flows.map((f) => {
      const o = toObservation(f);
      const p = procs.get(f.pid);
      if (p) o.process = p;
      return o;
    }),
    { at, counters: 'cumulative' },
  );
  if (t % 50 === 0) ctx.flows.rows(); // a scheduled query now and then
  if (t >= ticks / 2) {
    const m = process.memoryUsage();
    loopRss = Math.max(loopRss, m.rss);
    loopHeapTotal = Math.max(loopHeapTotal, m.heapTotal);
  }
}
const cpu = process.cpuUsage(cpu0);
gc();
// Let the unmapper return the pages the GC freed; stop once RSS no longer falls (bounded).
let rss = process.memoryUsage().rss;
for (let i = 0; i < 10; i++) {
  await sleep(100);
  const next = process.memoryUsage().rss;
  if (next >= rss - 256 * 1024) {
    rss = Math.min(rss, next);
    break;
  }
  rss = next;
}
const m = process.memoryUsage();
const oldSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
process.stdout.write(
  `${JSON.stringify({
    rss,
    loopRss,
    peakRss: highWaterMark(),
    baseline,
    heapTotal: m.heapTotal,
    loopHeapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    oldSpaceSize: oldSpace?.space_size ?? -1,
    oldSpaceUsed: oldSpace?.space_used_size ?? -1,
    tickCpuMs: (cpu.user + cpu.system) / 1000 / ticks,
    tracked: store.size,
  })}\n`,
);
