/**
 * "Duplicates change nothing" (docs/fleet.md, Input lines): a candidate row delivered again once its dedupe key has
 * expired is recognized by its stored version. Retention dropped every finalized candidate a prevalence window old
 * (30 days) while its detection stayed 90: a log read again after that (`fleet ingest --from-start`, a restored
 * archive) made the same flow a new candidate, folded into the detection that had counted it, and doubled the
 * detection's count and bytes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fixedClock } from '../../src/clock.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { retention, rollup } from '../../fleet/rules/maintenance.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { Store } from '../../fleet/store/store.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { useTestDatabase } from '../helpers/pg.js';
import { DAY, HOUR, MiB, T0, candidateLine, dailyLines, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

/** Both backends, PostgreSQL in a database of the describe's own. */
function backends(db: () => { url: string }): [string, () => Promise<Store>][] {
  return [
    ['sqlite', () => memoryStore()],
    ['postgres', () => openPostgresStore(db().url, { poolSize: 3 })],
  ];
}

const oneFlowDb = useTestDatabase('cand_redelivery');

describe.each(backends(oneFlowDb))('a candidate row delivered again after retention (%s)', (_name, open) => {
  it('leaves the detection that counted it as it was', async () => {
    const store = await open();
    opened.push(store);
    const analytics = defaultAnalyticsConfig();
    const hosts = hostsOf(20);
    const at = T0 + 10 * DAY;
    const clock = fixedClock(at + HOUR);
    const ingest = createIngestService({ store, analytics, quarantineFile: null, clock });
    // a two-hour upload by an ad-hoc signed agent to a destination no one else uses: AN0082 fires
    const upload = candidateLine({ analytic: 'AN0082', host: hosts[0]!, app: APPS.syncAgent, remote_address: '203.0.113.9', server_name: 'sync.lonely.example', bytes_out: 400 * MiB, duration: 2 * HOUR, first_seen: at - 2 * HOUR }, at);
    await ingest.ingestLines([...dailyLines(hosts, 0, 10), upload], { kind: 'test', id: 'live' });
    expect((await finalizePending(store, { analytics, clock, flush: true })).created).toHaveLength(1);
    const [before] = await store.detections.list({});
    expect(before).toMatchObject({ count: 1, bytes_out_total: 400 * MiB });

    // 35 days on: the rollup and retention have run; the detection (90 days) is kept
    clock.set(at + 35 * DAY + HOUR);
    await ingest.ingestLines(dailyLines(hosts, 11, 45), { kind: 'test', id: 'live' });
    await finalizePending(store, { analytics, clock });
    await rollup(store, { analytics, clock });
    await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock });
    expect(await store.detections.list({})).toHaveLength(1);

    // the old log read again
    await ingest.ingestLines([upload], { kind: 'test', id: 'from-start' });
    await finalizePending(store, { analytics, clock });
    const after = await store.detections.list({});
    expect(after.map((d) => ({ id: d.id, count: d.count, bytes_out_total: d.bytes_out_total }))).toEqual([{ id: before!.id, count: 1, bytes_out_total: 400 * MiB }]);
  }, 120_000);
});

const twoFlowsDb = useTestDatabase('cand_ret_two_flows');

describe.each(backends(twoFlowsDb))('a detection of two flows, its earlier flow read again (%s)', (_name, open) => {
  it('stays as it was while the detection is kept, though the earlier line is more than detections_days old', async () => {
    const store = await open();
    opened.push(store);
    const analytics = defaultAnalyticsConfig();
    const hosts = hostsOf(20);
    const at = T0 + 10 * DAY;
    const clock = fixedClock(at + 21 * HOUR);
    const ingest = createIngestService({ store, analytics, quarantineFile: null, clock });
    // two uploads of the same agent to the same lonely destination 20 h apart: one detection (24 h suppression), count 2
    const flow = { analytic: 'AN0082' as const, host: hosts[0]!, app: APPS.syncAgent, remote_address: '203.0.113.9', server_name: 'sync.lonely.example', bytes_out: 400 * MiB, duration: 2 * HOUR };
    const first = candidateLine({ ...flow, first_seen: at - 2 * HOUR }, at);
    const second = candidateLine({ ...flow, first_seen: at + 18 * HOUR }, at + 20 * HOUR);
    await ingest.ingestLines([...dailyLines(hosts, 0, 10), first, second], { kind: 'test', id: 'live' });
    expect((await finalizePending(store, { analytics, clock, flush: true })).created).toHaveLength(1);
    const [before] = await store.detections.list({});
    expect(before).toMatchObject({ count: 2, bytes_out_total: 800 * MiB, last_seen: at + 20 * HOUR });

    // 90 days and 10 hours after the first line: the detection, last seen 10 hours later, is kept
    clock.set(at + 90 * DAY + 10 * HOUR);
    await ingest.ingestLines(statusLines(hosts, at + 90 * DAY + 10 * HOUR), { kind: 'test', id: 'live' });
    await finalizePending(store, { analytics, clock });
    await rollup(store, { analytics, clock });
    await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock });
    expect((await store.detections.list({})).map((d) => d.id)).toEqual([before!.id]);

    // the old log read again
    await ingest.ingestLines([first, second], { kind: 'test', id: 'from-start' });
    await finalizePending(store, { analytics, clock });
    const after = await store.detections.list({});
    expect(after.map((d) => ({ id: d.id, count: d.count, bytes_out_total: d.bytes_out_total }))).toEqual([{ id: before!.id, count: 2, bytes_out_total: 800 * MiB }]);

    // once the detection goes, its rows go with it
    clock.set(at + 91 * DAY);
    await ingest.ingestLines(statusLines(hosts, at + 91 * DAY), { kind: 'test', id: 'live' });
    expect(await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock })).toMatchObject({ detections: 1, candidates: 2 });
  }, 120_000);
});
