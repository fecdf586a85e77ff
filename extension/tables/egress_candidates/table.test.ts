import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { EGRESS_CANDIDATE_COLUMNS, EgressCandidateSchema } from '../../../src/schemas/egress-candidate.js';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate, type CandidateRow } from './correlate.js';
import { correlationOptions, egressCandidates } from './table.js';
import { MiB, NOW, buildWorld, type WorldSpec } from './testing/world.js';

const HOME = '/Users/alice';
const KEYCHAIN = `${HOME}/Library/Keychains/login.keychain-db`;
const LOGIN_DATA = `${HOME}/Library/Application Support/Google/Chrome/Default/Login Data`;

// An unsigned dropper started by launchd (its own group root) and the Apple curl it spawns.
const STEALER = { pid: 700, processStart: NOW - 3600, ppid: 1, path: `${HOME}/Downloads/update`, tty: false };
const CURL = { pid: 710, processStart: NOW - 120, ppid: 700, path: '/usr/bin/curl', platformBinary: true, signingId: 'com.apple.curl', tty: false };
const SIGNING: WorldSpec['signing'] = [
  { path: STEALER.path, cls: 'unsigned', cdhash: 'aa11' },
  { path: CURL.path, cls: 'apple_platform', signingId: 'com.apple.curl', cdhash: 'cc22' },
];
/** 15 MiB POST over 443 from curl, first seen 60 s ago, closed 30 s ago. */
const UPLOAD = { pid: 710, processStart: CURL.processStart, remote: '203.0.113.50', bytesOut: 15 * MiB, bytesIn: 8_000, firstSeen: NOW - 60, lastSeen: NOW - 30 };
const KEYCHAIN_READ = { pid: 700, ppid: 1, process_start: STEALER.processStart, path: STEALER.path, file_path: KEYCHAIN, category: 'keychain', tier: 1 } as const;

function rows(spec: WorldSpec, query = ''): CandidateRow[] {
  const world = buildWorld({ signing: SIGNING, ...spec });
  return correlate(world, correlationOptions(parseQueryContext(query))).rows;
}
const analytics = (r: CandidateRow[]) => r.map((x) => x.analytic).sort();
const only = (r: CandidateRow[], id: string) => r.filter((x) => x.analytic === id);

