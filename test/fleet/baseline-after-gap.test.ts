/**
 * Baseline maturity (SPEC §4: "rarity alone cannot fire before 7 days of data") after a gap in the data: a store that
 * held a pilot's logs, then nothing for longer than the prevalence window (an aggregator down for weeks, a pilot
 * before the real roll-out), holds no data in the window of the first candidates after the gap. Their destinations
 * are rare because the window is empty, not because the fleet does not use them.
 */
import { expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { retention, rollup } from '../../fleet/rules/maintenance.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, T0, candidateLine, dailyLines, hostsOf, memoryStore, MiB, runPipeline, statusLines } from './fleet-helpers.js';

const cfg = defaultAnalyticsConfig();
const hosts = hostsOf(12);
/** The day the fleet comes back, 50 days after the pilot's last. */
const back = T0 + 60 * DAY;

/** A store holding a 10-day pilot: every host uses the team's file share every day. */
async function afterPilot() {
  const store = await memoryStore();
  await runPipeline(store, [dailyLines(hosts, 0, 10, 'files.team-drive.com')]);
  return store;
}

/** Host 0 uploads to the share the whole fleet used, from `remote`, its line at `t`. */
const upload = (remote: string, t: number) =>
  candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: remote, server_name: 'up.team-drive.com', bytes_out: 30 * MiB, first_seen: t - 200 }, t);

it('after a gap longer than the window, a candidate judged on an hour of data is held as baseline_warming, not fired as rare', async () => {
  const store = await afterPilot();
  // 50 days without any line; the fleet comes back, and the hourly rollup slides the window past the pilot
  await runPipeline(store, [statusLines(hosts, back)]);
  await rollup(store, { analytics: cfg, clock: fixedClock(back + 60) });
  // an hour later host 0 uploads to the share the whole fleet used (its colleagues have not reported it yet)
  const run = await runPipeline(store, [[upload('192.0.2.77', back + HOUR)]]);
  expect(run.finalized.examined).toBe(1);
  // one hour of data in its window: rarity alone must not fire
  expect(run.detections.map((d) => d.branch)).toEqual([]);
  expect(run.finalized.warming).toBe(1);
  await store.close();
}, 60_000);

it('after the gap, rarity fires again once the window has held baseline_maturity_days of data, and retention forgets the pilot days', async () => {
  const store = await afterPilot();
  await runPipeline(store, [dailyLines(hosts, 60, 67)]);
  const at = (t: number) => fixedClock(t);
  await rollup(store, { analytics: cfg, clock: at(back + 7 * DAY + 60) });
  // six and a half days of data in its window: still warming
  const early = await runPipeline(store, [[upload('192.0.2.77', back + 6 * DAY + 12 * HOUR)]]);
  expect(early.finalized).toMatchObject({ examined: 1, warming: 1 });
  expect(early.detections).toEqual([]);
  // seven days and more: the window's hour-old destination is rare, and fires
  const late = await runPipeline(store, [[upload('192.0.2.78', back + 7 * DAY + 2 * HOUR)]]);
  expect(late.finalized).toMatchObject({ examined: 1, warming: 0 });
  expect(late.detections.map((d) => [d.branch, d.baseline_warming, d.fleet.baseline_start])).toEqual([['rare_and_upload', false, back]]);
  // the pilot's days are before the prevalence data kept: retention forgets them, the days since the gap stay
  const r = await retention(store, { analytics: cfg, detectionsDays: 90, quarantineDays: 30, clock: at(back + 7 * DAY + 60) });
  expect(r.dataDays).toBe(11);
  expect(await store.clock.dataDaysFrom(0)).toEqual(Array.from({ length: 8 }, (_, d) => back / DAY + d));
  await store.close();
}, 60_000);
