import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../scripts/simulate-fleet.js';
import { sortedSpans, spansIn } from './sorted-spans.js';

type Span = readonly [number, number];

/** What SQLite's `first_seen <= to AND last_seen >= from` over every row gives. */
function bruteForce(rows: readonly Span[], window: { from: number; to: number }) {
  const hit = rows.filter(([first, last]) => first <= window.to && last >= window.from);
  return { hosts: hit.length, last: hit.length ? Math.max(...hit.map(([, last]) => last)) : -Infinity };
}

function byFirstSeen(rows: Span[]): Span[] {
  return [...rows].sort((a, b) => a[0] - b[0]);
}

describe('spansIn', () => {
  it('counts the spans that meet a window, boundaries included', () => {
    const s = sortedSpans(byFirstSeen([[100, 200], [150, 150], [300, 400], [50, 99]]));
    expect(spansIn(s, { from: 200, to: 300 })).toEqual({ hosts: 2, last: 400 });
    expect(spansIn(s, { from: 201, to: 299 })).toEqual({ hosts: 0, last: -Infinity });
    expect(spansIn(s, { from: 0, to: 99 })).toEqual({ hosts: 1, last: 99 });
    expect(spansIn(s, { from: 0, to: 1000 })).toEqual({ hosts: 4, last: 400 });
    expect(spansIn(s, { from: 150, to: 150 })).toEqual({ hosts: 2, last: 200 });
    expect(spansIn(sortedSpans([]), { from: 0, to: 10 })).toEqual({ hosts: 0, last: -Infinity });
  });

  it('reports the latest sighting among the spans in the window, not a later one outside it', () => {
    // The span reaching furthest starts after the window: the window's latest is the one ending at 180.
    const s = sortedSpans(byFirstSeen([[10, 180], [20, 120], [500, 900]]));
    expect(spansIn(s, { from: 100, to: 400 })).toEqual({ hosts: 2, last: 180 });
  });

  it('agrees with a scan of every row on random spans and windows', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = mulberry32(seed); // a failing seed reproduces
      // Small integer ranges make ties at window edges and between spans common.
      const rows: Span[] = Array.from({ length: Math.floor(r() * 60) }, () => {
        const first = Math.floor(r() * 50);
        return [first, first + Math.floor(r() * 20)] as const;
      });
      const s = sortedSpans(byFirstSeen(rows));
      expect(s.wellFormed).toBe(true);
      for (let w = 0; w < 30; w++) {
        const from = Math.floor(r() * 80) - 10;
        const window = { from, to: from + Math.floor(r() * 40) };
        expect(spansIn(s, window), `seed ${seed} window ${JSON.stringify(window)}`).toEqual(bruteForce(rows, window));
      }
    }
  });

  it('scans when the counting premise does not hold: an inverted window, a span ending before it starts, unsorted rows', () => {
    const rows: Span[] = [[10, 20], [30, 40], [33, 34], [50, 60]];
    const s = sortedSpans(rows);
    // from > to: [33, 34] ended before `from` without starting by `to`; the formula would say 2 − 2 = 0
    expect(spansIn(s, { from: 35, to: 32 })).toEqual(bruteForce(rows, { from: 35, to: 32 }));
    expect(spansIn(s, { from: 35, to: 32 }).hosts).toBe(1);

    const broken: Span[] = [[10, 20], [30, 5], [50, 60]];
    const b = sortedSpans(broken);
    expect(b.wellFormed).toBe(false);
    for (const window of [{ from: 0, to: 100 }, { from: 6, to: 29 }, { from: 4, to: 40 }]) expect(spansIn(b, window)).toEqual(bruteForce(broken, window));

    const unsorted: Span[] = [[50, 60], [10, 20]];
    const u = sortedSpans(unsorted);
    expect(u.wellFormed).toBe(false);
    expect(spansIn(u, { from: 0, to: 30 })).toEqual({ hosts: 1, last: 20 });
  });
});
