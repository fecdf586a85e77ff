/**
 * Known noise, pinned (a trade-off, not fixed: docs/analytics.md, "Known noise"; a change that removes it updates both): the file-based login keychain is read by the
 * process that asks for an item, not only by securityd. Security.framework's CSP/DL runs in the caller (SSDLSession
 * loads the AppleFileDL module in-process, and its AtomicFile opens and reads the keychain file), so every app that
 * keeps a secret in the login keychain opens ~/Library/Keychains/login.keychain-db for reading: each Electron app's
 * "<App> Safe Storage" key at start-up (VS Code, Postman, Signal, Notion…), git's credential-osxkeychain helper on every
 * HTTPS fetch or push, docker-credential-osxkeychain, `gh`/`az` through /usr/bin/security. The rule authorizes only
 * securityd, secd, trustd and XPCKeychainSandboxCheck, so each of these is a tier-1 keychain precursor for the whole
 * lineage group for 15 minutes: here VS Code's extension host calling a staging API is a high AN0990.
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
const KEYCHAIN = `${HOME}/Library/Keychains/login.keychain-db`;
const CODE = '/Applications/Visual Studio Code.app/Contents/MacOS/Electron';
const PLUGIN = '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)';
const MS = 'UBF8T346G9';

describe('an app reading its own login-keychain item (Security.framework opens the keychain file in the caller)', () => {
  const code = { pid: 700, ppid: 1, path: CODE, signingId: 'com.microsoft.VSCode', teamId: MS, startMs: (NOW - 130) * 1000 };
  const sensitive = recordedSensitive(NOW, [esLine({ kind: 'open', timeMs: (NOW - 100) * 1000, gseq: 1, process: code, body: body.open(KEYCHAIN) })]);
  const start = sensitive[0]?.process_start ?? NOW - 130;

  it('is recorded as a tier-1 keychain read (as a stealer copying login.keychain-db is)', () => {
    expect(sensitive).toMatchObject([{ category: 'keychain', tier: 1, operation: 'open', pid: 700 }]);
  });

  it("VS Code's extension host calling a staging API 60 s after VS Code loaded its Safe Storage key is a high AN0990 (known noise)", () => {
    const world = buildWorld({
      processes: [
        { pid: 700, processStart: start, ppid: 1, originalPpid: 1, path: CODE, signingId: 'com.microsoft.VSCode', teamId: MS },
        { pid: 705, processStart: NOW - 120, ppid: 700, path: PLUGIN, signingId: 'com.microsoft.VSCode.helper.Plugin', teamId: MS },
      ],
      signing: [
        { path: CODE, cls: 'developer_id', teamId: MS, signingId: 'com.microsoft.VSCode' },
        { path: PLUGIN, cls: 'developer_id', teamId: MS, signingId: 'com.microsoft.VSCode.helper.Plugin' },
      ],
      flows: [{ pid: 705, processStart: NOW - 120, remote: '203.0.113.44', bytesOut: 3_000, bytesIn: 40_000, firstSeen: NOW - 40, lastSeen: NOW - 39 }],
      sensitive,
    });
    const rows = correlate(world).rows.filter((r) => r.analytic === 'AN0990');
    expect(rows).toHaveLength(1);
    // a staging host this developer alone calls: rare_destination, 60 + 15 → high
    const v = ANALYTICS.AN0990.finalize(candidate({ ...rows[0]!, process_chain: JSON.parse(rows[0]!.process_chain) }), fleetFacts(), defaultAnalyticsConfig());
    expect(v).toMatchObject({ fire: true, branch: 'rare_destination', severity: 'high' });
  });
});
