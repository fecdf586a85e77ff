/**
 * host_status holds one row per (host, component), and the component is whatever the host's outflow_status row
 * says. A host that keeps reporting (its hosts row never expires) keeps every component it ever named: the rows are
 * dropped only with the host (hosts.expire). One line of made-up component names, then one ordinary status line a
 * day, keeps them all for as long as the fleet runs — each scrape of /metrics (statusCounts) and each
 * GET /v1/hosts/status scans them.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fixedClock } from '../../src/clock.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { retention, rollup } from '../../fleet/rules/maintenance.js';
import { snapshotLine } from '../../scripts/simulate-fleet.js';
import { openStore } from '../../fleet/store/open.js';
import type { Store } from '../../fleet/store/store.js';
import { useTestDatabase } from '../helpers/pg.js';
import { DAY, T0, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

const JUNK = 3000;

const database = useTestDatabase('host_status_stale');
const backends: [string, () => Promise<Store>][] = [
  ['SQLite', memoryStore],
  ['PostgreSQL', () => openStore(database().url)],
];

describe.each(backends)('host_status bounded over time (%s)', (_name, open) => {
  it('status rows of components a live host stopped reporting leave with the window', async () => {
    const store = await open();
    const analytics = defaultAnalyticsConfig();
    const [host] = hostsOf(1, 'EVIL');
    const clock = fixedClock(T0);
    const ingest = createIngestService({ store, analytics, quarantineFile: null, clock });
    const junk = Array.from({ length: JUNK }, (_, i) => ({ component: `junk_component_${i}`, platform: 'darwin', state: 'running', detail: '', version: '0.1.0' }));
    await ingest.ingestLines([snapshotLine(host!, 'outflow_status', T0, junk)], { kind: 'test', id: 'junk' });
    expect((await store.hosts.listStatus(host!.uuid)).length).toBe(JUNK);
    // 90 days of an ordinary host: one snapshot a day, the daily jobs after it
    for (let d = 1; d <= 90; d++) {
      clock.set(T0 + d * DAY + 60);
      await ingest.ingestLines(statusLines([host!], T0 + d * DAY), { kind: 'test', id: 'daily' });
      await rollup(store, { analytics, clock });
      await retention(store, { analytics, detectionsDays: 90, quarantineDays: 14, clock });
    }
    const rows = await store.hosts.listStatus(host!.uuid);
    // what is left: the component it reports (flows), not 3 000 made-up ones named once 90 days ago
    expect(rows.length, `${rows.length} status rows kept for one host; stale since day 0: ${rows.filter((r) => r.time < T0 + DAY).length}`).toBeLessThanOrEqual(10);
    await store.close();
  }, 120_000);
});
