/**
 * The fleet-ingest benchmark's measurements, run by fleet-ingest.bench.ts in a process of its own from a bundle
 * built as the shipped package is (scripts/package.ts shippedBuildOptions), or from the sources under tsx.
 * Prints one `BENCH_REPORT {name, metrics}` line per result.
 *
 * Fleet aggregator throughput (issue 7 point 11), SQLite store on disk, one process:
 * - ingest: lines/s and peak RSS for 10 000 simulated hosts × 1 day (targets ≥ 200 000 lines/s, ≤ 500 MB);
 * - finalize: latency for 10 000 pending candidates (target ≤ 2 s).
 * The fleet is generated in slices of 500 hosts (distinct seeds → distinct hosts) so the generator's
 * own memory stays small; each slice is written to a result-log file and ingested with ingestFile, the
 * path of `outflow fleet ingest FILE…`. Only ingestFile/finalizePending calls are timed. The same day is also
 * ingested as one time-ordered file of all hosts (benchIngestTimeOrdered), the layout of a live fleet's log.
 */
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { rollup } from '../../fleet/rules/maintenance.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { simulateFleet } from '../../scripts/simulate-fleet.js';
import type { BenchContext } from './run.js';
import { rowCounts } from './sqlite-store-size.js';
import { pendingCandidateLines } from '../helpers/fleet-lines.js';

const BATCH = 5000;

/** CPU seconds of this process (all threads: the main thread, SQLite runs on it, plus GC helpers). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function peakRssMb(): number {
  // resourceUsage().maxRSS is in kilobytes: the process-wide high-water mark.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/**
 * `withRollup`: run the rollup after each slice, untimed, as the hourly job would between batches, so keys
 * common in the fleet are compacted and later slices' sightings of them go to day sketches instead of host rows.
 */
async function benchIngest(b: BenchContext, dir: string, withRollup: boolean): Promise<void> {
  const hostsTotal = b.quick ? 1000 : 10_000;
  const slice = 500;
  const store = await openSqliteStore(path.join(dir, withRollup ? 'ingest-rollup.db' : 'ingest.db'));
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
  let lines = 0;
  let seconds = 0;
  let cpu = 0;
  let accepted = 0;
  let rollupMax = 0;
  let compacted = 0;
  let parseCpu = 0;
  let parsedLines = 0;
  for (let s = 0; s * slice < hostsTotal; s++) {
    // Each slice is one result-log file (what `outflow fleet ingest FILE…` reads), written untimed.
    const fleet = simulateFleet({ hosts: Math.min(slice, hostsTotal - s * slice), days: 1, seed: 1000 + s, files: 1, duplicateRate: 0.01 });
    const file = path.join(dir, `slice-${s}.log`);
    writeFileSync(file, `${fleet.files[0]!.join('\n')}\n`);
    lines += fleet.files[0]!.length;
    const t0 = performance.now();
    const c0 = cpuSeconds();
    // The production file path: default chunk size, one transaction per chunk with its checkpoint.
    const r = await ingestFile(file, { ingest, store });
    seconds += (performance.now() - t0) / 1000;
    cpu += cpuSeconds() - c0;
    accepted += r.accepted;
    rmSync(file);
    if (!withRollup) {
      // the machine's yardstick: JSON.parse of the same lines, on the same core, in the same minutes
      const c1 = cpuSeconds();
      let parsed = 0;
      for (const l of fleet.files[0]!) parsed += JSON.parse(l) === null ? 0 : 1;
      parseCpu += cpuSeconds() - c1;
      parsedLines += parsed;
    }
    if (withRollup) {
      const t1 = performance.now();
      const rolled = await rollup(store, { analytics: defaultAnalyticsConfig() });
      rollupMax = Math.max(rollupMax, (performance.now() - t1) / 1000);
      compacted += rolled.compacted.destinations + rolled.compacted.pairs + rolled.compacted.apps;
    }
  }
  await store.close();
  const sketchRows = withRollup ? rowCounts(path.join(dir, 'ingest-rollup.db')).sketch_rows! : 0;
  // Wall-clock rates depend on how busy the machine is; lines per CPU-second is the one-core rate.
  // Machines here differ by 2.5x in this rate; JSON.parse's rate over the same lines tells which kind of machine ran
  // it (earlier sessions' notes: ~320 000 lines/CPU-s where ingest ran 170 000-240 000), and the ratio compares runs
  // across machines.
  const extra: Record<string, number> = withRollup
    ? { keys_compacted: compacted, sketch_rows: sketchRows, rollup_max_s: Number(rollupMax.toFixed(2)) }
    : { json_parse_lines_per_cpu_s: Math.round(parsedLines / parseCpu), ingest_vs_json_parse: Number((lines / cpu / (parsedLines / parseCpu)).toFixed(3)) };
  b.report(`ingest ${hostsTotal} hosts × 1 day (SQLite, fleet ingest FILE path${withRollup ? ', rollup after each slice' : ''})`, {
    lines,
    accepted_rows: accepted,
    seconds: Number(seconds.toFixed(2)),
    lines_per_s: Math.round(lines / seconds),
    cpu_seconds: Number(cpu.toFixed(2)),
    lines_per_cpu_s: Math.round(lines / cpu),
    peak_rss_mb: peakRssMb(),
    ...extra,
  });
}

