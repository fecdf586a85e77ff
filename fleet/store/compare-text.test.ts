import { describe, expect, it } from 'vitest';
import { compareText, hostnameReplaces, statusReplaces } from './store.js';

const sign = (n: number) => Math.sign(n);

describe('compareText (the stores\' text order: UTF-8 bytes)', () => {
  it('agrees with a byte comparison of the UTF-8 encodings, where JS < does not', () => {
    // U+FFFD is above every surrogate as a UTF-16 unit, below every astral code point in UTF-8
    expect('v\uFFFD' > 'v😀').toBe(true);
    expect(compareText('v\uFFFD', 'v😀')).toBeLessThan(0);
    const alphabet = ['a', 'z', 'é', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uFFFD', '\uffff', '😀', '\u{10000}', '\u{10ffff}', ''];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 1000;
    const word = () => Array.from({ length: Math.floor(rnd() * 4) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    for (let i = 0; i < 5000; i++) {
      const a = word();
      const b = word();
      expect([a, b, sign(compareText(a, b))]).toEqual([a, b, sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))]);
    }
  });

  it('decides the tie-breaks the stores repeat in SQL', () => {
    const status = (state: string) => ({ hostId: 'H', component: 'c', platform: 'darwin', state, detail: '', version: '1', time: 5 });
    expect(statusReplaces(status('v😀'), status('v\uFFFD'))).toBe(true);
    expect(statusReplaces(status('v\uFFFD'), status('v😀'))).toBe(false);
    // at equal time the worse state first, whatever its spelling; unknown states rank above known ones
    const order = ['running', 'disabled', 'degraded', 'unavailable', 'permission_denied', 'a_newer_state'];
    for (const [i, worse] of order.entries()) {
      for (const better of order.slice(0, i)) {
        expect([worse, better, statusReplaces(status(worse), status(better)), statusReplaces(status(better), status(worse))]).toEqual([worse, better, true, false]);
      }
    }
    expect(hostnameReplaces('h😀', 5, 'h\uFFFD', 5)).toBe(true);
    expect(hostnameReplaces('h\uFFFD', 5, 'h😀', 5)).toBe(false);
  });
});
