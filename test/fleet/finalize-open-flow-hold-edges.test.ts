/**
 * Edges of analytics.open_flow_update_interval (the re-judge hold of a firing open flow):
 * - `flush` ("finalize every pending candidate", the end of a replay) must judge a held version too;
 * - a report of a flow past its detection's suppression window is a new detection (finalize.ts windowOf): the hold,
 *   taken from the judgement that folded the flow into the old one, may delay it by up to the interval, never lose it
 *   (docs/fleet.md).
 */
import { expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, MiB, T0, candidateLine, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

const wall = (unix: number) => ({ now: () => new Date(unix * 1000), unix: () => unix, ms: () => unix * 1000 });
const hosts = hostsOf(12);
const start = T0 + 10 * DAY;
const spec = (minute: number) =>
  ({ analytic: 'AN0082', host: hosts[0]!, app: APPS.syncAgent, flow_id: 'open-upload', remote_address: '192.0.2.5', server_name: 'relay.fresh-domain.org', bytes_out: minute * MiB, bytes_in: MiB / 4, duration: minute * 60 - 5, first_seen: start, closed: 0 }) as const;

it('a flush judges every pending candidate, a firing open flow held by open_flow_update_interval too', async () => {
  const cfg = defaultAnalyticsConfig();
  const store = await memoryStore();
  try {
    const ingest = createIngestService({ store, analytics: cfg, quarantineFile: null });
    await ingest.ingestLines(statusLines(hosts, T0), { kind: 'test', id: 'status' });
    // a first part of the logs ingested and finalized as `fleet ingest` does (no flush): the open upload fires
    let created = 0;
    for (let minute = 60; minute <= 66; minute++) {
      const t = start + minute * 60;
      await ingest.ingestLines([candidateLine(spec(minute), t, minute), ...statusLines(hosts.slice(1), t)], { kind: 'test', id: 'part1' });
      created += (await finalizePending(store, { analytics: cfg, clock: wall(t + 5) })).created.length;
    }
    expect(created).toBe(1);
    // the rest of the logs (the upload still open when they end), then `fleet ingest --flush`
    const rest: string[] = [];
    for (let minute = 67; minute <= 70; minute++) rest.push(candidateLine(spec(minute), start + minute * 60, minute), ...statusLines(hosts.slice(1), start + minute * 60));
    await ingest.ingestLines(rest, { kind: 'test', id: 'part2' });
    await finalizePending(store, { analytics: cfg, flush: true });
    expect(await store.candidates.countPending()).toBe(0);
    const dets = await store.detections.list();
    expect(dets).toHaveLength(1);
    expect(dets[0]).toMatchObject({ count: 1, bytes_out_total: 70 * MiB });
  } finally {
    await store.close();
  }
}, 120_000);

it('a firing open flow seen past its detection’s suppression window makes a new detection, at most the interval late', async () => {
  const cfg = defaultAnalyticsConfig();
  cfg.suppression_hours = 1;
  const span = 3600;
  const store = await memoryStore();
  try {
    const ingest = createIngestService({ store, analytics: cfg, quarantineFile: null });
    await ingest.ingestLines(statusLines(hosts, T0), { kind: 'test', id: 'status' });
    const createdAt: { id: string; created: number; judgedAt: number }[] = [];
    for (let minute = 60; minute <= 150; minute++) {
      const t = start + minute * 60;
      await ingest.ingestLines([candidateLine(spec(minute), t, minute), ...statusLines(hosts.slice(1), t)], { kind: 'test', id: 'live' });
      const r = await finalizePending(store, { analytics: cfg, clock: wall(t + 5) });
      for (const d of r.created) createdAt.push({ id: d.id, created: d.created_at, judgedAt: t });
    }
    // the flow left the first detection's window at its created_at + span: the next detection is its first there
    expect(createdAt).toHaveLength(2);
    const firstReportOutside = createdAt[0]!.created + span;
    // judged finalize_delay after that report (plus the next minute's run), or once the hold ends
    expect(createdAt[1]!.judgedAt - firstReportOutside).toBeLessThanOrEqual(cfg.finalize_delay + cfg.open_flow_update_interval + 60);
  } finally {
    await store.close();
  }
}, 120_000);
