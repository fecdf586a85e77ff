/**
 * Grouping and the group-throughput top flow, as a second review of them found them wanting: each
 * case failed before its fix (lineage, correlate's appClass and groupTop; the tier-1 ring's case is in table.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate, type CandidateRow } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld, type WorldSpec } from './testing/world.js';

const HOME = '/Users/alice';
const gen = (spec: WorldSpec) => correlate(buildWorld(spec), correlationOptions(parseQueryContext(''))).rows;
const only = (r: CandidateRow[], id: string) => r.filter((x) => x.analytic === id);

const TERMINAL = { pid: 600, processStart: NOW - 9000, ppid: 1, responsiblePid: 600, path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', signingId: 'com.apple.Terminal', platformBinary: true };
const LOGIN = { pid: 601, processStart: NOW - 8999, ppid: 600, responsiblePid: 600, path: '/usr/bin/login', platformBinary: true };
const ZSH = { pid: 602, processStart: NOW - 8998, ppid: 601, responsiblePid: 600, path: '/bin/zsh', name: '-zsh', args: ['-zsh'], tty: true, platformBinary: true };
const TERM_SIGNING: WorldSpec['signing'] = [
  { path: TERMINAL.path, cls: 'apple_platform', signingId: 'com.apple.Terminal' },
  { path: LOGIN.path, cls: 'apple_platform', signingId: 'com.apple.login' },
  { path: ZSH.path, cls: 'apple_platform', signingId: 'com.apple.zsh' },
];

describe('lineage: sanctioned apps started by a known parent', () => {
  // Same world as table.test.ts "sanctioned uploader as group root", but Dropbox was started from Terminal
  // (`/Applications/Dropbox.app/Contents/MacOS/Dropbox &`): its responsible process is Terminal.
  const dropbox = { pid: 1000, processStart: NOW - 7000, ppid: ZSH.pid, responsiblePid: TERMINAL.pid, path: '/Applications/Dropbox.app/Contents/MacOS/Dropbox' };
  const helper = { pid: 1010, processStart: NOW - 600, ppid: 1000, responsiblePid: TERMINAL.pid, path: '/Applications/Dropbox.app/Contents/Resources/dbxsync' };
  const signing: WorldSpec['signing'] = [
    ...TERM_SIGNING,
    { path: dropbox.path, cls: 'developer_id', teamId: 'G7HH3F8CAK', signingId: 'com.getdropbox.dropbox' },
    { path: helper.path, cls: 'developer_id', teamId: 'G7HH3F8CAK', signingId: 'dbxsync' },
  ];
  it('Dropbox started from Terminal: its own-team helper syncing 60 MiB after reading a document produces nothing', () => {
    const r = gen({
      processes: [TERMINAL, LOGIN, ZSH, dropbox, helper],
      signing,
      flows: [{ pid: 1010, processStart: helper.processStart, remote: '162.125.1.1', bytesOut: 60 * MiB, bytesIn: 8000, firstSeen: NOW - 60, lastSeen: NOW - 30 }],
      sensitive: [{ pid: 1010, ppid: 1000, process_start: helper.processStart, path: helper.path, file_path: `${HOME}/Documents/a.pdf`, category: 'documents', tier: 2, time: NOW - 90 }],
    });
    expect(r.map((x) => [x.analytic, x.group_root_kind, x.sanctioned])).toEqual([]);
  });
});

describe('lineage: a running app keeps its group root when its launcher\'s exited record ages out', () => {
  const launcher = { pid: 300, processStart: NOW - 2000, ppid: 1, responsiblePid: 300, path: '/Library/Application Support/Vendor/launcher', exitedAt: NOW - 1750 };
  const app = { pid: 310, processStart: NOW - 1995, ppid: 1, originalPpid: 300, responsiblePid: 300, path: '/Applications/Vendor.app/Contents/MacOS/Vendor' };
  const signing: WorldSpec['signing'] = [
    { path: launcher.path, cls: 'developer_id', teamId: 'VENDOR1234', signingId: 'com.vendor.launcher' },
    { path: app.path, cls: 'developer_id', teamId: 'VENDOR1234', signingId: 'com.vendor.app' },
  ];
  it('one open 60 MiB upload keeps one AN0082 group root across two pack runs a minute apart', () => {
    const world = buildWorld({ processes: [launcher, app], signing, flows: [{ pid: 310, processStart: app.processStart, remote: '198.51.100.7', bytesOut: 60 * MiB, bytesIn: MiB, firstSeen: NOW - 600, open: true }] });
    const run = () => only(correlate(world, correlationOptions(parseQueryContext(''))).rows, 'AN0082').map((x) => [x.group_root_kind, x.group_root_identity]);
    world.processes.sweep(NOW);
    const first = run();
    world.processes.sweep(NOW + 60); // the launcher exited NOW − 1750: its record goes at NOW + 50
    const second = run();
    // fleet suppression key = host | analytic | group root identity | destination: two keys → two detections
    expect(second).toEqual(first);
  });
});

describe('group throughput: the top flow is taken among the flows whose window reaches 100 MiB', () => {
  const app = { pid: 1100, processStart: NOW - 7200, ppid: 1, path: '/Applications/Sync.app/Contents/MacOS/Sync' };
  const workers = Array.from({ length: 17 }, (_, w) => ({ ...app, pid: 1200 + w, ppid: app.pid, processStart: NOW - 900 }));
  const signing: WorldSpec['signing'] = [{ path: app.path, cls: 'developer_id', teamId: 'ABCDE12345', signingId: 'com.example.sync' }];
  // 1 700 × 62 KiB (≈ 103 MiB) in the last 15 min, all under the 64 KiB floor
  const burst = Array.from({ length: 1700 }, (_, i) => ({
    pid: 1200 + Math.floor(i / 100), processStart: NOW - 900, remote: `203.0.113.${(i % 100) + 1}`, bytesOut: 62 * 1024, bytesIn: 2000,
    firstSeen: NOW - 850 + Math.floor(i / 2), lastSeen: NOW - 845 + Math.floor(i / 2),
  }));
  // one earlier 63 KiB call of the same group, 50 min ago (still kept with flows.retention 3600)
  const early = { pid: 1100, processStart: app.processStart, remote: '198.51.100.9', bytesOut: 63 * 1024, bytesIn: 5000, firstSeen: NOW - 3000, lastSeen: NOW - 2990 };
  it('flows.retention 3600: still one AN0082 candidate', () => {
    const config = parseConfig({ flows: { retention: 3600 } });
    const r = only(gen({ config, processes: [app, ...workers], signing, flows: [early, ...burst] }), 'AN0082');
    expect(r).toHaveLength(1);
  });
  it('default flows.retention (900 = group_window): one candidate (sound)', () => {
    const r = only(gen({ processes: [app, ...workers], signing, flows: burst }), 'AN0082');
    expect(r).toHaveLength(1);
  });
});

describe('a credential read by a short-lived helper keeps its lineage group while the read is kept', () => {
  // The stealer opens an upload with curl, then runs `sh -c 'security find-generic-password …'` 5 minutes into it;
  // the upload goes on, slowly. A read during the flow is a precursor however long the flow stays open (SPEC §4:
  // [flow start − 15 min, flow end]), but sh and security exited at once: 45 minutes later (past
  // processes.exited_retention, 30 min) their records were swept, and the read, still in the tier-1 ring, found no group.
  const stealer = { pid: 700, processStart: NOW - 3600, ppid: 1, path: `${HOME}/Downloads/update`, tty: false };
  const curl = { pid: 710, processStart: NOW - 3001, ppid: 700, path: '/usr/bin/curl', platformBinary: true, signingId: 'com.apple.curl', tty: false };
  const sh = { pid: 715, processStart: NOW - 2701, ppid: 700, path: '/bin/sh', platformBinary: true, signingId: 'com.apple.sh', exitedAt: NOW - 2699 };
  const security = { pid: 720, processStart: NOW - 2700, ppid: 715, path: '/usr/bin/security', platformBinary: true, signingId: 'com.apple.security', exitedAt: NOW - 2699 };
  const signing: WorldSpec['signing'] = [
    { path: stealer.path, cls: 'unsigned', cdhash: 'aa11' },
    { path: sh.path, cls: 'apple_platform', signingId: 'com.apple.sh' },
    { path: security.path, cls: 'apple_platform', signingId: 'com.apple.security' },
    { path: curl.path, cls: 'apple_platform', signingId: 'com.apple.curl', cdhash: 'cc22' },
  ];
  const read = { pid: 720, ppid: 715, process_start: security.processStart, path: security.path, file_path: `${HOME}/Library/Keychains/login.keychain-db`, category: 'keychain', tier: 1, time: NOW - 2700 } as const;
  const upload = { pid: 710, processStart: curl.processStart, remote: '203.0.113.50', bytesOut: 15 * MiB, bytesIn: 8_000, firstSeen: NOW - 3000, open: true };
  const precursors = (keep: boolean) => {
    const world = buildWorld({ processes: [stealer, curl, sh, security], signing, flows: [upload], sensitive: [read] });
    // what the eslogger pipeline does for each row it writes (pipeline.test.ts): keep its producer while the row is kept
    if (keep) world.processes.keepUntil(read.pid, read.process_start, read.time + 43_200);
    world.processes.sweep(NOW);
    const rows = only(correlate(world, correlationOptions(parseQueryContext(''))).rows, 'AN0990');
    return { rows: rows.map((x) => [x.precursor_category, x.precursor_tier, x.precursor_gap]), kept: world.processes.get(security.pid, security.processStart) !== undefined };
  };

  it('kept: the read during the flow still explains it 45 minutes later (AN0990 with its keychain precursor)', () => {
    expect(precursors(true)).toEqual({ rows: [['keychain', 1, -300]], kept: true });
  });

  it('not kept (the model alone): the reader and its parent are swept, and the read finds no group', () => {
    expect(precursors(false)).toEqual({ rows: [], kept: false });
  });

  it('a kept reader, and the exited parent lineage walks through, go once the read can no longer explain an upload', () => {
    const world = buildWorld({ processes: [stealer, sh, security], signing, sensitive: [read] });
    world.processes.keepUntil(read.pid, read.process_start, read.time + 43_200);
    world.processes.sweep(read.time + 43_199);
    expect(world.processes.get(security.pid, security.processStart)).toBeDefined();
    expect(world.processes.get(sh.pid, sh.processStart)).toBeDefined();
    world.processes.sweep(read.time + 43_201);
    expect(world.processes.get(security.pid, security.processStart)).toBeUndefined();
    expect(world.processes.get(sh.pid, sh.processStart)).toBeUndefined();
  });

  it('a reader nested deeper than a few exited shells keeps the whole chain its group is found through', () => {
    // the same stealer, with `sh -c 'sh -c … security …'` nested 10 deep: every link exits at once. Lineage walks
    // up to 64 links; only the first 8 above the reader were kept, the 9th was swept at 30 minutes, and the read's
    // group became the topmost kept sh instead of the stealer's.
    const shells = Array.from({ length: 10 }, (_, i) => ({ pid: 730 + i, processStart: NOW - 2701, ppid: i === 0 ? stealer.pid : 729 + i, path: '/bin/sh', args: ['sh', '-c', 'x'], platformBinary: true, signingId: 'com.apple.sh', exitedAt: NOW - 2699 }));
    const nested = { ...security, ppid: 739 };
    const deepRead = { ...read, ppid: 739 };
    const world = buildWorld({ processes: [stealer, curl, ...shells, nested], signing, flows: [upload], sensitive: [deepRead] });
    world.processes.keepUntil(read.pid, read.process_start, read.time + 43_200);
    world.processes.sweep(NOW);
    expect(shells.filter((s) => !world.processes.get(s.pid, s.processStart)).map((s) => s.pid)).toEqual([]);
    const rows = only(correlate(world, correlationOptions(parseQueryContext(''))).rows, 'AN0990');
    expect(rows.map((x) => [x.precursor_category, x.precursor_tier])).toEqual([['keychain', 1]]);
  });

  it('an orphaned reader keeps the responsible process its group is found through', () => {
    // security was started by a helper that exited at once, so launchd adopted it (ppid 1, no original parent
    // known): lineage follows its responsible pid, the stealer's helper daemon, which exited too
    const daemon = { pid: 740, processStart: NOW - 2800, ppid: stealer.pid, path: `${HOME}/Downloads/update-helper`, exitedAt: NOW - 2690 };
    const orphan = { ...security, ppid: 1, responsiblePid: 740 };
    const world = buildWorld({ processes: [stealer, curl, daemon, orphan], signing: [...signing, { path: daemon.path, cls: 'unsigned', cdhash: 'bb33' }], flows: [upload], sensitive: [{ ...read, ppid: 1 }] });
    world.processes.keepUntil(read.pid, read.process_start, read.time + 43_200);
    world.processes.sweep(NOW);
    expect(world.processes.get(daemon.pid, daemon.processStart)).toBeDefined();
    const rows = only(correlate(world, correlationOptions(parseQueryContext(''))).rows, 'AN0990');
    expect(rows.map((x) => [x.precursor_category, x.precursor_tier])).toEqual([['keychain', 1]]);
  });
});
