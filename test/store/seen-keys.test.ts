import { describe, expect, it } from 'vitest';
import { encodeKeyRecord, fingerprint, forEachKeyRecord, KEY_RECORD_BYTES, SeenKeys } from '../../fleet/store/sqlite/seen-keys.js';

describe('SeenKeys (the SQLite dedupe set)', () => {
  it('adds each fingerprint once and finds it after growing many times', () => {
    const s = new SeenKeys();
    const fp = { hi: 0, lo: 0 };
    for (let i = 0; i < 50_000; i++) {
      fingerprint(`digest-${i}`, fp);
      expect(s.add(fp.hi, fp.lo)).toBe(true);
    }
    expect(s.size).toBe(50_000);
    for (let i = 0; i < 50_000; i += 7) {
      fingerprint(`digest-${i}`, fp);
      expect(s.has(fp.hi, fp.lo)).toBe(true);
      expect(s.add(fp.hi, fp.lo)).toBe(false);
    }
    fingerprint('digest-50000', fp);
    expect(s.has(fp.hi, fp.lo)).toBe(false);
  });

  it('tells apart fingerprints equal in one half (probe chains compare both)', () => {
    const s = new SeenKeys();
    expect(s.add(1, 2)).toBe(true);
    expect(s.add(1, 3)).toBe(true);
    expect(s.add(4, 2)).toBe(true);
    expect(s.has(4, 3)).toBe(false);
    expect(s.add(0, 0)).toBe(true);
    expect(s.has(0, 0)).toBe(true);
  });

  it('fingerprints md5-shaped digests without collisions over 300 000 of them, in both halves', () => {
    const his = new Set<number>();
    const pairs = new Set<string>();
    const fp = { hi: 0, lo: 0 };
    for (let i = 0; i < 300_000; i++) {
      // Digests that differ in one late character are the hard case for a weak mix.
      fingerprint(`AAAAAAAAAAAAAAAAAAA${i.toString(36).padStart(4, '0')}`, fp);
      his.add(fp.hi);
      pairs.add(`${fp.hi}:${fp.lo}`);
    }
    expect(pairs.size).toBe(300_000);
    // 32-bit lanes alone collide by the birthday bound (~10 expected at 300 000), never much more.
    expect(his.size).toBeGreaterThan(300_000 - 60);
  });

  it('round-trips log records and ignores a truncated trailing record', () => {
    const buf = Buffer.alloc(3 * KEY_RECORD_BYTES + 5);
    encodeKeyRecord(buf, 0, -1, 7, 1_772_409_749);
    encodeKeyRecord(buf, 1, 0x7fffffff, -0x80000000, 0);
    encodeKeyRecord(buf, 2, 3, 4, 2 ** 40);
    const got: number[][] = [];
    forEachKeyRecord(buf, (hi, lo, t) => got.push([hi, lo, t]));
    expect(got).toEqual([
      [-1, 7, 1_772_409_749],
      [0x7fffffff, -0x80000000, 0],
      [3, 4, 2 ** 40],
    ]);
    const partial: number[][] = [];
    forEachKeyRecord(buf.subarray(0, KEY_RECORD_BYTES + 9), (hi, lo, t) => partial.push([hi, lo, t]));
    expect(partial).toEqual([[-1, 7, 1_772_409_749]]);
  });
});
