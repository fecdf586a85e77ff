/**
 * `s` as a string of its own. A V8 slice (13 characters or more) keeps its whole parent alive, so a short
 * string kept from a long line (or a prefix kept from a MiB-long argument) would pin it; the concatenation
 * is flattened into a new string, and the slice of that holds only the copy.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
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

/** A host name keeps its end, where the registrable domain (the destination key) is. */
export function cutHostName(s: string, max: number): string {
  if (s.length <= max) return s;
  let start = s.length - (max - 1);
  // never half a surrogate pair (a low surrogate first)
  if (isHighSurrogate(s.charCodeAt(start - 1))) start++;
  return `…${s.slice(start)}`;
}
