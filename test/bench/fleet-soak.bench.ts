/**
 * A month of one fleet on the SQLite store, run as `fleet serve` would: each day's result logs ingested
 * (the `fleet ingest FILE` path), then the rollup (compaction into day sketches, expiry), retention and
 * finalization.
 * 35 days, so the 30-day window fills and then slides. What an operator needs to know before running it:
 * does the store stay bounded, and do the jobs stay fast as the window fills?
 *
 * The same hosts report every day (one simulated day per 500-host slice, shifted by a day each time).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { FleetRetentionConfigSchema } from '../../src/config/fleet.js';
import { ingestFile } from '../../fleet/ingest/file-source.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { retention, rollup } from '../../fleet/rules/maintenance.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { DEFAULT_START, simulateFleet } from '../../scripts/simulate-fleet.js';
import type { BenchContext } from './run.js';
import { fileMb, rowCounts } from './sqlite-store-size.js';

const DAY = 86_400;
const SLICE = 500;

export default async function (b: BenchContext): Promise<void> {
  const hosts = b.quick ? 500 : 2000;
  const days = b.quick ? 8 : 35;
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-fleet-soak-'));
  const dbFile = path.join(dir, 'soak.db');
  const analytics = defaultAnalyticsConfig();
  const store = await openSqliteStore(dbFile);
  const ingest = createIngestService({ store, analytics, quarantineFile: null, clock: { now: () => new Date(), unix: () => 4_000_000_000, ms: () => Date.now() } });
  let lines = 0;
  let ingestCpu = 0;
  let rollupMax = 0;
  let finalizeMax = 0;
  let detections = 0;
  let at30: Record<string, number> = {};
  try {
    for (let d = 0; d < days; d++) {
      for (let s = 0; s * SLICE < hosts; s++) {
        const fleet = simulateFleet({ hosts: Math.min(SLICE, hosts - s * SLICE), days: 1, seed: 1000 + s, start: DEFAULT_START + d * DAY, files: 1, duplicateRate: 0.01 });
        const file = path.join(dir, `day-${d}-slice-${s}.log`);
        writeFileSync(file, `${fleet.files[0]!.join('\n')}\n`);
        lines += fleet.files[0]!.length;
        const c0 = process.cpuUsage();
        await ingestFile(file, { ingest, store });
        const c = process.cpuUsage(c0);
        ingestCpu += (c.user + c.system) / 1e6;
        rmSync(file);
      }
      let t = performance.now();
      await rollup(store, { analytics });
      rollupMax = Math.max(rollupMax, (performance.now() - t) / 1000);
      // the daily retention job, with the config's defaults
      const defaults = FleetRetentionConfigSchema.parse({});
      await retention(store, { analytics, detectionsDays: defaults.detections_days, quarantineDays: defaults.quarantine_days });
      t = performance.now();
      const r = await finalizePending(store, { analytics, flush: false });
      finalizeMax = Math.max(finalizeMax, (performance.now() - t) / 1000);
      detections += r.created.length;
      if (d === Math.min(29, days - 1)) at30 = { ...fileMb(dbFile), ...rowCounts(dbFile) };
    }
  } finally {
    await store.close();
  }
  const end = { ...fileMb(dbFile), ...rowCounts(dbFile) };
  rmSync(dir, { recursive: true, force: true });
  b.report(`${hosts} hosts × ${days} days, daily rollup, retention, finalize (SQLite)`, {
    lines,
    lines_per_cpu_s: Math.round(lines / ingestCpu),
    rollup_max_s: Number(rollupMax.toFixed(2)),
    finalize_max_s: Number(finalizeMax.toFixed(2)),
    detections,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  });
  b.report(`store after day ${Math.min(30, days)}`, at30);
  b.report(`store after day ${days} (closed)`, end);
}
