import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import type { ProcessObservation } from '../runtime/context.js';
import { isGuiAppPath, isInteractiveShell } from './lineage.js';
import { createProcessModel } from './model.js';

const T0 = 1_772_500_000;

function setup(processes: Record<string, number> = {}, allowlists: Record<string, unknown> = {}) {
  const clock = fixedClock(T0);
  const config = parseConfig({ processes, allowlists });
  const model = createProcessModel({ config, clock, log: silentLogger() });
  const obs = (o: Partial<ProcessObservation> & { pid: number; processStart: number }) => model.observe({ source: 'ps', seenAt: clock.unix(), ...o });
  return { model, clock, obs };
}

const CHROME = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
const CHROME_HELPER = '/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/131.0/Helpers/Google Chrome Helper.app/Contents/MacOS/Google Chrome Helper';
const TERMINAL = '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal';

describe('process instances (pid, process_start)', () => {
  it('a new start time for a known pid is a new instance; the old one is marked exited', () => {
    const { model, obs } = setup();
    const a = obs({ pid: 500, processStart: T0 - 1000, ppid: 1, path: '/usr/bin/old' });
    const b = obs({ pid: 500, processStart: T0 - 100, ppid: 1, path: '/usr/bin/new' });
    expect(a).not.toBe(b);
    expect(model.size).toBe(2);
    expect(a.exitedAt).toBe(T0 - 100);
    expect(model.get(500)).toBe(b);
    expect(model.get(500, T0 - 1000)).toBe(a);
    expect(model.getAt(500, T0 - 500)).toBe(a);
    expect(model.getAt(500, T0 - 50)).toBe(b);
    expect(model.running()).toEqual([b]);
  });

  it('observations within 1 s of a known start are the same instance and merge fields', () => {
    const { model, obs } = setup();
    const r = obs({ pid: 42, processStart: T0, ppid: 1, path: '/bin/zsh' });
    obs({ pid: 42, processStart: T0 + 1, signingId: 'com.apple.zsh', teamId: null, platformBinary: true, cdhash: 'ABCDEF', source: 'eslogger' });
    expect(model.size).toBe(1);
    expect(r).toMatchObject({ signingId: 'com.apple.zsh', cdhash: 'abcdef', platformBinary: true, path: '/bin/zsh' });
  });

  it('a late observation of an older instance is recorded as already exited', () => {
    const { model, obs } = setup();
    obs({ pid: 7, processStart: T0, ppid: 1 });
    const old = obs({ pid: 7, processStart: T0 - 500, ppid: 1, source: 'eslogger' });
    expect(old.exitedAt).toBe(T0);
    expect(model.get(7)!.processStart).toBe(T0);
  });

  it('parentOf picks the parent instance alive at the child start (pid reuse)', () => {
    const { model, obs } = setup();
    const p1 = obs({ pid: 500, processStart: T0 - 1000, ppid: 1 });
    const c1 = obs({ pid: 600, processStart: T0 - 900, ppid: 500 });
    model.exited(500, T0 - 1000, T0 - 800);
    const p2 = obs({ pid: 500, processStart: T0 - 300, ppid: 1 });
    const c2 = obs({ pid: 601, processStart: T0 - 200, ppid: 500 });
    const orphanOfGone = obs({ pid: 602, processStart: T0 - 500, ppid: 500 });
    expect(model.parentOf(c1)).toBe(p1);
    expect(model.parentOf(c2)).toBe(p2);
    // Started while no instance of 500 was alive: the new 500 is not its parent.
    expect(model.parentOf(orphanOfGone)).toBeUndefined();
  });

  it('exited instances are kept for processes.exited_retention, then swept', () => {
    const { model, obs, clock } = setup({ exited_retention: 600 });
    obs({ pid: 9, processStart: T0 - 10, ppid: 1 });
    model.exited(9, undefined, T0);
    clock.advance(500);
    model.sweep(clock.unix());
    expect(model.get(9)).toBeDefined();
    clock.advance(200);
    model.sweep(clock.unix());
    expect(model.get(9)).toBeUndefined();
    expect(model.size).toBe(0);
  });

  it('is bounded by processes.max_processes, evicting exited instances first', () => {
    const { model, obs } = setup({ max_processes: 3 });
    obs({ pid: 1, processStart: T0 - 100, ppid: 0 });
    obs({ pid: 2, processStart: T0 - 90, ppid: 1 });
    obs({ pid: 3, processStart: T0 - 80, ppid: 1 });
    model.exited(2, undefined, T0 - 10);
    obs({ pid: 4, processStart: T0 - 5, ppid: 1 });
    expect(model.size).toBe(3);
    expect(model.get(2)).toBeUndefined();
    obs({ pid: 5, processStart: T0 - 1, ppid: 1 });
    expect(model.size).toBe(3);
  });

  it('remembers the parent when ps later shows a reparent to launchd', () => {
    const { model, obs } = setup();
    obs({ pid: 700, processStart: T0 - 50, ppid: 1, path: '/usr/local/bin/dropper' });
    const child = obs({ pid: 701, processStart: T0 - 40, ppid: 700, path: '/usr/bin/curl' });
    model.exited(700, undefined, T0 - 30);
    obs({ pid: 701, processStart: T0 - 40, ppid: 1 });
    expect(child.ppid).toBe(1);
    expect(child.originalPpid).toBe(700);
    expect(model.parentOf(child)!.path).toBe('/usr/local/bin/dropper');
  });

  it('a snapshot that still lists an instance well after an exit mark revives it', () => {
    const { model, obs, clock } = setup();
    const r = obs({ pid: 11, processStart: T0 - 10, ppid: 1 });
    model.exited(11, undefined, T0);
    clock.advance(10);
    obs({ pid: 11, processStart: T0 - 10, ppid: 1 });
    expect(r.exitedAt).toBeNull();
  });
});

