/**
 * Steady-state memory of the flow sampler in a plain node process (no tsx loader), as the shipped
 * extension bundle runs: 1 000 open flows sampled every tick with 5% churn, closed flows retained for
 * flows.retention. flows.bench.ts bundles this with esbuild and runs it; it prints one JSON line.
 */
import { fixedClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { createContext } from '../../extension/runtime/create-context.js';
import { mutableFlows, resolveProcesses } from '../../extension/tables/process_network_flows/attribute.js';
import { toObservation } from '../../extension/tables/process_network_flows/collector.darwin.js';
import { parseNettop } from '../../extension/tables/process_network_flows/parse-nettop.js';
import { nettopSample, NOW, PROCS } from './flows-sample.js';

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const ticks = Number(process.argv[2] ?? 400);
gc();
const baseline = process.memoryUsage().rss;
const clock = fixedClock(NOW);
const ctx = createContext({ platform: 'darwin', config: parseConfig({}), log: silentLogger(), clock });
for (let p = 0; p < PROCS; p++) {
  ctx.processes.observe({ pid: 10_000 + p, processStart: NOW - 3600, ppid: 1, uid: 501, path: `/Applications/App${p}.app/Contents/MacOS/App${p}`, source: 'ps', seenAt: NOW });
}
const store = mutableFlows(ctx);
for (let t = 0; t < ticks; t++) {
  clock.advance(5);
  const at = clock.unix();
  // A fresh string every tick, like nettop's stdout: retained flows must not pin old outputs.
  const flows = parseNettop(nettopSample(1000, t % 16)).rows.filter((r) => !r.remote.wildcard);
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
}
gc();
const m = process.memoryUsage();
process.stdout.write(`${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, baseline, tracked: store.size })}\n`);
