/**
 * Memory/CPU harness: this process holds the collector and both buffers; the fake eslogger (a separate
 * child) streams a generated flood. Prints one JSON line of measurements. Used by the 100k-line test and
 * the 1M-line bench, bundled first (see bundleFloodHarness) so RSS is that of plain node running our code,
 * not of the tsx loader (~60 MB on its own):
 *   node <bundle> <fakeToolDir> <lines> [relevantPct] [maxEvents]
 */
import { createEsloggerCollector } from '../collector.js';
import { testContext } from './test-context.js';

const toolDir = process.argv[2]!;
const lines = Number(process.argv[3] ?? 1_000_000);
const relevantPct = Number(process.argv[4] ?? 5);
const maxEvents = Number(process.argv[5] ?? 50_000);
const timeoutMs = Number(process.env.FLOOD_TIMEOUT_MS ?? 600_000);
process.env.OUTFLOW_FAKE_ESLOGGER_FLOOD = String(lines);
process.env.OUTFLOW_FAKE_ESLOGGER_FLOOD_RELEVANT_PCT = String(relevantPct);

const { ctx } = testContext({ toolDir, config: { events: { max_events: maxEvents } } });
const collector = createEsloggerCollector(ctx, { readyMaxMs: 1000 });
let peakRss = 0;
const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
const sampler = setInterval(sample, 25);
const startedMs = Date.now();
const cpu0 = process.cpuUsage();
collector.start();
let firstLineMs = 0;
while (collector.stats().lines < lines) {
  if (!firstLineMs && collector.stats().lines > 0) firstLineMs = Date.now();
  if (Date.now() - startedMs > timeoutMs) break;
  await new Promise((r) => setTimeout(r, 20));
}
const cpu = process.cpuUsage(cpu0);
sample();
clearInterval(sampler);
const wallS = (Date.now() - startedMs) / 1000;
const stats = collector.stats();
await collector.stop();
const cpuS = (cpu.user + cpu.system) / 1e6;
process.stdout.write(
  `${JSON.stringify({
    lines: stats.lines,
    wall_s: wallS,
    cpu_s: cpuS,
    lines_per_cpu_s: Math.round(stats.lines / cpuS),
    cpu_ms_per_1000_events: (cpuS * 1e6) / stats.lines,
    peak_rss_mb: Math.round((peakRss / 1048576) * 10) / 10,
    heap_used_mb: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10,
    sensitive_rows: ctx.sensitiveEvents.size,
    archive_rows: ctx.archiveEvents.size,
    evicted: stats.evicted,
    rejected: stats.rejected,
    parsed: stats.parsed,
    malformed: stats.malformed,
    lost: stats.lost,
  })}\n`,
);
process.exit(0);
