/**
 * KeePassXC opening the user's own database (~/Documents/Passwords.kdbx) is its owner reading it, as 1Password and
 * Bitwarden reading theirs. Unauthorized, that read is a tier-1 precursor in KeePassXC's group, and every TLS flow the
 * app makes within 15 minutes (an entry's "Download favicon" from the entry's own web site, the HIBP report, the update
 * check) is an AN0990 candidate: a site only this user visits is a rare destination, so a high detection.
 *
 * KeePassXC's Developer ID team is G2S7P7J672 (Janek Bevendorff), its signing id `org.keepassxc.keepassxc`: its
 * designated requirement `identifier "org.keepassxc.keepassxc" and anchor apple generic and certificate
 * leaf[subject.OU] = "G2S7P7J672"`, and Installomator's `keepassxc` label (expectedTeamID).
 */
import { describe, expect, it } from 'vitest';
import { ANALYTICS } from '../../../src/analytics/index.js';
import { candidate, fleetFacts } from '../../../src/analytics/testing/facts.js';
import { defaultAnalyticsConfig } from '../../../src/config/analytics.js';
import { recordedSensitive } from '../../collectors/eslogger/testing/test-context.js';
import { body, esLine } from '../../collectors/eslogger/testing/es-lines.mjs';
import { correlate } from './correlate.js';
import { NOW, buildWorld } from './testing/world.js';

const HOME = '/Users/alice';
const VAULT = `${HOME}/Documents/Passwords.kdbx`;
const at = NOW - 100;
const APP = '/Applications/KeePassXC.app/Contents/MacOS/KeePassXC';
const keepassxc = { pid: 600, ppid: 1, path: APP, signingId: 'org.keepassxc.keepassxc', teamId: 'G2S7P7J672', startMs: (NOW - 3600) * 1000 };
const opened = (process: typeof keepassxc | Record<string, unknown>, path = VAULT) =>
  recordedSensitive(NOW, [esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: process as typeof keepassxc, body: body.open(path) })]);

describe('KeePassXC reading its own database', () => {
  it('is an authorized reader of *.kdbx (G2S7P7J672 / org.keepassxc.keepassxc), also on a removable volume', () => {
    expect(opened(keepassxc)).toEqual([]);
    expect(opened(keepassxc, '/Volumes/USB/vault.kdbx')).toEqual([]);
  });

  it('still records the read by anyone else: a stealer, the same signing id under another team, keepassxc-cli', () => {
    const stealer = { pid: 610, ppid: 1, path: `${HOME}/.x/helper`, signingId: null, teamId: null, startMs: (NOW - 300) * 1000 };
    expect(opened(stealer)).toMatchObject([{ category: 'password_manager', tier: 1, operation: 'open' }]);
    expect(opened({ ...keepassxc, path: `${HOME}/Library/Caches/.k/KeePassXC`, teamId: 'Q7R2K9W4ZD' })).toMatchObject([{ category: 'password_manager', tier: 1 }]);
    // the CLI prints what it reads (`keepassxc-cli show -s`, `export`): any signing id other than the GUI app's (its real
    // one was not verified; this one is made up) is not authorized
    const cli = { ...keepassxc, pid: 611, path: '/Applications/KeePassXC.app/Contents/MacOS/keepassxc-cli', signingId: 'org.keepassxc.keepassxc-cli' };
    expect(opened(cli)).toMatchObject([{ category: 'password_manager', tier: 1 }]);
  });

  it("downloading an entry's favicon from its web site after unlocking the database is no AN0990 candidate (a high detection on a rare site)", () => {
    const sensitive = opened(keepassxc);
    const start = sensitive[0]?.process_start ?? NOW - 3600;
    const world = buildWorld({
      processes: [{ pid: 600, processStart: start, ppid: 1, originalPpid: 1, path: APP, signingId: keepassxc.signingId, teamId: keepassxc.teamId }],
      signing: [{ path: APP, cls: 'developer_id', teamId: 'G2S7P7J672', signingId: 'org.keepassxc.keepassxc' }],
      flows: [{ pid: 600, processStart: start, remote: '198.51.100.61', bytesOut: 1_800, bytesIn: 24_000, firstSeen: NOW - 40, lastSeen: NOW - 38 }],
      sensitive,
    });
    const rows = correlate(world).rows.filter((r) => r.analytic === 'AN0990');
    if (rows.length) {
      // what the fleet does with it: the site is seen by this host alone → rare_destination, 60 + 15 → high
      const v = ANALYTICS.AN0990.finalize(candidate({ ...rows[0]!, process_chain: JSON.parse(rows[0]!.process_chain) }), fleetFacts(), defaultAnalyticsConfig());
      expect(v).toMatchObject({ fire: true, branch: 'rare_destination', severity: 'high' });
    }
    expect(rows).toEqual([]);
  });
});