describe('egress_candidates: the stealer shape', () => {
  const spec: WorldSpec = { processes: [STEALER, CURL], flows: [UPLOAD], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }] };

  it('Apple-signed curl uploading after its unsigned parent read the keychain → AN0990, AN1415, AN0032', () => {
    const r = rows(spec);
    expect(analytics(r)).toEqual(['AN0032', 'AN0990', 'AN1415']);
    const row = only(r, 'AN0990')[0]!;
    expect(row).toMatchObject({
      pid: 710,
      path: '/usr/bin/curl',
      signature_class: 'apple_platform',
      identity: 'team:APPLE/com.apple.curl',
      group_root_pid: 700,
      group_root_path: STEALER.path,
      group_root_identity: 'cdhash:aa11',
      browser: 0,
      sanctioned: 0,
      precursor_kind: 'sensitive_access',
      precursor_time: NOW - 300,
      precursor_path: KEYCHAIN,
      precursor_category: 'keychain',
      precursor_tier: 1,
      precursor_pid: 700,
      precursor_gap: 240,
      remote_scope: 'public',
      service: 'tls',
      bytes_out: 15 * MiB,
      closed: 1,
    });
    expect(JSON.parse(row.process_chain)).toEqual([
      { pid: 710, path: '/usr/bin/curl', identity: 'team:APPLE/com.apple.curl', signature_class: 'apple_platform' },
      { pid: 700, path: STEALER.path, identity: 'cdhash:aa11', signature_class: 'unsigned' },
    ]);
    expect(row.reasons.split(',')).toEqual(expect.arrayContaining(['tier1_precursor', 'upload_shaped', 'no_return', 'non_browser', 'encrypted']));
  });

  it('every row matches the egress_candidates schema and column list', () => {
    const r = rows(spec);
    expect(Object.keys(egressCandidates.columns)).toEqual(EGRESS_CANDIDATE_COLUMNS);
    for (const row of r) {
      expect(Object.keys(row).sort()).toEqual([...EGRESS_CANDIDATE_COLUMNS].sort());
      const parsed = EgressCandidateSchema.safeParse(row);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    }
  });

  it.each([
    ['exactly flow start − 15 min', NOW - 60 - 900, true],
    ['flow start − 15 min − 1 s', NOW - 60 - 901, false],
    ['during the flow', NOW - 45, true],
    ['at the flow end', NOW - 30, true],
    ['after the flow ended', NOW - 29, false],
  ])('precursor %s → AN0990 %s', (_n, time, want) => {
    const r = rows({ ...spec, sensitive: [{ ...KEYCHAIN_READ, time }] });
    expect(only(r, 'AN0990').length).toBe(want ? 1 : 0);
    if (want) expect(only(r, 'AN0990')[0]!.precursor_gap).toBe(NOW - 60 - time);
  });

  it('a read by another lineage group on the same host is not a precursor', () => {
    const terminal = { pid: 800, processStart: NOW - 7200, ppid: 1, path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', signingId: 'com.apple.Terminal', platformBinary: true };
    const shell = { pid: 810, processStart: NOW - 7000, ppid: 800, path: '/bin/zsh', args: ['-zsh'], tty: true };
    const security = { pid: 820, processStart: NOW - 400, ppid: 810, path: '/usr/bin/security', exitedAt: NOW - 399 };
    const r = rows({
      processes: [STEALER, CURL, terminal, shell, security],
      flows: [UPLOAD],
      sensitive: [{ pid: 820, ppid: 810, process_start: security.processStart, path: security.path, time: NOW - 300, file_path: KEYCHAIN, category: 'keychain', tier: 1 }],
    });
    expect(analytics(r)).toEqual(['AN0032', 'AN1415']);
    expect(r.every((x) => x.precursor_kind === 'none')).toBe(true);
  });

  it('pid reuse: the keychain read of an earlier process with the same pid does not count', () => {
    const first = { pid: 720, processStart: NOW - 2000, ppid: 1, path: '/tmp/a', exitedAt: NOW - 1500 };
    const second = { pid: 720, processStart: NOW - 100, ppid: 1, path: '/tmp/b' };
    const flow = { ...UPLOAD, pid: 720, processStart: second.processStart };
    const earlierRead = { ...KEYCHAIN_READ, pid: 720, process_start: first.processStart, path: first.path, time: NOW - 400 };
    const base: WorldSpec = { processes: [first, second], signing: [{ path: '/tmp/a', cls: 'adhoc' }, { path: '/tmp/b', cls: 'adhoc' }], flows: [flow] };
    expect(only(rows({ ...base, sensitive: [earlierRead] }), 'AN0990')).toHaveLength(0);
    // Control: the same read by the uploading instance itself is a precursor.
    const ownRead = { ...earlierRead, process_start: second.processStart, path: second.path, time: NOW - 90 };
    expect(only(rows({ ...base, sensitive: [ownRead] }), 'AN0990')).toHaveLength(1);
  });

  it('a reader that exited before any sample is attributed to its parent\'s group', () => {
    const sqlite = { pid: 730, ppid: 700, process_start: NOW - 200, path: '/usr/bin/sqlite3', file_path: LOGIN_DATA, category: 'browser_secrets', tier: 1, time: NOW - 200 } as const;
    const r = only(rows({ processes: [STEALER, CURL], flows: [UPLOAD], sensitive: [sqlite] }), 'AN0990');
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ precursor_pid: 730, precursor_category: 'browser_secrets', precursor_path: LOGIN_DATA });
  });

  it('tier 1 wins over a closer tier 2 read; the closest tier 1 is reported', () => {
    const r = only(
      rows({
        ...spec,
        sensitive: [
          { ...KEYCHAIN_READ, time: NOW - 500 },
          { ...KEYCHAIN_READ, time: NOW - 100, file_path: `${HOME}/Documents/plan.docx`, category: 'documents', tier: 2 },
          { ...KEYCHAIN_READ, time: NOW - 200, file_path: LOGIN_DATA, category: 'browser_secrets', tier: 1 },
        ],
      }),
      'AN0990',
    );
    expect(r[0]).toMatchObject({ precursor_tier: 1, precursor_path: LOGIN_DATA, precursor_gap: 140 });
    expect(r[0]!.reasons).toContain('tier1_precursor');
  });

  it('buffers out of time order: the read closest to the flow start still wins; ties go to the earlier time, then to the read buffered last', () => {
    const read = (time: number, name: string) => ({ ...KEYCHAIN_READ, time, file_path: `${HOME}/Library/Keychains/${name}` });
    // The flow runs from NOW − 60 to NOW − 30: NOW − 80 and NOW − 40 are both 20 s from its start.
    const sensitive = [read(NOW - 80, 'a'), read(NOW - 300, 'b'), read(NOW - 40, 'd'), read(NOW - 80, 'c'), read(NOW - 900, 'e')];
    const r = only(rows({ ...spec, sensitive }), 'AN0990');
    expect(r[0]).toMatchObject({ precursor_path: `${HOME}/Library/Keychains/c`, precursor_time: NOW - 80, precursor_gap: 20 });
    const during = only(rows({ ...spec, sensitive: [read(NOW - 40, 'd'), read(NOW - 300, 'b'), read(NOW - 20, 'after the flow')] }), 'AN0990');
    expect(during[0]).toMatchObject({ precursor_path: `${HOME}/Library/Keychains/d`, precursor_gap: -20 });
  });

  it('archive precursor: the closest archive event, and staging_path when any staging archive of the group is in the window', () => {
    const small = { ...UPLOAD, bytesOut: 2 * MiB, bytesIn: 4000 };
    const archive = (time: number, path: string, staging: 0 | 1) => ({ pid: 740, ppid: 700, process_start: NOW - 1200, time, path: '/usr/bin/zip', tool: 'zip' as const, archive_path: path, staging });
    const zipAt = (time: number) => archive(time, `${HOME}/out-${NOW - time}.zip`, 0);
    const run = (events: ReturnType<typeof archive>[]) => only(rows({ processes: [STEALER, CURL], flows: [small], archive: events }), 'AN1415')[0]!;
    // Pushed out of order; the staging write is older than the closest archive event but in the window.
    const withStaging = run([zipAt(NOW - 100), archive(NOW - 400, '/private/tmp/stage.zip', 1), zipAt(NOW - 700)]);
    expect(withStaging).toMatchObject({ precursor_kind: 'archive', precursor_path: `${HOME}/out-100.zip`, precursor_category: 'archive:zip', precursor_gap: 40 });
    expect(withStaging.reasons.split(',')).toEqual(expect.arrayContaining(['archive_precursor', 'staging_path']));
    // The staging write before the window does not count.
    const outside = run([zipAt(NOW - 100), archive(NOW - 1000, '/private/tmp/stage.zip', 1)]);
    expect(outside).toMatchObject({ precursor_path: `${HOME}/out-100.zip` });
    expect(outside.reasons.split(',')).toContain('archive_precursor');
    expect(outside.reasons.split(',')).not.toContain('staging_path');
  });

  it('a staging archive written at the flow\'s last second is in the window [start − 15 min, flow end] (SPEC §4): staging_path', () => {
    const small = { ...UPLOAD, bytesOut: 2 * MiB, bytesIn: 4000 };
    const stage = { pid: 740, ppid: 700, process_start: NOW - 1200, time: UPLOAD.lastSeen, path: '/usr/bin/zip', tool: 'zip' as const, archive_path: '/private/tmp/stage.zip', staging: 1 };
    const r = only(rows({ processes: [STEALER, CURL], flows: [small], archive: [stage] }), 'AN1415')[0]!;
    expect(r).toMatchObject({ precursor_kind: 'archive', archive_path: '/private/tmp/stage.zip', precursor_gap: -30 });
    expect(r.reasons.split(',')).toEqual(expect.arrayContaining(['archive_precursor', 'staging_path']));
  });

  it('a keychain read reported as the precursor still names the archive step (archive_*), and the root kind from the lineage', () => {
    const ditto = { pid: 740, ppid: 700, process_start: NOW - 150, time: NOW - 90, path: '/usr/bin/ditto', archive_path: '/private/tmp/loot.zip', staging: 1 };
    const r = only(rows({ processes: [STEALER, CURL], flows: [UPLOAD], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }], archive: [ditto] }), 'AN0990')[0]!;
    expect(r).toMatchObject({ precursor_kind: 'sensitive_access', precursor_gap: 240, archive_time: NOW - 90, archive_path: '/private/tmp/loot.zip', archive_tool: 'ditto', archive_pid: 740 });
    // the stealer (ppid 1, not an app bundle) was started by launchd
    expect(r.group_root_kind).toBe('launchd_job');
    // the archive step is 30 s before the flow: close, though the reported read is 240 s before
    expect(r.reasons.split(',')).toEqual(expect.arrayContaining(['tier1_precursor', 'archive_precursor', 'staging_path', 'precursor_close']));
    const none = only(rows({ processes: [STEALER, CURL], flows: [UPLOAD], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }] }), 'AN0990')[0]!;
    expect(none).toMatchObject({ archive_time: 0, archive_path: '', archive_tool: '', archive_pid: 0 });
  });

  it('ditto into /tmp by the group: archive precursor with staging; AN1415 fires on a small upload', () => {
    const small = { ...UPLOAD, bytesOut: 2 * MiB, bytesIn: 4000 };
    const ditto = { pid: 740, ppid: 700, process_start: NOW - 150, time: NOW - 150, path: '/usr/bin/ditto', archive_path: '/private/tmp/out.zip', staging: 1 };
    const r = rows({ processes: [STEALER, CURL], flows: [small], archive: [ditto] });
    expect(analytics(r)).toEqual(['AN0032', 'AN1415']);
    expect(only(r, 'AN1415')[0]).toMatchObject({
      precursor_kind: 'archive',
      precursor_path: '/private/tmp/out.zip',
      precursor_category: 'archive:ditto',
      precursor_pid: 740,
      precursor_gap: 90,
    });
    expect(only(r, 'AN1415')[0]!.reasons.split(',')).toEqual(expect.arrayContaining(['archive_precursor', 'staging_path']));
  });
});

