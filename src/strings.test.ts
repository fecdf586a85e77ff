import { describe, expect, it } from 'vitest';
import { escapeLoneSurrogates, LONE_SURROGATE, StringInterner } from './strings.js';

describe('StringInterner', () => {
  it('gives back an equal string, short or long, however often it is asked', () => {
    const interner = new StringInterner();
    const line = '{"hostIdentifier":"A04868B3-F9BE-CD17-1BD0-EB5F4C869CBC","identity":"team:APPLE/com.apple.apsd"}';
    const host = line.slice(19, 55);
    expect(interner.intern(host)).toBe('A04868B3-F9BE-CD17-1BD0-EB5F4C869CBC');
    expect(interner.intern(line.slice(19, 55))).toBe(host);
    expect(interner.intern('short')).toBe('short');
    expect(interner.intern('')).toBe('');
    // short strings are not held: V8 copies them anyway
    expect(interner.held).toEqual({ entries: 1, chars: 36 });
  });

  it('holds at most two generations of entries, keeping the ones still asked for', () => {
    const interner = new StringInterner(2, 1_000_000);
    const s = (n: number) => `identity-number-${n}`;
    interner.intern(s(1));
    interner.intern(s(2));
    interner.intern(s(3)); // the generation of 1 and 2 becomes the previous one
    expect(interner.held.entries).toBe(3);
    interner.intern(s(1)); // found in the previous generation: carried into the current one
    expect(interner.held.entries).toBe(4);
    interner.intern(s(4)); // 3 and 1 become the previous generation; 2, not asked for since, is dropped
    expect(interner.held.entries).toBe(3);
    for (let n = 0; n < 1000; n++) {
      expect(interner.intern(s(n))).toBe(s(n));
      expect(interner.held.entries).toBeLessThanOrEqual(4);
    }
  });

  it('holds at most twice its character budget, whatever the input', () => {
    const interner = new StringInterner(1_000_000, 1_000, 100);
    for (let n = 0; n < 10_000; n++) {
      interner.intern(`203.0.113.${n % 256}:${n}-raw-ip-destination`);
      expect(interner.held.chars).toBeLessThanOrEqual(2_000);
    }
    expect(interner.held.entries).toBeGreaterThan(0);
  });

  it('copies a string longer than its length limit without holding it', () => {
    const interner = new StringInterner(1_000_000, 1_000, 100);
    const long = `${'H'.repeat(5_000)}-host-id`;
    for (let n = 0; n < 3; n++) expect(interner.intern(`${long}${n}`)).toBe(`${long}${n}`);
    expect(interner.held).toEqual({ entries: 0, chars: 0 });
    interner.intern('x'.repeat(100));
    expect(interner.held).toEqual({ entries: 1, chars: 100 });
  });
});

describe('escapeLoneSurrogates', () => {
  it('escapes lone surrogates only, and the JSON means the same', () => {
    const line = JSON.stringify({ a: 'x\ud800y', b: '\udc00', c: 'pair \ud83d\ude00', d: 'caf\u00e9' });
    // JSON.stringify already escapes lone ones: put them back raw, as a JSON-decoded wrapper line holds them
    const raw = line.replace('\\ud800', '\ud800').replace('\\udc00', '\udc00');
    const escaped = escapeLoneSurrogates(raw);
    expect(escaped).toBe(line);
    expect(JSON.parse(escaped)).toEqual(JSON.parse(raw));
    expect(LONE_SURROGATE.test(escaped)).toBe(false);
    // nothing to do: the same string back
    const plain = '{"c":"pair \ud83d\ude00"}';
    expect(escapeLoneSurrogates(plain)).toBe(plain);
  });
});
