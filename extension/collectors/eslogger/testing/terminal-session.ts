/**
 * A real process model fed by a real eslogger pipeline, for lineage tests: optionally a Terminal → login → `-zsh`
 * session listed by ps two hours before `T`, as a Mac with a terminal open has when the extension starts.
 */
import { SensitivePathMatcher } from '../../../../src/classify/sensitive-paths.js';
import { fixedClock } from '../../../../src/clock.js';
import { parseConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/log.js';
import { createProcessModel } from '../../../process-model/model.js';
import { parsePsArgs } from '../../../process-model/parse-ps.js';
import type { ArchiveEventRow, ProcessModel, SensitiveFileEventRow } from '../../../runtime/context.js';
import { RingBuffer } from '../../../runtime/ring-buffer.js';
import { EsloggerPipeline } from '../pipeline.js';
import { recordingServices } from './test-context.js';

export const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
export const S = Math.floor(T / 1000);
const TTY = '/dev/ttys001';

/** The session's login shell as eslogger reports it (pid 810, started with the ps listing below). */
export const LOGIN_ZSH = { pid: 810, ppid: 805, path: '/bin/zsh', signingId: 'com.apple.zsh', teamId: null, platform: true, startMs: (S - 7198) * 1000, tty: TTY };

/**
 * The model and pipeline. `session`: 'terminal' lists Terminal (800) → login (805) → `-zsh` (810); 'no-shell' leaves
 * the shell out (a parent the model does not know); 'none' lists nothing.
 */
export function terminalSession(session: 'terminal' | 'no-shell' | 'none' = 'terminal'): { processes: ProcessModel; pipeline: EsloggerPipeline } {
  const processes = createProcessModel({ config: parseConfig({}), clock: fixedClock(S + 10), log: silentLogger() });
  const seen = S - 7200;
  if (session !== 'none') {
    processes.observe({ pid: 800, processStart: seen, ppid: 1, path: '/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal', signingId: 'com.apple.Terminal', teamId: null, platformBinary: true, source: 'ps', seenAt: seen });
    processes.observe({ pid: 805, processStart: seen + 1, ppid: 800, path: '/usr/bin/login', args: ['login', '-pf', 'dana'], tty: true, source: 'ps', seenAt: seen });
  }
  if (session === 'terminal') processes.observe({ pid: 810, processStart: seen + 2, ppid: 805, path: '/bin/zsh', args: ['-zsh'], tty: true, source: 'ps', seenAt: seen });
  const pipeline = new EsloggerPipeline({
    matcher: SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [] }),
    processes,
    signing: recordingServices().signing,
    sensitiveEvents: new RingBuffer<SensitiveFileEventRow>(100, 1800, (e) => e.time),
    archiveEvents: new RingBuffer<ArchiveEventRow>(100, 1800, (e) => e.time),
    precursorRetention: { tier1: 43_200, other: 1800 },
    now: () => S + 10,
  });
  return { processes, pipeline };
}

/** argv as the ps refresh gets it from `ps -axww -o pid=,args=`: joined by spaces, split again on whitespace. */
export function psArgs(pid: number, argv: readonly string[]): string[] {
  return parsePsArgs(`${String(pid).padStart(5)} ${argv.join(' ')}\n`).lines[0]!.args;
}
