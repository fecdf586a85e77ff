/**
 * Targeted fleet-stage scenarios through ingest → finalize: the rare threshold at 12 and 500 hosts,
 * the 30-day sliding window, an MDM roll-out that is not "previously unseen", baseline warming,
 * finalize_delay, suppression with later flows, and duplicate / counter-0 lines.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { rollup } from '../../fleet/rules/maintenance.js';
import { destinationPrevalence } from '../../fleet/api/prevalence.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { hookSlices } from '../helpers/rollup.js';
import type { Store } from '../../fleet/store/store.js';
import { DAY, HOUR, MiB, T0, appLine, candidateLine, destinationLine, hostsOf, memoryStore, runPipeline, statusLines } from './fleet-helpers.js';

/** AN1415 without precursor: fires only on a rare destination (rare_and_upload). */
/** A fleet of `n` hosts with its store and ingest service, and a time 10 days in (a mature baseline). */
async function matureFleet(n: number) {
  const store = await memoryStore();
  const analytics = defaultAnalyticsConfig();
  return { hosts: hostsOf(n), at: T0 + 10 * DAY, store, analytics, ingest: createIngestService({ store, analytics, quarantineFile: null }) };
}

function bigUpload(host: ReturnType<typeof hostsOf>[number], t: number, serverName: string, extra: Record<string, unknown> = {}) {
  return candidateLine({ analytic: 'AN1415', host, app: APPS.vscode, remote_address: '192.0.2.77', server_name: serverName, bytes_out: 30 * MiB, first_seen: t - 200, ...extra }, t);
}

describe('rare threshold = max(3, ⌈1% of active hosts⌉)', () => {
  it.each([
    [12, 3, true],
    [12, 4, false],
    [500, 5, true],
    [500, 6, false],
  ])('%i active hosts, destination on %i hosts → fires: %s', async (fleetSize, seenBy, fires) => {
    const hosts = hostsOf(fleetSize);
    const at = T0 + 10 * DAY;
    const lines = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
    // seenBy − 1 other hosts contacted it earlier; the candidate's host makes seenBy.
    for (let i = 1; i < seenBy; i++) lines.push(destinationLine(hosts[i]!, at - 2 * DAY, 'cdn.edge-thing.com'));
    lines.push(bigUpload(hosts[0]!, at, 'upload.edge-thing.com'));
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.finalized.examined).toBe(1);
    expect(run.detections.length).toBe(fires ? 1 : 0);
    if (fires) expect(run.detections[0]).toMatchObject({ branch: 'rare_and_upload', fleet: { destination_hosts: seenBy, active_hosts: fleetSize } });
    await store.close();
  }, 60_000);
});

describe('30-day sliding window', () => {
  it('forgets hosts seen more than 30 days before the flow', async () => {
    const hosts = hostsOf(12);
    const lines = [...statusLines(hosts, T0)];
    for (let i = 1; i < 11; i++) lines.push(destinationLine(hosts[i]!, T0 + HOUR, 'www.old-favourite.com'));
    lines.push(...statusLines(hosts, T0 + 19 * DAY), ...statusLines(hosts, T0 + 34 * DAY));
    // Day 20: ten hosts within 30 days → common → no detection. Day 35: all sightings expired → rare.
    lines.push(bigUpload(hosts[0]!, T0 + 20 * DAY, 'a.old-favourite.com', { flow_id: 'day20' }));
    lines.push(bigUpload(hosts[0]!, T0 + 35 * DAY, 'b.old-favourite.com', { flow_id: 'day35', remote_address: '192.0.2.78' }));
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.detections.map((d) => [d.flow.flow_id, d.fleet.destination_hosts])).toEqual([['day35', 1]]);

    // The hourly rollup drops the expired sightings for good (bounded state).
    const r = await rollup(store, { analytics: defaultAnalyticsConfig() });
    expect(r.newest).toBe(T0 + 35 * DAY);
    expect(r.activeHosts).toBe(12);
    const window = { from: 0, to: 4_000_000_000 };
    expect((await store.prevalence.destinationHosts('old-favourite.com', window, 100)).map((h) => h.hostId)).toEqual([hosts[0]!.uuid]);
    await store.close();
  }, 60_000);

  it('a destination compacted as common is rare again once only one host still uses it within 30 days', async () => {
    const hosts = hostsOf(40);
    const store = await memoryStore();
    // Day 0: all 40 hosts use it; the rollup compacts it as common.
    await runPipeline(store, [[...statusLines(hosts, T0), ...hosts.map((h) => destinationLine(h, T0 + 60, 'www.once-popular.com'))]]);
    expect((await rollup(store, { analytics: defaultAnalyticsConfig() })).compacted.destinations).toBe(1);
    // Only host 0 keeps using it (days 10, 20, 30); everyone stays active.
    const later: string[] = [];
    for (const d of [10, 20, 30]) later.push(...statusLines(hosts, T0 + d * DAY), destinationLine(hosts[0]!, T0 + d * DAY + 60, 'www.once-popular.com'));
    // Day 20: the window still holds day 0 → common → no detection. Day 35: host 0 alone → rare → fires.
    later.push(bigUpload(hosts[0]!, T0 + 20 * DAY + HOUR, 'up.once-popular.com', { flow_id: 'day20' }));
    later.push(...statusLines(hosts, T0 + 34 * DAY), bigUpload(hosts[0]!, T0 + 35 * DAY, 'up.once-popular.com', { flow_id: 'day35', remote_address: '192.0.2.78' }));
    const run = await runPipeline(store, [later]);
    expect(run.detections.map((d) => [d.flow.flow_id, d.fleet.destination_hosts, d.fleet.destination_saturated])).toEqual([['day35', 1, true]]);
    await store.close();
  }, 60_000);

  it('a destination compacted between a candidate and its finalization keeps the hosts that used it every day', async () => {
    // 9 of 12 hosts use cdn.slow-grow.com every day for 40 days (below the common threshold, 10); host 0 uploads
    // 30 MiB to it at day 39, 23:50 (AN1415 fires only on a rare destination); just after midnight a 10th host
    // makes it common, and the rollup compacts it before the upload is finalized (a backlog).
    const run = async (withRollup: boolean) => {
      const hosts = hostsOf(12);
      const lines: string[] = [];
      for (let d = 0; d < 40; d++) lines.push(...statusLines(hosts, T0 + d * DAY), ...hosts.slice(1, 10).map((h) => destinationLine(h, T0 + d * DAY + 12 * HOUR, 'cdn.slow-grow.com')));
      lines.push(bigUpload(hosts[0]!, T0 + 39 * DAY + 85_800, 'up.slow-grow.com'));
      lines.push(...hosts.slice(1, 11).map((h) => destinationLine(h, T0 + 40 * DAY + 600, 'cdn.slow-grow.com')));
      const store = await memoryStore();
      const analytics = defaultAnalyticsConfig();
      const ingest = createIngestService({ store, analytics, quarantineFile: null, clock: { now: () => new Date(), unix: () => 4_000_000_000, ms: () => Date.now() } });
      for (let i = 0; i < lines.length; i += 500) await ingest.ingestLines(lines.slice(i, i + 500), { kind: 'test', id: 'backlog' });
      const compacted = withRollup ? (await rollup(store, { analytics })).compacted.destinations : 0;
      const fin = await finalizePending(store, { analytics });
      const detections = await store.detections.list({ limit: 100 });
      await store.close();
      return { compacted, examined: fin.examined, detections: detections.length };
    };
    expect(await run(false)).toEqual({ compacted: 0, examined: 1, detections: 0 });
    expect(await run(true)).toEqual({ compacted: 1, examined: 1, detections: 0 });
  }, 60_000);

  it('compacts destinations that reached the common threshold into day sketches', async () => {
    const hosts = hostsOf(40);
    const lines = [...statusLines(hosts, T0), ...hosts.map((h) => destinationLine(h, T0 + 60, 'www.everyone.com'))];
    const store = await memoryStore();
    await runPipeline(store, [lines]);
    const r = await rollup(store, { analytics: defaultAnalyticsConfig() });
    expect(r.commonThreshold).toBe(10);
    expect(r.compacted.destinations).toBe(1);
    const stats = (await store.prevalence.destinations(['everyone.com'], { from: 0, to: 4_000_000_000 })).get('everyone.com')!;
    expect(stats).toMatchObject({ saturated: true, hosts: 40 });
    await store.close();
  }, 60_000);
});

