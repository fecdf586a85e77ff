/**
 * `s` as a string of its own. A V8 slice (13 characters or more) keeps its whole parent alive, so a short
 * string kept from a long line (or a prefix kept from a MiB-long argument) would pin it; the concatenation
 * is flattened into a new string, and the slice of that holds only the copy.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

/**
 * Canonical copies of strings that outlive the text they were read from, shared by value. The fleet's ingest keeps
 * host ids, destination keys, app identities and paths sliced from result lines in the batch it aggregates; each
 * slice kept the whole ~600-byte line alive until the batch was committed, and V8's scavenger copied those lines
 * from semi-space to semi-space and then promoted them (~190 MB over the fleet-ingest bench's 585 000 lines).
 * A canonical copy made once, on first sight, lives in the old generation; every later batch keeps that copy and
 * the line dies young. (A copy per batch instead was measured slower than keeping the lines: session 9.)
 *
 * Bounded by entries and by characters: past either limit the current generation becomes the previous one and the
 * older is dropped, so a string still in use is found in the previous generation and carried over, and memory
 * stays under twice the limits whatever the input (a fleet's distinct raw-IP keys, say). A string longer than
 * `maxLength` is copied and not held: one such string (a host id is cut only by the line cap) would otherwise
 * hold up to its own length in each generation.
 */
export class StringInterner {
  private current = new Map<string, string>();
  private previous = new Map<string, string>();
  private currentChars = 0;
  private previousChars = 0;

  constructor(
    private readonly maxEntries = 65_536,
    private readonly maxChars = 4 * 1024 * 1024,
    private readonly maxLength = 1024,
  ) {}

  /** `s`, or an equal string kept earlier; never a slice of a longer string (see detached). */
  intern(s: string): string {
    // shorter strings are copies, not slices, in V8: nothing to gain from a lookup
    if (s.length < 13) return s;
    if (s.length > this.maxLength) return detached(s);
    const kept = this.current.get(s);
    if (kept !== undefined) return kept;
    const own = this.previous.get(s) ?? detached(s);
    if (this.current.size >= this.maxEntries || this.currentChars + own.length > this.maxChars) {
      this.previous = this.current;
      this.previousChars = this.currentChars;
      this.current = new Map();
      this.currentChars = 0;
    }
    this.current.set(own, own);
    this.currentChars += own.length;
    return own;
  }

  /** How many strings and characters are held (both generations). */
  get held(): { entries: number; chars: number } {
    return { entries: this.current.size + this.previous.size, chars: this.currentChars + this.previousChars };
  }
}

/** `s` cut to `max` characters, the cut marked with `…` at the end (its start is what counts). */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  // never half a surrogate pair: PostgreSQL would store U+FFFD, and the stored detection would differ from the built one
  const end = isHighSurrogate(s.charCodeAt(max - 2)) ? max - 2 : max - 1;
  return `${s.slice(0, end)}…`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Whether `s` takes more than `maxBytes` bytes of UTF-8. A UTF-16 code unit is 1 to 3 bytes (a surrogate pair 4 for
 * 2), so the string is measured only when its length alone cannot tell.
 */
export function utf8LongerThan(s: string, maxBytes: number): boolean {
  return s.length * 3 > maxBytes && Buffer.byteLength(s, 'utf8') > maxBytes;
}

/** A host name keeps its end, where the registrable domain (the destination key) is. */
export function cutHostName(s: string, max: number): string {
  if (s.length <= max) return s;
  let start = s.length - (max - 1);
  // never half a surrogate pair (a low surrogate first)
  if (isHighSurrogate(s.charCodeAt(start - 1))) start++;
  return `…${s.slice(start)}`;
}

/** A UTF-16 surrogate not in a pair: JSON can spell one (`"\ud800"`), UTF-8 cannot hold it. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
const BACKSLASH = 0x5c;

/**
 * JSON text with each lone surrogate written as its `\uXXXX` escape: the same JSON (a lone surrogate can only be
 * inside a string literal of valid JSON, where both spell the same value), in text that UTF-8 can carry. One after
 * an odd run of backslashes is left as it is: that text is no JSON (a backslash escapes no surrogate), and escaping
 * it would make it JSON of another value.
 */
export function escapeLoneSurrogates(json: string): string {
  if (!LONE_SURROGATE.test(json)) return json;
  return json.replace(LONE_SURROGATES, (c: string, at: number) => {
    let backslashes = 0;
    while (at - backslashes > 0 && json.charCodeAt(at - backslashes - 1) === BACKSLASH) backslashes++;
    return backslashes % 2 === 1 ? c : `\\u${c.charCodeAt(0).toString(16)}`;
  });
}

/**
 * A url's userinfo as its owner typed it: everything between `scheme://` and the url's last '@', and what follows that
 * '@'. A password may hold an unencoded '/', '?' or '#', where a URL parser ends the authority (`postgres://u:/pw@h`
 * even parses, with host u and the password in its path), so the last '@' is what bounds it. Undefined without one.
 */
export function typedUserinfo(url: string): { scheme: string; info: string; rest: string } | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  const at = url.lastIndexOf('@');
  if (!scheme || at < scheme.length) return undefined;
  return { scheme, info: url.slice(scheme.length, at), rest: url.slice(at + 1) };
}
