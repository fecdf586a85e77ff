/**
 * The fast path may only reject a line when no row can come from it. 'İ' (U+0130) lower-cases to two
 * UTF-16 units ('i' + U+0307), so a raw segment one unit shorter than the folded name it matches is compared against
 * the trie names of its raw length, found DIFFERENT on an ASCII letter, and rejected.
 */
import { describe, expect, it } from 'vitest';
import { canonicalPath, SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import { FastPath, Verdict } from './fast-path.js';
import { body, esLine } from './testing/es-lines.mjs';

const T = Date.UTC(2026, 2, 3, 9, 0, 0);
const proc = { pid: 100, ppid: 1, path: '/usr/local/bin/tool', startMs: T - 1000 };
const open = (p: string) => esLine({ kind: 'open', timeMs: T, gseq: 1, process: proc, body: body.open(p) });

describe('fast path vs matcher with a config pattern holding İ (U+0130)', () => {
  const matcher = SensitivePathMatcher.fromConfig({ replace_defaults: false, add: [{ pattern: '~/Mİne/**', category: 'documents' }] });
  const fast = new FastPath(matcher);

  it.each(['/Users/dana/Mİne/plan.txt', '/Users/dana/MİNE/plan.txt'])('%s: the matcher classifies it, so the screen must pass it', (p) => {
    expect(matcher.match(canonicalPath(p))?.category).toBe('documents');
    expect(fast.verdict(open(p))).toBe(Verdict.Parse);
  });

  it('a required ending holding İ is rejected the same way', () => {
    // a sibling rule gives the node a child of the raw last segment's length (4), so the screen compares names
    const m = SensitivePathMatcher.fromConfig({ replace_defaults: true, add: [{ pattern: '~/Vault/*.İx', category: 'password_manager' }, { pattern: '~/Vault/keys/**', category: 'dev_credentials' }] });
    const p = '/Users/dana/Vault/a.İx';
    expect(m.match(p)?.category).toBe('password_manager');
    expect(new FastPath(m).verdict(open(p))).toBe(Verdict.Parse);
  });
});
