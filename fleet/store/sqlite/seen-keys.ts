/**
 * The SQLite store's dedupe set in memory: 64-bit fingerprints of result digests in an open-addressing
 * table (typed arrays, linear probing), so checking a row costs a hash and a probe instead of a B-tree
 * insert. The durable copy is the append-only `result_key_log` table (one blob per batch); this set is
 * rebuilt from it (see SqliteRepos.results).
 *
 * A fingerprint is two independent 32-bit FNV-1a lanes over the digest's UTF-16 code units. Two distinct
 * digests sharing one is a 2^-64 event per pair: with the 48-hour dedupe horizon of a 10 000-host fleet
 * (~800 000 keys) the chance of any such pair is ~2·10^-8, and its cost is one row taken for a re-delivery.
 * Not a security boundary, and it need not be: a crafted collision needs the other row's exact content in
 * advance, so a host can only use one to drop rows of its own, which it could simply not send.
 */
import { fingerprint, type Fingerprint } from '../../../src/fingerprint.js';

export { fingerprint, type Fingerprint };

const MIN_CAPACITY = 1024;

export class SeenKeys {
  private hi: Int32Array;
  private lo: Int32Array;
  private used: Uint8Array;
  private mask: number;
  size = 0;

  constructor(expected = 0) {
    let cap = MIN_CAPACITY;
    while (cap < expected * 2) cap *= 2;
    this.hi = new Int32Array(cap);
    this.lo = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** Adds the fingerprint; returns false when it was already present. */
  add(hi: number, lo: number): boolean {
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    while (this.used[i] === 1) {
      if (this.lo[i] === lo && this.hi[i] === hi) return false;
      i = (i + 1) & this.mask;
    }
    this.used[i] = 1;
    this.hi[i] = hi;
    this.lo[i] = lo;
    if (++this.size * 2 > this.used.length) this.grow();
    return true;
  }

  has(hi: number, lo: number): boolean {
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    while (this.used[i] === 1) {
      if (this.lo[i] === lo && this.hi[i] === hi) return true;
      i = (i + 1) & this.mask;
    }
    return false;
  }

  private grow(): void {
    const { hi, lo, used } = this;
    const cap = used.length * 2;
    this.hi = new Int32Array(cap);
    this.lo = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < used.length; i++) if (used[i] === 1) this.add(hi[i]!, lo[i]!);
  }
}

/** Bytes per key in a `result_key_log` blob: lo, hi (int32 LE), unix time (float64 LE). */
export const KEY_RECORD_BYTES = 16;

export function encodeKeyRecord(buf: Buffer, index: number, hi: number, lo: number, unixTime: number): void {
  const at = index * KEY_RECORD_BYTES;
  buf.writeInt32LE(lo, at);
  buf.writeInt32LE(hi, at + 4);
  buf.writeDoubleLE(unixTime, at + 8);
}

/** Calls `fn(hi, lo, unixTime)` for each record of a blob; a trailing partial record is ignored. */
export function forEachKeyRecord(blob: Uint8Array, fn: (hi: number, lo: number, unixTime: number) => void): void {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const n = Math.floor(blob.byteLength / KEY_RECORD_BYTES);
  for (let i = 0; i < n; i++) {
    const at = i * KEY_RECORD_BYTES;
    fn(view.getInt32(at + 4, true), view.getInt32(at, true), view.getFloat64(at + 8, true));
  }
}
