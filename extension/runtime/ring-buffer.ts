/**
 * Bounded event buffer with a count limit and an age limit. Overwrites the oldest entry when full and
 * counts what it had to drop, so memory stays flat under a flood.
 */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0; // index of the oldest item
  private count = 0;
  /** Items evicted because the buffer was full (not those that aged out). */
  dropped = 0;

  constructor(
    readonly capacity: number,
    readonly maxAgeSeconds: number,
    private readonly timeOf: (item: T) => number,
  ) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError('capacity must be a positive integer');
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.capacity) {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.capacity;
      this.dropped++;
      return;
    }
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
  }

  /** Forget items older than now − maxAge (items are assumed to arrive roughly in time order). */
  prune(nowSeconds: number): number {
    const cutoff = nowSeconds - this.maxAgeSeconds;
    let removed = 0;
    while (this.count > 0) {
      if (this.timeOf(this.items[this.head] as T) >= cutoff) break;
      this.shift();
      removed++;
    }
    return removed;
  }

  /** Remove and return the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** Oldest first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) % this.capacity] as T;
  }

  /** Oldest first, without an iterator object per item (for per-query scans of a full buffer). */
  forEach(fn: (item: T) => void): void {
    for (let i = 0; i < this.count; i++) fn(this.items[(this.head + i) % this.capacity] as T);
  }

  /**
   * The item at position `i`, oldest first (0 is the oldest), or undefined outside [0, size). Lets a
   * reader remember positions from a forEach scan instead of holding the items in arrays of its own.
   */
  at(i: number): T | undefined {
    if (!(i >= 0 && i < this.count)) return undefined;
    return this.items[(this.head + i) % this.capacity];
  }

  toArray(): T[] {
    return [...this];
  }
}

/** What readers and writers of an event buffer use: a RingBuffer, or a ReservedRing of two. */
export interface EventRing<T> {
  readonly size: number;
  /** Items evicted because a ring was full (not those that aged out). */
  readonly dropped: number;
  push(item: T): void;
  prune(nowSeconds: number): number;
  forEach(fn: (item: T) => void): void;
  /** The item at position `i` of forEach's order. */
  at(i: number): T | undefined;
  [Symbol.iterator](): IterableIterator<T>;
  toArray(): T[];
}

/**
 * Two rings behind one buffer: the items `reserved` picks (rare and valuable: a read of a credential store) have a
 * ring of their own, with its own capacity and age limit, so a flood of the others can never evict them, and
 * they can be kept longer. forEach, at and iteration give the reserved ring's items first, then the others', each
 * oldest first (not one time order across the two).
 */
export class ReservedRing<T> implements EventRing<T> {
  private readonly kept: RingBuffer<T>;
  private readonly rest: RingBuffer<T>;

  constructor(
    rest: { capacity: number; maxAgeSeconds: number },
    kept: { capacity: number; maxAgeSeconds: number },
    timeOf: (item: T) => number,
    private readonly reserved: (item: T) => boolean,
  ) {
    this.rest = new RingBuffer(rest.capacity, rest.maxAgeSeconds, timeOf);
    this.kept = new RingBuffer(kept.capacity, kept.maxAgeSeconds, timeOf);
  }

  get size(): number {
    return this.kept.size + this.rest.size;
  }

  get dropped(): number {
    return this.kept.dropped + this.rest.dropped;
  }

  push(item: T): void {
    if (!this.reserved(item)) {
      this.rest.push(item);
      return;
    }
    // A full reserved ring hands its oldest item to the shared ring instead of dropping it, so a reserved item
    // is never evicted sooner than it would have been with one shared ring.
    const overflow = this.kept.size === this.kept.capacity ? this.kept.shift() : undefined;
    this.kept.push(item);
    if (overflow !== undefined) this.rest.push(overflow);
  }

  prune(nowSeconds: number): number {
    return this.kept.prune(nowSeconds) + this.rest.prune(nowSeconds);
  }

  forEach(fn: (item: T) => void): void {
    this.kept.forEach(fn);
    this.rest.forEach(fn);
  }

  at(i: number): T | undefined {
    return i < this.kept.size ? this.kept.at(i) : this.rest.at(i - this.kept.size);
  }

  *[Symbol.iterator](): IterableIterator<T> {
    yield* this.kept;
    yield* this.rest;
  }

  toArray(): T[] {
    return [...this];
  }
}
