/**
 * Everyday macOS workflows that the default config turns into egress candidates (and, at the fleet, into high
 * AN0990 detections), driven through the real eslogger pipeline (authorization at source), the real correlation
 * and the real fleet predicates. Each case asserts what a SOC needs: the benign workflow produces no candidate.
 */
import { describe, expect, it } from 'vitest';
import { ANALYTICS } from '../../../src/analytics/index.js';
import { candidate, fleetFacts } from '../../../src/analytics/testing/facts.js';
import { defaultAnalyticsConfig } from '../../../src/config/analytics.js';
import { recordedSensitive } from '../../collectors/eslogger/testing/test-context.js';
import { body, esLine } from '../../collectors/eslogger/testing/es-lines.mjs';
import { correlate, type CandidateRow } from './correlate.js';
import { MiB, NOW, TERMINAL, TERMINAL_SIGNING as TERMINAL_TOOLS, ZSH, buildWorld, type WorldSpec } from './testing/world.js';

const HOME = '/Users/alice';
const cfg = defaultAnalyticsConfig();

const recorded = (lines: string[]) => recordedSensitive(NOW, lines);
const only = (r: CandidateRow[], id: string) => r.filter((x) => x.analytic === id);

// A Terminal tab (testing/world.ts), where ssh-add runs too.
const TERMINAL_SIGNING: WorldSpec['signing'] = [...TERMINAL_TOOLS, { path: '/usr/bin/ssh-add', cls: 'apple_platform', signingId: 'com.apple.ssh-add' }];

describe('Apple OpenSSH tools other than ssh (ssh-add, ssh-keygen) reading ~/.ssh keys', () => {
  const key = `${HOME}/.ssh/id_ed25519`;
  const at = NOW - 100;
  const sshAdd = { pid: 820, ppid: 810, path: '/usr/bin/ssh-add', platform: true, signingId: 'com.apple.ssh-add', startMs: at * 1000 - 50, tty: '/dev/ttys001' };

  it('are authorized readers, like ssh itself (com.apple.ssh-add / com.apple.ssh-keygen do not match the prefix com.apple.ssh)', () => {
    const ssh = { ...sshAdd, pid: 821, path: '/usr/bin/ssh', signingId: 'com.apple.ssh' };
    const keygen = { ...sshAdd, pid: 822, path: '/usr/bin/ssh-keygen', signingId: 'com.apple.ssh-keygen' };
    expect(recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: ssh, body: body.open(key) })])).toEqual([]);
    expect(recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: sshAdd, body: body.open(key) })])).toEqual([]);
    expect(recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: keygen, body: body.open(key) })])).toEqual([]);
  });

  it('`ssh-add --apple-load-keychain` in .zshrc does not make the tab\'s next download an AN0990 candidate (a high detection on any rare host)', () => {
    const sensitive = recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: sshAdd, body: body.open(key) })]);
    const curl = { pid: 830, processStart: NOW - 70, ppid: 810, path: '/usr/bin/curl', signingId: 'com.apple.curl', platformBinary: true };
    const download = { pid: 830, processStart: curl.processStart, remote: '198.51.100.7', bytesOut: 40_000, bytesIn: 30 * MiB, firstSeen: NOW - 60, lastSeen: NOW - 20 };
    const world = buildWorld({
      processes: [TERMINAL, ZSH, { pid: 820, processStart: sensitive[0]?.process_start ?? at, ppid: 810, path: '/usr/bin/ssh-add', signingId: 'com.apple.ssh-add', platformBinary: true, exitedAt: at + 1 }, curl],
      signing: TERMINAL_SIGNING,
      flows: [download],
      sensitive,
    });
    const rows = only(correlate(world).rows, 'AN0990');
    if (rows.length) {
      // what the fleet then does with it: a destination only this host uses → rare_destination, floored to high
      const v = ANALYTICS.AN0990.finalize(candidate({ ...rows[0]!, process_chain: JSON.parse(rows[0]!.process_chain) }), fleetFacts(), cfg);
      expect(v).toMatchObject({ fire: true, branch: 'rare_destination', severity: 'high' });
    }
    expect(rows).toEqual([]);
  });
});