describe('a full table', () => {
  it('sweeps at most every 5 s of observations: a sweep walks every running process up its lineage', () => {
    const { model } = setup({ max_processes: 50, exited_retention: 60 });
    // `seenAt` drives the table's clock; 50 processes that exited long ago (due for a sweep) fill it
    let pid = 1000;
    const fill = (at: number) => {
      while (model.size < 50) {
        const p = pid++;
        model.observe({ pid: p, processStart: at - 1000, ppid: 1, path: '/usr/bin/true', source: 'ps', seenAt: at - 1000 });
        model.exited(p, at - 1000, at - 900);
      }
    };
    const arrive = (at: number) => model.observe({ pid: pid++, processStart: at, ppid: 1, path: '/usr/bin/clang', source: 'ps', seenAt: at });
    fill(T0);
    arrive(T0);
    expect(model.size).toBe(1); // the sweep removed every due record
    fill(T0 + 1);
    arrive(T0 + 1);
    expect(model.size).toBe(50); // within 5 s: no sweep, only the oldest exited record made room
    arrive(T0 + 6);
    expect(model.size).toBe(3); // 5 s later a new process sweeps again: the three clang runs are left
  });
});

describe('arguments (set by any process, kept 30 minutes after exit)', () => {
  it('keep at most 64 arguments of 256 characters, copied, from every source', () => {
    const { obs } = setup();
    const huge = 'A'.repeat(1024 * 1024);
    const args = Array.from({ length: 100 }, (_, i) => (i === 1 ? huge : `arg${i}`));
    const fromPs = obs({ pid: 500, processStart: T0 - 10, path: '/tmp/x', args });
    expect(fromPs.args).toHaveLength(64);
    expect(fromPs.args![1]).toBe('A'.repeat(256));
    expect(fromPs.args!.slice(2, 4)).toEqual(['arg2', 'arg3']);
    // a later snapshot (ps, /proc or eslogger) replaces them under the same bound
    const again = obs({ pid: 500, processStart: T0 - 10, args: [huge, huge] });
    expect(again.args).toEqual(['A'.repeat(256), 'A'.repeat(256)]);
  });
});

