/**
 * The download's own archive file (correlate.ts ownDownload): what the flow's first_seen means (the first sample that
 * saw the socket, up to flows.sample_interval after the connect), and which flows are downloads.
 */
import { describe, expect, it } from 'vitest';
import { correlate } from './correlate.js';
import { MiB, NOW, TERMINAL, TERMINAL_SIGNING, ZSH, buildWorld, type WorldSpec } from './testing/world.js';

const CURL = { pid: 830, processStart: NOW - 125, ppid: 810, path: '/usr/bin/curl', signingId: 'com.apple.curl', platformBinary: true };
const an1415 = (spec: WorldSpec) => correlate(buildWorld(spec)).rows.filter((r) => r.analytic === 'AN1415');

describe("the download's own archive file and the flow's first sample", () => {
  it('curl -O x.tar.gz: the file curl creates between the connect and the first flow sample is no archive precursor', () => {
    // curl connects at NOW − 123, creates x.tar.gz as the first body bytes arrive (NOW − 122); the 5 s sampler first
    // sees the socket at NOW − 120
    const rows = an1415({
      processes: [TERMINAL, ZSH, CURL],
      signing: [...TERMINAL_SIGNING],
      flows: [{ pid: CURL.pid, processStart: CURL.processStart, remote: '198.51.100.91', firstSeen: NOW - 120, lastSeen: NOW - 20, bytesOut: 4000, bytesIn: 48 * MiB }],
      archive: [{ pid: CURL.pid, process_start: CURL.processStart, path: CURL.path, tool: 'other', operation: 'create', archive_path: '/Users/alice/Downloads/x.tar.gz', args: '', staging: 0, time: NOW - 122 }],
    });
    expect(rows).toEqual([]);
  });
});

describe('an upload padded with as many bytes back keeps its archive precursor', () => {
  // a LaunchAgent helper that zips what it collected itself, then sends it over a connection the server answers
  // with more bytes than it receives
  const AGENT = { pid: 900, processStart: NOW - 400, ppid: 1, originalPpid: 1, path: '/Users/alice/Library/Application Support/.sync/helper', cdhash: 'ab'.repeat(20) };
  const spec = (bytesIn: number): WorldSpec => ({
    processes: [AGENT],
    signing: [{ path: AGENT.path, cls: 'adhoc' }],
    flows: [{ pid: AGENT.pid, processStart: AGENT.processStart, remote: '203.0.113.77', firstSeen: NOW - 120, lastSeen: NOW - 20, bytesOut: 20 * MiB, bytesIn }],
    archive: [{ pid: AGENT.pid, process_start: AGENT.processStart, path: AGENT.path, tool: 'other', operation: 'create', archive_path: '/private/tmp/.c/l.zip', args: '', staging: 1, time: NOW - 100 }],
  });

  it('20 MiB out, 21 MiB in: still an AN1415 candidate with the archive as its precursor', () => {
    expect(an1415(spec(2 * MiB))).toMatchObject([{ precursor_kind: 'archive', precursor_path: '/private/tmp/.c/l.zip' }]);
    expect(an1415(spec(21 * MiB))).toMatchObject([{ precursor_kind: 'archive', precursor_path: '/private/tmp/.c/l.zip' }]);
  });
});
