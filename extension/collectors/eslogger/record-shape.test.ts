/**
 * A process record keeps one hidden class whatever facts the model learns and clears (a `delete` of
 * the subshell mark when the exec arrived sent every command a shell ran to V8's dictionary mode, about twice the
 * heap per record at max_processes).
 */
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { body, esLine } from './testing/es-lines.mjs';
import { LOGIN_ZSH as zsh, T, terminalSession } from './testing/terminal-session.js';

v8.setFlagsFromString('--allow-natives-syntax');
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

describe('a command typed in the terminal (zsh forks, the child execs git)', () => {
  it('its record keeps fast properties through fork, exec and a listing', () => {
    const { processes, pipeline } = terminalSession();
    const child = { ...zsh, pid: 900, ppid: 810, startMs: T - 5000 };
    const git = { ...child, path: '/usr/bin/git', signingId: 'com.apple.git' };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 5000, gseq: 1, process: zsh, body: body.fork(child, 10) }));
    expect(processes.get(900)!.forkedOnly).toBe(true);
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 5000, gseq: 2, process: child, body: { ...body.exec(git, ['git', 'status'], '/Users/dana/src', 10), fds: [{ fd: 0, fdtype: 1 }] } }));
    const r = processes.get(900)!;
    expect(r).toMatchObject({ path: '/usr/bin/git', args: ['git', 'status'], stdin: 'other' });
    expect(r.forkedOnly).toBeUndefined();
    expect(hasFastProperties(r)).toBe(true);
  });
});