describe('lineage groups (SPEC §4)', () => {
  it('launchd job: parent is launchd and nothing owns it; its children join its group', () => {
    const { model, obs } = setup();
    obs({ pid: 1, processStart: T0 - 9999, ppid: 0, path: '/sbin/launchd' });
    const job = obs({ pid: 4471, processStart: T0 - 500, ppid: 1, path: '/Library/Application Support/Backup Agent/Backup Agent Helper' });
    const child = obs({ pid: 60311, processStart: T0 - 100, ppid: 4471, path: '/opt/homebrew/bin/rclone' });
    const g = model.group(child);
    expect(g.root).toBe(job);
    expect(g.rootKind).toBe('launchd_job');
    expect(g.chain.map((p) => p.pid)).toEqual([60311, 4471]);
  });

  it('XPC helper of a browser (ppid 1) belongs to the browser through its responsible pid', () => {
    const { model, obs } = setup();
    const chrome = obs({ pid: 800, processStart: T0 - 600, ppid: 1, path: CHROME });
    const net = obs({ pid: 801, processStart: T0 - 590, ppid: 1, responsiblePid: 800, originalPpid: 1, path: '/System/Library/Frameworks/WebKit.framework/Versions/A/XPCServices/com.apple.WebKit.Networking.xpc/Contents/MacOS/com.apple.WebKit.Networking', source: 'eslogger' });
    const g = model.group(net);
    expect(g.root).toBe(chrome);
    expect(g.rootKind).toBe('gui_app');
    expect(g.chain).toEqual([net, chrome]);
  });

  it('a helper app nested in a bundle is not its own GUI root', () => {
    const { model, obs } = setup();
    const chrome = obs({ pid: 800, processStart: T0 - 600, ppid: 1, path: CHROME });
    const helper = obs({ pid: 805, processStart: T0 - 500, ppid: 800, path: CHROME_HELPER });
    expect(model.group(helper).root).toBe(chrome);
    expect(isGuiAppPath(CHROME)).toBe(true);
    expect(isGuiAppPath(CHROME_HELPER)).toBe(false);
  });

  it('a binary run by a known parent from a folder shaped like an app bundle joins its parent\'s group (a copied curl in /tmp/.x/U.app/Contents/MacOS is no GUI app)', () => {
    const { model, obs } = setup();
    const dropper = obs({ pid: 700, processStart: T0 - 3600, ppid: 1, path: '/Users/dana/Downloads/update' });
    const fake = obs({ pid: 710, processStart: T0 - 120, ppid: 700, path: '/private/tmp/.x/U.app/Contents/MacOS/u' });
    const g = model.group(fake);
    expect(g.root).toBe(dropper);
    expect(g.rootKind).toBe('launchd_job');
    expect(g.chain).toEqual([fake, dropper]);
    // reparented to launchd after a double fork: its original parent still holds it
    const mid = obs({ pid: 720, processStart: T0 - 60, ppid: 700, path: '/bin/sh' });
    const orphan = obs({ pid: 721, processStart: T0 - 59, ppid: 720, path: '/private/tmp/.y/V.app/Contents/MacOS/v' });
    model.exited(720, undefined, T0 - 50);
    obs({ pid: 721, processStart: T0 - 59, ppid: 1, originalPpid: 720, source: 'eslogger' });
    expect(model.group(orphan).root).toBe(dropper);
  });

  it('an app bundle started by launchd (Finder, Dock, `open`) is its own GUI root; started by another process, it joins that process\'s group', () => {
    const { model, obs } = setup();
    const notes = obs({ pid: 900, processStart: T0 - 900, ppid: 1, path: '/Applications/Notes.app/Contents/MacOS/Notes' });
    expect(model.group(notes)).toMatchObject({ root: notes, rootKind: 'gui_app' });
    const job = obs({ pid: 300, processStart: T0 - 900, ppid: 1, path: '/Users/dana/Library/.hidden/agent' });
    const direct = obs({ pid: 910, processStart: T0 - 100, ppid: 300, path: '/Applications/Notes.app/Contents/MacOS/Notes' });
    expect(model.group(direct)).toMatchObject({ root: job, rootKind: 'launchd_job' });
  });

  it('an orphan whose original parent is gone follows its responsible pid', () => {
    const { model, obs } = setup();
    const app = obs({ pid: 900, processStart: T0 - 900, ppid: 1, path: '/Applications/Notes.app/Contents/MacOS/Notes' });
    const orphan = obs({ pid: 950, processStart: T0 - 100, ppid: 1, originalPpid: 949, responsiblePid: 900, path: '/usr/bin/osascript', source: 'eslogger' });
    const g = model.group(orphan);
    expect(g.root).toBe(app);
    expect(g.chain).toEqual([orphan, app]);
  });

  it('a reparented orphan whose original parent is still known follows the original parent', () => {
    const { model, obs } = setup();
    const job = obs({ pid: 300, processStart: T0 - 900, ppid: 1, path: '/Users/dana/Library/.hidden/agent' });
    const stager = obs({ pid: 310, processStart: T0 - 100, ppid: 300, path: '/bin/sh' });
    const upload = obs({ pid: 320, processStart: T0 - 90, ppid: 310, path: '/usr/bin/curl' });
    model.exited(310, undefined, T0 - 80);
    obs({ pid: 320, processStart: T0 - 90, ppid: 1 });
    const g = model.group(upload);
    expect(g.chain).toEqual([upload, stager, job]);
    expect(g.root).toBe(job);
    expect(g.rootKind).toBe('launchd_job');
  });

  it('a parent that exited in the second its child started is still the parent (`sh -c \'curl … &\'` exits at once)', () => {
    const { model, obs } = setup();
    const job = obs({ pid: 300, processStart: T0 - 900, ppid: 1, path: '/Users/dana/Library/.hidden/agent' });
    const stager = obs({ pid: 310, processStart: T0 - 91, ppid: 300, path: '/bin/sh' });
    const upload = obs({ pid: 320, processStart: T0 - 90, ppid: 310, path: '/usr/bin/curl' });
    model.exited(310, undefined, T0 - 90);
    expect(model.getAt(310, T0 - 90)).toBe(stager);
    const g = model.group(upload);
    expect(g.chain).toEqual([upload, stager, job]);
    expect(g.root).toBe(job);
  });

  function terminalTree(identity: boolean) {
    const s = setup();
    const term = s.obs({ pid: 4419, processStart: T0 - 900, ppid: 1, path: TERMINAL, ...(identity ? { signingId: 'com.apple.Terminal', teamId: null, platformBinary: true } : {}) });
    const login = s.obs({ pid: 4420, processStart: T0 - 899, ppid: 4419, path: '/usr/bin/login', args: ['login', '-pf', 'dana'] });
    const zsh = s.obs({ pid: 4421, processStart: T0 - 899, ppid: 4420, path: '/bin/zsh', args: ['-zsh'], tty: true });
    const script = s.obs({ pid: 5000, processStart: T0 - 50, ppid: 4421, path: '/bin/bash', args: ['/bin/bash', '-c', 'curl -T x https://example.net'] });
    const curl = s.obs({ pid: 5001, processStart: T0 - 49, ppid: 5000, path: '/usr/bin/curl' });
    return { ...s, term, login, zsh, script, curl };
  }

  it('an interactive shell under a terminal app (by identity) is the root', () => {
    const { model, zsh, script, curl } = terminalTree(true);
    const g = model.group(curl);
    expect(g.root).toBe(zsh);
    expect(g.rootKind).toBe('terminal_shell');
    expect(g.chain).toEqual([curl, script, zsh]);
  });

  it('without the terminal identity the terminal app itself (GUI app) is the root', () => {
    const { model, term, curl } = terminalTree(false);
    const g = model.group(curl);
    expect(g.root).toBe(term);
    expect(g.rootKind).toBe('gui_app');
  });

  it('terminal apps come from config allowlists too', () => {
    const { model, obs } = setup({}, { terminals: [{ team_id: 'ABCDE12345', signing_id_prefix: 'org.example.term' }] });
    obs({ pid: 10, processStart: T0 - 100, ppid: 1, path: '/Applications/Term.app/Contents/MacOS/Term', signingId: 'org.example.term', teamId: 'ABCDE12345' });
    const sh = obs({ pid: 11, processStart: T0 - 99, ppid: 10, path: '/bin/bash', args: ['bash', '-l'] });
    const ssh = obs({ pid: 12, processStart: T0 - 10, ppid: 11, path: '/usr/bin/ssh' });
    expect(model.group(ssh).root).toBe(sh);
  });

  it('interactive shell detection', () => {
    const base = { pid: 1, processStart: 0, ppid: 0, originalPpid: null, responsiblePid: null, uid: 0, path: '/bin/zsh', name: 'zsh', signingId: null, teamId: null, cdhash: null, platformBinary: null, firstSeen: 0, lastSeen: 0, exitedAt: null };
    expect(isInteractiveShell({ ...base, args: ['-zsh'], tty: true })).toBe(true);
    expect(isInteractiveShell({ ...base, args: null, tty: null })).toBe(true);
    expect(isInteractiveShell({ ...base, args: ['zsh', '-c', 'x'], tty: null })).toBe(false);
    expect(isInteractiveShell({ ...base, args: ['zsh', 'script.sh'], tty: null })).toBe(false);
    // -i runs rc files, yet the shell runs the command and exits: no group of its own (a stealer's `bash -ic 'curl …'`)
    expect(isInteractiveShell({ ...base, args: ['zsh', '-ic', 'x'], tty: true })).toBe(false);
    expect(isInteractiveShell({ ...base, args: ['bash', '-i', 'script.sh'], tty: true })).toBe(false);
    expect(isInteractiveShell({ ...base, args: ['zsh', '-il'], tty: true })).toBe(true);
    // options that take an argument are no script (a terminal profile's `bash --rcfile FILE -i`, `bash -o vi -i`)
    for (const args of [['bash', '--rcfile', '/Users/a/.bashrc_work', '-i'], ['bash', '-o', 'vi', '-i'], ['bash', '+o', 'emacs'], ['bash', '-iO', 'extglob'], ['zsh', '-l', '--'], ['bash', '--login']]) {
      expect(isInteractiveShell({ ...base, args, tty: true }), args.join(' ')).toBe(true);
    }
    for (const args of [['bash', '-o', 'vi', 'script.sh'], ['bash', '-i', '--', 'script.sh'], ['sh', '-ec', 'curl …'], ['bash', '-O', 'extglob', '/tmp/x.sh'], ['bash', '--rcfile', 'f', '-', 'x.sh'], ['bash', '--norc', 'x.sh'], ['bash', '-s', 'a', 'b'], ['sh', '-s', '--', '--upload', '/Users/a/Documents']]) {
      expect(isInteractiveShell({ ...base, args, tty: true }), args.join(' ')).toBe(false);
    }
    expect(isInteractiveShell({ ...base, args: ['-zsh'], tty: false })).toBe(false);
    expect(isInteractiveShell({ ...base, path: '/usr/bin/curl', args: null, tty: true })).toBe(false);
  });

  it('an unknown parent ends the walk at the topmost known process', () => {
    const { model, obs } = setup();
    const a = obs({ pid: 20, processStart: T0 - 10, ppid: 19 });
    const b = obs({ pid: 21, processStart: T0 - 5, ppid: 20 });
    expect(model.group(b)).toMatchObject({ root: a, rootKind: 'top' });
  });

  it('stale data forming a cycle terminates', () => {
    const { model, obs } = setup();
    obs({ pid: 30, processStart: T0 - 10, ppid: 31 });
    const b = obs({ pid: 31, processStart: T0 - 10, ppid: 30 });
    const g = model.group(b);
    expect(g.rootKind).toBe('top');
    expect(g.chain.length).toBeLessThanOrEqual(2);
  });
});
