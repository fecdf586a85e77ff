import { aliasSpellings, foldedPath } from '../../../src/classify/sensitive-paths.js';

/**
 * Where copies of credential stores went: the destination of a clone, copyfile, rename or hard link whose source a
 * tier-1 rule matched, mapped to that source. A copy holds the secret as the original does, so a later access of the
 * copy (or of a file inside a copied folder) is judged by the original's rule: AMOS has Finder `duplicate` Safari's
 * cookies into its staging folder (Finder's clone, in Finder's lineage group), and the stealer's own `ditto` then reads
 * the copy.
 *
 * Bounded: at most `capacity` destinations (the oldest forgotten first, those hard links made before any other), each
 * for `ttlSeconds` of event time after the copy. Empty in normal use (only an unauthorized copy of a tier-1 file
 * records one), which keeps the fast path's extra check free.
 */
export class SensitiveCopies {
  /** folded destination → the original (canonical) and when (event time) the copy was made */
  private readonly byDestination = new Map<string, Copy>();
  /**
   * The followed destinations as a trie of folded segments, each also under the aliases canonicalPath removes, for the
   * fast path's raw-string walk. Kept up to date as copies are added and forgotten (one walk per spelling), never
   * rebuilt: a flood of copies (`ln` in a loop) must not cost a walk over every followed copy for each one.
   */
  readonly screen: CopyNode = newNode();
  /** The destinations a hard link made (no row: anyone can make them by the thousand, unseen), oldest first. */
  private readonly links = new Set<string>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  get size(): number {
    return this.byDestination.size;
  }

  /**
   * `destination` (canonical) now holds the data of `original` (canonical: the first original, for a copy of a copy).
   * `byLink`: a hard link made it. Over capacity the oldest copy a link made is forgotten first, so a link (which makes
   * no row) never makes room by forgetting a copy that a read made: a loop of `ln` cannot silently unfollow the copies
   * Finder made into a stealer's staging folder.
   */
  record(destination: string, original: string, time: number, byLink = false): void {
    const key = foldedPath(trimSlashes(destination));
    this.forget(key);
    this.byDestination.set(key, { original: trimSlashes(original), since: time });
    if (byLink) this.links.add(key);
    for (const x of spellings(key)) screenAdd(this.screen, x);
    if (this.byDestination.size > this.capacity) {
      const oldest = this.links.values().next().value ?? this.byDestination.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
  }

  /**
   * The copies followed at event time `time` at `path` (canonical) or below it (a folder that holds them). A rename or
   * clone of the folder takes them along (the pipeline records them there).
   */
  atOrBelow(path: string, time: number): FollowedCopy[] {
    if (this.byDestination.size === 0) return [];
    const folded = foldedPath(trimSlashes(path));
    const prefix = folded.endsWith('/') ? folded : `${folded}/`;
    const out: FollowedCopy[] = [];
    const expired: string[] = [];
    for (const [key, copy] of this.byDestination) {
      if (key !== folded && !key.startsWith(prefix)) continue;
      if (this.expired(copy, time)) expired.push(key);
      else if (time >= copy.since) out.push({ key, rest: key.slice(folded.length), original: copy.original, since: copy.since, byLink: this.links.has(key) });
    }
    for (const key of expired) this.forget(key);
    return out;
  }

  /** Stop following the copy at `key` (as atOrBelow names it): its data left that place. */
  forget(key: string): void {
    if (!this.byDestination.delete(key)) return;
    this.links.delete(key);
    for (const x of spellings(key)) screenRemove(this.screen, x);
  }

  /**
   * The original path whose data `path` (canonical) holds at event time `time`: the copy itself, or a file inside a
   * copied folder (the same place under the original folder). undefined when it is no known copy.
   */
  originalOf(path: string, time: number): string | undefined {
    if (this.byDestination.size === 0) return undefined;
    const found = this.find(path);
    if (found === undefined) return undefined;
    const { key, end, copy } = found;
    // a later event time than the copy's life, or an earlier one than the copy (a backlog read out of order)
    if (this.expired(copy, time)) {
      this.forget(key);
      return undefined;
    }
    if (time < copy.since) return undefined;
    return copy.original + path.slice(end);
  }

  private expired(copy: Copy, time: number): boolean {
    return time > copy.since + this.ttlSeconds;
  }

  /** The followed copy `path` is or lies in (the deepest), with its key and where in `path` it ends. */
  private find(path: string): { key: string; end: number; copy: Copy } | undefined {
    let end = trimSlashes(path).length;
    // one fold for every level, unless folding moved characters (lower case longer outside ASCII, an alias dropped)
    const folded = foldedPath(path);
    const sameLength = folded.length === path.length && path.toLowerCase().length === path.length;
    while (end > 0) {
      const key = sameLength ? folded.slice(0, end) : foldedPath(path.slice(0, end));
      const copy = this.byDestination.get(key);
      if (copy !== undefined) return { key, end, copy };
      end = path.lastIndexOf('/', end - 1);
    }
    return undefined;
  }
}

const DEFAULT_CAPACITY = 1024;

interface Copy {
  /** The original (canonical) whose data it holds. */
  original: string;
  /** When (event time) the copy was made. */
  since: number;
}

/** A followed copy as atOrBelow lists it. */
interface FollowedCopy extends Copy {
  /** Its folded destination, as forget takes it. */
  key: string;
  /** Its key below the path asked about (folded; '' for that path itself). */
  rest: string;
  /** A hard link made it. */
  byLink: boolean;
}

/** A trie node of SensitiveCopies.screen: children by segment length, then folded name. */
export interface CopyNode {
  /** How many followed copies end here (this path and everything below it is one when > 0). */
  ends: number;
  children: Map<number, { name: string; node: CopyNode }[]>;
}

function newNode(): CopyNode {
  return { ends: 0, children: new Map() };
}

/** A folded destination as the raw paths may spell it (aliasSpellings, folded). */
function spellings(key: string): string[] {
  return aliasSpellings(key, '/system/volumes/data');
}

function screenAdd(root: CopyNode, path: string): void {
  let node = root;
  for (const name of path.split('/')) {
    if (!name) continue;
    let list = node.children.get(name.length);
    if (!list) node.children.set(name.length, (list = []));
    let next = list.find((c) => c.name === name)?.node;
    if (!next) list.push({ name, node: (next = newNode()) });
    node = next;
  }
  node.ends++;
}

/** Undo screenAdd, dropping the nodes nothing ends at or below any more. */
function screenRemove(root: CopyNode, path: string): void {
  const trail: { parent: CopyNode; name: string; node: CopyNode }[] = [];
  let node = root;
  for (const name of path.split('/')) {
    if (!name) continue;
    const next = node.children.get(name.length)?.find((c) => c.name === name)?.node;
    if (!next) return;
    trail.push({ parent: node, name, node: next });
    node = next;
  }
  if (node.ends > 0) node.ends--;
  for (let i = trail.length - 1; i >= 0; i--) {
    const { parent, name, node: n } = trail[i]!;
    if (n.ends > 0 || n.children.size > 0) break;
    const list = parent.children.get(name.length)!;
    list.splice(list.findIndex((c) => c.name === name), 1);
    if (!list.length) parent.children.delete(name.length);
  }
}

function trimSlashes(p: string): string {
  let end = p.length;
  while (end > 1 && p.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === p.length ? p : p.slice(0, end);
}
