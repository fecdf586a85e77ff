import { describe, expect, it } from 'vitest';
import { pipelineWorld } from './testing/test-context.js';
import type { OwnProcess } from './pipeline.js';
import { body, esLine, keychainDittoScenario } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);

const setup = (opts: { capacity?: number; retention?: number; now?: number; self?: OwnProcess } = {}) => pipelineWorld({ ...opts, now: opts.now ?? S + 10 });
const proc = { pid: 50, ppid: 1, path: '/usr/local/bin/exfil', signingId: null, teamId: null, startMs: T - 5000 };
const open = (gseq: number, file: string, ms = 0) => esLine({ kind: 'open', timeMs: T + ms, gseq, process: proc, body: body.open(file) });

describe('EsloggerPipeline on the keychain + ditto scenario', () => {
  const { pipeline, sensitiveEvents, archiveEvents, recorded } = setup();
  for (const line of keychainDittoScenario(T)) pipeline.handleLine(line);

  it('writes the sensitive reads of the script and of ditto, not those of authorized readers', () => {
    expect(sensitiveEvents.toArray()).toEqual([
      { time: S + 2, pid: 4_207_001, ppid: 4_200_601, uid: 501, process_start: S + 1, path: '/bin/sh', signing_id: 'com.apple.sh', team_id: '', platform_binary: 1, operation: 'open', file_path: '/Users/dana/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1 },
      { time: S + 3, pid: 4_207_003, ppid: 4_207_001, uid: 501, process_start: S + 3, path: '/usr/bin/ditto', signing_id: 'com.apple.ditto', team_id: '', platform_binary: 1, operation: 'open', file_path: '/Users/dana/Documents/Q3 report.pdf', category: 'documents', tier: 2 },
      { time: S + 4, pid: 4_207_003, ppid: 4_207_001, uid: 501, process_start: S + 3, path: '/usr/bin/ditto', signing_id: 'com.apple.ditto', team_id: '', platform_binary: 1, operation: 'open', file_path: '/Users/dana/Documents/résumé 2026.pages', category: 'documents', tier: 2 },
    ]);
    expect(pipeline.stats.authorized).toBe(2); // securityd on the keychain, mdworker on Documents
    expect(pipeline.stats.deduplicated).toBeGreaterThanOrEqual(1); // the script's second open of the keychain
  });

  it('writes the ditto exec (argv, archive path from argv) and the archive file creation, staged in /tmp', () => {
    expect(archiveEvents.toArray()).toEqual([
      { time: S + 3, pid: 4_207_003, ppid: 4_207_001, uid: 501, process_start: S + 3, path: '/usr/bin/ditto', tool: 'ditto', operation: 'exec', archive_path: '/tmp/docs.zip', args: 'ditto -c -k --sequesterRsrc --keepParent /Users/dana/Documents /tmp/docs.zip', staging: 1 },
      { time: S + 4, pid: 4_207_003, ppid: 4_207_001, uid: 501, process_start: S + 3, path: '/usr/bin/ditto', tool: 'ditto', operation: 'create', archive_path: '/tmp/docs.zip', args: '', staging: 1 },
    ]);
  });

  it('feeds the process model with lineage fields from exec/fork/exit', () => {
    const ditto = recorded.observed.find((o) => o.pid === 4_207_003 && o.args);
    expect(ditto).toMatchObject({
      pid: 4_207_003,
      processStart: S + 3,
      ppid: 4_207_001,
      originalPpid: 4_207_001,
      responsiblePid: 512,
      uid: 501,
      path: '/usr/bin/ditto',
      name: 'ditto',
      signingId: 'com.apple.ditto',
      teamId: null,
      cdhash: 'deadbeef00112233445566778899aabbccddeeff',
      platformBinary: true,
      tty: true,
      source: 'eslogger',
    });
    expect(recorded.observed.some((o) => o.pid === 4_207_001 && o.ppid === 4_200_601 && o.processStart === S + 1)).toBe(true); // fork child
    expect(recorded.exited).toEqual([
      { pid: 4_207_003, processStart: S + 3, at: S + 4 },
      { pid: 4_207_001, processStart: S + 1, at: S + 4 },
    ]);
    expect(recorded.seeded.map((s) => s.path)).toEqual(['/bin/sh', '/usr/bin/ditto']);
    // each row's producer is kept while its row can explain an upload: the script's keychain read for the
    // tier-1 ring's 12 h, ditto's document reads and archive events for events.retention
    expect(recorded.kept).toEqual([
      { pid: 4_207_001, processStart: S + 1, until: S + 2 + 43_200 },
      { pid: 4_207_003, processStart: S + 3, until: S + 3 + 1800 },
      { pid: 4_207_003, processStart: S + 3, until: S + 3 + 1800 },
      { pid: 4_207_003, processStart: S + 3, until: S + 4 + 1800 },
      { pid: 4_207_003, processStart: S + 3, until: S + 4 + 1800 },
    ]);
    expect(recorded.seeded[1]!.fields).toMatchObject({ signingId: 'com.apple.ditto', teamId: null, cdhash: 'deadbeef00112233445566778899aabbccddeeff', platformBinary: true, csValidationCategory: 1 });
  });
});

describe('EsloggerPipeline accounting', () => {

  it('counts global_seq_num gaps as lost events and restarts numbering on resetSequence', () => {
    const { pipeline } = setup();
    pipeline.handleLine(open(10, '/usr/lib/a'));
    pipeline.handleLine(open(11, '/usr/lib/a'));
    pipeline.handleLine(open(15, '/usr/lib/a')); // 12..14 lost
    pipeline.resetSequence();
    pipeline.handleLine(open(1, '/usr/lib/a'));
    pipeline.handleLine(open(2, '/usr/lib/a'));
    expect(pipeline.stats.lost).toBe(3);
  });

  it('counts malformed and unsupported lines and keeps going', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine('{"broken":');
    pipeline.handleLine(open(1, '/Users/x/.ssh/id_rsa').replace('"event_type":10', '"event_type":32'));
    pipeline.handleLine(open(2, '/Users/x/.ssh/id_rsa'));
    expect(pipeline.stats).toMatchObject({ lines: 3, malformed: 1, unsupported: 1, sensitiveRows: 1 });
    expect(sensitiveEvents.size).toBe(1);
  });

  it('folds repeats within the window but not after it', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(open(1, '/Users/x/.ssh/id_rsa', 0));
    pipeline.handleLine(open(2, '/Users/x/.ssh/id_rsa', 30_000));
    pipeline.handleLine(open(3, '/Users/x/.ssh/id_rsa', 61_000));
    expect(sensitiveEvents.toArray().map((r) => r.time)).toEqual([S, S + 61]);
  });

  it('folds repeats of one file spelled in other case or through /System/Volumes/Data (one file on APFS)', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(open(1, '/Users/x/.ssh/id_rsa', 0));
    pipeline.handleLine(open(2, '/Users/x/.SSH/ID_RSA', 1_000));
    pipeline.handleLine(open(3, '/System/Volumes/Data/Users/x/.ssh/id_rsa', 2_000));
    // the row keeps the path as first reported
    expect(sensitiveEvents.toArray().map((r) => r.file_path)).toEqual(['/Users/x/.ssh/id_rsa']);
    expect(pipeline.stats.deduplicated).toBe(2);
  });

  it('folds an archive created again under another case of its name', () => {
    const { pipeline, archiveEvents } = setup();
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 1, process: proc, body: body.createNew('/Users/Shared', 'drop.zip') }));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T + 500, gseq: 2, process: proc, body: body.createNew('/Users/Shared', 'DROP.ZIP') }));
    expect(archiveEvents.toArray().map((r) => r.archive_path)).toEqual(['/Users/Shared/drop.zip']);
  });

  it('bounds the buffers by count (evictions counted) and by age', () => {
    const { pipeline, sensitiveEvents } = setup({ capacity: 3, retention: 100, now: S + 50 });
    for (let i = 0; i < 5; i++) pipeline.handleLine(open(i, `/Users/x/Documents/f${i}.txt`));
    expect(sensitiveEvents.size).toBe(3);
    expect(pipeline.stats.evicted).toBe(2);
    sensitiveEvents.prune(S + 101);
    expect(sensitiveEvents.size).toBe(0);
  });

  it('reports a rename out of a sensitive place with the source path', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(esLine({ kind: 'rename', timeMs: T, gseq: 1, process: proc, body: body.renameNew('/Users/x/Library/Keychains/login.keychain-db', '/private/tmp', 'k') }));
    expect(sensitiveEvents.toArray()).toMatchObject([{ operation: 'rename', file_path: '/Users/x/Library/Keychains/login.keychain-db', category: 'keychain' }]);
  });

  it('treats a rename into an archive name and a new_path create as archive creations', () => {
    const { pipeline, archiveEvents } = setup();
    pipeline.handleLine(esLine({ kind: 'rename', timeMs: T, gseq: 1, process: proc, body: body.renameNew('/Users/x/.cache/t', '/Users/x/.cache', 'out.tar.gz') }));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 2, process: proc, body: body.createNew('/Users/Shared', 'drop.7z') }));
    expect(archiveEvents.toArray()).toMatchObject([
      { tool: 'other', operation: 'create', archive_path: '/Users/x/.cache/out.tar.gz', staging: 1 },
      { tool: 'other', operation: 'create', archive_path: '/Users/Shared/drop.7z', staging: 1 },
    ]);
  });
});

