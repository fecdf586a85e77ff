/**
 * SPEC §5: duplicates are rows with the same host, name, unixTime, counter, action and columns. A candidate row
 * that differs from one ingested before in any one of those is a new report (another run of the query, another
 * time, another host) and must be taken; only the identical row is a duplicate.
 */
import { describe, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { HOUR, MiB, T0, candidateLine, hostsOf, memoryStore } from './fleet-helpers.js';

const at = T0 + 3 * HOUR;
const clock = { now: () => new Date((at + HOUR) * 1000), unix: () => at + HOUR, ms: () => (at + HOUR) * 1000 };
const [host] = hostsOf(1);
const upload = (t: number, counter: number) =>
  candidateLine({ analytic: 'AN1415', host: host!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.team-drive.com', bytes_out: 30 * MiB, first_seen: at - 200, flow_id: 'f-dup-1' }, t, counter);

describe('duplicate candidate rows', () => {
  it('only the identical row is a duplicate: another counter or another unixTime is a new report', async () => {
    const store = await memoryStore();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null, clock });
      const src = { kind: 'test', id: 'dup' };
      expect(await ingest.ingestLines([upload(at, 7)], src)).toMatchObject({ accepted: 1, duplicates: 0 });
      expect(await ingest.ingestLines([upload(at, 7)], src)).toMatchObject({ accepted: 0, duplicates: 1 });
      // the next run of the query reporting the same row in the same second
      expect(await ingest.ingestLines([upload(at, 8)], src)).toMatchObject({ accepted: 1, duplicates: 0 });
      // the same counter and row, dated a second later
      expect(await ingest.ingestLines([upload(at + 1, 7)], src)).toMatchObject({ accepted: 1, duplicates: 0 });
      expect(await ingest.ingestLines([upload(at, 8), upload(at + 1, 7)], src)).toMatchObject({ accepted: 0, duplicates: 2 });
    } finally {
      await store.close();
    }
  });
});