describe('egress_candidates: browsers and sanctioned uploaders', () => {
  const chrome = { pid: 900, processStart: NOW - 9000, ppid: 1, path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome' };
  const xpc = {
    pid: 910,
    processStart: NOW - 500,
    ppid: 1,
    // launchd started it: eslogger reports original_ppid 1 with the responsible process
    originalPpid: 1,
    responsiblePid: 900,
    path: '/System/Library/PrivateFrameworks/Foo.framework/XPCServices/com.apple.FooService.xpc/Contents/MacOS/com.apple.FooService',
  };
  const signing: WorldSpec['signing'] = [
    { path: chrome.path, cls: 'developer_id', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' },
    { path: xpc.path, cls: 'apple_platform', signingId: 'com.apple.FooService' },
  ];
  const flow = { ...UPLOAD, pid: 910, processStart: xpc.processStart };
  const read = { ...KEYCHAIN_READ, pid: 910, ppid: 1, process_start: xpc.processStart, path: xpc.path, time: NOW - 100 };

  it('an XPC helper owned by a browser (responsible pid) is the browser: no AN0990/AN1415, AN0032 says browser=1', () => {
    const r = rows({ processes: [chrome, xpc], signing, flows: [flow], sensitive: [read] });
    expect(analytics(r)).toEqual(['AN0032']);
    expect(r[0]).toMatchObject({ browser: 1, sanctioned: 0 });
  });

  it('the same helper without a browser owner is not a browser', () => {
    const r = rows({ processes: [chrome, { ...xpc, responsiblePid: undefined }], signing, flows: [flow], sensitive: [read] });
    expect(analytics(r)).toEqual(['AN0032', 'AN0990', 'AN1415']);
    expect(r.every((x) => x.browser === 0)).toBe(true);
  });

  const dropbox = { pid: 1000, processStart: NOW - 9000, ppid: 1, path: '/Applications/Dropbox.app/Contents/MacOS/Dropbox' };
  const helper = { pid: 1010, processStart: NOW - 600, ppid: 1000, path: '/Applications/Dropbox.app/Contents/Resources/dbxsync' };
  const curlUnderDropbox = { pid: 1020, processStart: NOW - 100, ppid: 1000, path: '/usr/bin/curl' };
  const dbxSigning: WorldSpec['signing'] = [
    { path: dropbox.path, cls: 'developer_id', teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox' },
    { path: helper.path, cls: 'developer_id', teamId: 'G7HH3F8CAK', signingId: 'dbxsync' },
    { path: '/usr/bin/curl', cls: 'apple_platform', signingId: 'com.apple.curl' },
  ];

  it('sanctioned uploader as group root: its own-team helper uploading 60 MiB produces nothing', () => {
    const r = rows({
      processes: [dropbox, helper],
      signing: dbxSigning,
      flows: [{ ...UPLOAD, pid: 1010, processStart: helper.processStart, bytesOut: 60 * MiB }],
      sensitive: [{ ...KEYCHAIN_READ, pid: 1010, ppid: 1000, process_start: helper.processStart, path: helper.path, file_path: `${HOME}/Documents/a.pdf`, category: 'documents', tier: 2, time: NOW - 90 }],
    });
    expect(r).toEqual([]);
  });

  it('sanctioned uploader as group root does not exempt an Apple tool it runs', () => {
    const r = rows({ processes: [dropbox, curlUnderDropbox], signing: dbxSigning, flows: [{ ...UPLOAD, pid: 1020, processStart: curlUnderDropbox.processStart }] });
    expect(analytics(r)).toEqual(['AN0032', 'AN1415']);
    expect(r[0]).toMatchObject({ sanctioned: 0, group_root_pid: 1000, group_root_identity: 'team:G7HH3F8CAK/com.getdropbox.dropbox' });
  });

  // A tampered copy of a vendor's binary keeps its Identifier and TeamIdentifier lines, and a self-signed
  // certificate can carry any OU as "team id": neither is the vendor's, so neither may borrow its exemption.
  it.each([
    ['a broken signature (invalid)', 'invalid'],
    ['a signature from a non-Apple certificate (unknown class)', 'unknown'],
    ['an ad-hoc signature', 'adhoc'],
  ] as const)('a binary claiming the sanctioned team with %s is not sanctioned', (_what, cls) => {
    const fake = { pid: 1030, processStart: NOW - 100, ppid: 1, path: '/Users/alice/Library/dbx/Dropbox' };
    const r = rows({
      processes: [fake],
      signing: [{ path: fake.path, cls, teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox', cdhash: 'ee55' }],
      flows: [{ ...UPLOAD, pid: 1030, processStart: fake.processStart, bytesOut: 200 * MiB }],
    });
    expect(analytics(r)).toEqual(expect.arrayContaining(['AN0032', 'AN1415']));
    expect(r.every((x) => x.sanctioned === 0 && x.browser === 0)).toBe(true);
  });

  it('eslogger\'s team id does not exempt a binary whose certificate codesign found is not Apple-issued', () => {
    const fake = { pid: 1040, processStart: NOW - 100, ppid: 1, path: '/Users/alice/Library/dbx/Dropbox', teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox', cdhash: 'ee66' };
    const upload = { ...UPLOAD, pid: 1040, processStart: fake.processStart, bytesOut: 200 * MiB };
    const selfSigned = { path: fake.path, cls: 'unknown', teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox', authority: 'Dropbox, Inc. (G7HH3F8CAK)', identity: 'cdhash:ee66' } as const;
    const r = rows({ processes: [fake], signing: [selfSigned], flows: [upload] });
    expect(analytics(r)).toEqual(expect.arrayContaining(['AN0032', 'AN1415']));
    expect(r.every((x) => x.sanctioned === 0)).toBe(true);
    // Control: before codesign has a verdict, eslogger's identity is what there is, and it is trusted.
    expect(rows({ processes: [fake], signing: [], flows: [upload] })).toEqual([]);
  });

  it('the sanctioned app itself uploading is never a candidate', () => {
    const r = rows({ processes: [dropbox], signing: dbxSigning, flows: [{ ...UPLOAD, pid: 1000, processStart: dropbox.processStart, bytesOut: 200 * MiB }] });
    expect(r).toEqual([]);
  });
});

describe('egress_candidates: flow-shape edges', () => {
  const app = { pid: 1100, processStart: NOW - 90_000, ppid: 1, path: '/Applications/Sync.app/Contents/MacOS/Sync' };
  const signing: WorldSpec['signing'] = [{ path: app.path, cls: 'developer_id', teamId: 'ABCDE12345', signingId: 'com.example.sync' }];
  const flow = (over: Partial<typeof UPLOAD> & { open?: boolean }) => ({ ...UPLOAD, pid: 1100, processStart: app.processStart, ...over });
  const k = 10_240;

  it.each([
    ['pcr 0.8 with 18 MB out', 1800 * k, 200 * k, true],
    ['pcr 0.79 with 18 MB out', 1790 * k, 210 * k, false],
  ])('AN1415 without precursor: %s → %s', (_n, bytesOut, bytesIn, want) => {
    const r = rows({ processes: [app], signing, flows: [flow({ bytesOut, bytesIn })] });
    expect(only(r, 'AN1415').length).toBe(want ? 1 : 0);
    if (want) expect(only(r, 'AN1415')[0]!.pcr).toBeCloseTo(0.8, 10);
  });

  it.each([
    ['1 MiB, nothing back', MiB, true],
    ['0.99 MiB, nothing back', Math.floor(0.99 * MiB), false],
  ])('AN0032 no-return: %s → %s', (_n, bytesOut, want) => {
    const r = rows({ processes: [app], signing, flows: [flow({ bytesOut, bytesIn: 0 })] });
    expect(only(r, 'AN0032').length).toBe(want ? 1 : 0);
  });

  it('an open long-lived flow is a candidate while still open (AN0082)', () => {
    const r = rows({ processes: [app], signing, flows: [flow({ firstSeen: NOW - 3700, bytesOut: 12 * MiB, bytesIn: 4 * MiB, open: true })] });
    expect(analytics(r)).toEqual(['AN0082']);
    expect(r[0]).toMatchObject({ closed: 0, duration: 3700, last_seen: NOW, signature_class: 'developer_id' });
    expect(r[0]!.reasons).toContain('long_lived');
  });

  it('the same flow at 59 minutes is not yet long-lived', () => {
    expect(rows({ processes: [app], signing, flows: [flow({ firstSeen: NOW - 3599, bytesOut: 12 * MiB, bytesIn: 4 * MiB, open: true })] })).toEqual([]);
  });

  it('group throughput: three 40 MiB flows of one group in 15 min make each AN0082 (group ≥ 100 MiB)', () => {
    const flows = [0, 1, 2].map((i) => ({ ...flow({ bytesOut: 40 * MiB, bytesIn: 30 * MiB }), remote: `198.51.100.${i + 1}`, firstSeen: NOW - 300 + i * 60, lastSeen: NOW - 250 + i * 60 }));
    const r = rows({ processes: [app], signing, flows });
    expect(only(r, 'AN0082')).toHaveLength(3);
    expect(only(r, 'AN0082')[0]!.reasons).toContain('group_high_throughput');
    expect(rows({ processes: [app], signing, flows: flows.slice(0, 2) })).toEqual([]);
  });

  it('group throughput split into connections under the 64 KiB floor: the group\'s largest flow is one AN0082 candidate', () => {
    // 1 700 connections of 63 KiB (≈ 105 MiB) from one group's 17 processes within 15 min; one of them 1 byte larger
    const workers = Array.from({ length: 17 }, (_, w) => ({ ...app, pid: 1000 + w, ppid: app.pid, processStart: NOW - 900 }));
    const flows = Array.from({ length: 1700 }, (_, i) => ({
      ...flow({ bytesOut: 63 * 1024 + (i === 777 ? 1 : 0), bytesIn: 2000 }),
      pid: 1000 + Math.floor(i / 100),
      processStart: NOW - 900,
      remote: `203.0.113.${(i % 100) + 1}`,
      firstSeen: NOW - 850 + Math.floor(i / 2),
      lastSeen: NOW - 845 + Math.floor(i / 2),
    }));
    const r = only(rows({ processes: [app, ...workers], signing, flows }), 'AN0082');
    expect(r.map((x) => [x.pid, x.remote_address, x.bytes_out])).toEqual([[1007, '203.0.113.78', 63 * 1024 + 1]]);
    expect(r[0]!.reasons).toContain('group_high_throughput');
    // under 100 MiB in all: none
    expect(only(rows({ processes: [app, ...workers], signing, flows: flows.slice(0, 1600) }), 'AN0082')).toEqual([]);
  });

  it('Apple platform code is outside AN0082 however long it runs', () => {
    const r = rows({ processes: [CURL], flows: [{ ...UPLOAD, firstSeen: NOW - 4000, bytesIn: 20 * MiB, bytesOut: 20 * MiB, open: true }] });
    expect(r).toEqual([]);
  });

  it('destinations in network.internal_ranges are not external', () => {
    const config = parseConfig({ network: { internal_ranges: ['203.0.113.0/24'] } });
    const r = rows({ config, processes: [STEALER, CURL], flows: [UPLOAD], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }] });
    expect(r).toEqual([]);
  });

  it('private and loopback destinations are never candidates', () => {
    const r = rows({ processes: [STEALER, CURL], flows: [{ ...UPLOAD, remote: '10.1.2.3' }, { ...UPLOAD, remote: '127.0.0.1', remotePort: 8443 }], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }] });
    expect(r).toEqual([]);
  });

  it('cleartext http after a documents read → AN0425', () => {
    const r = rows({
      processes: [STEALER, CURL],
      flows: [{ ...UPLOAD, remotePort: 80 }],
      sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300, file_path: `${HOME}/Documents/plan.docx`, category: 'documents', tier: 2 }],
    });
    expect(analytics(r)).toEqual(['AN0032', 'AN0425']);
    expect(only(r, 'AN0425')[0]!.reasons).toContain('cleartext');
  });

  it('a flow whose process the model never saw still gets rows, with its own pid as root', () => {
    const r = rows({ flows: [{ ...UPLOAD, pid: 4444, processStart: NOW - 50 }] });
    expect(analytics(r)).toEqual(['AN0032', 'AN1415']);
    expect(r[0]).toMatchObject({ pid: 4444, process_start: -1, group_root_pid: 4444, signature_class: 'unknown' });
  });
});

describe('egress_candidates: constraints and the table definition', () => {
  const spec: WorldSpec = { processes: [STEALER, CURL], flows: [UPLOAD], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }] };
  it('analytic = narrows the analytics evaluated; unknown ids yield nothing', () => {
    expect(analytics(rows(spec, JSON.stringify({ constraints: [{ name: 'analytic', list: [{ op: 2, expr: 'AN0990' }], affinity: 'TEXT' }] })))).toEqual(['AN0990']);
    expect(rows(spec, JSON.stringify({ constraints: [{ name: 'analytic', list: [{ op: 2, expr: 'AN9999' }], affinity: 'TEXT' }] }))).toEqual([]);
  });
  it('pid = narrows the flows', () => {
    expect(rows(spec, JSON.stringify({ constraints: [{ name: 'pid', list: [{ op: 2, expr: '711' }], affinity: 'INTEGER' }] }))).toEqual([]);
    expect(rows(spec, JSON.stringify({ constraints: [{ name: 'pid', list: [{ op: 2, expr: '710' }], affinity: 'INTEGER' }] }))).toHaveLength(3);
  });
  it('generate reads the context and asks for signing of unknown executables in the background', async () => {
    const world = buildWorld({ processes: [STEALER, CURL], flows: [UPLOAD] });
    const out = await egressCandidates.generate(world as never, parseQueryContext(''));
    expect(out.length).toBe(2);
    expect((world.signing as unknown as { requested: Set<string> }).requested).toEqual(new Set([CURL.path, STEALER.path]));
  });
});

