/**
 * Baseline maturity after a gap (SPEC §4), when the last day before the gap is the window's first day: the window
 * begins after that day's last event, so it holds nothing from before the gap.
 */
import { expect, it } from 'vitest';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, T0, candidateLine, dailyLines, hostsOf, memoryStore, MiB, runPipeline, statusLines } from './fleet-helpers.js';

it("a window that begins after the last event of its first day is held as baseline_warming when the rest of that day and the following weeks hold nothing", async () => {
  const hosts = hostsOf(12);
  const store = await memoryStore();
  // a 31-day pilot, each day's lines in its first two hours
  const pilot = dailyLines(hosts, 0, 30, 'files.team-drive.com');
  await runPipeline(store, [pilot]);
  // nothing until day 60; the fleet comes back
  const back = T0 + 60 * DAY;
  await runPipeline(store, [statusLines(hosts, back)]);
  // 22 hours later host 0 uploads to the share: its window begins at 22:00 on day 30, after that day's last line
  const at = back + 22 * HOUR;
  const run = await runPipeline(store, [[candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.team-drive.com', bytes_out: 30 * MiB, first_seen: at - 200 }, at)]]);
  expect(run.finalized.examined).toBe(1);
  // its window holds 22 hours of data: rarity alone must not fire
  expect(run.detections.map((d) => [d.branch, d.baseline_warming, d.fleet.baseline_start])).toEqual([]);
  expect(run.finalized.warming).toBe(1);
  await store.close();
}, 60_000);
