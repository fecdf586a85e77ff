/** Through ingest: an upload whose server name normalizes to nothing is keyed by its own IP, not an earlier flow's. */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, MiB, T0, candidateLine, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

describe('destination key of a name that normalizes to nothing', () => {
  it('an upload to a new IP with Host "." is keyed (and counted) as its own IP, not another host\'s', async () => {
    const store = await memoryStore();
    try {
      const analytics = defaultAnalyticsConfig();
      const ingest = createIngestService({ store, analytics, quarantineFile: null });
      const hosts = hostsOf(12);
      const at = T0 + 10 * DAY;
      const cand = (h: number, ip: string, flow_id: string, t: number) =>
        candidateLine({ analytic: 'AN1415', host: hosts[h]!, app: APPS.vscode, remote_address: ip, server_name: '.', bytes_out: 30 * MiB, first_seen: t - 200, flow_id }, t);
      await ingest.ingestLines([...statusLines(hosts, T0), cand(1, '203.0.113.9', 'other', at - 100), cand(0, '198.51.100.7', 'mine', at)], { kind: 'test', id: 'a' });
      await finalizePending(store, { analytics, flush: true });
      const mine = (await store.detections.list({ limit: 10 })).find((d) => d.flow.flow_id === 'mine')!;
      expect(mine.destination_key).toBe('198.51.100.7');
    } finally {
      await store.close();
    }
  }, 60_000);
});