describe('group volume index', () => {
  it('equals the brute-force overlap sum on random flows', async () => {
    const { groupVolume } = await import('./correlate.js');
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 20; round++) {
      const flows = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => {
        const first_seen = Math.floor(rand() * 1000);
        return { first_seen, last_seen: first_seen + Math.floor(rand() * 200), bytes_out: Math.floor(rand() * 1e6) } as never as import('../../runtime/context.js').FlowRow;
      });
      const v = groupVolume(flows);
      for (let q = 0; q < 20; q++) {
        const from = Math.floor(rand() * 1200) - 100;
        const to = from + Math.floor(rand() * 300);
        const brute = flows.filter((f) => f.last_seen >= from && f.first_seen <= to).reduce((a, f) => a + f.bytes_out, 0);
        expect(v.activeBetween(from, to)).toBe(brute);
      }
    }
  });

  it('busiestWindow equals the brute-force largest window sum over its start range', async () => {
    const { groupVolume } = await import('./correlate.js');
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 40; round++) {
      const width = 1 + Math.floor(rand() * 150);
      // every fourth round a large group, so long runs of entries go through the sparse table
      const flows = Array.from({ length: 1 + Math.floor(rand() * (round % 4 === 3 ? 400 : 40)) }, () => {
        const first_seen = Math.floor(rand() * 1000);
        return { first_seen, last_seen: first_seen + Math.floor(rand() * 200), bytes_out: Math.floor(rand() * 1e6) } as never as import('../../runtime/context.js').FlowRow;
      });
      const v = groupVolume(flows, width);
      const sumAt = (x: number) => flows.filter((f) => f.last_seen >= x && f.first_seen <= x + width).reduce((a, f) => a + f.bytes_out, 0);
      for (let q = 0; q < 20; q++) {
        const from = Math.floor(rand() * 1200) - 200;
        const to = from + Math.floor(rand() * 400);
        let brute = 0;
        for (let x = from; x <= to; x++) brute = Math.max(brute, sumAt(x));
        expect(v.busiestWindow(from, to), `round ${round} query ${q}`).toBe(brute);
      }
    }
  });
});