describe('messaging apps reading their own stores (every other messaging rule authorizes its owner)', () => {
  const at = NOW - 100;
  const telegram = { pid: 500, ppid: 1, path: '/Applications/Telegram.app/Contents/MacOS/Telegram', signingId: 'com.tdesktop.Telegram', teamId: 'C67CF9S4VU', startMs: (NOW - 7200) * 1000 };
  const discord = { pid: 510, ppid: 1, path: '/Applications/Discord.app/Contents/MacOS/Discord', signingId: 'com.hnc.Discord', teamId: '53Q6R32WPB', startMs: (NOW - 7200) * 1000 };
  const tdata = `${HOME}/Library/Application Support/Telegram Desktop/tdata/key_datas`;

  it('Telegram Desktop (Telegram FZ-LLC, C67CF9S4VU) and Discord (53Q6R32WPB) are authorized for their own data', () => {
    expect(recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: telegram, body: body.open(tdata) })])).toEqual([]);
    expect(recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: discord, body: body.open(`${HOME}/Library/Application Support/discord/Cookies`) })])).toEqual([]);
  });

  it('sending a 3 MiB video in Telegram Desktop is no AN0990 candidate (its DCs are raw IPs: rare keys on a small user base)', () => {
    const sensitive = recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: telegram, body: body.open(tdata) })]);
    const world = buildWorld({
      processes: [{ pid: 500, processStart: sensitive[0]?.process_start ?? NOW - 7200, ppid: 1, originalPpid: 1, path: telegram.path, signingId: telegram.signingId, teamId: telegram.teamId }],
      signing: [{ path: telegram.path, cls: 'developer_id', teamId: 'C67CF9S4VU', signingId: 'com.tdesktop.Telegram' }],
      flows: [{ pid: 500, processStart: sensitive[0]?.process_start ?? NOW - 7200, remote: '149.154.167.51', bytesOut: 3 * MiB, bytesIn: 60_000, firstSeen: NOW - 60, lastSeen: NOW - 20 }],
      sensitive,
    });
    expect(only(correlate(world).rows, 'AN0990')).toEqual([]);
  });
});

describe("a native app's own CFNetwork cookie jar (~/Library/Cookies/<bundle id>.binarycookies) is not a browser secret", () => {
  const at = NOW - 100;
  const spotify = { pid: 520, ppid: 1, path: '/Applications/Spotify.app/Contents/MacOS/Spotify', signingId: 'com.spotify.client', teamId: '2FNC3A47ZF', startMs: (NOW - 7200) * 1000 };

  it('Spotify loading com.spotify.client.binarycookies records no tier-1 event; a stealer opening Safari\'s jar still does', () => {
    const own = recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: spotify, body: body.open(`${HOME}/Library/Cookies/com.spotify.client.binarycookies`) })]);
    expect(own).toEqual([]);
    const stealer = { pid: 530, ppid: 1, path: `${HOME}/.x/helper`, signingId: null, teamId: null, startMs: (NOW - 300) * 1000 };
    const safari = recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: stealer, body: body.open(`${HOME}/Library/Cookies/Cookies.binarycookies`) })]);
    expect(safari).toMatchObject([{ category: 'browser_secrets', tier: 1 }]);
  });
});

describe('a download written into ~/Downloads is not a read of user data', () => {
  it('curl -o ~/Downloads/installer.pkg from a Terminal tab: no AN0990 / AN1415 candidate on its own download', () => {
    const at = NOW - 50;
    const curlEs = { pid: 830, ppid: 810, path: '/usr/bin/curl', platform: true, signingId: 'com.apple.curl', startMs: (NOW - 70) * 1000, tty: '/dev/ttys001' };
    const file = `${HOME}/Downloads/installer.pkg`;
    // open(O_WRONLY|O_CREAT|O_TRUNC) = FWRITE 0x2 | 0x200 | 0x400, then the writes and the close of a modified file
    const sensitive = recorded([
      esLine({ kind: 'create', timeMs: at * 1000, gseq: 1, process: curlEs, body: body.createNew(`${HOME}/Downloads`, 'installer.pkg') }),
      esLine({ kind: 'open', timeMs: at * 1000, gseq: 2, process: curlEs, body: body.open(file, 0x602) }),
      esLine({ kind: 'write', timeMs: at * 1000 + 10, gseq: 3, process: curlEs, body: body.write(file) }),
      esLine({ kind: 'close', timeMs: (NOW - 21) * 1000, gseq: 4, process: curlEs, body: body.close(file, true) }),
    ]);
    const start = sensitive[0]?.process_start ?? NOW - 70;
    const world = buildWorld({
      processes: [TERMINAL, ZSH, { pid: 830, processStart: start, ppid: 810, path: '/usr/bin/curl', signingId: 'com.apple.curl', platformBinary: true }],
      signing: TERMINAL_SIGNING,
      flows: [{ pid: 830, processStart: start, remote: '198.51.100.7', bytesOut: 40_000, bytesIn: 80 * MiB, firstSeen: NOW - 60, lastSeen: NOW - 20 }],
      sensitive,
    });
    const rows = correlate(world).rows;
    expect(only(rows, 'AN0990')).toEqual([]);
    expect(only(rows, 'AN1415')).toEqual([]);
  });
});