describe('EsloggerPipeline accounting at the edges', () => {
  it('counts a gap right after a new client\'s first event numbered 0', () => {
    const { pipeline } = setup();
    pipeline.handleLine(open(0, '/usr/lib/a'));
    pipeline.handleLine(open(3, '/usr/lib/a')); // 1 and 2 lost
    expect(pipeline.stats.lost).toBe(2);
  });

  it('a repeat exactly the dedupe window (60 s) after the first read is a row of its own', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(open(1, '/Users/x/.ssh/id_rsa', 0));
    pipeline.handleLine(open(2, '/Users/x/.ssh/id_rsa', 59_000));
    pipeline.handleLine(open(3, '/Users/x/.ssh/id_rsa', 60_000));
    expect(sensitiveEvents.toArray().map((r) => r.time)).toEqual([S, S + 60]);
    expect(pipeline.stats.deduplicated).toBe(1);
  });

  it('rows that aged out make room before a new one: no eviction is counted for them', () => {
    const { pipeline, sensitiveEvents, archiveEvents, clock } = setup({ capacity: 3, retention: 100, now: S });
    for (let i = 0; i < 3; i++) pipeline.handleLine(open(i + 1, `/Users/x/Documents/f${i}.txt`));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 4, process: proc, body: body.createNew('/Users/Shared', 'a.zip') }));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 5, process: proc, body: body.createNew('/Users/Shared', 'b.zip') }));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T, gseq: 6, process: proc, body: body.createNew('/Users/Shared', 'c.zip') }));
    clock.now = S + 200;
    pipeline.handleLine(open(7, '/Users/x/Documents/late.txt', 200_000));
    pipeline.handleLine(esLine({ kind: 'create', timeMs: T + 200_000, gseq: 8, process: proc, body: body.createNew('/Users/Shared', 'late.zip') }));
    expect(sensitiveEvents.toArray().map((r) => r.file_path)).toEqual(['/Users/x/Documents/late.txt']);
    expect(archiveEvents.toArray().map((r) => r.archive_path)).toEqual(['/Users/Shared/late.zip']);
    expect(pipeline.stats.evicted).toBe(0);
  });

  it('counts archive rows pushed out of a full buffer as evicted', () => {
    const { pipeline, archiveEvents } = setup({ capacity: 3, retention: 1800 });
    for (const [i, name] of ['a.zip', 'b.tar.gz', 'c.7z', 'd.dmg', 'e.zip'].entries()) {
      pipeline.handleLine(esLine({ kind: 'create', timeMs: T + i * 1000, gseq: i + 1, process: proc, body: body.createNew('/Users/Shared', name) }));
    }
    expect(archiveEvents.toArray().map((r) => r.archive_path)).toEqual(['/Users/Shared/c.7z', '/Users/Shared/d.dmg', '/Users/Shared/e.zip']);
    expect(pipeline.stats).toMatchObject({ archiveRows: 5, evicted: 2 });
  });
});