/** A result line's unixTime (number or string, as osquery writes it); 0 when it has none. */
function unixTimeOf(line: string): number {
  const m = /"unixTime":"?(\d+)/.exec(line);
  return m ? Number(m[1]) : 0;
}

/**
 * Merge time-ordered result-log files into one by unixTime (ties in file order): the log of all hosts as Fleet's
 * filesystem logger or one osqueryd-to-collector pipeline writes it. Streams, so memory stays small.
 */
async function mergeByTime(files: readonly string[], out: string): Promise<number> {
  const readers = files.map((f) => createInterface({ input: createReadStream(f), crlfDelay: Infinity })[Symbol.asyncIterator]());
  const heads: (string | undefined)[] = await Promise.all(readers.map(async (r) => (await r.next()).value as string | undefined));
  const times = heads.map((l) => (l === undefined ? Infinity : unixTimeOf(l)));
  const fd = openSync(out, 'w');
  let chunk: string[] = [];
  let chunkChars = 0;
  let lines = 0;
  try {
    for (;;) {
      let k = -1;
      for (let i = 0; i < heads.length; i++) if (heads[i] !== undefined && (k < 0 || times[i]! < times[k]!)) k = i;
      if (k < 0) break;
      chunk.push(heads[k]!);
      chunkChars += heads[k]!.length + 1;
      lines++;
      if (chunkChars >= 8 * 1024 * 1024) {
        writeSync(fd, `${chunk.join('\n')}\n`);
        chunk = [];
        chunkChars = 0;
      }
      const next = await readers[k]!.next();
      heads[k] = next.done ? undefined : (next.value as string);
      times[k] = heads[k] === undefined ? Infinity : unixTimeOf(heads[k]!);
    }
    if (chunk.length) writeSync(fd, `${chunk.join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
  return lines;
}

/**
 * The same fleet day as one time-ordered file of all hosts (the slices merged by unixTime), ingested in one
 * `ingestFile`. A batch of the slices holds ~8 hours of 500 hosts, so a host's repeated sightings fold into one
 * row of each table; a batch of this file holds ~30 minutes of nearly every host, and writes about one row a
 * line. Reported beside the target's number, which is the sliced layout's.
 */
async function benchIngestTimeOrdered(b: BenchContext, dir: string): Promise<void> {
  const hostsTotal = b.quick ? 1000 : 10_000;
  const slice = 500;
  const slices: string[] = [];
  for (let s = 0; s * slice < hostsTotal; s++) {
    const fleet = simulateFleet({ hosts: Math.min(slice, hostsTotal - s * slice), days: 1, seed: 1000 + s, files: 1, duplicateRate: 0.01 });
    const file = path.join(dir, `ordered-slice-${s}.log`);
    writeFileSync(file, `${fleet.files[0]!.join('\n')}\n`);
    slices.push(file);
  }
  const merged = path.join(dir, 'all-hosts.log');
  const lines = await mergeByTime(slices, merged);
  for (const f of slices) rmSync(f);
  const store = await openSqliteStore(path.join(dir, 'ingest-ordered.db'));
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const r = await ingestFile(merged, { ingest, store });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  await store.close();
  rmSync(merged);
  b.report(`ingest ${hostsTotal} hosts × 1 day (SQLite, fleet ingest FILE path, one time-ordered file of all hosts)`, {
    lines,
    accepted_rows: r.accepted,
    seconds: Number(seconds.toFixed(2)),
    lines_per_s: Math.round(lines / seconds),
    cpu_seconds: Number(cpu.toFixed(2)),
    lines_per_cpu_s: Math.round(lines / cpu),
    peak_rss_mb: peakRssMb(),
  });
}

/**
 * `compacted`: the rollup has run first, so the common keys are read from their day sketches. Fewer verdicts
 * fire than without it, by design: all 10 000 candidates fall on one day, and a day sketch counts every host of
 * that day, so an early candidate's key already reads as common (docs/fleet.md, "day granularity").
 */
async function benchFinalize(b: BenchContext, dir: string, compacted: boolean, again = false): Promise<void> {
  const pending = b.quick ? 2000 : 10_000;
  const store = await openSqliteStore(path.join(dir, `finalize${compacted ? '-compacted' : ''}${again ? '-again' : ''}.db`));
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
  const lines = pendingCandidateLines(pending);
  for (let i = 0; i < lines.length; i += BATCH) await ingest.ingestLines(lines.slice(i, i + BATCH), { kind: 'bench', id: 'finalize' });
  const rolled = compacted ? await rollup(store, { analytics: defaultAnalyticsConfig() }) : undefined;
  const count = await store.candidates.countPending();
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const r = await finalizePending(store, { analytics: defaultAnalyticsConfig(), flush: true });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  await store.close();
  const keys: Record<string, number> = rolled ? { keys_compacted: rolled.compacted.destinations + rolled.compacted.pairs + rolled.compacted.apps } : {};
  const label = compacted ? ', common keys compacted' : again ? ', again in the same process: JIT warm, as the minutely job runs' : '';
  b.report(`finalize ${count} pending candidates (SQLite${label})`, { ...keys, examined: r.examined, fired: r.fired, detections: r.created.length, seconds: Number(seconds.toFixed(3)), cpu_seconds: Number(cpu.toFixed(3)) });
}

async function main(b: BenchContext): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-fleet-bench-'));
  try {
    // finalize first, as in every earlier session's numbers (it also warms the ingest path the finalize stores are
    // filled through). Its garbage is collected before ingest: peak_rss_mb is the process's high-water mark, and the
    // RSS target is ingest's.
    await benchFinalize(b, dir, false);
    await benchFinalize(b, dir, true);
    (globalThis as { gc?: () => void }).gc?.();
    await benchIngest(b, dir, false);
    await benchIngest(b, dir, true);
    // after the sliced runs, whose peak RSS is the target's: peak_rss_mb is the process's high-water mark
    await benchIngestTimeOrdered(b, dir);
    // The first finalize is the target's number (a cold JIT, as right after a restart); this one is what the
    // minutely job of a running aggregator takes. Run last: before ingest it raised the peak RSS reported as ingest's.
    await benchFinalize(b, dir, false, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main({ report: (name, metrics) => process.stdout.write(`BENCH_REPORT ${JSON.stringify({ name, metrics })}\n`), quick: process.env.BENCH_QUICK === '1' }).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
