/**
 * JSON.parse costs about 0.3 µs per level of nesting: a 4 MiB line of `[[[…]]]` took 1.1–1.5 s, five times a flat
 * line of the same size, and anyone who can put a line in front of the aggregator (a compromised host, through Fleet)
 * can send it. Nothing osquery writes nests deeper than a few levels (a wrapper, the line, its decorations or
 * diffResults, a row), so text nesting past MAX_JSON_DEPTH is refused before it is parsed.
 */
export const MAX_JSON_DEPTH = 64;

/** Below this length a text's parse costs little at any depth: not scanned (keeps the scan off ordinary lines). */
const SCAN_FROM_CHARS = 64 * 1024;

/**
 * Whether JSON text opens more than `max` arrays or objects inside one another. Strings are skipped (escapes
 * honoured); linear, no allocation. A text that is not JSON at all is answered as well as it can be: JSON.parse
 * judges it afterwards.
 */
export function nestsDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  if (text.length < SCAN_FROM_CHARS) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
