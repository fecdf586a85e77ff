/**
 * AN0990's unidentified upload at the fleet: the endpoint row of a credential-store read followed by an upload-shaped
 * TCP flow on a port the port map does not name (BeaverTail's POST to http://<VPS>:1224/uploads: service `other`, no
 * server name) is finalized like any AN0990 row: a rare destination fires once the baseline is mature, and its evidence
 * says why a flow neither encrypted nor cleartext passed (reason `unidentified_upload`).
 */
import { describe, expect, it } from 'vitest';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, T0, candidateLine, hostsOf, memoryStore, runPipeline, statusLines } from './fleet-helpers.js';

describe('AN0990 on a port of no known service, through ingest and finalize', () => {
  it('fires on the rare VPS, critical, with the reason in its evidence', async () => {
    const hosts = hostsOf(12);
    const at = T0 + 10 * DAY;
    const host = hosts[0]!;
    const line = candidateLine(
      {
        analytic: 'AN0990',
        host,
        // an ad hoc identity standing in for BeaverTail's `node` (the fleet keys on identity, not on the name)
        app: APPS.rclone,
        pid: 4811,
        remote_address: '172.86.84.38',
        remote_port: 1224,
        service: 'other',
        server_name: '',
        bytes_out: 420 * 1024,
        bytes_in: 900,
        first_seen: at - 20,
        duration: 4,
        precursor: { kind: 'sensitive_access', time: at - 30, path: '/Users/dev/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1, pid: 4811 },
        reasons: ['tier1_precursor', 'precursor_close', 'non_browser', 'non_standard_port', 'raw_ip', 'unidentified_upload', 'signature_adhoc'],
      },
      at,
    );
    const store = await memoryStore();
    const run = await runPipeline(store, [[...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR), line]]);
    expect(run.finalized.examined).toBe(1);
    expect(run.detections).toHaveLength(1);
    const d = run.detections[0]!;
    expect(d).toMatchObject({ analytic: 'AN0990', branch: 'rare_destination', flow: { remote_port: 1224, service: 'other' } });
    // 60 + 15 rare + 15 raw IP (or non-standard port: one modifier)
    expect(d).toMatchObject({ severity: 'critical', score: 90, modifiers: ['+15:rare_or_new_destination', '+15:raw_ip'] });
    expect(JSON.stringify(d)).toContain('unidentified_upload');
    await store.close();
  }, 60_000);
});
