/**
 * Day sketches of the hosts that sighted a compacted (saturated) prevalence key: one HyperLogLog per key and
 * UTC day of event time, so such a key's host count still slides with the 30-day window.
 *
 * Why: a key at the common threshold drops its per-host rows to bound state (docs/fleet.md, "Prevalence").
 * With a plain counter in their place, a key once common stayed common for as long as any one host kept
 * sighting it — a destination 1 000 hosts used last month, or one made "common" with forged host ids, could
 * never be rare again (SPEC §4 counts hosts *in 30 days*). A window's count is the union of the day sketches
 * it overlaps, which is what a sliding distinct count needs and a counter cannot give.
 *
 * Both stores keep the registers as one 4 096-byte blob per (key, day) and merge with this module, so they
 * agree to the bit. Precision 12: standard error ≈ 1.04/√4096 = 1.6 % for large counts; below a few hundred
 * hosts linear counting applies and the count is exact but for hash collisions (rare at these sizes).
 * Days: a window [from, to] reads the days from floor(from/DAY) to floor(to/DAY), so a host seen up to a day
 * before the window's start may still count — the granularity of this approximation.
 */
import { StoreError } from '../../src/errors.js';

const SKETCH_PRECISION = 12;
export const SKETCH_REGISTERS = 1 << SKETCH_PRECISION;
const DAY = 86_400;
/** Bits of the hash left after the register index; a rank is 1 + their leading zeros (1 … 21). */
const RANK_BITS = 32 - SKETCH_PRECISION;

/** The UTC day (days since the epoch) an event time falls in. */
export function sketchDay(time: number): number {
  return Math.floor(time / DAY);
}

/** The day range [first, last] a window reads. */
export function sketchDays(window: { from: number; to: number }): { first: number; last: number } {
  return { first: sketchDay(window.from), last: sketchDay(window.to) };
}

/** The day range [first, last] a set of windows reads (statsMany: the days worth loading). */
export function sketchDaysOf(windows: Iterable<{ from: number; to: number }>): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const w of windows) {
    const d = sketchDays(w);
    if (d.first < first) first = d.first;
    if (d.last > last) last = d.last;
  }
  return { first, last };
}

/**
 * A host id's 32-bit hash: FNV-1a over its UTF-16 code units, then murmur3's finalizer so that ids differing
 * only in their last characters (HOST-000001, HOST-000002 …) spread over all registers.
 */
function hostHash(hostId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < hostId.length; i++) {
    h ^= hostId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A host's register update, as `index << 5 | rank` (one number, so updates fit in plain maps and arrays). */
export function hostPoint(hostId: string): number {
  const h = hostHash(hostId);
  const rest = (h << SKETCH_PRECISION) >>> 0;
  const rank = rest === 0 ? RANK_BITS + 1 : Math.clz32(rest) + 1;
  return ((h >>> RANK_BITS) << 5) | rank;
}

export function emptySketch(): Uint8Array {
  return new Uint8Array(SKETCH_REGISTERS);
}

/** Raise `registers` by the points; true when a register changed (the blob then needs writing). */
export function addPoints(registers: Uint8Array, points: Iterable<number>): boolean {
  let changed = false;
  for (const p of points) {
    const index = p >>> 5;
    const rank = p & 31;
    if (registers[index]! < rank) {
      registers[index] = rank;
      changed = true;
    }
  }
  return changed;
}

/** `into` becomes the union of itself and `other` (register-wise max). */
export function unionInto(into: Uint8Array, other: Uint8Array): void {
  for (let i = 0; i < SKETCH_REGISTERS; i++) if (other[i]! > into[i]!) into[i] = other[i]!;
}

const HIGH_BITS = 0x80808080;

/**
 * unionInto four registers at a time, for the unions finalization takes over a window's day sketches (500 common
 * keys × 31 days is 15 500 of them; byte by byte that was about half a second a run). Per byte of a 32-bit word:
 * with bit 7 of `a` set and clear in `b`, `a - b` keeps bit 7 exactly where a ≥ b, with no borrow between bytes.
 * Ranks are at most RANK_BITS + 1 (21), so bit 7 is always free; a word holding a byte ≥ 128 (a damaged blob) is
 * merged byte by byte, so the result is unionInto's for any registers. `other` is read through a word view when
 * aligned, else copied; it must be a whole sketch (sketchFromBlob checks stored blobs).
 */
export class SketchUnion {
  readonly registers = emptySketch();
  private readonly words = new Uint32Array(this.registers.buffer);
  private readonly scratch = new Uint32Array(SKETCH_REGISTERS / 4);
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);

  add(other: Uint8Array): void {
    // a shorter aligned view would be read past its end, a longer one cut
    if (other.length !== SKETCH_REGISTERS) throw new RangeError(`a host sketch has ${SKETCH_REGISTERS} registers, not ${other.length}`);
    let b32: Uint32Array;
    if (other.byteOffset % 4 === 0) b32 = new Uint32Array(other.buffer, other.byteOffset, SKETCH_REGISTERS / 4);
    else {
      this.scratchBytes.set(other);
      b32 = this.scratch;
    }
    const a32 = this.words;
    for (let i = 0; i < a32.length; i++) {
      const a = a32[i]!;
      const b = b32[i]!;
      if (((a | b) & HIGH_BITS) !== 0) {
        for (let j = i * 4; j < i * 4 + 4; j++) if (other[j]! > this.registers[j]!) this.registers[j] = other[j]!;
        continue;
      }
      const aAtLeastB = (((a | HIGH_BITS) - b) & HIGH_BITS) >>> 7;
      const mask = Math.imul(aAtLeastB, 0xff);
      a32[i] = ((a & mask) | (b & ~mask)) >>> 0;
    }
  }
}

