import { describe, expect, it } from 'vitest';
import {
  DaySketches,
  SKETCH_REGISTERS,
  SPAN_FILL_DAYS,
  SketchUpdates,
  addPoints,
  emptySketch,
  estimateHosts,
  hostPoint,
  saturatedHostCount,
  sketchDay,
  sketchFromBlob,
  SketchUnion,
  unionInto,
} from './host-sketch.js';

const DAY = 86_400;

function sketchOf(ids: Iterable<string>): Uint8Array {
  const r = emptySketch();
  addPoints(r, [...ids].map(hostPoint));
  return r;
}

const uuid = (i: number) => {
  const h = (i * 2654435761) >>> 0;
  return `${h.toString(16).toUpperCase().padStart(8, '0')}-F298-0A12-1B1C-${String(i).padStart(12, '0')}`;
};

describe('host sketch (HyperLogLog, precision 12)', () => {
  it('counts small host sets exactly and an empty one as 0', () => {
    expect(estimateHosts(emptySketch())).toBe(0);
    for (const n of [1, 2, 3, 12, 50, 100]) expect(estimateHosts(sketchOf(Array.from({ length: n }, (_, i) => `HOST-${String(i).padStart(6, '0')}`)))).toBe(n);
  });

  it('stays within 5 % for fleet-sized counts, for sequential and UUID host ids', () => {
    for (const n of [1_000, 5_000, 10_000, 50_000]) {
      for (const name of [(i: number) => `HOST-${String(i).padStart(6, '0')}`, uuid]) {
        const est = estimateHosts(sketchOf(Array.from({ length: n }, (_, i) => name(i))));
        expect(Math.abs(est - n) / n, `n=${n} est=${est}`).toBeLessThan(0.05);
      }
    }
  });

  it('counts a host once however often it is added, and a union is the distinct count', () => {
    const a = sketchOf(Array.from({ length: 600 }, (_, i) => uuid(i)));
    const b = sketchOf(Array.from({ length: 600 }, (_, i) => uuid(i + 300)));
    expect(addPoints(a, Array.from({ length: 600 }, (_, i) => hostPoint(uuid(i))))).toBe(false);
    const u = emptySketch();
    unionInto(u, a);
    unionInto(u, b);
    expect(Math.abs(estimateHosts(u) - 900)).toBeLessThanOrEqual(18);
  });

  const toDays = (updates: SketchUpdates<string>) =>
    [...updates.entries()].map(({ day, points }) => {
      const registers = emptySketch();
      addPoints(registers, points);
      return { day, registers };
    });

  it('day sketches answer a window with the days it overlaps', () => {
    const t0 = 20_000 * DAY;
    const updates = new SketchUpdates<string>();
    for (let i = 0; i < 40; i++) updates.addSighting('k', `H${i}`, t0 + 10, t0 + 10);
    // H0 again on day 5, and H100 spanning day 5 to day 9: a span of less than the stride takes its two ends
    updates.addSighting('k', 'H0', t0 + 5 * DAY, t0 + 5 * DAY);
    updates.addSighting('k', 'H100', t0 + 5 * DAY + 1, t0 + 9 * DAY + 1);
    const days = toDays(updates);
    expect(days.map((d) => d.day - sketchDay(t0))).toEqual([0, 5, 9]);
    const s = new DaySketches(days);
    expect(s.hostsIn({ from: t0 - 30 * DAY, to: t0 + DAY })).toBe(40);
    expect(s.hostsIn({ from: t0, to: t0 + 30 * DAY })).toBe(41);
    expect(s.hostsIn({ from: t0 + DAY, to: t0 + 30 * DAY })).toBe(2);
    expect(s.hostsIn({ from: t0 + 6 * DAY, to: t0 + 30 * DAY })).toBe(1);
    expect(s.hostsIn({ from: t0 + 10 * DAY, to: t0 + 40 * DAY })).toBe(0);
    // a window ending before day 5 does not see it
    expect(s.hostsIn({ from: t0 + DAY, to: t0 + 4 * DAY })).toBe(0);
  });

  it("a long span counts its host in every window of the stride's length that overlaps it, as a host row would", () => {
    const t0 = 20_000 * DAY;
    for (const stride of [30, 7, 1]) {
      for (const spanDays of [0, 1, 29, 30, 31, 45, 61, 95]) {
        const first = t0 + 3600;
        const last = first + spanDays * DAY + 7200;
        const updates = new SketchUpdates<string>({ floorTime: 0, strideDays: stride });
        updates.addSighting('k', 'H', first, last);
        const days = toDays(updates);
        // at most one point per stride, plus the two ends
        expect(days.length).toBeLessThanOrEqual(Math.ceil((spanDays + 1) / stride) + 1);
        const s = new DaySketches(days);
        for (let end = first - 3 * DAY; end <= last + (stride + 3) * DAY; end += 3 * 3600) {
          const window = { from: end - stride * DAY, to: end };
          const exact = first <= window.to && last >= window.from ? 1 : 0;
          // day granularity may also count a window that ends on the span's first day or starts on its last
          if (exact === 1) expect(s.hostsIn(window), `stride ${stride} span ${spanDays} end ${(end - t0) / DAY}`).toBe(1);
          else if (sketchDay(window.to) < sketchDay(first) || sketchDay(window.from) > sketchDay(last)) expect(s.hostsIn(window)).toBe(0);
        }
      }
    }
  });

  it('ingest with a known window: stride and reach are the window (forIngest)', () => {
    const t0 = 20_000 * DAY;
    const u = new SketchUpdates<string>(SketchUpdates.forIngest(7));
    u.addSighting('k', 'H', t0 - 20 * DAY, t0);
    expect([...u.entries()].map((e) => e.day - sketchDay(t0))).toEqual([-20, -14, -7, 0]);
    const ninety = new SketchUpdates<string>(SketchUpdates.forIngest(90));
    ninety.addSighting('k', 'H', 0, t0);
    expect([...ninety.entries()].map((e) => e.day - sketchDay(t0))).toEqual([-181, -180, -90, 0]);
    expect(SketchUpdates.forIngest(undefined)).toEqual({});
  });

  it('a span reaches at most SPAN_FILL_DAYS days before its last day, or none before the floor', () => {
    const t0 = 20_000 * DAY;
    const open = new SketchUpdates<string>();
    // one line dated 1970 and now: not 20 000 days of sketches, and a point per stride only
    open.addSighting('k', 'H1', 0, t0);
    expect([...open.entries()].map((e) => e.day - sketchDay(t0))).toEqual([-SPAN_FILL_DAYS, -28, -21, -14, -7, 0]);
    const floored = new SketchUpdates<string>({ floorTime: t0 - 3 * DAY });
    floored.addSighting('k', 'H1', t0 - 40 * DAY, t0);
    expect([...floored.entries()].map((e) => e.day - sketchDay(t0))).toEqual([-3, 0]);
    // a span ending before the floor leaves nothing
    floored.addSighting('k2', 'H1', t0 - 40 * DAY, t0 - 10 * DAY);
    expect([...floored.entries()].filter((e) => e.key === 'k2')).toEqual([]);
  });

  it('a key compacted before sketches existed keeps its compaction count only for windows reaching before them', () => {
    const key = { lastSeen: 1_000, compactedHosts: 900, sketchFrom: 500 };
    expect(saturatedHostCount(key, { from: 100, to: 1_000 }, 3)).toBe(900);
    expect(saturatedHostCount(key, { from: 600, to: 1_000 }, 3)).toBe(3);
    // not sighted in the window: the old rule gave 0 too
    expect(saturatedHostCount({ ...key, lastSeen: 50 }, { from: 100, to: 1_000 }, 0)).toBe(0);
    expect(saturatedHostCount({ ...key, sketchFrom: 0 }, { from: 100, to: 1_000 }, 3)).toBe(3);
  });

  it('refuses a stored blob of another size', () => {
    expect(() => sketchFromBlob(new Uint8Array(10), 'destinations 1 day 2')).toThrow(/10 bytes, not 4096/);
    expect(sketchFromBlob(new Uint8Array(SKETCH_REGISTERS), 'x')).toHaveLength(SKETCH_REGISTERS);
  });

  it('the word-wise union is unionInto, for aligned and unaligned registers and damaged bytes alike', () => {
    let seed = 3;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 40; trial++) {
      const reference = emptySketch();
      const union = new SketchUnion();
      for (let d = 0; d < 6; d++) {
        // a stored blob as node-postgres or better-sqlite3 hands it: a view at any offset of a larger buffer
        const offset = rand(4);
        const blob = new Uint8Array(new ArrayBuffer(SKETCH_REGISTERS + 8), offset, SKETCH_REGISTERS);
        for (let i = 0; i < SKETCH_REGISTERS; i++) if (rand(8) === 0) blob[i] = 1 + rand(33);
        // a damaged blob now and then: bytes no rank reaches, which the word arithmetic must not be trusted with
        if (trial % 5 === 0) for (let k = 0; k < 20; k++) blob[rand(SKETCH_REGISTERS)] = 128 + rand(128);
        unionInto(reference, blob);
        union.add(blob);
      }
      expect(Buffer.from(union.registers).equals(Buffer.from(reference))).toBe(true);
    }
    // only whole sketches: an aligned shorter view would otherwise be read past its end
    expect(() => new SketchUnion().add(new Uint8Array(new ArrayBuffer(2 * SKETCH_REGISTERS), 0, 100))).toThrow(RangeError);
  });

  it('estimates with the 2^-r table exactly as with Math.pow, for every byte a register can hold', () => {
    const byPow = (registers: Uint8Array) => {
      const m = SKETCH_REGISTERS;
      let sum = 0;
      let zeros = 0;
      for (const r of registers) {
        if (r === 0) zeros++;
        sum += 2 ** -r;
      }
      if (zeros === m) return 0;
      const raw = ((0.7213 / (1 + 1.079 / m)) * m * m) / sum;
      return raw <= 2.5 * m && zeros > 0 ? Math.round(m * Math.log(m / zeros)) : Math.round(raw);
    };
    for (const fill of [0, 0.01, 0.2, 0.7, 1]) {
      const r = emptySketch();
      for (let i = 0; i < SKETCH_REGISTERS; i++) if ((i * 7919) % 1000 < fill * 1000) r[i] = (i * 31) % 256;
      expect(estimateHosts(r)).toBe(byPow(r));
    }
  });
});
