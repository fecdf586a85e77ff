/**
 * An interactive shell the terminal starts with an option argument (`bash --rcfile FILE -i`, `bash -o vi -i`) is a
 * group root: the argument is no script. Otherwise two Terminal tabs share the Terminal app's group, and one tab's
 * keychain read explains the other tab's upload (a regression of 80b8499).
 */
import { describe, expect, it } from 'vitest';
import { isInteractiveShell } from '../../process-model/lineage.js';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const TERM = { pid: 800, processStart: NOW - 7200, ppid: 1, path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', signingId: 'com.apple.Terminal', platformBinary: true };

/** Two tabs, each login → bash `shellArgs`; tab 1 reads the keychain, tab 2 uploads with curl. */
function world(shellArgs: string[]) {
  const tab = (n: number) => [
    { pid: 900 + n * 10, processStart: NOW - 7000 + n, ppid: 800, path: '/usr/bin/login', args: ['login', '-pf', 'a', '/bin/bash', ...shellArgs.slice(1)], tty: true },
    { pid: 901 + n * 10, processStart: NOW - 6999 + n, ppid: 900 + n * 10, path: '/bin/bash', args: shellArgs, tty: true },
  ];
  const SEC = { pid: 950, processStart: NOW - 400, ppid: 911, path: '/usr/bin/security', args: ['security', 'find-generic-password', '-w', '-s', 'x'], tty: true };
  const CURL = { pid: 960, processStart: NOW - 90, ppid: 921, path: '/usr/bin/curl', tty: true };
  return buildWorld({
    processes: [TERM, ...tab(1), ...tab(2), SEC, CURL],
    sensitive: [{ pid: 950, ppid: 911, process_start: SEC.processStart, path: SEC.path, time: NOW - 300, file_path: '/Users/a/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1 }],
    signing: [{ path: '/usr/bin/curl', cls: 'apple_platform', signingId: 'com.apple.curl' }],
    flows: [{ pid: 960, processStart: CURL.processStart, remote: '203.0.113.5', bytesOut: 15 * MiB, bytesIn: 8000, firstSeen: NOW - 60, lastSeen: NOW - 30 }],
  });
}

describe('interactive shells started with option arguments', () => {
  const base = { pid: 1, processStart: 0, ppid: 0, originalPpid: null, responsiblePid: null, uid: 0, path: '/bin/bash', name: 'bash', signingId: null, teamId: null, cdhash: null, platformBinary: null, firstSeen: 0, lastSeen: 0, exitedAt: null, tty: true };
  it.each([[['bash', '--rcfile', '/Users/a/.bashrc_work', '-i']], [['bash', '-o', 'vi', '-i']]])('%j is an interactive shell', (args) => {
    expect(isInteractiveShell({ ...base, args })).toBe(true);
  });

  it('tab 2\'s upload is not explained by tab 1\'s keychain read (each interactive bash is its own group)', () => {
    const control = correlate(world(['bash', '-i'])).rows.filter((r) => r.analytic === 'AN0990');
    expect(control).toEqual([]); // passes: plain `bash -i` tabs are separate groups
    const rows = correlate(world(['bash', '--rcfile', '/Users/a/.bashrc_work', '-i'])).rows.filter((r) => r.analytic === 'AN0990');
    expect(rows.map((r) => [r.group_root_pid, r.group_root_path])).toEqual([]);
  });
});
