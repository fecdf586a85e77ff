/**
 * A prevalence key's host spans (first_seen, last_seen per host), arranged so that "how many hosts did the
 * key have in [from, to]" takes two binary searches. Finalization asks that twice per candidate, thousands of
 * times per run over the same few hot keys; a scan of each key's hosts per ask cost O(candidates × hosts).
 *
 * A host's span meets [from, to] when it started by `to` and had not ended before `from`. A span that ended
 * before `from` also started before `to` (first_seen ≤ last_seen, from ≤ to), so
 * hosts = #(first_seen ≤ to) − #(last_seen < from). Spans read from the store satisfy that; a row that does not
 * (or an inverted window) is answered by a scan.
 */
import type { TimeWindow } from './store.js';

/** A key's host spans ordered by first_seen, with what spansIn needs to answer a window in O(log n). */
export interface SortedSpans {
  /** Ascending. */
  firstSeen: Float64Array;
  /** maxLastUpTo[i]: the greatest last_seen of spans 0…i. */
  maxLastUpTo: Float64Array;
  /** Every span's last_seen, ascending. */
  lastSorted: Float64Array;
  /** The spans as read, for the scan when a row breaks first_seen ≤ last_seen (the counts' premise). */
  rows: readonly (readonly [number, number])[];
  wellFormed: boolean;
}

/** `rows`: [first_seen, last_seen] ordered by first_seen. */
export function sortedSpans(rows: readonly (readonly [number, number])[]): SortedSpans {
  const n = rows.length;
  const firstSeen = new Float64Array(n);
  const maxLastUpTo = new Float64Array(n);
  const lastSorted = new Float64Array(n);
  let wellFormed = true;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const [first, last] = rows[i]!;
    if (first > last || (i > 0 && first < firstSeen[i - 1]!)) wellFormed = false;
    firstSeen[i] = first;
    lastSorted[i] = last;
    max = Math.max(max, last);
    maxLastUpTo[i] = max;
  }
  lastSorted.sort();
  return { firstSeen, maxLastUpTo, lastSorted, rows, wellFormed };
}

/** How many spans meet `window`, and the latest last_seen among them (-Infinity when none). */
export function spansIn(s: SortedSpans, window: TimeWindow): { hosts: number; last: number } {
  // An inverted window breaks the counting premise (a span that ended before `from` need not have started by `to`).
  if (!s.wellFormed || window.from > window.to) {
    let hosts = 0;
    let last = -Infinity;
    for (const [first, lastSeen] of s.rows) {
      if (first <= window.to && lastSeen >= window.from) {
        hosts++;
        last = Math.max(last, lastSeen);
      }
    }
    return { hosts, last };
  }
  const started = countAtMost(s.firstSeen, window.to);
  const ended = countBelow(s.lastSorted, window.from);
  const hosts = Math.max(0, started - ended);
  // Some span that started by `to` reaches `from`, so the latest of them is in the window.
  return { hosts, last: hosts > 0 ? s.maxLastUpTo[started - 1]! : -Infinity };
}

/** #(a[i] ≤ x) in an ascending array. */
function countAtMost(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** #(a[i] < x) in an ascending array. */
function countBelow(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
