/**
 * A 64-bit fingerprint of a string: two independent 32-bit FNV-1a lanes over its UTF-16 code units, with a final
 * avalanche. Not a cryptographic hash: for telling strings apart where a chance collision costs little (the fleet's
 * dedupe set, the extension's command-line comparison); no security boundary rests on it.
 */
export interface Fingerprint {
  hi: number;
  lo: number;
}

/** Fingerprint of a string, into `out` (no allocation on the hot path). */
export function fingerprint(text: string, out: Fingerprint): Fingerprint {
  let a = 0x811c9dc5;
  let b = 0x2f8e1a2b;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  // Final avalanche so strings differing only in their last characters spread over a table.
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 16;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  out.hi = a | 0;
  out.lo = b | 0;
  return out;
}

/** The fingerprint as one number: exact to 53 of its 64 bits, enough to tell one process's command lines apart. */
export function fingerprintNumber(text: string): number {
  const fp = fingerprint(text, { hi: 0, lo: 0 });
  return (fp.hi >>> 0) * 2097152 + (fp.lo >>> 11);
}