describe('identity of unsigned code', () => {
  it('uses the cdhash eslogger reported when codesign has none', () => {
    const world = buildWorld({
      processes: [{ ...STEALER, cdhash: 'AB'.repeat(20) }, CURL],
      signing: [{ path: STEALER.path, cls: 'unsigned', cdhash: '' }, SIGNING![1]!],
      flows: [UPLOAD],
    });
    const r = correlate(world).rows;
    expect(r[0]!.group_root_identity).toBe(`cdhash:${'ab'.repeat(20)}`);
    const world2 = buildWorld({ processes: [STEALER, CURL], signing: [{ path: STEALER.path, cls: 'unsigned', cdhash: '' }, SIGNING![1]!], flows: [UPLOAD] });
    expect(correlate(world2).rows[0]!.group_root_identity).toBe('');
  });
});

describe('precursors kept for the flows they explain', () => {
  it('a flood of 50 000 document reads by another group does not push the keychain read out before the upload', () => {
    const flooder = { pid: 900, processStart: NOW - 3000, ppid: 1, path: `${HOME}/Library/Application Support/idx/indexer`, tty: false };
    const flood = Array.from({ length: 50_000 }, (_, i) => ({
      pid: 900, ppid: 1, process_start: flooder.processStart, path: flooder.path, file_path: `${HOME}/Documents/junk/${i}.txt`, category: 'documents' as const, tier: 2 as const, time: NOW - 250 + Math.floor(i / 1000),
    }));
    const r = only(rows({ processes: [STEALER, CURL, flooder], signing: [{ path: flooder.path, cls: 'unsigned', cdhash: 'ff66' }], flows: [UPLOAD], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }, ...flood] }), 'AN0990');
    expect(r.map((x) => [x.precursor_category, x.precursor_tier])).toEqual([['keychain', 1]]);
  });

  it('10 000 tier-1 reads by another group (a backup of ~/Library/Messages) do not evict the keychain read (they did not with the shared 50 000 ring)', () => {
    const backup = { pid: 900, processStart: NOW - 3000, ppid: 1, path: '/Library/Application Support/Acme Backup/acmebackupd', tty: false };
    const flood = Array.from({ length: 10_000 }, (_, i) => ({
      pid: 900, ppid: 1, process_start: backup.processStart, path: backup.path,
      file_path: `${HOME}/Library/Messages/Attachments/${i % 100}/${i}/IMG_${i}.heic`, category: 'messaging' as const, tier: 1 as const, time: NOW - 250 + Math.floor(i / 100),
    }));
    const r = only(rows({ processes: [STEALER, CURL, backup], signing: [...SIGNING, { path: backup.path, cls: 'developer_id', teamId: 'ACME123456', signingId: 'com.acme.backupd' }], flows: [UPLOAD], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 300 }, ...flood] }), 'AN0990');
    expect(r.map((x) => x.precursor_category)).toEqual(['keychain']);
  });

  it('a keychain read during a flow still counts when the flow sends 31 minutes later (the buffer prunes to events.retention for tier 2 only)', () => {
    const flow = { pid: 700, processStart: STEALER.processStart, remote: '203.0.113.80', bytesOut: 20 * MiB, bytesIn: 30_000, firstSeen: NOW - 1920, open: true };
    const world = buildWorld({ processes: [STEALER], signing: SIGNING, flows: [flow], sensitive: [{ ...KEYCHAIN_READ, time: NOW - 1860 }] });
    world.sensitiveEvents.prune(NOW);
    const r = correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((x) => x.analytic === 'AN0990');
    expect(r.map((x) => [x.precursor_category, x.precursor_gap])).toEqual([['keychain', -60]]);
  });
});