describe('late candidates (a backlog delivered after the rollup expired its window)', () => {
  /** The rollup keeps sightings this much longer than the window: a pending candidate is judged as of its flow's start. */
  const KEPT_MARGIN = 2 * defaultAnalyticsConfig().finalize_delay + 3600;

  it('hold rarity verdicts whose window the store no longer keeps, and say so; candidates of the kept window still fire', async () => {
    const hosts = hostsOf(12);
    const store = await memoryStore();
    // Day 5: ten hosts use the destination. Everyone keeps reporting until day 45; host 0 was offline meanwhile.
    const fleet = [...statusLines(hosts, T0), ...hosts.slice(1, 11).map((h) => destinationLine(h, T0 + 5 * DAY, 'www.team-share.com'))];
    for (let d = 1; d <= 45; d++) fleet.push(...statusLines(hosts, T0 + d * DAY));
    await runPipeline(store, [fleet]);
    // The hourly rollup slides the window to days 15–45 (kept 2 × finalize_delay longer): the day-5 sightings are gone.
    expect((await rollup(store, { analytics: defaultAnalyticsConfig() })).expired.destinations).toBe(1);
    expect(await store.prevalence.keptFrom()).toBe(T0 + 15 * DAY - KEPT_MARGIN);

    // Host 0's backlog: an upload on day 8, when ten other hosts used the destination (common: no detection),
    // and a fresh upload to a destination nobody else uses (rare: fires).
    const run = await runPipeline(store, [
      [
        bigUpload(hosts[0]!, T0 + 8 * DAY, 'up.team-share.com', { flow_id: 'late' }),
        bigUpload(hosts[0]!, T0 + 45 * DAY + 60, 'up.nobody-else.com', { flow_id: 'fresh', remote_address: '192.0.2.78' }),
      ],
    ]);
    expect(run.finalized).toMatchObject({ examined: 2, warming: 1, late: 1 });
    expect(run.detections.map((d) => [d.flow.flow_id, d.branch, d.fleet.window_kept_from])).toEqual([['fresh', 'rare_and_upload', null]]);
    await store.close();
  }, 60_000);

  it('a backlog finalized while the first rollup compacts, with nothing to expire, is held as after the rollup, not judged on spans cut at the bound', async () => {
    const hosts = hostsOf(12);
    /** 11 hosts use the destination from day 5 to day 45: common, nothing older than the rollup keeps to expire. */
    const fleet: string[] = [];
    for (let d = 0; d <= 45; d++) fleet.push(...statusLines(hosts, T0 + d * DAY));
    for (const d of [5, 45]) fleet.push(...hosts.slice(1).map((h) => destinationLine(h, T0 + d * DAY, 'www.team-share.com')));
    // host 0's backlog: an upload on day 8, when 11 other hosts used the destination
    const backlog = [bigUpload(hosts[0]!, T0 + 8 * DAY, 'up.team-share.com', { flow_id: 'late' })];
    const outcome = (run: Awaited<ReturnType<typeof runPipeline>>) => ({ ...run.finalized, detections: run.detections.map((d) => [d.branch, d.fleet.destination_hosts]) });
    const sliced = async (store: Store, between?: () => Promise<void>) => {
      // one slice per key (11 host rows and the key): the destination's slice commits first
      const hooked = hookSlices(store, (_kind, _n, run) => run(), async (n) => (n === 2 ? between?.() : undefined));
      expect((await rollup(hooked.store, { analytics: defaultAnalyticsConfig(), sliceRows: 12 })).compacted.destinations).toBe(1);
    };

    // before the rollup: judged on the exact counts (common); after it: held for its cut window
    const before = await memoryStore();
    await runPipeline(before, [fleet]);
    expect(outcome(await runPipeline(before, [backlog]))).toMatchObject({ examined: 1, fired: 0, warming: 0, detections: [] });
    await before.close();
    const after = await memoryStore();
    await runPipeline(after, [fleet]);
    await sliced(after);
    expect(outcome(await runPipeline(after, [backlog]))).toMatchObject({ examined: 1, fired: 0, warming: 1, late: 1, detections: [] });
    await after.close();

    // between the destination's slice and the next transaction: as after, never rare on the one host left in its window
    const store = await memoryStore();
    await runPipeline(store, [fleet]);
    let between: Awaited<ReturnType<typeof runPipeline>> | undefined;
    await sliced(store, async () => {
      between = await runPipeline(store, [backlog]);
    });
    expect(outcome(between!)).toMatchObject({ examined: 1, fired: 0, warming: 1, late: 1, detections: [] });
    await store.close();
  }, 60_000);

  /** 12 hosts reporting on days 0–45, then the hourly rollup (30-day window: data kept from day 15). */
  async function storeAtDay45(extra: string[] = []): Promise<Store> {
    const hosts = hostsOf(12);
    const store = await memoryStore();
    const fleet: string[] = [];
    for (let d = 0; d <= 45; d++) fleet.push(...statusLines(hosts, T0 + d * DAY));
    await runPipeline(store, [[...fleet, ...extra]]);
    await rollup(store, { analytics: defaultAnalyticsConfig() });
    return store;
  }

  it('a source a few days behind is judged on the 25+ days of its window still kept, not held', async () => {
    const store = await storeAtDay45();
    expect(await store.prevalence.keptFrom()).toBe(T0 + 15 * DAY - KEPT_MARGIN);
    // day 40 and day 22 (7 days of its window kept): rare verdicts; day 21 (6 days kept): held
    const hosts = hostsOf(12);
    const run = await runPipeline(store, [
      [
        bigUpload(hosts[0]!, T0 + 40 * DAY, 'up.nobody-else.com', { flow_id: 'day40' }),
        bigUpload(hosts[1]!, T0 + 22 * DAY + HOUR, 'up.nobody-else.com', { flow_id: 'day22' }),
        bigUpload(hosts[2]!, T0 + 21 * DAY, 'up.nobody-else.com', { flow_id: 'day21' }),
      ],
    ]);
    expect(run.finalized.warming).toBe(1);
    expect(run.detections.map((d) => [d.flow.flow_id, d.branch]).sort()).toEqual([
      ['day22', 'rare_and_upload'],
      ['day40', 'rare_and_upload'],
    ]);
    await store.close();
  }, 60_000);

  it('one host with its clock a day ahead (ingest accepts it) does not make an hour-late candidate late', async () => {
    const hosts = hostsOf(12);
    const store = await storeAtDay45(statusLines([hosts[11]!], T0 + 45 * DAY + 23 * HOUR));
    const run = await runPipeline(store, [[bigUpload(hosts[0]!, T0 + 45 * DAY - 2 * HOUR, 'up.nobody-else.com')]]);
    expect(run.detections.map((d) => d.branch)).toEqual(['rare_and_upload']);
    await store.close();
  }, 60_000);

  it('live, a host whose clock runs ahead does not have everyone\'s candidates judged before their late lines (the wall clock bounds the present)', async () => {
    const cfg = defaultAnalyticsConfig();
    const hosts = hostsOf(12);
    const line = T0 + 45 * DAY + 600;
    // host 11 reports with its clock 20 h ahead; the upload's line arrives at its real time
    const store = await storeAtDay45(statusLines([hosts[11]!], line + 20 * HOUR));
    const ingest = createIngestService({ store, analytics: cfg, quarantineFile: null });
    await ingest.ingestLines([bigUpload(hosts[0]!, line, 'up.nobody-else.com')], { kind: 'test', id: 'live' });
    const wall = (unix: number) => ({ now: () => new Date(unix * 1000), unix: () => unix, ms: () => unix * 1000 });

    // 30 s after the line, lines dated up to finalize_delay before it may still arrive: nothing is judged yet
    const early = await finalizePending(store, { analytics: cfg, clock: wall(line + 30) });
    expect(early).toMatchObject({ cutoff: line + 30 - cfg.finalize_delay - 1, examined: 0 });
    // another host's line, dated before the upload started (its window's end) but delivered late, still counts
    await ingest.ingestLines([destinationLine(hosts[1]!, line - 130, 'up.nobody-else.com', APPS.vscode)], { kind: 'test', id: 'late' });
    const due = await finalizePending(store, { analytics: cfg, clock: wall(line + cfg.finalize_delay + 2) });
    expect(due.examined).toBe(1);
    const [d] = await store.detections.list();
    expect(d!.fleet.destination_hosts).toBe(2);
    // the rollup slides the window, and the prevalence API reads it, up to the present, not the skewed host's time
    expect((await rollup(store, { analytics: cfg, clock: wall(line + 200) })).newest).toBe(line + 200);
    expect((await destinationPrevalence(store, cfg, 'up.nobody-else.com', 0, line + 200)).window!.to).toBe(line + 200);
    // a replay's flush still takes everything up to the newest line, the skewed host's too
    expect((await finalizePending(store, { analytics: cfg, flush: true, clock: wall(line + 60) })).cutoff).toBe(line + 20 * HOUR);
    await store.close();
  }, 60_000);

  it('with a window no longer than the maturity, a candidate still pending at the hourly rollup is judged', async () => {
    // 7-day windows with the default 7-day maturity; the store is 20 days old
    const cfg = { ...defaultAnalyticsConfig(), prevalence_window_days: 7 };
    const hosts = hostsOf(12);
    const store = await memoryStore();
    const fleet: string[] = [];
    for (let d = 0; d < 20; d++) fleet.push(...statusLines(hosts, T0 + d * DAY));
    // the upload is still within finalize_delay of the newest line when the rollup runs
    fleet.push(bigUpload(hosts[0]!, T0 + 20 * DAY, 'up.nobody-else.com'), ...statusLines(hosts, T0 + 20 * DAY + 60));
    await runPipeline(store, [fleet], { analytics: cfg, flush: false });
    await rollup(store, { analytics: cfg });
    expect(await store.prevalence.keptFrom()).toBe(T0 + 13 * DAY + 60 - KEPT_MARGIN);
    // its window (before its flow started) starts after the bound: the rollup keeps 2 × finalize_delay more
    const run = await runPipeline(store, [statusLines(hosts, T0 + 20 * DAY + 600)], { analytics: cfg, flush: false });
    expect(run.finalized).toMatchObject({ warming: 0, late: 0 });
    expect(run.detections.map((d) => [d.branch, d.fleet.window_kept_from])).toEqual([['rare_and_upload', null]]);
    await store.close();
  }, 60_000);

  it('counts as late only holds a store as young as the candidate\'s data would not make (the fleet\'s first week replayed)', async () => {
    const hosts = hostsOf(12);
    const firstWeek: string[] = [];
    for (let d = 0; d <= 3; d++) firstWeek.push(...statusLines(hosts, T0 + d * DAY));
    firstWeek.push(bigUpload(hosts[0]!, T0 + 3 * DAY, 'up.nobody-else.com'));
    const young = await memoryStore();
    expect((await runPipeline(young, [firstWeek])).finalized).toMatchObject({ warming: 1, late: 0 });
    await young.close();
    // the same logs replayed into a store that holds days 0–45 and ran its rollup: held too, but not for being late
    const store = await storeAtDay45();
    expect((await runPipeline(store, [firstWeek])).finalized).toMatchObject({ warming: 1, late: 0 });
    await store.close();
  }, 60_000);

  it('raising prevalence_window_days does not hold live candidates', async () => {
    const store = await storeAtDay45();
    const cfg60 = { ...defaultAnalyticsConfig(), prevalence_window_days: 60 };
    await rollup(store, { analytics: cfg60 });
    const hosts = hostsOf(12);
    const run = await runPipeline(store, [[...statusLines(hosts, T0 + 45 * DAY + 30), bigUpload(hosts[0]!, T0 + 45 * DAY + 60, 'up.nobody-else.com')]], { analytics: cfg60 });
    expect(run.finalized).toMatchObject({ warming: 0, late: 0 });
    // its 60-day window is cut at the old 30-day bound: judged on the 30 days kept, and says so
    expect(run.detections.map((d) => [d.branch, d.fleet.window_kept_from])).toEqual([['rare_and_upload', T0 + 15 * DAY - KEPT_MARGIN]]);
    await store.close();
  }, 60_000);

  it('a late candidate that fires on a branch without rarity says its baseline was not usable', async () => {
    const hosts = hostsOf(12);
    const store = await memoryStore();
    const fleet = [...statusLines(hosts, T0)];
    for (let d = 1; d <= 45; d++) fleet.push(...statusLines(hosts, T0 + d * DAY));
    await runPipeline(store, [fleet]);
    await rollup(store, { analytics: defaultAnalyticsConfig() });
    // A long, large upload by an app that never uploads there (AN0082 fires while warming too, as above).
    const at = T0 + 8 * DAY;
    const late = candidateLine({ analytic: 'AN0082', host: hosts[1]!, app: APPS.syncAgent, remote_address: '192.0.2.5', server_name: 'relay.fresh-domain.org', bytes_out: 200 * MiB, bytes_in: MiB, duration: 5 * HOUR, first_seen: at - 5 * HOUR }, at);
    const run = await runPipeline(store, [[late]]);
    // baseline_start (day 0) is 8 days before it, but its baseline started at window_kept_from (day 15, less the margin)
    expect(run.detections.map((d) => [d.analytic, d.baseline_warming, d.fleet.baseline_start, d.fleet.window_kept_from])).toEqual([['AN0082', true, T0, T0 + 15 * DAY - KEPT_MARGIN]]);
    await store.close();
  }, 60_000);
});