describe('~/.ssh/config holds no secret: an IDE or SSH client reading it for its host list records nothing', () => {
  const at = NOW - 100;
  const code = { pid: 540, ppid: 1, path: '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper (Plugin).app/Contents/MacOS/Code Helper (Plugin)', signingId: 'com.microsoft.VSCode.helper.Plugin', teamId: 'UBF8T346G9', startMs: (NOW - 7200) * 1000 };

  it('VS Code Remote-SSH opening ~/.ssh/config records no event; its opening a private key still does', () => {
    expect(recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: code, body: body.open(`${HOME}/.ssh/config`) })])).toEqual([]);
    expect(recorded([esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: code, body: body.open(`${HOME}/.ssh/id_ed25519`) })])).toMatchObject([{ category: 'dev_credentials', tier: 1, operation: 'open' }]);
  });
});

describe("an open event's flags: only an open for writing alone is no read", () => {
  const at = NOW - 100;
  const stealer = { pid: 550, ppid: 1, path: `${HOME}/.x/helper`, signingId: null, teamId: null, startMs: (NOW - 300) * 1000 };
  const key = `${HOME}/Library/Keychains/login.keychain-db`;
  const opened = (fflag: number | undefined) => {
    const line = JSON.parse(esLine({ kind: 'open', timeMs: at * 1000, gseq: 1, process: stealer, body: body.open(key, fflag ?? 1) })) as { event: { open: { fflag?: number } } };
    if (fflag === undefined) delete line.event.open.fflag;
    return recorded([JSON.stringify(line)]).map((r) => r.operation);
  };

  it('FREAD, FREAD|FWRITE (O_RDWR) and a line without fflag are reads; FWRITE alone (O_WRONLY|O_CREAT|O_TRUNC) is a write', () => {
    expect(opened(0x1)).toEqual(['open']);
    expect(opened(0x3)).toEqual(['open']);
    expect(opened(undefined)).toEqual(['open']);
    expect(opened(0x602)).toEqual(['write']);
  });
});

describe("a download's own archive file is no archive precursor of that download", () => {
  // an app's Sparkle updater fetching its update from the vendor's server (few hosts run the app: a rare destination)
  const UPDATER = { pid: 570, processStart: NOW - 300, ppid: 1, originalPpid: 1, path: '/Applications/Scrivo.app/Contents/Frameworks/Sparkle.framework/Versions/B/Autoupdate', signingId: 'org.sparkle-project.Sparkle.Autoupdate', teamId: 'ABCDE12345' };
  const SIGNING: WorldSpec['signing'] = [{ path: UPDATER.path, cls: 'developer_id', teamId: 'ABCDE12345', signingId: UPDATER.signingId }];
  const archive = (over: Record<string, unknown>) => ({ pid: UPDATER.pid, process_start: UPDATER.processStart, path: UPDATER.path, tool: 'other' as const, operation: 'create' as const, archive_path: '/private/var/folders/zz/abc/T/org.sparkle/Scrivo 3.2.zip', args: '', staging: 1, ...over });
  const rows = (flow: { bytesOut: number; bytesIn: number }, archives: ReturnType<typeof archive>[]) =>
    only(correlate(buildWorld({ processes: [UPDATER], signing: SIGNING, flows: [{ pid: UPDATER.pid, processStart: UPDATER.processStart, remote: '198.51.100.90', firstSeen: NOW - 120, lastSeen: NOW - 20, ...flow }], archive: archives })).rows, 'AN1415');
  const download = { bytesOut: 60_000, bytesIn: 48 * MiB };

  it('the update zip the updater writes while it downloads it makes no AN1415 candidate', () => {
    expect(rows(download, [archive({ time: NOW - 30 })])).toEqual([]);
  });

  it('still a precursor: an archive the process made before the flow, or an archive written during an upload', () => {
    expect(rows(download, [archive({ time: NOW - 200 })])).toMatchObject([{ precursor_kind: 'archive', precursor_time: NOW - 200 }]);
    expect(rows({ bytesOut: 48 * MiB, bytesIn: 60_000 }, [archive({ time: NOW - 30 })])).toMatchObject([{ precursor_kind: 'archive', precursor_time: NOW - 30 }]);
  });

  it("still a precursor: another process's archive during the download, chosen over the download's own file", () => {
    const other = archive({ pid: 571, process_start: NOW - 100, path: '/usr/bin/zip', tool: 'zip', operation: 'exec', archive_path: '/private/tmp/loot.zip', time: NOW - 25 });
    const world = { processes: [UPDATER, { pid: 571, processStart: NOW - 100, ppid: UPDATER.pid, path: '/usr/bin/zip', signingId: 'com.apple.zip', platformBinary: true }] };
    const r = only(
      correlate(buildWorld({ ...world, signing: SIGNING, flows: [{ pid: UPDATER.pid, processStart: UPDATER.processStart, remote: '198.51.100.90', firstSeen: NOW - 120, lastSeen: NOW - 20, ...download }], archive: [archive({ time: NOW - 119 }), other] })).rows,
      'AN1415',
    );
    expect(r).toMatchObject([{ precursor_kind: 'archive', precursor_path: '/private/tmp/loot.zip' }]);
  });
});
