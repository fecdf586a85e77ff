/** A server name that normalizes to nothing keys each flow by its own address, memo or not (a review's case). */
/**
 * SPEC §4 destination key: server_name's registrable domain (FQDN under shared suffixes), "or the IP". A name that
 * normalizes to nothing (".", "[") falls back to the flow's own IP in destinationKey, but the memo of
 * createDestinationKeyer (what ingest uses) is keyed by the raw name only, so later flows get the first flow's IP.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, MiB, T0, candidateLine, hostsOf, memoryStore, statusLines } from '../../test/fleet/fleet-helpers.js';
import { createDestinationKeyer, destinationKey } from './destination.js';

describe('destination keyer: names that normalize to nothing', () => {
  it.each(['.', '[', ' '])('server_name %j keys each flow by its own IP, as destinationKey does', (name) => {
    const keyOf = createDestinationKeyer();
    expect(destinationKey(name, '198.51.100.7')).toBe('198.51.100.7');
    keyOf(name, '203.0.113.9');
    expect(keyOf(name, '198.51.100.7')).toBe('198.51.100.7');
  });

  it('through ingest: an upload to a new IP with Host "." is keyed (and counted) as another host\'s IP', async () => {
    const store = await memoryStore();
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
    await store.close();
  }, 60_000);
});
