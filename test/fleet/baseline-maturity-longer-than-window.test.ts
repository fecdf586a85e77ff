/**
 * Baseline maturity after a gap (SPEC §4) with a prevalence window shorter than baseline_maturity_days: a store that
 * held a short pilot, then nothing for weeks, holds rarity for baseline_maturity_days after the gap as a new store
 * does (docs/fleet.md, Finalization), not only until the window has slid past the gap.
 */
import { expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { retention, rollup } from '../../fleet/rules/maintenance.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, T0, candidateLine, dailyLines, hostsOf, memoryStore, MiB, runPipeline, statusLines } from './fleet-helpers.js';

it('with a 3-day window and 7 days of maturity, a candidate 4 days after the gap (6 days of data in all) is held as baseline_warming', async () => {
  const analytics = { ...defaultAnalyticsConfig(), prevalence_window_days: 3, baseline_maturity_days: 7 };
  const hosts = hostsOf(12);
  const store = await memoryStore();
  // a 2-day pilot
  const pilot = dailyLines(hosts, 0, 1, 'files.team-drive.com');
  await runPipeline(store, [pilot], { analytics });
  // nothing until day 60, then the fleet reports every day
  const back = T0 + 60 * DAY;
  const resumed: string[] = [];
  for (let d = 0; d <= 4; d++) resumed.push(...statusLines(hosts, back + d * DAY));
  await runPipeline(store, [resumed], { analytics });
  const at = back + 4 * DAY + 2 * HOUR;
  const run = await runPipeline(store, [[candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.team-drive.com', bytes_out: 30 * MiB, first_seen: at - 200 }, at)]], { analytics });
  expect(run.finalized.examined).toBe(1);
  // a new store with these 6 days of data would hold it: so must this one
  expect(run.detections.map((d) => [d.branch, d.baseline_warming, d.fleet.baseline_start])).toEqual([]);
  expect(run.finalized.warming).toBe(1);
  await store.close();
}, 60_000);

it('with a 3-day window and 7 days of maturity, a store reporting every day stays mature after the rollup and retention', async () => {
  const analytics = { ...defaultAnalyticsConfig(), prevalence_window_days: 3, baseline_maturity_days: 7 };
  const hosts = hostsOf(12);
  const store = await memoryStore();
  const lines: string[] = [];
  for (let d = 0; d <= 20; d++) lines.push(...statusLines(hosts, T0 + d * DAY));
  await runPipeline(store, [lines], { analytics });
  const clock = (t: number) => fixedClock(t);
  await rollup(store, { analytics, clock: clock(T0 + 20 * DAY + 60) });
  await retention(store, { analytics, detectionsDays: 90, quarantineDays: 30, clock: clock(T0 + 20 * DAY + 60) });
  const at = T0 + 20 * DAY + 2 * HOUR;
  const run = await runPipeline(store, [[candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.team-drive.com', bytes_out: 30 * MiB, first_seen: at - 200 }, at)]], { analytics });
  expect(run.detections.map((d) => [d.branch, d.baseline_warming])).toEqual([['rare_and_upload', false]]);
  await store.close();
}, 60_000);
