/**
 * Baseline maturity (SPEC §4) of a late candidate (a laptop's backlog) whose window reaches back before the
 * prevalence data kept, when the data kept begins in a gap of the store's data: what is kept of its window holds
 * only the days since the gap, and whether the daily retention already forgot the days before the bound must not
 * change its verdict.
 */
import { expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { retention, rollup } from '../../fleet/rules/maintenance.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, T0, candidateLine, dailyLines, hostsOf, memoryStore, MiB, runPipeline, statusLines } from './fleet-helpers.js';

async function lateCandidate(withRetention: boolean) {
  const analytics = defaultAnalyticsConfig();
  const hosts = hostsOf(12);
  const store = await memoryStore();
  // days 0-20: the fleet uses the team's share every day; days 21-40: nothing; days 41-55: the fleet reports again
  const lines = dailyLines(hosts, 0, 20, 'files.team-drive.com');
  for (let d = 41; d <= 55; d++) lines.push(...statusLines(hosts, T0 + d * DAY));
  await runPipeline(store, [lines], { analytics });
  const clock = fixedClock(T0 + 55 * DAY + 60);
  // the rollup keeps the prevalence data from about day 25 on, inside the gap
  await rollup(store, { analytics, clock });
  if (withRetention) await retention(store, { analytics, detectionsDays: 90, quarantineDays: 30, clock });
  // a laptop's backlog: an upload on day 45, its window from day 15
  const at = T0 + 45 * DAY + 2 * HOUR;
  const run = await runPipeline(store, [[candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.team-drive.com', bytes_out: 30 * MiB, first_seen: at - 200 }, at)]], { analytics });
  await store.close();
  return { examined: run.finalized.examined, warming: run.finalized.warming, detections: run.detections.map((d) => [d.branch, d.baseline_warming, d.fleet.baseline_start, d.fleet.window_kept_from]) };
}

it('a late candidate whose kept window holds 4 days of data is held as baseline_warming, whether retention ran or not', async () => {
  const retained = await lateCandidate(true);
  const unretained = await lateCandidate(false);
  expect(retained).toEqual({ examined: 1, warming: 1, detections: [] });
  expect(unretained).toEqual(retained);
}, 60_000);