/** 2^-r for every byte a register can hold: Math.pow per register was most of an estimate's time. */
const INVERSE_POWERS = Float64Array.from({ length: 256 }, (_, r) => 2 ** -r);

/** Distinct hosts the registers stand for, rounded (HyperLogLog with linear counting for small counts). */
export function estimateHosts(registers: Uint8Array): number {
  const m = SKETCH_REGISTERS;
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < m; i++) {
    const r = registers[i]!;
    if (r === 0) zeros++;
    sum += INVERSE_POWERS[r]!;
  }
  if (zeros === m) return 0;
  const alpha = 0.7213 / (1 + 1.079 / m);
  const raw = (alpha * m * m) / sum;
  if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
  return Math.round(raw);
}

/** A stored blob as registers; a blob of another size is not a sketch this version wrote. */
export function sketchFromBlob(blob: Uint8Array, where: string): Uint8Array {
  if (blob.byteLength !== SKETCH_REGISTERS) {
    throw new StoreError('STORE_READ', `host sketch of ${where} has ${blob.byteLength} bytes, not ${SKETCH_REGISTERS}`, 'the store was written by an incompatible Outflow; restore it or let the rollup expire the key');
  }
  return new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength);
}

/**
 * How many days before a sighting's last day its span reaches when no floor is given: a default 30-day window
 * reads 31 days. Bounds what one line can write (a row dated 1970 and now would otherwise reach 20 000 days).
 */
export const SPAN_FILL_DAYS = 31;
/**
 * Stride of the points along a span when the caller names no window (ingest passes the prevalence window, see
 * forIngest): short enough for any window of a week or more.
 */
const DEFAULT_STRIDE_DAYS = 7;

export interface SketchUpdatesOptions {
  /** No point before this time's day (compaction: the window's start; nothing older is read before it expires). */
  floorTime?: number;
  /**
   * Days between the points along a span: the length in days of the windows that will be read (compaction: its
   * window's). Default DEFAULT_STRIDE_DAYS.
   */
  strideDays?: number;
  /** Without a floor, how many days before its last day a span reaches at most. Default SPAN_FILL_DAYS. */
  capDays?: number;
}

/**
 * Register updates waiting to be merged into stored sketches: per (key, day), the highest rank per register.
 *
 * A sighting spanning [firstSeen, lastSeen] counts, like an exact host row [first, last], in every window that
 * overlaps it. Its host goes on the span's last day, then every `strideDays` days back, and on its first day:
 * a window of W = strideDays days reads W + 1 consecutive days, so one that overlaps the span holds its last
 * day (it reaches past it), or its first day (it starts before it), or one of the points between, which are W
 * days apart. A span of at most W days thus costs two points, a month-long host row folded at compaction three.
 * (A window narrower than W may miss a host between points: W is the prevalence window every read uses.) The
 * first day is no earlier than the floor, or, without one, SPAN_FILL_DAYS before the last. Callers pass one
 * sighting per (key, host): the span of its rows, merged.
 */
