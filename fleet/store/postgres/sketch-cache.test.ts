import { describe, expect, it } from 'vitest';
import { SketchRowCache, type CachedSketch } from './sketch-cache.js';

const REGS = 4096;
/** A key's rows for `days`, each a distinct digest. */
const rowsOf = (key: string, days: number[]): CachedSketch[] => days.map((day) => ({ day, digest: `${key}-${day}`, registers: new Uint8Array(REGS) }));
const found = (entries: [string, number[]][]) => new Map(entries.map(([k, days]) => [k, rowsOf(k, days)]));
/** Keys of `table` the cache holds anything for, over a wide day range. */
const held = (c: SketchRowCache, table: string, keys: string[]) => keys.filter((k) => c.known(table, k, 0, 1e9).length > 0);

describe('SketchRowCache', () => {
  it('answers the days of a key within the asked range; a read replaces all of a key’s days, tables apart', () => {
    const c = new SketchRowCache(1 << 30);
    c.remember('t', found([['a', [10, 11, 12]]]));
    expect(c.known('t', 'a', 11, 20).map((d) => d.day)).toEqual([11, 12]);
    expect(c.known('u', 'a', 0, 20)).toEqual([]);
    // the window moved on: day 10 is gone with the read that no longer covers it, day 12 is gone from the table
    c.remember('t', found([['a', [11, 13]]]));
    expect(c.known('t', 'a', 0, 20).map((d) => d.day)).toEqual([11, 13]);
    c.remember('t', found([['a', []]]));
    expect(c.known('t', 'a', 0, 20)).toEqual([]);
    expect(c.stats()).toMatchObject({ keys: 0, bytes: 0 });
  });

  it('keeps no row without a digest (written before migration 0008): a read cannot name it, so it is always sent', () => {
    const c = new SketchRowCache(1 << 30);
    const legacy = { day: 11, digest: null, registers: new Uint8Array(REGS) };
    c.remember('t', new Map([['a', [...rowsOf('a', [10]), legacy, ...rowsOf('a', [12])]], ['b', [legacy]]]));
    expect(c.known('t', 'a', 0, 20).map((d) => [d.day, d.digest])).toEqual([
      [10, 'a-10'],
      [12, 'a-12'],
    ]);
    expect(c.known('t', 'b', 0, 20)).toEqual([]);
    expect(c.stats()).toMatchObject({ keys: 1 });
    expect(c.stats().bytes).toBeLessThan(3 * REGS);
  });

  it('with budget 0 keeps nothing', () => {
    const c = new SketchRowCache(0);
    c.remember('t', found([['a', [1, 2]]]));
    expect(c.known('t', 'a', 0, 9)).toEqual([]);
    expect(c.stats()).toMatchObject({ keys: 0, bytes: 0 });
  });

  it('over budget drops the least recently read keys the read did not touch first', () => {
    const perKey = 2 * REGS + 400; // two days, a little room for the bookkeeping
    const c = new SketchRowCache(3 * perKey);
    c.remember('t', found([['a', [1, 2]], ['b', [1, 2]]]));
    c.remember('t', found([['c', [1, 2]]]));
    // a read of a again makes b the least recently read
    c.remember('t', found([['a', [1, 2]]]));
    c.remember('t', found([['d', [1, 2]]]));
    expect(held(c, 't', ['a', 'b', 'c', 'd'])).toEqual(['a', 'c', 'd']);
    expect(c.stats().bytes).toBeLessThanOrEqual(3 * perKey);
  });

  it('a read larger than the budget keeps its first keys, so the same ones hit on every run instead of none', () => {
    const perKey = 2 * REGS + 400;
    const c = new SketchRowCache(3 * perKey);
    const run = found(['a', 'b', 'c', 'd', 'e'].map((k) => [k, [1, 2]]));
    c.remember('t', found([['old', [1, 2]]]));
    c.remember('t', run);
    expect(held(c, 't', ['old', 'a', 'b', 'c', 'd', 'e'])).toEqual(['a', 'b', 'c']);
    c.remember('t', run);
    expect(held(c, 't', ['a', 'b', 'c', 'd', 'e'])).toEqual(['a', 'b', 'c']);
  });

  it('counts rows served and fetched', () => {
    const c = new SketchRowCache(1 << 20);
    c.count(3, 1);
    c.count(2, 0);
    expect(c.stats()).toMatchObject({ served: 5, fetched: 1 });
  });
});