describe('previously unseen applications (AN0032)', () => {
  const noReturn = (host: ReturnType<typeof hostsOf>[number], t: number) =>
    candidateLine({ analytic: 'AN0032', host, app: APPS.mdmAgent, remote_address: '192.0.2.90', server_name: 'inventory.example-mdm.com', bytes_out: 3 * MiB, bytes_in: 100, first_seen: t - 60 }, t);

  it('an MDM roll-out of a new app to most of the fleet on day 1 is not previously unseen', async () => {
    const hosts = hostsOf(40);
    const day1 = T0 + 10 * DAY;
    const lines = [...statusLines(hosts, T0), ...hosts.slice(0, 36).map((h, i) => appLine(h, day1 + 9 * HOUR + i * 30, APPS.mdmAgent))];
    lines.push(noReturn(hosts[3]!, day1 + 11 * HOUR), noReturn(hosts[7]!, day1 + 11 * HOUR + 5));
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.finalized.examined).toBe(2);
    expect(run.detections).toEqual([]);
    await store.close();
  }, 60_000);

  it('the same app on a single host is', async () => {
    const hosts = hostsOf(40);
    const day1 = T0 + 10 * DAY;
    const lines = [...statusLines(hosts, T0), appLine(hosts[3]!, day1 + 9 * HOUR, APPS.mdmAgent), noReturn(hosts[3]!, day1 + 11 * HOUR)];
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.detections.map((d) => [d.analytic, d.branch, d.process.identity])).toEqual([['AN0032', 'unseen_app', APPS.mdmAgent.identity]]);
    expect(run.detections[0]!.modifiers).toContain(`unseen:${APPS.mdmAgent.identity}`);
    await store.close();
  }, 60_000);
});

