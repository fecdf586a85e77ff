/**
 * `s` as a string of its own. A V8 slice (13 characters or more) keeps its whole parent alive, so a short
 * string kept from a long line (or a prefix kept from a MiB-long argument) would pin it; the concatenation
 * is flattened into a new string, and the slice of that holds only the copy.
 */
export function detached(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}
