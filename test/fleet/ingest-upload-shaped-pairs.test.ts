/**
 * SPEC §4: a pair (app identity, destination key) is upload-normal once it was upload-shaped (pcr ≥ 0.8 and
 * bytes_out ≥ 1 MiB) on 3 hosts. A candidate row sights the pair only when its flow was upload-shaped: a large
 * two-way flow (a sync client downloading as much as it sends) must not make the pair upload-normal.
 */
import { describe, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { createDestinationKeyer } from '../../src/classify/destination.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { HOUR, MiB, T0, candidateLine, hostsOf, memoryStore } from './fleet-helpers.js';

const at = T0 + 3 * HOUR;
const clock = { now: () => new Date((at + HOUR) * 1000), unix: () => at + HOUR, ms: () => (at + HOUR) * 1000 };
const hosts = hostsOf(6);
const ALL = { from: 0, to: at + HOUR };

describe('upload-shaped pair sightings from candidate rows', () => {
  it('count only flows with pcr ≥ min_pcr and bytes_out ≥ min_bytes_out', async () => {
    const store = await memoryStore();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null, clock });
      const flow = (h: number, server_name: string, bytes_out: number, bytes_in: number) =>
        candidateLine({ analytic: 'AN1415', host: hosts[h]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name, bytes_out, bytes_in, first_seen: at - 200, flow_id: `f-${h}-${server_name}` }, at);
      await ingest.ingestLines(
        [
          // two-way: 30 MiB out, 20 MiB in (pcr 0.2) on three hosts
          ...[0, 1, 2].map((h) => flow(h, 'sync.two-way.example', 30 * MiB, 20 * MiB)),
          // upload-shaped: 30 MiB out, 1 MiB in (pcr ≈ 0.94) on three hosts
          ...[3, 4, 5].map((h) => flow(h, 'up.one-way.example', 30 * MiB, MiB)),
        ],
        { kind: 'test', id: 'pairs' },
      );
      const keyOf = createDestinationKeyer();
      const twoWay = keyOf('sync.two-way.example', '192.0.2.77');
      const oneWay = keyOf('up.one-way.example', '192.0.2.77');
      const identity = APPS.vscode.identity;
      const pairs = await store.prevalence.pairs([{ identity, key: twoWay }, { identity, key: oneWay }], ALL);
      // the destinations were sighted either way
      expect((await store.prevalence.destinations([twoWay], ALL)).get(twoWay)!.hosts).toBe(3);
      expect([...pairs.values()].map((p) => p.hosts)).toEqual([0, 3]);
    } finally {
      await store.close();
    }
  });
});
