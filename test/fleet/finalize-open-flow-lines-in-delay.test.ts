/**
 * finalize_delay is how late a line may arrive and still be counted as live finalization counts it: a candidate is
 * judged once the present is finalize_delay past its line, so its windows (as of its flow's start, and the roll-out
 * window ending at its line) hold every line a replay holds (SPEC §5 Event time: a replay gives the same detections
 * as live operation). A flow reported twice while open is due at its first report; the version judged then is its
 * newest, whose line can be younger than finalize_delay.
 */
import { expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, MiB, T0, candidateLine, destinationLine, hostsOf, memoryStore, runPipeline, statusLines } from './fleet-helpers.js';

const wall = { now: () => new Date(4_000_000_000_000), unix: () => 4_000_000_000, ms: () => 4_000_000_000_000 };

it('an open flow reported at t and t + 60 s: lines dated before its newest report, arriving within finalize_delay, count live as in a replay', async () => {
  const analytics = defaultAnalyticsConfig();
  expect(analytics.finalize_delay).toBe(120);
  const hosts = hostsOf(40);
  const at = T0 + 10 * DAY + 9 * HOUR + 181;
  const version = (t: number, bytesOut: number) =>
    candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.open-rollout.com', bytes_out: bytesOut, first_seen: at - 30, duration: t - at + 30, flow_id: 'open-1' }, t);
  // first report at `at`, the next a minute later; the fleet's present reaches at + 121: the first report is due
  const early = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR), version(at, 30 * MiB), version(at + 60, 40 * MiB), ...statusLines(hosts.slice(20), at + 121)];
  // 10 hosts' uploads there by the same app (a roll-out), dated at + 30 … + 39: at most 91 s late when they arrive
  const late = hosts.slice(1, 11).map((h, i) => destinationLine(h, at + 30 + i, 'cdn.open-rollout.com', APPS.vscode, 5, { out: 30 * MiB, in: 1000 }));

  const pick = (ds: { host_id: string; fleet: { destination_hosts: number } }[]) => ds.filter((d) => d.host_id === hosts[0]!.uuid).map((d) => d.fleet.destination_hosts);

  // live: each delivery ingested, then the every-minute finalization
  const liveStore = await memoryStore();
  const ingest = createIngestService({ store: liveStore, analytics, quarantineFile: null, clock: wall });
  await ingest.ingestLines(early, { kind: 'test', id: 'early' });
  await finalizePending(liveStore, { analytics, clock: wall });
  await ingest.ingestLines(late, { kind: 'test', id: 'late' });
  await finalizePending(liveStore, { analytics, clock: wall });
  await finalizePending(liveStore, { analytics, flush: true });
  const live = pick(await liveStore.detections.list({ limit: 100 }));
  await liveStore.close();

  // replay: the same lines, finalized once
  const replayStore = await memoryStore();
  const replay = pick((await runPipeline(replayStore, [[...early, ...late]])).detections);
  await replayStore.close();

  expect(live).toEqual(replay);
}, 60_000);
