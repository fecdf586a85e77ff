import type { DnsNameLabel } from '../../../runtime/context.js';
import type { DnsQuestion } from './parse-dns.js';

/**
 * Pure bookkeeping of the DNS queries this host sent, so that an answer names something only when it answers one
 * of them: same interface, the query's source address and port as its destination, the query's destination (the
 * resolver, port 53) as its source, the same id and the same question. A sender that cannot see this host's
 * queries must guess all of that (a 16-bit id and, with source port randomisation, about 15 bits of port) and the
 * name; a guest on a bridge never sees the host's query there at all.
 *
 * Each query is answered once. A second answer to it (a spoofer racing the resolver, or the resolver's answer
 * arriving after a forged one) means one of the two was forged and the capture cannot tell which: both lose, and
 * what the first one named is taken back (`revoke`). First-wins would hand the name to whichever sender was
 * faster, which for a forger next to the host is usually the forger; dropping the pair leaves the address unnamed,
 * keyed by IP as without DNS names, which is what the fleet does anyway when it knows nothing.
 *
 * Memory is bounded: at most `maxPending` exchanges are kept (the oldest goes first, counted as evicted when it was
 * still waiting), each for `timeoutMs` after its last query (counted as expired when never answered). An answered
 * exchange stays until then too, so that a late second answer is still seen as one. When the cap pushes an answered
 * exchange out before then, what it named is given back (`sent` returns it): a second answer could no longer be
 * seen, and a flood of queries (any local process can send them) right after a forged answer would otherwise save
 * the forgery from the resolver's own answer.
 */

export interface PendingQueryOptions {
  /** Exchanges remembered at most (dns_names.max_pending_queries). */
  maxPending: number;
  /** How long a query waits for its answer, and an answered one for a second answer (ms; dns_names.query_timeout). */
  timeoutMs: number;
}

export interface PendingQueryStats {
  /** Queries that got no answer before they timed out. */
  expired: number;
  /** Queries still waiting for their answer when the cap pushed them out. */
  evicted: number;
  /** Answered exchanges the cap pushed out before a second answer could be seen: what they named was given back. */
  revokedAtCap: number;
}

/** Who asked whom what, as the query carries it; the answer carries the same with the addresses swapped. */
export interface Exchange {
  /** Where the capture saw it: an interface name, pcapng interface index or Linux ifindex as text; '' when it cannot say. */
  iface: string;
  client: string;
  clientPort: number;
  server: string;
  id: number;
  question: DnsQuestion;
}

/**
 * One string per exchange. Addresses are compared in decode-udp's text, which is the same for the query's and the
 * answer's bytes; the name is parse-dns's lower-cased text, so a resolver echoing 0x20 mixed case still matches.
 */
export function exchangeKey(e: Exchange): string {
  return `${e.iface}\n${e.client}\n${e.clientPort}\n${e.server}\n${e.id}\n${e.question.type}\n${e.question.class}\n${e.question.name}`;
}

/** What an answer named, learnt at unix time `at`: taken back if a second answer to its query comes. */
export interface Named {
  labels: readonly DnsNameLabel[];
  at: number;
}

export type AnswerMatch =
  | { kind: 'matched' }
  | { kind: 'unmatched' }
  /** A second answer: `revoke` is what the earlier ones named (empty once taken back). */
  | { kind: 'duplicate'; revoke: Named[] };

interface Entry {
  expiresMs: number;
  /** queries sent and not yet answered (a stub's retransmission repeats id, port and question) */
  waiting: number;
  named: Named[];
  /**
   * Its item in the queue, the one for its latest query; any earlier one is stale. By reference, not by time:
   * every packet of a capture chunk is handled at the same nowMs, so a retransmission in the same chunk leaves
   * an earlier item with the same expiry, which would otherwise count as live (kept by compaction, and taken for
   * the exchange's place at the cap).
   */
  queued?: Queued;
}

