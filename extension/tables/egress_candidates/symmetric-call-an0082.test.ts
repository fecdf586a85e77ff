/**
 * Known noise, pinned (a trade-off, not fixed: docs/analytics.md, "Known noise"; a change that removes it updates both): an hour-long video call in a messenger that is no
 * sanctioned conferencing app (WhatsApp desktop here; Discord, Signal, Telegram, Skype alike). The media flow is one
 * UDP flow to a relay, long-lived and ≥ 50 MiB out, from Developer ID code: an AN0082 candidate. The fleet asks only
 * whether the (app, destination) pair is upload-normal, and a call is symmetric (pcr ≈ 0), so it never becomes one:
 * the same reason Outflow gates browsers out of AN0082 (docs/analytics.md). The relay is reached by address (no DNS
 * name: keyed per IP, so rare), on a port the port map does not know (+15), so every call is a high detection.
 */
import { describe, expect, it } from 'vitest';
import { ANALYTICS } from '../../../src/analytics/index.js';
import { candidate, fleetFacts } from '../../../src/analytics/testing/facts.js';
import { defaultAnalyticsConfig } from '../../../src/config/analytics.js';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const APP = '/Applications/WhatsApp.app/Contents/MacOS/WhatsApp';

describe('an hour-long WhatsApp video call', () => {
  it('is a high AN0082, every call: the pair never becomes upload-normal (known noise)', () => {
    const world = buildWorld({
      processes: [{ pid: 900, processStart: NOW - 7200, ppid: 1, originalPpid: 1, path: APP, signingId: 'net.whatsapp.WhatsApp', teamId: '57T9237FN3' }],
      signing: [{ path: APP, cls: 'app_store', teamId: '57T9237FN3', signingId: 'net.whatsapp.WhatsApp' }],
      // ~1 Mbit/s each way for 65 minutes
      flows: [{ pid: 900, processStart: NOW - 7200, protocol: 'udp', remote: '198.51.100.80', remotePort: 3478, bytesOut: 470 * MiB, bytesIn: 480 * MiB, firstSeen: NOW - 3900, lastSeen: NOW - 10 }],
    });
    const rows = correlate(world).rows.filter((r) => r.analytic === 'AN0082');
    expect(rows).toHaveLength(1);
    const v = ANALYTICS.AN0082.finalize(candidate({ ...rows[0]!, process_chain: JSON.parse(rows[0]!.process_chain) }), fleetFacts(), defaultAnalyticsConfig());
    expect(v).toMatchObject({ fire: true, branch: 'not_upload_normal', severity: 'high' });
  });
});