describe('baseline maturity', () => {
  it('holds rarity-only verdicts while warming, but AN0082 still fires (and says so)', async () => {
    const hosts = hostsOf(12);
    const at = T0 + 2 * DAY;
    const lines = [...statusLines(hosts, T0), bigUpload(hosts[0]!, at, 'x.fresh-domain.com')];
    lines.push(candidateLine({ analytic: 'AN0082', host: hosts[1]!, app: APPS.syncAgent, remote_address: '192.0.2.5', server_name: 'relay.fresh-domain.org', bytes_out: 200 * MiB, bytes_in: MiB, duration: 5 * HOUR, first_seen: at - 5 * HOUR }, at));
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.finalized.warming).toBe(1);
    expect(run.detections.map((d) => [d.analytic, d.baseline_warming])).toEqual([['AN0082', true]]);
    await store.close();
  }, 60_000);

  it('measures the baseline\'s age at the flow\'s start, not at its line: 7 days old by the line but not by the flow is still warming', async () => {
    const hosts = hostsOf(12);
    const line = T0 + 7 * DAY + 60;
    const judge = async (firstSeen: number) => {
      const store = await memoryStore();
      try {
        return await runPipeline(store, [[...statusLines(hosts, T0), bigUpload(hosts[0]!, line, 'x.fresh-domain.com', { first_seen: firstSeen })]]);
      } finally {
        await store.close();
      }
    };
    const young = await judge(T0 + 7 * DAY - 60);
    expect([young.finalized.warming, young.detections.length]).toEqual([1, 0]);
    const mature = await judge(T0 + 7 * DAY);
    expect([mature.finalized.warming, mature.detections.length]).toEqual([0, 1]);
    expect(mature.detections[0]).toMatchObject({ branch: 'rare_and_upload', baseline_warming: false, fleet: { baseline_start: T0 } });
  }, 60_000);
});

describe('finalize_delay and suppression', () => {
  it('finalizes only candidates finalize_delay older than the newest event time', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(12);
    await ingest.ingestLines([...statusLines(hosts, T0), bigUpload(hosts[0]!, at, 'x.lonely.com')], { kind: 'test', id: 'a' });
    expect((await finalizePending(store, { analytics })).examined).toBe(0);
    // strictly older: lines of the newest second may still arrive, and a candidate among them dates its sightings
    // finalize_delay back, into the window of one judged now
    await ingest.ingestLines(statusLines(hosts.slice(0, 1), at + 120), { kind: 'test', id: 'a' });
    expect((await finalizePending(store, { analytics })).examined).toBe(0);
    await ingest.ingestLines(statusLines(hosts.slice(0, 1), at + 121), { kind: 'test', id: 'a' });
    const r = await finalizePending(store, { analytics });
    expect([r.examined, r.created.length, r.cutoff]).toEqual([1, 1, at]);
    await store.close();
  }, 60_000);

  it('folds later flows of the same key into one detection per 24 h, and a later version of a flow updates bytes only', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(12);
    const src = { kind: 'test', id: 'a' };
    await ingest.ingestLines([...statusLines(hosts, T0), bigUpload(hosts[0]!, at, 'u.lonely.com', { flow_id: 'f1' })], src);
    let r = await finalizePending(store, { analytics, flush: true });
    expect(r.created).toHaveLength(1);
    const id = r.created[0]!.id;

    // Second flow 2 h later, and a grown version of f1: same detection, count 2, bytes replaced for f1.
    await ingest.ingestLines([bigUpload(hosts[0]!, at + 2 * HOUR, 'u.lonely.com', { flow_id: 'f2', bytes_out: 20 * MiB }), bigUpload(hosts[0]!, at + 2 * HOUR, 'u.lonely.com', { flow_id: 'f1', bytes_out: 40 * MiB })], src);
    r = await finalizePending(store, { analytics, flush: true });
    expect(r.created).toHaveLength(0);
    expect(r.updated.map((d) => d.id)).toEqual([id]);
    let det = (await store.detections.get(id))!;
    expect(det).toMatchObject({ count: 2, bytes_out_total: 60 * MiB, flow_ids: ['f1', 'f2'], updated_at: at + 2 * HOUR });

    // 25 h after the first: a new suppression window, a new detection.
    await ingest.ingestLines([bigUpload(hosts[0]!, at + 25 * HOUR, 'u.lonely.com', { flow_id: 'f3' })], src);
    r = await finalizePending(store, { analytics, flush: true });
    expect(r.created).toHaveLength(1);
    expect(r.created[0]!.id).not.toBe(id);
    det = (await store.detections.get(id))!;
    expect(det.count).toBe(2);
    // Another host or another destination is another key.
    await ingest.ingestLines([bigUpload(hosts[1]!, at + 25 * HOUR, 'u.lonely.com', { flow_id: 'f4' }), bigUpload(hosts[0]!, at + 25 * HOUR, 'v.other-lonely.com', { flow_id: 'f5' })], src);
    r = await finalizePending(store, { analytics, flush: true });
    expect(r.created).toHaveLength(2);
    await store.close();
  }, 60_000);
});