/** The order entries expire in: one item per query sent; an item whose entry was refreshed since is stale. */
interface Queued {
  key: string;
  entry: Entry;
  expiresMs: number;
}

export class PendingQueries {
  private readonly byKey = new Map<string, Entry>();
  /**
   * Expiry order as a queue with a moving head rather than the Map's own order: deleting from the front of a Map
   * leaves holes V8 skips on every fresh iteration until it rehashes, so a sweep per packet would cost O(holes).
   */
  private queue: Queued[] = [];
  private head = 0;

  constructor(
    private readonly opts: PendingQueryOptions,
    private readonly stats: PendingQueryStats,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  /** This host sent the query `key` at `nowMs`. Returns what answered exchanges the cap pushed out had named. */
  sent(key: string, nowMs: number): Named[] {
    this.expire(nowMs);
    let entry = this.byKey.get(key);
    if (entry === undefined) {
      entry = { expiresMs: 0, waiting: 0, named: [] };
      this.byKey.set(key, entry);
    }
    entry.waiting++;
    // a retransmission extends the wait
    entry.expiresMs = nowMs + this.opts.timeoutMs;
    entry.queued = { key, entry, expiresMs: entry.expiresMs };
    this.queue.push(entry.queued);
    const revoke: Named[] = [];
    while (this.byKey.size > this.opts.maxPending) {
      const oldest = this.queue[this.head++]!;
      if (this.live(oldest)) {
        this.byKey.delete(oldest.key);
        this.stats.evicted += oldest.entry.waiting;
        if (oldest.entry.named.length) {
          this.stats.revokedAtCap++;
          revoke.push(...oldest.entry.named);
        }
      }
    }
    this.compact();
    return revoke;
  }

  /** An answer for `key` arrived at `nowMs`: whether it answers a query this host sent and still waits on. */
  answered(key: string, nowMs: number): AnswerMatch {
    this.expire(nowMs);
    const entry = this.byKey.get(key);
    if (entry === undefined) return { kind: 'unmatched' };
    // nowMs is the wall clock. After it steps back, the sweep waits behind the items queued before (their expiry
    // lies ahead of every later one's), so the timeout is judged here too: past it, or sent more than a timeout
    // "later" than now, the query has waited as long as anyone can tell.
    if (nowMs >= entry.expiresMs || nowMs + 2 * this.opts.timeoutMs < entry.expiresMs) {
      this.byKey.delete(key);
      this.stats.expired += entry.waiting;
      return { kind: 'unmatched' };
    }
    if (entry.waiting > 0) {
      entry.waiting--;
      return { kind: 'matched' };
    }
    // more answers than queries: whatever this exchange named is taken back, once
    return { kind: 'duplicate', revoke: entry.named.splice(0) };
  }

  /** What a matched answer for `key` named, learnt at unix time `at`. */
  named(key: string, labels: readonly DnsNameLabel[], at: number): void {
    const entry = this.byKey.get(key);
    if (entry && labels.length) entry.named.push({ labels, at });
  }

  private live(q: Queued): boolean {
    return q.entry.queued === q && this.byKey.get(q.key) === q.entry;
  }

  private expire(nowMs: number): void {
    // Items are queued in time order; a clock stepping back only delays the sweep (the cap still holds).
    while (this.head < this.queue.length && this.queue[this.head]!.expiresMs <= nowMs) {
      const q = this.queue[this.head++]!;
      if (!this.live(q)) continue;
      this.byKey.delete(q.key);
      this.stats.expired += q.entry.waiting;
    }
    this.compact();
  }

  /** Drop what the head has passed, and stale items once they outnumber the live ones: the queue stays O(maxPending). */
  private compact(): void {
    const length = this.queue.length - this.head;
    if (length > 2 * this.byKey.size + 64) {
      this.queue = this.queue.slice(this.head).filter((q) => this.live(q));
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
