/**
 * One exec event of /usr/bin/gzip, run by any local user, whose argv (chosen by that user, up to macOS's 1 MiB
 * ARG_MAX, passed through whole by eslogger) is made of long option clusters that do not end in a letter: the
 * root extension must handle it in milliseconds, not stall its one thread for seconds.
 */
import { expect, it } from 'vitest';
import { pipelineWorld } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 51, 40, 284);
const S = Math.floor(T / 1000);

it('an exec of gzip with 400 KiB of `-ddd…d!` arguments is handled in well under a second', () => {
  const { pipeline } = pipelineWorld({ now: S + 10 });
  const user = { pid: 50, ppid: 1, path: '/bin/zsh', signingId: 'com.apple.zsh', teamId: null, startMs: T - 5000 };
  const gzip = { pid: 60, ppid: 50, path: '/usr/bin/gzip', signingId: 'com.apple.gzip', startMs: T };
  const args = ['gzip', ...Array.from({ length: 100 }, () => `-${'d'.repeat(4094)}!`), 'file'];
  const line = esLine({ kind: 'exec', timeMs: T, gseq: 1, process: user, body: body.exec(gzip, args, '/Users/dana', 10) });
  const started = performance.now();
  pipeline.handleLine(line);
  expect(performance.now() - started).toBeLessThan(1000);
}, 120_000);