describe('evidence an analyst can check', () => {
  it('a folded detection keeps the evidence of the flow that set its score together (a lower-scoring later flow adds count and bytes only)', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(12);
    const src = { kind: 'test', id: 'a' };
    // AN1415 to a rare destination on a non-standard port (9443): scored +15 for it
    const f1 = candidateLine(
      { analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', remote_port: 9443, server_name: 'u.lonely.com', bytes_out: 30 * MiB, first_seen: at - 200, flow_id: 'f1', reasons: ['upload_shaped', 'non_browser', 'encrypted', 'non_standard_port'] },
      at,
    );
    await ingest.ingestLines([...statusLines(hosts, T0), f1], src);
    let r = await finalizePending(store, { analytics, flush: true });
    const id = r.created[0]!.id;
    const scored = (await store.detections.get(id))!;
    expect(scored.modifiers).toContain('+15:non_standard_port');
    // 2 h later, the same key on 443: a lower score
    const f2 = candidateLine(
      { analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', remote_port: 443, server_name: 'u.lonely.com', bytes_out: 20 * MiB, first_seen: at + 2 * HOUR - 200, flow_id: 'f2', reasons: ['upload_shaped', 'non_browser', 'encrypted'] },
      at + 2 * HOUR,
    );
    await ingest.ingestLines([f2], src);
    r = await finalizePending(store, { analytics, flush: true });
    expect(r.updated.map((d) => d.id)).toEqual([id]);
    const det = (await store.detections.get(id))!;
    // every modifier can be checked against the flow beside it: still f1's flow, reasons and fleet facts
    expect({ flow: det.flow.flow_id, port: det.flow.remote_port, reasons: det.reasons, modifiers: det.modifiers, fleet: det.fleet, score: det.score }).toEqual({
      flow: 'f1',
      port: 9443,
      reasons: scored.reasons,
      modifiers: scored.modifiers,
      fleet: scored.fleet,
      score: scored.score,
    });
    // what spans the flows moves on
    expect(det).toMatchObject({ count: 2, bytes_out_total: 50 * MiB, flow_ids: ['f1', 'f2'] });
    expect(det.last_seen).toBeGreaterThan(scored.last_seen);
    await store.close();
  }, 60_000);

  it('a later, higher-scoring flow brings its whole unit; a newer version of the scoring flow at an equal score replaces it', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(12);
    const line = (flow_id: string, t: number, port: number, bytes = 30 * MiB) =>
      candidateLine(
        { analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', remote_port: port, server_name: 'u.lonely.com', bytes_out: bytes, first_seen: at - 200, flow_id, reasons: ['upload_shaped', 'non_browser', 'encrypted', ...(port === 443 ? [] : ['non_standard_port'])] },
        t,
      );
    await ingest.ingestLines([...statusLines(hosts, T0), line('f1', at, 443)], { kind: 'test', id: 'a' });
    const first = (await finalizePending(store, { analytics, flush: true })).created[0]!;
    await ingest.ingestLines([line('f2', at + HOUR, 9443)], { kind: 'test', id: 'a' });
    await finalizePending(store, { analytics, flush: true });
    let det = (await store.detections.get(first.id))!;
    expect(det.score).toBeGreaterThan(first.score);
    expect({ flow: det.flow.flow_id, port: det.flow.remote_port }).toEqual({ flow: 'f2', port: 9443 });
    expect(det.reasons).toContain('non_standard_port');
    expect(det.modifiers).toContain('+15:non_standard_port');
    // f2 grows: same score, the newer version of the scoring flow is shown
    await ingest.ingestLines([line('f2', at + HOUR + 600, 9443, 40 * MiB)], { kind: 'test', id: 'a' });
    await finalizePending(store, { analytics, flush: true });
    det = (await store.detections.get(first.id))!;
    expect([det.flow.flow_id, det.flow.bytes_out, det.bytes_out_total]).toEqual(['f2', 40 * MiB, 70 * MiB]);
    await store.close();
  }, 60_000);

  it('fleet counts name the destination\'s hosts and the (app, destination) pair\'s upload hosts apart', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(12);
    // another host browsed the destination, and another host's VS Code uploaded there: 3 hosts (still rare), 2 uploading
    const lines = [...statusLines(hosts, T0), destinationLine(hosts[1]!, at - DAY, 'u.lonely.com')];
    lines.push(destinationLine(hosts[2]!, at - DAY, 'u.lonely.com', APPS.vscode, 5, { out: 5 * MiB, in: 1000 }));
    lines.push(bigUpload(hosts[0]!, at, 'u.lonely.com'));
    await ingest.ingestLines(lines, { kind: 'test', id: 'a' });
    const [det] = (await finalizePending(store, { analytics, flush: true })).created;
    expect(det!.fleet).toMatchObject({ destination_hosts: 3, pair_upload_hosts: 2 });
    await store.close();
  }, 60_000);

  it('a later flow of another flow id at an equal score adds count and bytes, and leaves the first flow\'s unit in place', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(12);
    const line = (flow_id: string, t: number, bytes: number) =>
      candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'u.lonely.com', bytes_out: bytes, first_seen: t - 200, flow_id, reasons: ['upload_shaped', 'non_browser', 'encrypted'] }, t);
    await ingest.ingestLines([...statusLines(hosts, T0), line('f1', at, 30 * MiB)], { kind: 'test', id: 'a' });
    const first = (await finalizePending(store, { analytics, flush: true })).created[0]!;
    await ingest.ingestLines([line('f2', at + HOUR, 20 * MiB)], { kind: 'test', id: 'a' });
    await finalizePending(store, { analytics, flush: true });
    const det = (await store.detections.get(first.id))!;
    expect(det.score).toBe(first.score);
    expect({ flow: det.flow.flow_id, bytes: det.flow.bytes_out, first_seen: det.flow.first_seen }).toEqual({ flow: 'f1', bytes: 30 * MiB, first_seen: at - 200 });
    expect(det).toMatchObject({ count: 2, bytes_out_total: 50 * MiB, flow_ids: ['f1', 'f2'], last_seen: first.last_seen + HOUR });
    await store.close();
  }, 60_000);

  it('host counts in a detection are the real ones, not the verdict\'s count capped at the common threshold', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(40);
    // VS Code runs on all 40 hosts; one of them uploads 30 MiB to a rare destination. Every host also talks to a
    // shared relay, where one host's sync agent then makes a long upload (AN0082: a common destination)
    const lines = [...statusLines(hosts, T0), ...hosts.map((h) => appLine(h, T0 + HOUR, APPS.vscode)), ...hosts.map((h) => destinationLine(h, T0 + 2 * HOUR, 'relay.shared-corp.com'))];
    lines.push(
      candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'u.lonely.com', bytes_out: 30 * MiB, first_seen: at - 200, flow_id: 'f1', reasons: ['upload_shaped', 'non_browser', 'encrypted'] }, at),
      candidateLine({ analytic: 'AN0082', host: hosts[1]!, app: APPS.syncAgent, remote_address: '192.0.2.5', server_name: 'relay.shared-corp.com', bytes_out: 200 * MiB, bytes_in: MiB, duration: 5 * HOUR, first_seen: at - 5 * HOUR, flow_id: 'f2' }, at),
    );
    await ingest.ingestLines(lines, { kind: 'test', id: 'a' });
    const r = await finalizePending(store, { analytics, flush: true });
    const window = { from: at - 30 * DAY, to: at + DAY };
    const an1415 = r.created.find((d) => d.analytic === 'AN1415')!;
    expect((await store.prevalence.apps([APPS.vscode.identity], window)).get(APPS.vscode.identity)!.hosts).toBe(40);
    expect(an1415.fleet.common_threshold).toBeLessThan(40);
    expect([an1415.fleet.app_hosts, an1415.process.hosts]).toEqual([40, 40]);
    const an0082 = r.created.find((d) => d.analytic === 'AN0082')!;
    expect((await store.prevalence.destinations([an0082.destination_key], window)).get(an0082.destination_key)!.hosts).toBe(40);
    expect(an0082.fleet.destination_hosts).toBe(40);
    await store.close();
  }, 60_000);
});

describe('a campaign: each host is judged on the fleet as it was when its flow started', () => {
  const KEYCHAIN = '/Users/a/Library/Keychains/login.keychain-db';
  /** The stealer on one host: the unsigned dropper reads the keychain, its child curl uploads 5 MiB to a new IP. */
  const stealer = (host: ReturnType<typeof hostsOf>[number], at: number) =>
    (['AN0990', 'AN1415', 'AN0032'] as const).map((analytic) =>
      candidateLine(
        {
          analytic,
          host,
          app: APPS.curl,
          pid: 4200,
          root: { pid: 4100, path: APPS.dropper.path, identity: APPS.dropper.identity, signature_class: APPS.dropper.signature_class },
          root_kind: 'launchd_job',
          remote_address: '192.0.2.68',
          server_name: '',
          bytes_out: 5 * MiB,
          bytes_in: 6000,
          first_seen: at - 100,
          precursor: { kind: 'sensitive_access', time: at - 160, path: KEYCHAIN, category: 'keychain', tier: 1, pid: 4100 },
          reasons: ['tier1_precursor', 'precursor_close', 'upload_shaped', 'no_return', 'non_browser', 'encrypted'],
        },
        at,
      ),
    );

  // Before, windows ended after the flow (event time + finalize_delay): the wave's own sightings made its
  // destination non-rare, its upload pair normal and its dropper "seen", and no host fired at all.
  it.each([
    [12, 4, 3],
    [500, 6, 5],
  ])('%i hosts, %i hit 5 s apart: the first %i (up to the rare threshold) fire every analytic', async (fleetSize, hit, fire) => {
    const hosts = hostsOf(fleetSize);
    const at = T0 + 10 * DAY;
    const lines = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
    for (let i = 0; i < hit; i++) lines.push(...stealer(hosts[i]!, at + i * 5));
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.finalized.examined).toBe(3 * hit);
    const byHost = (analytic: string) => run.detections.filter((d) => d.analytic === analytic).map((d) => d.host_id).sort();
    const first = hosts.slice(0, fire).map((h) => h.uuid).sort();
    expect([byHost('AN0990'), byHost('AN1415'), byHost('AN0032')]).toEqual([first, first, first]);
    // each counts the hosts hit before it and itself
    expect(run.detections.filter((d) => d.analytic === 'AN0990').map((d) => d.fleet.destination_hosts).sort()).toEqual(Array.from({ length: fire }, (_, i) => i + 1));
    await store.close();
  }, 60_000);
});

