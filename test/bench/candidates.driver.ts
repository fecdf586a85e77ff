/**
 * One egress_candidates latency case in a process of its own, for candidates.bench.ts:
 * `node [flags] --import tsx candidates.driver.ts <flows> <events> <iterations> extension|default`.
 * `extension` applies the runtime heap flags outflow.ext applies at start-up (the bench passes the
 * semi-space flag on the command line). Prints one JSON line {name, metrics}.
 *
 * The first generate is reported on its own (first_ms: JIT still cold); then 20 warm-up generates, as a
 * scheduled query runs the table again and again, and `iterations` measured ones back to back. Wall
 * time includes waiting for a CPU on a loaded machine; CPU time (process.cpuUsage, all threads, so GC
 * helper threads too) is what a generate costs.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { applyExtensionHeapTuning } from '../../extension/runtime/node-flags.js';
import { correlate } from '../../extension/tables/egress_candidates/correlate.js';
import { buildWorld } from '../../extension/tables/egress_candidates/testing/world.js';
import { host } from './candidates.bench.js';

const [flowCount, eventCount, iterations] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const heap = process.argv[5] === 'default' ? 'default' : 'extension';
if (heap === 'extension') applyExtensionHeapTuning();
const WARM_UP = 20;

const world = buildWorld(host(flowCount, eventCount));
let t0 = performance.now();
correlate(world);
const firstMs = performance.now() - t0;
for (let i = 0; i < WARM_UP; i++) correlate(world);

let gcMs = 0;
const gcs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
// Let the warm-up's GC entries arrive before counting.
await new Promise((r) => setTimeout(r, 10));
gcs.observe({ entryTypes: ['gc'] });
const ms: number[] = [];
const cpuMs: number[] = [];
let rows = 0;
for (let i = 0; i < iterations; i++) {
  const c0 = process.cpuUsage();
  t0 = performance.now();
  rows = correlate(world).rows.length;
  ms.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  cpuMs.push((c.user + c.system) / 1000);
}
await new Promise((r) => setTimeout(r, 10));
gcs.disconnect();

const q = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const name = `generate ${world.flows.size} flows, ${world.sensitiveEvents.size + world.archiveEvents.size} events (${heap === 'extension' ? 'extension heap' : 'node default heap'})`;
const metrics = {
  first_ms: firstMs,
  p50_ms: q(ms, 0.5),
  p95_ms: q(ms, 0.95),
  max_ms: q(ms, 1),
  cpu_p50_ms: q(cpuMs, 0.5),
  cpu_p95_ms: q(cpuMs, 0.95),
  gc_ms_per_generate: gcMs / iterations,
  rows,
  target_p95_ms: 50,
};
process.stdout.write(`${JSON.stringify({ name, metrics })}\n`);