describe("EsloggerPipeline and the extension's own file events", () => {
  // eslogger mutes only its own process group; the extension and each tool it starts run in groups of their own
  const self = { pid: 4100, startedAt: S - 3600 };
  const extension = { pid: 4100, ppid: 1, path: '/usr/local/outflow/node', signingId: null, teamId: null, startMs: (S - 3601) * 1000 };
  const codesign = { pid: 4200, ppid: 4100, path: '/usr/bin/codesign', platform: true, signingId: 'com.apple.codesign', startMs: T - 1000 };
  const downloads = (gseq: number, process: Parameters<typeof esLine>[0]['process']) => esLine({ kind: 'open', timeMs: T, gseq, process, body: body.open('/Users/dana/Downloads/tool') });

  it('writes no row for a file the extension or a tool it started opens, and counts them', () => {
    const { pipeline, sensitiveEvents } = setup({ self });
    pipeline.handleLine(downloads(1, codesign));
    pipeline.handleLine(downloads(2, extension));
    pipeline.handleLine(downloads(3, proc));
    expect(sensitiveEvents.toArray().map((r) => r.pid)).toEqual([50]);
    expect(pipeline.stats.own).toBe(2);
  });

  it('writes the rows of a process that held our pid before we started, and of its orphans', () => {
    const { pipeline, sensitiveEvents } = setup({ self });
    const earlier = { ...extension, path: '/usr/local/bin/exfil', startMs: (self.startedAt - 61) * 1000 };
    pipeline.handleLine(downloads(1, earlier));
    // what the earlier holder started was adopted by launchd when it exited: only its original parent had our pid
    pipeline.handleLine(downloads(2, { ...codesign, ppid: 1, originalPpid: 4100, startMs: (self.startedAt - 30) * 1000 }));
    // a process that started after us cannot have our pid
    pipeline.handleLine(downloads(3, { ...extension, startMs: (self.startedAt + 1) * 1000 }));
    expect(sensitiveEvents.toArray().map((r) => r.pid)).toEqual([4100, 4200, 4100]);
    expect(pipeline.stats.own).toBe(0);
  });

  it('keeps the exec, fork and exit of our tools for the process model', () => {
    const { pipeline, recorded } = setup({ self });
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T, gseq: 1, process: extension, body: body.exec(codesign, ['codesign', '-dvvv', '/Users/dana/Downloads/tool'], '/', 1) }));
    expect(recorded.observed.some((o) => o.pid === 4200)).toBe(true);
  });

  it('takes nothing for ours without the extension process given', () => {
    const { pipeline, sensitiveEvents } = setup();
    pipeline.handleLine(downloads(1, codesign));
    expect(sensitiveEvents.toArray().map((r) => r.pid)).toEqual([4200]);
  });
});