describe('roll-outs and replays, with windows that end when the flow started', () => {

  // (second review, R2) A new MDM agent pushed within two minutes: each agent uploads its inventory (AN0032: no
  // return) 10 s after install, its line 60 s after; outflow_apps reports it 5 min after. Counted as of each flow's
  // start, its first hosts would be "previously unseen"; the fleet adopted it at scale within the look-ahead window.
  it.each([
    [40, 36],
    [500, 450],
  ])('an MDM push to %i hosts (%i pushed within 2 minutes) fires on no host', async (fleet, pushed) => {
    const hosts = hostsOf(fleet);
    const day1 = T0 + 10 * DAY;
    const lines = [...statusLines(hosts, T0), ...statusLines(hosts, day1)];
    for (let i = 0; i < pushed; i++) {
      const install = day1 + 9 * HOUR + Math.floor((i * 108) / pushed);
      lines.push(appLine(hosts[i]!, install + 300, APPS.mdmAgent));
      lines.push(candidateLine({ analytic: 'AN0032', host: hosts[i]!, app: APPS.mdmAgent, remote_address: '192.0.2.90', server_name: 'inventory.example-mdm.com', bytes_out: 3 * MiB, bytes_in: 100, first_seen: install + 10, duration: 50 }, install + 60));
    }
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.finalized.examined).toBe(pushed);
    expect(run.detections.map((d) => [d.host_id, d.branch])).toEqual([]);
    await store.close();
  }, 60_000);

  // (third review) The roll-out window ends at the line: hosts that contact the destination after live finalization
  // judged the candidate (later lines, or a later candidate dated back finalize_delay) count in a replay no more than
  // live; and other apps merely contacting the destination are no roll-out of this upload.
  describe('the roll-out window', () => {
    const upload = (host: ReturnType<typeof hostsOf>[number], at: number) =>
      candidateLine({ analytic: 'AN1415', host, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.gap-rollout.com', bytes_out: 30 * MiB, first_seen: at - 30, duration: 30 }, at);

    it.each([
      ['10 hosts report uploads there by the same app 3-6 min later (a window rounded up to 5 min would have reached them)', (h: ReturnType<typeof hostsOf>[number], i: number, at: number) =>
        destinationLine(h, at + 200 + 20 * i, 'cdn.gap-rollout.com', APPS.vscode, 5, { out: 30 * MiB, in: 1000 })],
      ['10 later candidates started 60 s after it, reported at +230 s (dated back 120 s: +110 s)', (h: ReturnType<typeof hostsOf>[number], i: number, at: number) =>
        candidateLine({ analytic: 'AN1415', host: h, app: APPS.vscode, remote_address: '192.0.2.78', server_name: 'x.gap-rollout.com', bytes_out: 30 * MiB, first_seen: at + 60, duration: 50, flow_id: `late-${i}` }, at + 230)],
    ])('live and replay agree: %s', async (_, later) => {
      const hosts = hostsOf(40);
      const at = T0 + 10 * DAY + 9 * HOUR + 181; // (at + 120) % 300 === 1
      const early = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR), upload(hosts[0]!, at), ...statusLines(hosts.slice(20), at + 120)];
      const late = hosts.slice(1, 11).map((h, i) => later(h, i, at));
      const { live, replay } = await liveAndReplay([early, late], hosts[0]!);
      expect(live).toHaveLength(1);
      expect(replay).toEqual(live);
    }, 60_000);

    it('an upload at a 100-host fleet is not hidden by 9 other hosts contacting the destination with another app a minute later', async () => {
      const hosts = hostsOf(100);
      const at = T0 + 10 * DAY + 9 * HOUR;
      const lines = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
      lines.push(candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.attacker-drop.com', bytes_out: 30 * MiB, first_seen: at - 130, duration: 30 }, at));
      // e.g. a phishing mail's images loaded by 9 colleagues' browsers, before the line
      for (let i = 1; i < 10; i++) lines.push(destinationLine(hosts[i]!, at - 60 + i, 'img.attacker-drop.com'));
      const store = await memoryStore();
      const run = await runPipeline(store, [lines]);
      await store.close();
      expect(run.detections.map((d) => [d.host_id, d.fleet.destination_hosts])).toEqual([[hosts[0]!.uuid, 1]]);
    }, 60_000);
  });

  // (second review, R3) Hosts 1-3 upload to the destination from 08:50, reported at 12:00. Live, host 0 (09:00) is
  // judged at ~09:03, before those lines exist. A replay must not count them either: a candidate's sightings are
  // dated back at most finalize_delay.
  it('a host judged live before later reports of earlier flows fires in a replay too', async () => {
    const hosts = hostsOf(12);
    const at = T0 + 10 * DAY + 9 * HOUR;
    const early = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
    early.push(candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.newthing.io', bytes_out: 30 * MiB, first_seen: at, duration: 60 }, at + 60));
    early.push(...statusLines(hosts, at + 300));
    const late = hosts.slice(1, 4).map((h) =>
      candidateLine({ analytic: 'AN0082', host: h, app: APPS.syncAgent, remote_address: '192.0.2.78', server_name: 'up.newthing.io', bytes_out: 10 * MiB, first_seen: at - 600, duration: 3 * HOUR + 600 }, at + 3 * HOUR),
    );
    late.push(...statusLines(hosts, at + 3 * HOUR + 300));
    const { live, replay } = await liveAndReplay([early, late], hosts[0]!);
    expect(live).toHaveLength(1);
    expect(replay).toEqual(live);
  }, 60_000);
});

describe("first seen: a candidate dates its destination and apps from its flow's start, at most finalize_delay back", () => {
  it.each([
    ['a minute before its line', 60, 60],
    ['10 minutes before its line: finalize_delay (120 s) back at most, so replay counts what live finalization did', 600, 120],
    ['after its line (a bad host clock): the line', -50, 0],
  ])('flow started %s', async (_, startedBefore, datedBefore) => {
    const { hosts, at, store } = await matureFleet(12);
    const lines = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
    // Nothing else reports the app or the destination: the candidate is their first sighting.
    lines.push(bigUpload(hosts[0]!, at, 'upload.brand-new.net', { first_seen: at - startedBefore }));
    const run = await runPipeline(store, [lines]);
    expect(run.detections).toHaveLength(1);
    const d = run.detections[0]!;
    expect([d.fleet.destination_first_seen, d.fleet.app_first_seen, d.process_chain[0]!.first_seen]).toEqual([at - datedBefore, at - datedBefore, at - datedBefore]);
    // the last sighting is still the line's time
    const window = { from: at - 30 * DAY, to: at };
    expect((await store.prevalence.destinations([d.destination_key], window)).get(d.destination_key)).toMatchObject({ firstSeen: at - datedBefore, lastSeen: at });
    await store.close();
  }, 60_000);
});

describe('prevalence windows shared by candidates of two hours', () => {
  it('count up to the larger common threshold: a candidate after a fleet grew is not judged on the previous hour\'s cap', async () => {
    const { hosts, store, analytics, ingest } = await matureFleet(100);
    const joined = hostsOf(50, 'J');
    // an hour boundary: 100 hosts active in the hours before it, 150 counted for the hour after it (50 joined 10 s
    // before it; active hosts are counted up to the start of a candidate's hour); common threshold 10, then 15
    const hour = T0 + 10 * DAY;
    const lines = [...statusLines(hosts, T0), ...hosts.slice(0, 20).map((h) => destinationLine(h, T0 + 2 * HOUR, 'relay.shared-corp.com')), ...statusLines(joined, hour - 10)];
    const upload = (host: number, t: number, serverName: string, flow_id: string) =>
      candidateLine({ analytic: 'AN0082', host: hosts[host]!, app: APPS.syncAgent, remote_address: '192.0.2.5', server_name: serverName, bytes_out: 200 * MiB, bytes_in: MiB, duration: 5 * HOUR, first_seen: t - 5 * HOUR, flow_id }, t);
    // both windows end at hour + 300: one group, whose first candidate is of the hour before
    lines.push(upload(50, hour - 90, 'elsewhere.example.org', 'before'), upload(51, hour + 30, 'relay.shared-corp.com', 'after'));
    await ingest.ingestLines(lines, { kind: 'test', id: 'a' });
    const r = await finalizePending(store, { analytics, flush: true });
    const after = r.created.find((d) => d.flow.flow_id === 'after')!;
    expect([after.fleet.active_hosts, after.fleet.common_threshold, after.fleet.destination_hosts]).toEqual([150, 15, 21]); // 20 + its own host
    // 21 hosts of 150 is common: counted only to the first candidate's threshold (10), it read as "not common"
    expect(after.modifiers).toContain('-15:common_or_established_destination');
    await store.close();
  }, 60_000);
});

describe('ingest racing finalization', () => {
  it('a newer version of a flow ingested between the read and the commit stays pending, then adds only its bytes', async () => {
    const { hosts, at, store, analytics, ingest } = await matureFleet(12);
    const src = { kind: 'test', id: 'a' };
    await ingest.ingestLines([...statusLines(hosts, T0), bigUpload(hosts[0]!, at, 'r.lonely.com', { flow_id: 'f1' })], src);

    // The first read of pending candidates lets a grown version of f1 in before finalization commits.
    let raced = 0;
    const candidates: Store['candidates'] = {
      upsertPending: (rows) => store.candidates.upsertPending(rows),
      countPending: () => store.candidates.countPending(),
      markFinalized: (outcomes) => store.candidates.markFinalized(outcomes),
      expire: (before) => store.candidates.expire(before),
      pendingUpTo: async (cutoff, limit) => {
        const rows = await store.candidates.pendingUpTo(cutoff, limit);
        if (raced++ === 0) await ingest.ingestLines([bigUpload(hosts[0]!, at + 60, 'r.lonely.com', { flow_id: 'f1', bytes_out: 40 * MiB })], src);
        return rows;
      },
    };
    const racing = new Proxy(store, {
      get: (target, prop) => {
        if (prop === 'candidates') return candidates;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });

    let r = await finalizePending(racing, { analytics, flush: true });
    expect(raced).toBe(1);
    expect([r.examined, r.created.length]).toEqual([1, 1]);
    const id = r.created[0]!.id;
    expect((await store.detections.get(id))!.bytes_out_total).toBe(30 * MiB);
    // the 40 MiB version was never judged: still pending
    expect(await store.candidates.countPending()).toBe(1);

    r = await finalizePending(store, { analytics, flush: true });
    expect([r.examined, r.created.length, r.updated.map((d) => d.id)]).toEqual([1, 0, [id]]);
    expect(await store.detections.get(id)).toMatchObject({ count: 1, bytes_out_total: 40 * MiB, flow_ids: ['f1'] });
    expect(await store.candidates.countPending()).toBe(0);
    await store.close();
  }, 60_000);
});

describe('duplicates and counter-0 lines', () => {
  it('a duplicate line is skipped and a counter-0 candidate never becomes pending', async () => {
    const hosts = hostsOf(12);
    const at = T0 + 10 * DAY;
    const line = bigUpload(hosts[0]!, at, 'dup.lonely.com');
    const store = await memoryStore();
    const analytics = defaultAnalyticsConfig();
    const ingest = createIngestService({ store, analytics, quarantineFile: null });
    await ingest.ingestLines(statusLines(hosts, T0), { kind: 'test', id: 'a' });
    const a = await ingest.ingestLines([line, line], { kind: 'test', id: 'a' });
    expect(a).toMatchObject({ accepted: 1, duplicates: 1, candidates: 1 });
    const b = await ingest.ingestLines([line], { kind: 'test', id: 'b' });
    expect(b).toMatchObject({ accepted: 0, duplicates: 1, candidates: 0 });
    // Finalized, then re-delivered (at-least-once): it must not become pending again.
    await finalizePending(store, { analytics, flush: true });
    expect(await store.candidates.countPending()).toBe(0);
    expect(await ingest.ingestLines([line], { kind: 'test', id: 'c' })).toMatchObject({ accepted: 0, duplicates: 1, candidates: 0 });
    expect(await store.candidates.countPending()).toBe(0);
    const zero = await ingest.ingestLines([line.replace('"counter":7', '"counter":0').replace(`"unixTime":${at}`, `"unixTime":${at + 60}`)], { kind: 'test', id: 'a' });
    expect(zero).toMatchObject({ accepted: 1, baseline: 1, candidates: 0 });
    expect(await store.candidates.countPending()).toBe(0);
    await store.close();
  }, 60_000);
});

describe('evidence the endpoint alone knows (egress_candidates columns beyond SPEC §2)', () => {
  const hosts = hostsOf(12);
  const at = T0 + 10 * DAY;
  const base = () => [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];

  it('names the archive step even when a keychain read is the reported precursor', async () => {
    const lines = base();
    lines.push(
      candidateLine(
        {
          analytic: 'AN0990',
          host: hosts[0]!,
          app: APPS.curl,
          remote_address: '192.0.2.90',
          server_name: '',
          bytes_out: 4 * MiB,
          first_seen: at - 100,
          precursor: { kind: 'sensitive_access', time: at - 400, path: '/Users/a/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1, pid: 4100 },
          archive: { time: at - 130, path: '/private/tmp/loot.zip', tool: 'ditto', pid: 4150 },
          reasons: ['tier1_precursor', 'archive_precursor', 'staging_path', 'precursor_close', 'upload_shaped', 'non_browser', 'encrypted'],
        },
        at,
      ),
    );
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.detections).toHaveLength(1);
    expect(run.detections[0]!.precursors).toEqual([
      expect.objectContaining({ kind: 'sensitive_access', gap: 300, archive_output: '' }),
      { kind: 'archive', time: at - 130, path: '/private/tmp/loot.zip', category: 'archive:ditto', tier: 0, pid: 4150, gap: 30, archive_output: '/private/tmp/loot.zip' },
    ]);
    await store.close();
  });

  it.each([
    // a LaunchAgent running a shell script: a shell path, but the lineage says launchd job
    ['launchd_job', '/bin/bash', true],
    // a tool whose parent was never seen: outside any app bundle, but not a launchd job
    ['top', '/usr/bin/python3', false],
  ] as const)('background launchd job from the lineage (group_root_kind %s, root %s): +15 %s', async (kind, rootPath, launchd) => {
    const lines = base();
    lines.push(
      candidateLine(
        {
          analytic: 'AN0082',
          host: hosts[1]!,
          app: APPS.syncAgent,
          root: { pid: 4000, path: rootPath, identity: `cdhash:${kind}`, signature_class: 'apple_platform' },
          root_kind: kind,
          remote_address: '192.0.2.5',
          server_name: 'relay.fresh-domain.org',
          bytes_out: 200 * MiB,
          bytes_in: MiB,
          duration: 5 * HOUR,
          first_seen: at - 5 * HOUR,
        },
        at,
      ),
    );
    const store = await memoryStore();
    const run = await runPipeline(store, [lines]);
    expect(run.detections).toHaveLength(1);
    expect(run.detections[0]!.group_root.launchd_job).toBe(launchd);
    expect(run.detections[0]!.modifiers.includes('+15:background_launchd_job')).toBe(launchd);
    await store.close();
  });
});

/** Edge cases of live finalization (ingest in unixTime order, finalize whenever due) against a replay of the same lines. */
const edgeClock = { now: () => new Date(), unix: () => 4_000_000_000, ms: () => Date.now() };
type Host = ReturnType<typeof hostsOf>[number];
const upload = (host: Host, at: number, serverName: string, firstSeen = at - 200, flowId = 'f-0') =>
  candidateLine({ analytic: 'AN1415', host, app: APPS.vscode, remote_address: '192.0.2.77', server_name: serverName, bytes_out: 30 * MiB, first_seen: firstSeen, duration: 30, flow_id: flowId }, at);

/**
 * Live: each step ingests its lines in order, then finalizes (not flushing), or runs the hourly rollup; a final
 * flush. Replay: every line into a new store, finalized once. Returns the hosts of AN1415 detections of `host`.
 */
type LiveStep = string[] | { ingestOnly: string[] } | 'rollup';
const linesOf = (s: LiveStep): string[] => (s === 'rollup' ? [] : Array.isArray(s) ? s : s.ingestOnly);

async function liveAndReplay(steps: LiveStep[], host: Host) {
  const analytics = defaultAnalyticsConfig();
  const liveStore = await memoryStore();
  const ingest = createIngestService({ store: liveStore, analytics, quarantineFile: null, clock: edgeClock });
  for (const [i, s] of steps.entries()) {
    if (s === 'rollup') await rollup(liveStore, { analytics });
    else {
      await ingest.ingestLines(linesOf(s), { kind: 'test', id: `step-${i}` });
      if (Array.isArray(s)) await finalizePending(liveStore, { analytics });
    }
  }
  await finalizePending(liveStore, { analytics, flush: true });
  const pick = (ds: { analytic: string; host_id: string; fleet: { destination_hosts: number; active_hosts: number } }[]) =>
    ds.filter((d) => d.analytic === 'AN1415' && d.host_id === host.uuid).map((d) => [d.fleet.destination_hosts, d.fleet.active_hosts]);
  const live = pick(await liveStore.detections.list({ limit: 100 }));
  await liveStore.close();
  const replayStore = await memoryStore();
  const replay = pick((await runPipeline(replayStore, [steps.flatMap(linesOf)])).detections);
  await replayStore.close();
  return { live, replay };
}

describe('replay = live at the edges (final review)', () => {
  it('F1 active hosts: a Mac enrolling later in the candidate\'s hour raises the rare threshold in a replay only', async () => {
    const hosts = hostsOf(300); // rare threshold 3 at 300 active hosts, 4 at 301
    const at = T0 + 10 * DAY + 9 * HOUR + 600;
    const early = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
    for (let i = 1; i <= 3; i++) early.push(destinationLine(hosts[i]!, at - 2 * DAY, 'cdn.edge300.com'));
    early.push(upload(hosts[0]!, at, 'up.edge300.com'));
    early.push(...statusLines(hosts.slice(100), at + 120)); // live finalization runs here: 4 hosts of 300 → not rare
    const late = statusLines(hostsOf(1, 'N'), at + 1200); // a new Mac, 20 minutes later, same hour
    const { live, replay } = await liveAndReplay([early, late], hosts[0]!);
    expect(live).toEqual([]);
    expect(replay).toEqual(live); // active hosts were counted to the end of the candidate's hour: the replay saw 301
  }, 60_000);

  it('F1b active hosts: the rollup expires hosts (no margin) that the window of a candidate late in its hour still counts', async () => {
    const hosts = hostsOf(300);
    const at = T0 + 40 * DAY + 9 * HOUR + 3500; // its active-host window ends at the end of its hour, at + 99
    const early = [...statusLines(hosts, T0), ...statusLines(hosts, T0 + 20 * DAY), ...statusLines(hosts, at - HOUR)];
    early.push(...statusLines(hostsOf(1, 'X'), at + 99 - 30 * DAY + 30)); // a 301st Mac, last seen just inside that window
    for (let i = 1; i <= 3; i++) early.push(destinationLine(hosts[i]!, at - 2 * DAY, 'cdn.edge301.com'));
    early.push(upload(hosts[0]!, at, 'up.edge301.com'));
    const a = [...early, ...statusLines(hosts.slice(100, 110), at + 100)]; // finalize: not due yet
    const b = statusLines(hosts.slice(110, 120), at + 180); // then the hourly rollup (hosts.expire(at + 180 − 30 d)), then finalize
    const { live, replay } = await liveAndReplay([a, { ingestOnly: b }, 'rollup', []], hosts[0]!);
    // the rollup expired hosts without a margin: live lost the 301st Mac the replay counted
    expect(replay).toEqual(live);
  }, 60_000);

  it('F3 rollup: a finalizable candidate still pending at the hourly rollup loses hosts the replay counts', async () => {
    const hosts = hostsOf(12);
    const at = T0 + 40 * DAY + 9 * HOUR;
    const lines = [...statusLines(hosts, T0), ...statusLines(hosts, T0 + 20 * DAY), ...statusLines(hosts, at - HOUR)];
    // window of the candidate: [at − 120 − 30 d, at − 120] (its flow started 600 s before the line: clamped)
    for (let i = 1; i <= 3; i++) lines.push(destinationLine(hosts[i]!, at - 30 * DAY - 100, 'cdn.slice-cut.com'));
    lines.push(upload(hosts[0]!, at, 'up.slice-cut.com', at - 600));
    const a = [...lines, ...statusLines(hosts.slice(4, 8), at + 100)]; // finalize runs: not due yet (cutoff at − 20)
    const b = statusLines(hosts.slice(8), at + 180); // the next minute's lines; the hourly rollup runs before finalize
    const { live, replay } = await liveAndReplay([a, { ingestOnly: b }, 'rollup', []], hosts[0]!);
    expect(replay).toEqual([]); // 4 hosts in the window: not rare
    expect(live).toEqual(replay); // the rollup keeps an hour more, so a due candidate it runs before keeps hosts 1-3
  }, 60_000);

  it('F4 same second: a line dated `newest` that arrives after a finalization run counts in a replay only', async () => {
    const hosts = hostsOf(12);
    const at = T0 + 10 * DAY + 9 * HOUR;
    const early = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
    early.push(upload(hosts[0]!, at, 'up.same-second.com', at)); // its flow started at its line: window ends at `at`
    early.push(...statusLines(hosts.slice(4), at + 120)); // newest = at + 120 → live finalizes it
    // three more lines of that same second (unixTime order kept), candidates whose flows started earlier: dated back to `at`
    const late = hosts.slice(1, 4).map((h, i) => upload(h, at + 120, 'x.same-second.com', at - 500, `late-${i}`));
    const { live, replay } = await liveAndReplay([early, late], hosts[0]!);
    // judged only strictly before newest − finalize_delay: the same second's later lines are in first
    expect(replay).toEqual(live);
  }, 60_000);
});
