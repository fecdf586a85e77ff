/**
 * An upload over plain TCP on a port the port map does not name (service `other`). BeaverTail, the Node.js stealer of
 * the "Contagious Interview" npm campaigns, reads Chrome/Brave `Login Data`, wallet extensions' `Local Extension
 * Settings`, `~/.config/solana/id.json` and `~/Library/Keychains/login.keychain-db`, then POSTs them as multipart
 * form data to `http://<VPS IP>:1224/uploads` from the same `node` process. Neither nettop nor the port map can say
 * whether such a flow is encrypted or cleartext, and AN0990 (encrypted), AN0425 (cleartext) and AN1415 (tls/quic)
 * each required a known service: the upload was no candidate at all. A credential-store read followed by a flow
 * that sends far more than it gets back is exfiltration over the C2 channel whatever the port (AN0990, T1041).
 */
import { describe, expect, it } from 'vitest';
import { correlate } from './correlate.js';
import type { SensitiveFileEventRow } from '../../runtime/context.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const CODE = { pid: 700, processStart: NOW - 9000, ppid: 1, originalPpid: 1, path: '/Applications/Visual Studio Code.app/Contents/MacOS/Electron', signingId: 'com.microsoft.VSCode', teamId: 'UBF8T346G9' };
const ZSH = { pid: 710, processStart: NOW - 3000, ppid: 700, path: '/bin/zsh', args: ['-zsh'], tty: true, signingId: 'com.apple.zsh', platformBinary: true };
const NODE = { pid: 720, processStart: NOW - 400, ppid: 710, path: '/opt/homebrew/Cellar/node/22.9.0/bin/node', args: ['node', 'server/index.js'], tty: true };
const SIGNING = [
  { path: CODE.path, cls: 'developer_id' as const, teamId: 'UBF8T346G9', signingId: 'com.microsoft.VSCode' },
  { path: '/bin/zsh', cls: 'apple_platform' as const, signingId: 'com.apple.zsh' },
  { path: NODE.path, cls: 'adhoc' as const, signingId: 'node' },
];
const read = (file_path: string, category: SensitiveFileEventRow['category'], tier: 1 | 2, time: number): Partial<SensitiveFileEventRow> => ({ pid: NODE.pid, ppid: NODE.ppid, process_start: NODE.processStart, path: NODE.path, time, file_path, category, tier });
const READS = [
  read('/Users/dev/Library/Application Support/Google/Chrome/Default/Login Data', 'browser_secrets', 1, NOW - 140),
  read('/Users/dev/Library/Keychains/login.keychain-db', 'keychain', 1, NOW - 130),
];

const an0990 = (flow: { remotePort: number; bytesOut: number; bytesIn: number; protocol?: 'tcp' | 'udp' }, sensitive?: Partial<SensitiveFileEventRow>[]) => rows(flow, sensitive).filter((x) => x.analytic === 'AN0990');
const rows = (flow: { remotePort: number; bytesOut: number; bytesIn: number; protocol?: 'tcp' | 'udp' }, sensitive: Partial<SensitiveFileEventRow>[] = READS) =>
  correlate(
    buildWorld({
      processes: [CODE, ZSH, NODE],
      signing: SIGNING,
      sensitive,
      flows: [{ pid: NODE.pid, processStart: NODE.processStart, remote: '172.86.84.38', ...flow, firstSeen: NOW - 120, lastSeen: NOW - 110 }],
    }),
  ).rows;

describe('credential reads, then an upload on a port of no known service', () => {
  it("BeaverTail's POST to :1224/uploads after Login Data and the keychain is an AN0990 candidate", () => {
    const r = rows({ remotePort: 1224, bytesOut: 420 * 1024, bytesIn: 900 });
    expect(r.map((x) => x.analytic)).toContain('AN0990');
    const row = r.find((x) => x.analytic === 'AN0990')!;
    expect(row.service).toBe('other');
    expect(row.precursor_tier).toBe(1);
    expect(row.group_root_pid).toBe(ZSH.pid);
    expect(row.reasons.split(',')).toEqual(expect.arrayContaining(['tier1_precursor', 'non_standard_port']));
    // the fact that let a flow neither encrypted nor cleartext in: 420 KiB is below upload_shaped's 1 MiB
    expect(row.reasons.split(',')).toContain('unidentified_upload');
    expect(row.reasons.split(',')).not.toContain('upload_shaped');
  });

  it('also when the haul is megabytes', () => {
    expect(an0990({ remotePort: 1224, bytesOut: 6 * MiB, bytesIn: 2000 })).toHaveLength(1);
  });

  it('not a client session whose answers come back (psql on 5432 after ~/.pgpass, kubectl on 6443 after ~/.kube/config)', () => {
    const pgpass = [read('/Users/dev/.pgpass', 'dev_credentials', 1, NOW - 130)];
    expect(an0990({ remotePort: 5432, bytesOut: 300 * 1024, bytesIn: 4 * MiB }, pgpass)).toEqual([]);
    expect(an0990({ remotePort: 6443, bytesOut: 90 * 1024, bytesIn: 60 * 1024 }, pgpass)).toEqual([]);
  });

  it('not a few small requests (a handshake, a login), whatever their shape', () => {
    expect(an0990({ remotePort: 1224, bytesOut: 3000, bytesIn: 200 })).toEqual([]);
  });

  it('not over UDP (a call or screen share with the other camera off, a WireGuard tunnel: apps that read a store of their own)', () => {
    expect(an0990({ remotePort: 1224, bytesOut: 420 * 1024, bytesIn: 900 })).toHaveLength(1);
    expect(an0990({ remotePort: 1224, bytesOut: 420 * 1024, bytesIn: 900, protocol: 'udp' })).toEqual([]);
    expect(an0990({ remotePort: 51820, bytesOut: 30 * MiB, bytesIn: 1 * MiB, protocol: 'udp' })).toEqual([]);
  });

  it('also on tcp/53, which the port map calls dns: a 420 KiB upload there is no DNS (a stealer picks 53 for firewalls)', () => {
    expect(an0990({ remotePort: 53, bytesOut: 420 * 1024, bytesIn: 900 })).toHaveLength(1);
    // DNS over TCP itself (answers and zone transfers come back) stays out
    expect(an0990({ remotePort: 53, bytesOut: 90 * 1024, bytesIn: 2 * MiB })).toEqual([]);
  });

  it('not after user data alone (a torrent client seeding from ~/Downloads, Syncthing syncing ~/Documents to peers)', () => {
    const docs = [read('/Users/dev/Downloads/ubuntu.iso', 'documents', 2, NOW - 130)];
    expect(an0990({ remotePort: 51413, bytesOut: 40 * MiB, bytesIn: 300 * 1024 }, docs)).toEqual([]);
  });
});
