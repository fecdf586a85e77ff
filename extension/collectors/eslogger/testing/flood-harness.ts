/**
 * Memory/CPU harness: this process holds the collector and both buffers; the fake eslogger (a separate
 * child) streams a generated flood. Prints one JSON line of measurements. Used by the 100k-line test and
 * the 1M-line bench, bundled first (see bundleFloodHarness) so RSS is that of plain node running our code,
 * not of the tsx loader (~60 MB on its own):
 *   node <bundle> <fakeToolDir> <lines> [relevantPct] [maxEvents]
 */
import { pino } from 'pino';
import { parseConfig } from '../../../../src/config/index.js';
import { createContext } from '../../../runtime/create-context.js';
import { createEsloggerCollector } from '../collector.js';
import { NO_FIXTURE_SELF } from './test-context.js';

const toolDir = process.argv[2]!;
const lines = Number(process.argv[3] ?? 1_000_000);
const relevantPct = Number(process.argv[4] ?? 5);
const maxEvents = Number(process.argv[5] ?? 50_000);
const timeoutMs = Number(process.env.FLOOD_TIMEOUT_MS ?? 600_000);
process.env.OUTFLOW_FAKE_ESLOGGER_FLOOD = String(lines);
process.env.OUTFLOW_FAKE_ESLOGGER_FLOOD_RELEVANT_PCT = String(relevantPct);

// The real context (process model, signing service, rings): RSS is what the extension would hold.
const ctx = createContext({ platform: 'darwin', config: parseConfig({ tools: { dir: toolDir }, events: { max_events: maxEvents } }), log: pino({ level: 'silent' }) });
// a pid beyond any real one (NO_FIXTURE_SELF): the flood's made-up pids and ppids must not be taken for this process's
const collector = createEsloggerCollector(ctx, { readyMaxMs: 1000, self: NO_FIXTURE_SELF });
let peakRss = 0;
// memoryUsage.rss() reads one counter; memoryUsage() walks the heap spaces and would dominate the CPU figures.
const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage.rss()));
const sampler = setInterval(sample, 100);
const startedMs = Date.now();
const cpu0 = process.cpuUsage();
collector.start();
// Steady state: CPU from the moment 10% of the lines are through (start-up, JIT warm-up excluded).
let steady: { cpu: NodeJS.CpuUsage; lines: number } | undefined;
while (collector.stats().lines < lines) {
  if (!steady && collector.stats().lines >= lines / 10) steady = { cpu: process.cpuUsage(), lines: collector.stats().lines };
  if (Date.now() - startedMs > timeoutMs) break;
  await new Promise((r) => setTimeout(r, 20));
}
const cpu = process.cpuUsage(cpu0);
const steadyCpu = steady ? process.cpuUsage(steady.cpu) : cpu;
const steadyLines = collector.stats().lines - (steady?.lines ?? 0);
sample();
clearInterval(sampler);
const wallS = (Date.now() - startedMs) / 1000;
const stats = collector.stats();
const processes = ctx.processes.size;
await collector.stop();
await ctx.signing.stop();
const cpuS = (cpu.user + cpu.system) / 1e6;
process.stdout.write(
  `${JSON.stringify({
    lines: stats.lines,
    wall_s: wallS,
    cpu_s: cpuS,
    lines_per_cpu_s: Math.round(stats.lines / cpuS),
    cpu_ms_per_1000_events: (cpuS * 1e6) / stats.lines,
    steady_cpu_ms_per_1000_events: ((steadyCpu.user + steadyCpu.system) / 1e3 / steadyLines) * 1000,
    peak_rss_mb: Math.round((peakRss / 1048576) * 10) / 10,
    heap_used_mb: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10,
    sensitive_rows: ctx.sensitiveEvents.size,
    archive_rows: ctx.archiveEvents.size,
    evicted: stats.evicted,
    rejected: stats.rejected,
    parsed: stats.parsed,
    malformed: stats.malformed,
    lost: stats.lost,
    processes,
  })}\n`,
);
process.exit(0);
