/**
 * Retention deletes detections by `last_seen` (detections.expire), and a detection's last_seen is its candidates'
 * `last_seen` column as the host sent it (evidence.ts buildDetection / foldInto): ingest caps a line's unixTime at a
 * day ahead, not the columns. A host that dates its flows' last_seen in 2286 makes detections retention never
 * deletes; one made-up destination per flow makes as many as it likes, kept forever.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fixedClock } from '../../src/clock.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { retention } from '../../fleet/rules/maintenance.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, MiB, T0, candidateLine, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

/** A store of 12 hosts, its clock two hours after `at` (day 10 of the fleet's data). */
async function tenDaysIn() {
  const store = await memoryStore();
  const analytics = defaultAnalyticsConfig();
  const at = T0 + 10 * DAY;
  const clock = fixedClock(at + 2 * HOUR);
  return { store, analytics, hosts: hostsOf(12), at, clock, ingest: createIngestService({ store, analytics, quarantineFile: null, clock }) };
}

describe('detection retention', () => {
  it('a detection whose host dated its flow far ahead is still deleted once past detections_days', async () => {
    const { store, analytics, hosts, at, clock, ingest } = await tenDaysIn();
    await ingest.ingestLines([...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)], { kind: 'test', id: 'status' });
    const N = 50;
    const FAR = 9_999_999_999; // 2286
    const lines = Array.from({ length: N }, (_, i) =>
      candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: `u.evil-${i}.com`, bytes_out: 30 * MiB, first_seen: at + i - 200, duration: FAR - (at + i - 200) }, at + i, 7 + i),
    );
    await ingest.ingestLines(lines, { kind: 'test', id: 'forged' });
    await finalizePending(store, { analytics, clock, flush: true });
    // (stored as detections, or refused at ingest: either way none may outlive retention)
    expect((await store.detections.list({ limit: 10_000 })).length).toBeLessThanOrEqual(N);
    // a year later: the fleet still reports, retention runs daily
    const later = at + 365 * DAY;
    clock.set(later + HOUR);
    await ingest.ingestLines(statusLines(hosts, later), { kind: 'test', id: 'status' });
    const r = await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock });
    const left = await store.detections.list({ limit: 10_000 });
    expect(left.length, `retention deleted ${r.detections}; kept ${left.length} detections a year old (last_seen ${left[0]?.last_seen})`).toBe(0);
    await store.close();
  }, 120_000);

  it('a finalized candidate folded into a detection stays as long as the detection (detections_days), then both go', async () => {
    const { store, analytics, hosts, at, clock, ingest } = await tenDaysIn();
    const upload = candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'u.lonely.com', bytes_out: 30 * MiB, first_seen: at - 200 }, at);
    await ingest.ingestLines([...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR), upload], { kind: 'test', id: 'a' });
    expect((await finalizePending(store, { analytics, clock, flush: true })).created).toHaveLength(1);
    // 29 days on: still within the prevalence window (30 days), nothing goes
    clock.set(at + 29 * DAY + HOUR);
    await ingest.ingestLines(statusLines(hosts, at + 29 * DAY), { kind: 'test', id: 'a' });
    expect(await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock })).toMatchObject({ candidates: 0, detections: 0 });
    // 31 days on: both stay (the candidate row is what tells a re-delivery of it from a new flow while its detection is kept)
    clock.set(at + 31 * DAY + HOUR);
    await ingest.ingestLines(statusLines(hosts, at + 31 * DAY), { kind: 'test', id: 'a' });
    expect(await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock })).toMatchObject({ candidates: 0, detections: 0 });
    expect(await store.detections.list({ limit: 10 })).toHaveLength(1);
    // 91 days on: both go
    clock.set(at + 91 * DAY + HOUR);
    await ingest.ingestLines(statusLines(hosts, at + 91 * DAY), { kind: 'test', id: 'a' });
    expect(await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock })).toMatchObject({ candidates: 1, detections: 1 });
    expect(await store.detections.list({ limit: 10 })).toHaveLength(0);
    await store.close();
  }, 60_000);
});
