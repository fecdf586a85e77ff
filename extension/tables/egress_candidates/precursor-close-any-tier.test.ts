/**
 * SPEC §4: high severity when a precursor is within 2 min of the flow. The reported precursor is the strongest (tier 1
 * first); a nearer read of tier 2 must still count as close, since more evidence never lowers severity.
 */
import { expect, it } from 'vitest';
import { ANALYTICS } from '../../../src/analytics/index.js';
import { fleetFacts } from '../../../src/analytics/testing/facts.js';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const P = { pid: 700, processStart: NOW - 3600, ppid: 1, path: '/Users/a/Downloads/update', tty: false };
const read = (time: number, tier: 1 | 2) => ({ pid: 700, ppid: 1, process_start: P.processStart, path: P.path, time, tier,
  category: tier === 1 ? 'keychain' : 'documents', file_path: tier === 1 ? '/Users/a/Library/Keychains/login.keychain-db' : '/Users/a/Documents/x.docx' });
function an0990(sensitive: ReturnType<typeof read>[]) {
  const w = buildWorld({ processes: [P], signing: [{ path: P.path, cls: 'unsigned' }], sensitive: sensitive as never,
    flows: [{ pid: 700, processStart: P.processStart, remote: '203.0.113.5', bytesOut: 15 * MiB, bytesIn: 8000, firstSeen: NOW - 60, lastSeen: NOW - 30 }] });
  const row = correlate(w).rows.find((r) => r.analytic === 'AN0990')!;
  // destination neither rare nor common, 10 days old; pair not upload-normal -> abnormal_ratio fires
  const v = ANALYTICS.AN0990.finalize({ ...row, process_chain: [] }, fleetFacts({ now: NOW + 120, destinationHosts: 20, destinationFirstSeen: NOW - 864_000 }), w.config.analytics);
  return { close: row.reasons.split(',').includes('precursor_close'), severity: v.severity };
}
it('a read 30 s before the flow keeps it high severity when an older keychain read is added', () => {
  expect(an0990([read(NOW - 90, 2)])).toEqual({ close: true, severity: 'high' }); // control: passes
  expect(an0990([read(NOW - 90, 2), read(NOW - 660, 1)])).toEqual({ close: true, severity: 'high' });
  // neither read near the flow: not close
  expect(an0990([read(NOW - 600, 2), read(NOW - 660, 1)])).toEqual({ close: false, severity: 'medium' });
});
