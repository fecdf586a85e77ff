import { describe, expect, it } from 'vitest';
import { correlate, type CandidateRow } from './correlate.js';
import { MiB, NOW, buildWorld, type WorldSpec } from './testing/world.js';

const KEYCHAIN = '/Users/alice/Library/Keychains/login.keychain-db';
const rows = (spec: WorldSpec): CandidateRow[] => correlate(buildWorld(spec)).rows;
const ids = (r: CandidateRow[]) => r.map((x) => x.analytic).sort();
const UPLOAD = { remote: '203.0.113.50', bytesOut: 15 * MiB, bytesIn: 8_000, firstSeen: NOW - 60, lastSeen: NOW - 30 };

describe('responsibility is inherited on macOS, identity is not', () => {
  // Dropbox started by launchd; curl it spawns inherits Dropbox as responsible process (as the
  // existing fixtures model for Terminal → login → zsh → Dropbox → dbxsync).
  const dropbox = { pid: 1000, processStart: NOW - 9000, ppid: 1, responsiblePid: 1000, path: '/Applications/Dropbox.app/Contents/MacOS/Dropbox' };
  const curl = { pid: 1020, processStart: NOW - 100, ppid: 1000, responsiblePid: 1000, path: '/usr/bin/curl' };
  const signing: WorldSpec['signing'] = [
    { path: dropbox.path, cls: 'developer_id', teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox' },
    { path: curl.path, cls: 'apple_platform', signingId: 'com.apple.curl' },
  ];
  it('curl run by a sanctioned app is not exempted (docs/analytics.md) — AN1415 must remain', () => {
    const r = rows({ processes: [dropbox, curl], signing, flows: [{ ...UPLOAD, pid: 1020, processStart: curl.processStart }] });
    expect(ids(r)).toEqual(['AN0032', 'AN1415']);
    expect(r[0]!.sanctioned).toBe(0);
  });

  // An unsigned binary exec'd by Chrome (e.g. a native-messaging host) reads the keychain and uploads.
  const chrome = { pid: 900, processStart: NOW - 9000, ppid: 1, responsiblePid: 900, path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome' };
  const host = { pid: 950, processStart: NOW - 200, ppid: 900, responsiblePid: 900, path: '/Users/alice/Library/Application Support/x/host' };
  it('an unsigned child of a browser is not a browser — AN0990 must fire', () => {
    const r = rows({
      processes: [chrome, host],
      signing: [
        { path: chrome.path, cls: 'developer_id', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' },
        { path: host.path, cls: 'unsigned', cdhash: 'ab12' },
      ],
      flows: [{ ...UPLOAD, pid: 950, processStart: host.processStart }],
      sensitive: [{ pid: 950, ppid: 900, process_start: host.processStart, path: host.path, file_path: KEYCHAIN, category: 'keychain', tier: 1, time: NOW - 90 }],
    });
    expect(ids(r)).toEqual(['AN0032', 'AN0990', 'AN1415']);
    expect(r.every((x) => x.browser === 0)).toBe(true);
  });
});

describe('Apple platform code shares one team: an Apple tool is never its Apple app', () => {
  // Safari (launchd-started, its own group root) runs /usr/bin/curl: both are Apple platform code ("team" APPLE), and
  // Safari is an allowlisted browser, but curl is not Safari's own helper.
  const safari = { pid: 600, processStart: NOW - 3000, ppid: 1, responsiblePid: 600, path: '/Applications/Safari.app/Contents/MacOS/Safari' };
  const curl = { pid: 620, processStart: NOW - 100, ppid: 600, responsiblePid: 600, path: '/usr/bin/curl' };
  it('curl run by Safari is not a browser — AN1415 must remain', () => {
    const r = rows({
      processes: [safari, curl],
      signing: [
        { path: safari.path, cls: 'apple_platform', signingId: 'com.apple.Safari' },
        { path: curl.path, cls: 'apple_platform', signingId: 'com.apple.curl' },
      ],
      flows: [{ ...UPLOAD, pid: 620, processStart: curl.processStart }],
    });
    expect(r[0]?.group_root_pid).toBe(600);
    expect(ids(r)).toEqual(['AN0032', 'AN1415']);
    expect(r.every((x) => x.browser === 0)).toBe(true);
  });
});

describe('com.apple.WebKit is every WKWebView app, not Safari', () => {
  // An unsigned GUI app (launchd-started, its own group root) reads the keychain, then uploads through
  // WKWebView: the bytes leave from its com.apple.WebKit.Networking XPC service (responsible = the app).
  const app = { pid: 500, processStart: NOW - 3000, ppid: 1, responsiblePid: 500, path: '/Applications/Notes Helper.app/Contents/MacOS/Notes Helper' };
  // launchd started it: eslogger reports original_ppid 1 with the responsible process
  const net = {
    pid: 510, processStart: NOW - 200, ppid: 1, originalPpid: 1, responsiblePid: 500,
    path: '/System/Library/Frameworks/WebKit.framework/Versions/A/XPCServices/com.apple.WebKit.Networking.xpc/Contents/MacOS/com.apple.WebKit.Networking',
  };
  it('the app\'s WebKit networking upload after its keychain read → AN0990 (not browser)', () => {
    const r = rows({
      processes: [app, net],
      signing: [
        { path: app.path, cls: 'adhoc', cdhash: 'dd44' },
        { path: net.path, cls: 'apple_platform', signingId: 'com.apple.WebKit.Networking' },
      ],
      flows: [{ ...UPLOAD, pid: 510, processStart: net.processStart }],
      sensitive: [{ pid: 500, ppid: 1, process_start: app.processStart, path: app.path, file_path: KEYCHAIN, category: 'keychain', tier: 1, time: NOW - 90 }],
    });
    expect(r[0]?.group_root_pid).toBe(500);
    expect(ids(r)).toEqual(['AN0032', 'AN0990', 'AN1415']);
  });

  it("Safari's own WebKit networking service still counts as Safari (its responsible process)", () => {
    const safari = { pid: 600, processStart: NOW - 3000, ppid: 1, responsiblePid: 600, path: '/Applications/Safari.app/Contents/MacOS/Safari' };
    const r = rows({
      processes: [safari, { ...net, pid: 610, responsiblePid: 600 }],
      signing: [
        { path: safari.path, cls: 'apple_platform', signingId: 'com.apple.Safari' },
        { path: net.path, cls: 'apple_platform', signingId: 'com.apple.WebKit.Networking' },
      ],
      flows: [{ ...UPLOAD, pid: 610, processStart: net.processStart }],
      sensitive: [{ pid: 600, ppid: 1, process_start: safari.processStart, path: safari.path, file_path: KEYCHAIN, category: 'keychain', tier: 1, time: NOW - 90 }],
    });
    expect(r.map((x) => [x.analytic, x.browser])).toEqual([['AN0032', 1]]);
  });
});

const dropboxApp = { pid: 1000, processStart: NOW - 9000, ppid: 1, responsiblePid: 1000, path: '/Applications/Dropbox.app/Contents/MacOS/Dropbox' };
const dropboxShell = { pid: 1010, processStart: NOW - 120, ppid: 1000, responsiblePid: 1000, path: '/bin/sh', args: ['sh', '-c', 'curl … &'], exitedAt: NOW - 119 };
const dropboxSigning: WorldSpec['signing'] = [
  { path: dropboxApp.path, cls: 'developer_id', teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox' },
  { path: '/usr/bin/curl', cls: 'apple_platform', signingId: 'com.apple.curl' },
  { path: '/bin/sh', cls: 'apple_platform', signingId: 'com.apple.sh' },
];

describe('egress_candidates: a ppid of 1 is not launchd starting the process', () => {
  it('curl daemonized by a shell Dropbox ran (reparented to launchd, original parent known) is not sanctioned', () => {
    const curl = { pid: 1020, processStart: NOW - 119, ppid: 1, originalPpid: 1010, responsiblePid: 1000, path: '/usr/bin/curl' };
    const r = rows({ processes: [dropboxApp, dropboxShell, curl], signing: dropboxSigning, flows: [{ ...UPLOAD, pid: 1020, processStart: curl.processStart }] });
    expect(ids(r)).toContain('AN1415');
    expect(r.every((x) => x.sanctioned === 0)).toBe(true);
  });
  it('curl reparented before its record gained the original parent (reported ppid 1, original ppid unknown)', () => {
    const curl = { pid: 1020, processStart: NOW - 119, ppid: 1, responsiblePid: 1000, path: '/usr/bin/curl' };
    const r = rows({ processes: [dropboxApp, curl], signing: dropboxSigning, flows: [{ ...UPLOAD, pid: 1020, processStart: curl.processStart }] });
    expect(ids(r)).toContain('AN1415');
  });
});
