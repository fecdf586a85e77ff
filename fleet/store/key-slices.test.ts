import { describe, expect, it } from 'vitest';
import { keyRefsByFamily, sliceKeyRefs, type PrevalenceKeyRef } from './store.js';

const dest = (key: string, rows: number): PrevalenceKeyRef => ({ family: 'destinations', key, rows });

describe('sliceKeyRefs (the rollup slices)', () => {
  it('cuts the refs in order into slices of at most maxRows work, a key weighing its rows plus one', () => {
    const refs = [dest('a', 4), dest('b', 4), dest('c', 0), dest('d', 8), dest('e', 1)];
    expect(sliceKeyRefs(refs, 10).map((s) => s.map((r) => (r.family === 'destinations' ? r.key : '')))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('never splits a key: one heavier than maxRows is a slice of its own', () => {
    expect(sliceKeyRefs([dest('a', 1), dest('big', 50), dest('c', 1)], 10).map((s) => s.length)).toEqual([1, 1, 1]);
  });

  it('gives no slice for no key', () => {
    expect(sliceKeyRefs([], 10)).toEqual([]);
  });
});

describe('keyRefsByFamily', () => {
  it('splits refs by family, in order', () => {
    const refs: PrevalenceKeyRef[] = [
      { family: 'apps', identity: 'team:X/a', rows: 1 },
      dest('d1', 1),
      { family: 'pairs', identity: 'team:X/a', key: 'd1', rows: 2 },
      dest('d2', 1),
    ];
    expect(keyRefsByFamily(refs)).toEqual({ destinations: ['d1', 'd2'], pairs: [{ identity: 'team:X/a', key: 'd1' }], apps: ['team:X/a'] });
  });
});
