import { describe, expect, it } from 'vitest';
import { classifyArchiveExec, MAX_ARG_CHARS } from './archive.js';

/**
 * argv of an exec event is chosen by whoever runs the program, and eslogger hands it over whole (lines up to
 * 8 MiB; macOS ARG_MAX is 1 MiB). Each argument is read up to MAX_ARG_CHARS, but the option-cluster tests
 * (`-…d…` for gzip, `-…c…` for tar, `-…c/e…` for gpg) must stay linear in it: an unprivileged user exec'ing
 * gzip with a few hundred `-ddd…d!` arguments otherwise stalls the root extension for seconds per exec.
 */
describe('classifyArchiveExec on hostile option clusters', () => {
  const hostile = (letter: string) => `-${letter.repeat(MAX_ARG_CHARS - 2)}!`;
  const argv = (tool: string, letter: string) => [tool, ...Array.from({ length: 150 }, () => hostile(letter)), 'file'];

  it.each([
    ['/usr/bin/gzip', 'gzip', 'd'],
    ['/usr/bin/tar', 'tar', 'c'],
    ['/opt/homebrew/bin/gpg', 'gpg', 'c'],
  ])('%s with 150 arguments of %s letters is classified in well under a second', (exe, tool, letter) => {
    const started = performance.now();
    classifyArchiveExec(exe, argv(tool, letter), '/Users/dana');
    expect(performance.now() - started).toBeLessThan(1000);
  }, 120_000);
});

describe('classifyArchiveExec option clusters, linear tests', () => {
  // the patterns the linear tests replace, safe on short text: they must decide every short argument alike
  const decompressCluster = (a: string) => /^-[a-zA-Z0-9]*d[a-zA-Z0-9]*$/.test(a);
  const tarCreateCluster = (a: string) => /^-[A-Za-z]*[cru][A-Za-z]*$/.test(a) && !/[xt]/.test(a);
  const gpgCluster = (a: string) => /^-[a-zA-Z]*[ce][a-zA-Z]*$/.test(a) && !a.startsWith('--');
  const alphabet = ['-', 'd', 'c', 'e', 'r', 'u', 'x', 'z', 'Z', '9', '!', ' '];
  /** Every argument up to 4 characters over the alphabet, each starting with '-'. */
  const shortArgs = (function* () {
    const walk = function* (prefix: string): Generator<string> {
      yield prefix;
      if (prefix.length >= 4) return;
      for (const ch of alphabet) yield* walk(prefix + ch);
    };
    yield* walk('-');
  })();

  it('gzip, tar and gpg classify every short option cluster as the anchored patterns did', () => {
    let compared = 0;
    for (const a of shortArgs) {
      // gzip reports an archive unless decompressing; tar and gpg only when creating / encrypting
      expect(classifyArchiveExec('/usr/bin/gzip', ['gzip', a, 'f'], '/w') === undefined, `gzip ${a}`).toBe(decompressCluster(a) || ['-t', '-l'].includes(a));
      expect(classifyArchiveExec('/usr/bin/tar', ['tar', 'f.tar', a], '/w') !== undefined, `tar ${a}`).toBe(tarCreateCluster(a));
      expect(classifyArchiveExec('/opt/homebrew/bin/gpg', ['gpg', a, 'f'], '/w') !== undefined, `gpg ${a}`).toBe(gpgCluster(a));
      compared++;
    }
    expect(compared).toBe(1 + 12 + 144 + 1728);
  });
});
