/**
 * How wide text is on a terminal, in columns, for the CLI's tables. Host-sent names are often not ASCII (a Mac's
 * computer name is `山田のMacBook Pro` in Japan), and counting UTF-16 units put every column after such a cell out
 * of line: a wide (East Asian) character takes two columns, a combining mark or a zero-width character none, an
 * astral character one or two but two units. The ranges follow Unicode's East_Asian_Width (W and F) and emoji
 * presentation, as terminals' wcwidth does; a terminal with other tables may differ by a column on rare characters.
 */

/** Code point ranges two columns wide (East_Asian_Width W or F, and emoji shown as emoji by default), sorted. */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18aff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f2ff],
  [0x1f300, 0x1f320],
  [0x1f32d, 0x1f335],
  [0x1f337, 0x1f37c],
  [0x1f37e, 0x1f393],
  [0x1f3a0, 0x1f3ca],
  [0x1f3cf, 0x1f3d3],
  [0x1f3e0, 0x1f3f0],
  [0x1f3f4, 0x1f3f4],
  [0x1f3f8, 0x1f43e],
  [0x1f440, 0x1f440],
  [0x1f442, 0x1f4fc],
  [0x1f4ff, 0x1f53d],
  [0x1f54b, 0x1f54e],
  [0x1f550, 0x1f567],
  [0x1f57a, 0x1f57a],
  [0x1f595, 0x1f596],
  [0x1f5a4, 0x1f5a4],
  [0x1f5fb, 0x1f64f],
  [0x1f680, 0x1f6c5],
  [0x1f6cc, 0x1f6cc],
  [0x1f6d0, 0x1f6d2],
  [0x1f6d5, 0x1f6d7],
  [0x1f6dc, 0x1f6df],
  [0x1f6eb, 0x1f6ec],
  [0x1f6f4, 0x1f6fc],
  [0x1f7e0, 0x1f7eb],
  [0x1f7f0, 0x1f7f0],
  [0x1f90c, 0x1f93a],
  [0x1f93c, 0x1f945],
  [0x1f947, 0x1f9ff],
  [0x1fa70, 0x1fafc],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

/**
 * No column: combining marks, zero-width spaces and joiners, variation selectors, the byte-order mark, and Hangul
 * medial vowels and final consonants (U+1160–U+11FF, U+D7B0–U+D7FF), which join the initial before them into one
 * syllable (macOS keeps Korean file names decomposed, NFD).
 */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u1160-\u11ff\ud7b0-\ud7ff\u200b-\u200d\u2060-\u2064\ufe00-\ufe0f\ufeff]$/u;

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [from, to] = WIDE[mid]!;
    if (cp < from) hi = mid - 1;
    else if (cp > to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Columns one character (a code point) takes. */
export function charWidth(ch: string): 0 | 1 | 2 {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x300) return 1;
  if (ZERO_WIDTH.test(ch)) return 0;
  return isWide(cp) ? 2 : 1;
}

/** Columns `s` takes on a terminal. */
export function textWidth(s: string): number {
  // ASCII (almost every cell) is one column per unit
  if (!/[^\u0000-\u007f]/.test(s)) return s.length;
  let w = 0;
  for (const ch of s) w += charWidth(ch);
  return w;
}

/** `s` padded with spaces to `width` columns. */
export function padToWidth(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

/** `s` cut to at most `width` columns, the cut marked with `…` at the end. */
export function cutToWidth(s: string, width: number): string {
  if (textWidth(s) <= width) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch);
    // (a mark or jamo of no width after the last character kept belongs to it: kept)
    if (cw > 0 && w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…`;
}

/** A host name cut to at most `width` columns keeps its end (its registrable domain), marked with `…` at the start. */
export function cutHostNameToWidth(s: string, width: number): string {
  if (textWidth(s) <= width) return s;
  const chars = [...s];
  let start = chars.length;
  let w = 0;
  while (start > 0) {
    const cw = charWidth(chars[start - 1]!);
    if (w + cw > width - 1) break;
    w += cw;
    start--;
  }
  // never start on the mark or jamo of a character cut away (a decomposed Korean syllable without its initial)
  while (start < chars.length && charWidth(chars[start]!) === 0) start++;
  return `…${chars.slice(start).join('')}`;
}
