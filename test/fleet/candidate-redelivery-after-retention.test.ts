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
import { DAY, HOUR, MiB, T0, candidateLine, dailyLines, hostsOf, memoryStore } from './fleet-helpers.js';

const testDb = useTestDatabase('cand_redelivery');
const opened: Store[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

const backends: [string, () => Promise<Store>][] = [
  ['sqlite', () => memoryStore()],
  ['postgres', () => openPostgresStore(testDb().url, { poolSize: 3 })],
];

describe.each(backends)('a candidate row delivered again after retention (%s)', (_name, open) => {
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