describe("EsloggerPipeline: which processes are the extension's own", () => {
  // the extension (pid 4100) started 10 s before T; eslogger, which it started, reports only what happens after that
  const self = { pid: 4100, startedAt: S - 10 };
  const KEYCHAIN = '/Users/dana/Library/Keychains/login.keychain-db';
  const read = (gseq: number, process: Parameters<typeof esLine>[0]['process']) => esLine({ kind: 'open', timeMs: T, gseq, process, body: body.open(KEYCHAIN) });

  it('writes the rows of an orphan whose original parent held our pid before we started', () => {
    // A launcher with pid 4100 forked this reader 20 s before the extension started and exited; launchd adopted the
    // reader (ppid 1), and the pid came round to the extension. The reader is no child of ours.
    const { pipeline, sensitiveEvents } = setup({ self });
    const orphan = { pid: 4300, ppid: 1, originalPpid: 4100, path: '/Users/dana/.cache/agent', signingId: null, teamId: null, startMs: (S - 30) * 1000 };
    pipeline.handleLine(read(1, orphan));
    expect(sensitiveEvents.toArray().map((r) => [r.pid, r.category])).toEqual([[4300, 'keychain']]);
    expect(pipeline.stats.own).toBe(0);
  });

  it('writes the rows of what a tool of ours started (its original parent is the tool)', () => {
    const { pipeline, sensitiveEvents } = setup({ self });
    const grandchild = { pid: 4301, ppid: 1, originalPpid: 4200, path: '/usr/local/bin/helper', signingId: null, teamId: null, startMs: (S - 2) * 1000 };
    pipeline.handleLine(read(1, grandchild));
    expect(sensitiveEvents.toArray().map((r) => r.pid)).toEqual([4301]);
  });

  it("takes a tool of ours for ours after the wall clock was stepped back past the slack", () => {
    // ppid 4100 while the extension runs is a child of the extension, whatever the clock said when it was forked
    const { pipeline, sensitiveEvents } = setup({ self });
    const codesign = { pid: 4200, ppid: 4100, path: '/usr/bin/codesign', platform: true, signingId: 'com.apple.codesign', startMs: (self.startedAt - 120) * 1000 };
    pipeline.handleLine(esLine({ kind: 'open', timeMs: T, gseq: 1, process: codesign, body: body.open('/Users/dana/Downloads/tool') }));
    expect(sensitiveEvents.toArray()).toEqual([]);
    expect(pipeline.stats.own).toBe(1);
  });

  it("keeps the fork of a tool by the extension for the process model", () => {
    const { pipeline, recorded } = setup({ self });
    const extension = { pid: 4100, ppid: 1, path: '/usr/local/outflow/node', signingId: null, teamId: null, startMs: (self.startedAt - 1) * 1000 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T, gseq: 1, process: extension, body: body.fork({ ...extension, pid: 4200, ppid: 4100, startMs: T }, 10) }));
    expect(recorded.observed.some((o) => o.pid === 4200)).toBe(true);
  });

  it('takes the extension itself for ours at both edges of its start window', () => {
    const edge = { pid: 4100, ppid: 1, path: '/usr/local/outflow/node', signingId: null, teamId: null, startMs: (self.startedAt - 60) * 1000 };
    const { pipeline, sensitiveEvents } = setup({ self });
    pipeline.handleLine(read(1, edge));
    pipeline.handleLine(read(2, { ...edge, startMs: self.startedAt * 1000 }));
    expect(sensitiveEvents.toArray()).toEqual([]);
    expect(pipeline.stats.own).toBe(2);
  });
});