export class SketchUpdates<K> {
  /** key → day → register index → rank */
  readonly byKey = new Map<K, Map<number, Map<number, number>>>();
  private readonly points = new Map<string, number>();
  private readonly floorTime: number | undefined;
  private readonly stride: number;
  private readonly cap: number;

  constructor(opts: SketchUpdatesOptions = {}) {
    this.floorTime = opts.floorTime;
    this.stride = Math.max(1, Math.floor(opts.strideDays ?? DEFAULT_STRIDE_DAYS));
    this.cap = Math.max(0, Math.ceil(opts.capDays ?? SPAN_FILL_DAYS));
  }

  /**
   * The options observe uses for a prevalence window of `windowDays` (ObserveOptions): a point per window, reaching
   * two windows back at least (a backlog's candidates have windows ending anywhere in its span; the rollup keeps
   * sketches that long), and SPAN_FILL_DAYS for short windows.
   */
  static forIngest(windowDays: number | undefined): SketchUpdatesOptions {
    return windowDays === undefined ? {} : { strideDays: windowDays, capDays: Math.max(SPAN_FILL_DAYS, 2 * windowDays + 1) };
  }

  addSighting(key: K, hostId: string, firstSeen: number, lastSeen: number): void {
    let point = this.points.get(hostId);
    if (point === undefined) this.points.set(hostId, (point = hostPoint(hostId)));
    const last = sketchDay(lastSeen);
    const floor = this.floorTime === undefined ? last - this.cap : sketchDay(this.floorTime);
    const first = Math.max(sketchDay(firstSeen), floor);
    if (first > last) return;
    for (let day = last; day > first; day -= this.stride) this.addPoint(key, day, point);
    this.addPoint(key, first, point);
  }

  private addPoint(key: K, day: number, point: number): void {
    let days = this.byKey.get(key);
    if (!days) this.byKey.set(key, (days = new Map()));
    let regs = days.get(day);
    if (!regs) days.set(day, (regs = new Map()));
    const index = point >>> 5;
    const rank = point & 31;
    if ((regs.get(index) ?? 0) < rank) regs.set(index, rank);
  }

  /** Every (key, day) with its points, days in ascending order per key. */
  *entries(): Generator<{ key: K; day: number; points: number[] }> {
    for (const [key, days] of this.byKey) {
      for (const day of [...days.keys()].sort((a, b) => a - b)) {
        const points: number[] = [];
        for (const [index, rank] of days.get(day)!) points.push((index << 5) | rank);
        yield { key, day, points };
      }
    }
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * A key's stored day sketches, read once, answering many windows: windows of one finalization run mostly
 * share their day range, so each distinct range is merged once.
 */
export class DaySketches {
  private readonly cache = new Map<string, number>();

  /** `days` ascending, each with its registers. */
  constructor(private readonly days: readonly { day: number; registers: Uint8Array }[]) {}

  hostsIn(window: { from: number; to: number }): number {
    const { first, last } = sketchDays(window);
    const id = `${first}:${last}`;
    let n = this.cache.get(id);
    if (n === undefined) {
      const acc = new SketchUnion();
      let any = false;
      for (const d of this.days) {
        if (d.day < first || d.day > last) continue;
        acc.add(d.registers);
        any = true;
      }
      n = any ? estimateHosts(acc.registers) : 0;
      this.cache.set(id, n);
    }
    return n;
  }
}

/**
 * Hosts of a saturated key in a window: its sketches' count. A key compacted before sketches existed (store
 * migrated from an older Outflow) has sketches only from `sketchFrom` on; a window reaching further back also
 * counts the host count recorded at compaction while the key was sighted in the window, as before — so an
 * upgrade does not make every common key look rare until the sketches have filled a window.
 */
export function saturatedHostCount(key: { lastSeen: number; compactedHosts: number; sketchFrom: number }, window: { from: number; to: number }, sketchHosts: number): number {
  if (window.from < key.sketchFrom && key.lastSeen >= window.from) return Math.max(sketchHosts, key.compactedHosts);
  return sketchHosts;
}
