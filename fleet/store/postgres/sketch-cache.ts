/**
 * Day sketches a PostgreSQL store instance has read, kept for its next reads (pure: no I/O).
 *
 * Why: finalization reads the day sketches of every saturated key its candidates name, every run (once a
 * minute), 4 KiB of registers per key and day, sent as 8 KiB of hex: 500 common keys over a 30-day window were
 * 128 MB and 0.7–1.5 s per run on the shared 2-core machine. Between two runs only the sketches of the days
 * ingest wrote change (today's, mostly). So a read names the registers it holds by digest
 * (0008_sketch_digests.sql: SHA-256 of the registers, set by a trigger on every write), and the server sends a
 * row's registers only when its digest is not among them; a row that is gone is not returned and leaves the cache.
 * The cache answers nothing on its own: every read asks the server which rows exist and what they hold now, so
 * another instance's write, an expiry, a rolled-back transaction or a restored database can never be served
 * stale — an equal digest is equal registers. A row without a digest (written before migration 0008, until ingest
 * or the rollup writes it again) is not kept: nothing could name it, so its registers are sent on every read.
 *
 * Bounded by bytes. A read that does not fit keeps what it can: entries the read did not touch go first (least
 * recently read first), then the read's own last keys — not its first, so a working set larger than the budget
 * still hits on the same part of it every run instead of evicting itself in a cycle.
 */

/** One stored day sketch as a read found it. */
export interface ReadSketch {
  day: number;
  /** The row's `digest` when read (SHA-256 of the registers, its first 16 bytes as a uuid); null before 0008. */
  digest: string | null;
  /** Shared with every reader: never written to. */
  registers: Uint8Array;
}

/** One day sketch the cache holds: only rows with a digest, the only ones a read can ask about. */
export interface CachedSketch extends ReadSketch {
  digest: string;
}

/** What a cached row costs beyond its registers (the object, its digest string, array and map slots), roughly. */
const ROW_OVERHEAD = 160;

interface Entry {
  days: readonly CachedSketch[];
  bytes: number;
}

export class SketchRowCache {
  /** `table \u0001 joined key` → the key's rows; insertion order is read order (oldest first). */
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  private counts = { served: 0, fetched: 0 };

  /** `budgetBytes` 0: nothing is kept (every read sends all registers, as without a cache). */
  constructor(readonly budgetBytes: number) {}

  /** The cached sketches of `key` in `table` within days [first, last], ascending. */
  known(table: string, key: string, first: number, last: number): CachedSketch[] {
    const e = this.entries.get(entryId(table, key));
    return e ? e.days.filter((d) => d.day >= first && d.day <= last) : [];
  }

  /**
   * The rows a read over days [first, last] found for each of its keys (a key without rows maps to []): they
   * replace what was cached for the key, days outside the read's range included (a live window slides forward,
   * and the days it left behind would only take room). Rows without a digest are left out.
   */
  remember(table: string, found: ReadonlyMap<string, readonly ReadSketch[]>): void {
    const touched: string[] = [];
    for (const [key, read] of found) {
      const id = entryId(table, key);
      this.drop(id);
      const days = read.filter((d): d is CachedSketch => d.digest !== null);
      if (!days.length || this.budgetBytes <= 0) continue;
      const bytes = days.reduce((n, d) => n + d.registers.byteLength + ROW_OVERHEAD, id.length * 2);
      this.entries.set(id, { days, bytes });
      this.used += bytes;
      touched.push(id);
    }
    if (this.used <= this.budgetBytes) return;
    const mine = new Set(touched);
    for (const id of this.entries.keys()) {
      if (this.used <= this.budgetBytes) return;
      if (!mine.has(id)) this.drop(id);
    }
    for (let i = touched.length - 1; i >= 0 && this.used > this.budgetBytes; i--) this.drop(touched[i]!);
  }

  /** Count rows a read took from the cache (`served`) and rows whose registers the server sent (`fetched`). */
  count(served: number, fetched: number): void {
    this.counts.served += served;
    this.counts.fetched += fetched;
  }

  /** Keys and bytes held, and the rows served and fetched since the store opened. */
  stats(): { keys: number; bytes: number; served: number; fetched: number } {
    return { keys: this.entries.size, bytes: this.used, ...this.counts };
  }

  private drop(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.used -= e.bytes;
  }
}

function entryId(table: string, key: string): string {
  return `${table}\u0001${key}`;
}
