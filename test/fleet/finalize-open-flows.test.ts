/**
 * A flow that stays open is reported again on every run of the candidates pack (differential logging: its bytes,
 * last_seen and duration change), each report a newer version of one pending candidate. Such a candidate must
 * still be judged finalize_delay after it was first reported, not only once the flow has gone quiet: AN0082's
 * long-lived uploads (and any exfiltration over one connection) are detected while they run, and the later
 * versions fold into the detection (count stays 1, bytes follow the flow).
 */
import { expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, MiB, T0, candidateLine, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

const wall = (unix: number) => ({ now: () => new Date(unix * 1000), unix: () => unix, ms: () => unix * 1000 });

it('a long-lived upload reported every minute while it runs is detected finalize_delay after its first report', async () => {
  const cfg = defaultAnalyticsConfig();
  const hosts = hostsOf(12);
  const store = await memoryStore();
  const ingest = createIngestService({ store, analytics: cfg, quarantineFile: null });
  await ingest.ingestLines(statusLines(hosts, T0), { kind: 'test', id: 'status' });
  const start = T0 + 10 * 86_400;
  // the pack runs every minute: the flow qualifies at 60 min and is still open at 120 min
  const firstReport = start + 60 * 60;
  let detectedAt: number | null = null;
  for (let minute = 60; minute <= 120; minute++) {
    const t = start + minute * 60;
    const row = { analytic: 'AN0082', host: hosts[0]!, app: APPS.syncAgent, flow_id: 'open-upload', remote_address: '192.0.2.5', server_name: 'relay.fresh-domain.org', bytes_out: minute * MiB, bytes_in: MiB / 4, duration: minute * 60 - 5, first_seen: start } as const;
    await ingest.ingestLines([candidateLine(row, t, minute), ...statusLines(hosts.slice(1), t)], { kind: 'test', id: 'live' });
    // fleet serve's every-minute finalization, a few seconds after the lines arrived
    const r = await finalizePending(store, { analytics: cfg, clock: wall(t + 5) });
    if (detectedAt === null && r.created.length) detectedAt = t;
  }
  // due once the newest event is finalize_delay past the first report (plus the next minute's run)
  expect(detectedAt).not.toBeNull();
  expect(detectedAt! - firstReport).toBeLessThanOrEqual(cfg.finalize_delay + 60);
  const dets = await store.detections.list();
  expect(dets).toHaveLength(1);
  // later versions of the same flow update the one detection: one flow, its bytes as last judged
  expect(dets[0]!.count).toBe(1);
  expect(dets[0]!.bytes_out_total).toBeGreaterThan(100 * MiB);
  await store.close();
}, 120_000);

it('in a replay (everything ingested, then flushed) the open flow is still one detection, judged once', async () => {
  const cfg = defaultAnalyticsConfig();
  const hosts = hostsOf(12);
  const store = await memoryStore();
  const ingest = createIngestService({ store, analytics: cfg, quarantineFile: null });
  const start = T0 + 10 * DAY;
  const lines = statusLines(hosts, T0);
  for (let minute = 60; minute <= 120; minute++) {
    lines.push(candidateLine({ analytic: 'AN0082', host: hosts[0]!, app: APPS.syncAgent, flow_id: 'open-upload', remote_address: '192.0.2.5', server_name: 'relay.fresh-domain.org', bytes_out: minute * MiB, bytes_in: MiB / 4, duration: minute * 60 - 5, first_seen: start }, start + minute * 60, minute));
  }
  await ingest.ingestLines(lines.reverse(), { kind: 'test', id: 'replay' });
  const r = await finalizePending(store, { analytics: cfg, flush: true });
  expect([r.examined, r.created.length]).toEqual([1, 1]);
  expect(r.created[0]).toMatchObject({ count: 1, bytes_out_total: 120 * MiB });
  await store.close();
}, 120_000);

/** A two-hour upload reported open every minute, then closed; finalized every minute as fleet serve does. */
async function liveUpload(cfg: ReturnType<typeof defaultAnalyticsConfig>) {
  const hosts = hostsOf(12);
  const store = await memoryStore();
  const ingest = createIngestService({ store, analytics: cfg, quarantineFile: null });
  await ingest.ingestLines(statusLines(hosts, T0), { kind: 'test', id: 'status' });
  const start = T0 + 10 * DAY;
  const spec = (minute: number, closed: 0 | 1) =>
    ({ analytic: 'AN0082', host: hosts[0]!, app: APPS.syncAgent, flow_id: 'open-upload', remote_address: '192.0.2.5', server_name: 'relay.fresh-domain.org', bytes_out: minute * MiB, bytes_in: MiB / 4, duration: minute * 60 - 5, first_seen: start, closed }) as const;
  let created = 0;
  let updates = 0;
  const closeAt = start + 180 * 60;
  let closedJudgedAt: number | null = null;
  for (let minute = 60; minute <= 190; minute++) {
    const t = start + minute * 60;
    const lines = statusLines(hosts.slice(1), t);
    // open from minute 60 to 179, its closing report at minute 180, quiet after
    if (minute < 180) lines.push(candidateLine(spec(minute, 0), t, minute));
    if (minute === 180) lines.push(candidateLine(spec(180, 1), t, minute));
    await ingest.ingestLines(lines, { kind: 'test', id: 'live' });
    const r = await finalizePending(store, { analytics: cfg, clock: wall(t + 5) });
    created += r.created.length;
    updates += r.updated.length;
    if (closedJudgedAt === null && [...r.created, ...r.updated].some((d) => d.bytes_out_total === 180 * MiB)) closedJudgedAt = t;
  }
  const dets = await store.detections.list();
  await store.close();
  return { created, updates, dets, closeAt, closedJudgedAt };
}

it('a firing upload that stays open is updated at most every open_flow_update_interval; its closing report at once', async () => {
  const cfg = defaultAnalyticsConfig();
  const run = await liveUpload(cfg);
  expect(run.created).toBe(1);
  expect(run.dets).toHaveLength(1);
  expect(run.dets[0]).toMatchObject({ count: 1, bytes_out_total: 180 * MiB });
  // two open hours at most one update per 10 minutes (plus the close), not one every few minutes; still updated while open
  expect(run.updates).toBeGreaterThanOrEqual(8);
  expect(run.updates).toBeLessThanOrEqual(13);
  // the closing report is judged finalize_delay after it, not held
  expect(run.closedJudgedAt).not.toBeNull();
  expect(run.closedJudgedAt! - run.closeAt).toBeLessThanOrEqual(cfg.finalize_delay + 60);
}, 120_000);

it('open_flow_update_interval 0 judges every report again', async () => {
  const cfg = defaultAnalyticsConfig();
  cfg.open_flow_update_interval = 0;
  const run = await liveUpload(cfg);
  expect(run.created).toBe(1);
  expect(run.dets[0]).toMatchObject({ count: 1, bytes_out_total: 180 * MiB });
  expect(run.updates).toBeGreaterThanOrEqual(25);
}, 120_000);
