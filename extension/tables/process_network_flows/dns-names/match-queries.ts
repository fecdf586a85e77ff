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
 *
 * An answer that echoes a pending exchange's addresses, port and id but not its question (a resolver's error reply
 * without the question section, or another question) answers no query, but after one that matched it is a second
 * answer all the same: a forger who knows the exchange answered first and the resolver's own reply came in a form
 * that names nothing, so what the first named is taken back. Before any matched answer it only counts as unmatched:
 * a stub drops such a reply and keeps waiting, so the exchange stays open for its real answer.
 *
 * Queries this host forwards for a guest (a container or VM it NATs or bridges) are not its own. Each is captured
 * twice: inbound from the guest, then outbound towards the resolver with the guest's client port (Linux NAT keeps
 * it when free; a bridge changes nothing), server, id and question. So inbound queries are remembered (`foreign`,
 * bounded by the same cap and timeout) and an outbound one that repeats one of them is the guest's (`forwarded`).
 * This holds whether or not the capture records interfaces. Without them (Linux cooked v1) it is what keeps a guest
 * from answering its own forwarded query on its bridge, where its answer would match with nothing to tell the
 * interfaces apart. With them the guest's answer on its bridge never matches, but the resolver's genuine answer
 * would, and would name addresses of the guest's choosing for this host (a lookup of the guest's own zone can
 * answer any address): as a local process can, but the guest is not this host. The answer to a forwarded query
 * then counts as unmatched.
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

/** Who asked whom, as the query carries it; the answer carries the same with the addresses swapped. */
export interface Transaction {
  /** Where the capture saw it: an interface name, pcapng interface index or Linux ifindex as text; '' when it cannot say. */
  iface: string;
  client: string;
  clientPort: number;
  server: string;
  id: number;
}

/** A transaction and what it asked. */
export interface Exchange extends Transaction {
  question: DnsQuestion;
}

/** What an answer echoes: its question, unless it has none or several. */
export type Answer = Transaction & { question: DnsQuestion | undefined };

/** What a query forwarded for a guest keeps through NAT (the client address changes, the interface too). */
export type ForwardedQuery = Pick<Exchange, 'clientPort' | 'server' | 'id' | 'question'>;

function transactionKey(t: Transaction): string {
  return `${t.iface}\n${t.client}\n${t.clientPort}\n${t.server}\n${t.id}`;
}

const questionKey = (q: DnsQuestion): string => `${q.type}\n${q.class}\n${q.name}`;

/**
 * One string per exchange. Addresses are compared in decode-udp's text, which is the same for the query's and the
 * answer's bytes; the name is parse-dns's lower-cased text, so a resolver echoing 0x20 mixed case still matches.
 */
export function exchangeKey(e: Exchange): string {
  return `${transactionKey(e)}\n${questionKey(e.question)}`;
}

function forwardKey(q: ForwardedQuery): string {
  return `${q.clientPort}\n${q.server}\n${q.id}\n${questionKey(q.question)}`;
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
  /** whether an answer matched it yet */
  answered: boolean;
  transaction: string;
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
  /** the exchanges of each transaction (one, unless a stub asks several questions with one id and port) */
  private readonly byTransaction = new Map<string, Entry[]>();
  /**
   * Expiry order as a queue with a moving head rather than the Map's own order: deleting from the front of a Map
   * leaves holes V8 skips on every fresh iteration until it rehashes, so a sweep per packet would cost O(holes).
   */
  private queue: Queued[] = [];
  private head = 0;
  private readonly inbound: RecentKeys;

  constructor(
    private readonly opts: PendingQueryOptions,
    private readonly stats: PendingQueryStats,
  ) {
    this.inbound = new RecentKeys(opts);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** This host sent the query `e` at `nowMs`. Returns what answered exchanges the cap pushed out had named. */
  sent(e: Exchange, nowMs: number): Named[] {
    this.expire(nowMs);
    const key = exchangeKey(e);
    let entry = this.byKey.get(key);
    if (entry === undefined) {
      entry = { expiresMs: 0, waiting: 0, answered: false, transaction: transactionKey(e), named: [] };
      this.byKey.set(key, entry);
      const siblings = this.byTransaction.get(entry.transaction);
      if (siblings) siblings.push(entry);
      else this.byTransaction.set(entry.transaction, [entry]);
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
        this.drop(oldest.key, oldest.entry);
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

  /** An answer `a` arrived at `nowMs`: whether it answers a query this host sent and still waits on. */
  answered(a: Answer, nowMs: number): AnswerMatch {
    this.expire(nowMs);
    const key = a.question === undefined ? undefined : exchangeKey({ ...a, question: a.question });
    const entry = key === undefined ? undefined : this.byKey.get(key);
    if (key !== undefined && entry !== undefined) {
      if (!this.current(entry, nowMs)) {
        this.drop(key, entry);
        this.stats.expired += entry.waiting;
        return { kind: 'unmatched' };
      }
      if (entry.waiting > 0) {
        entry.waiting--;
        entry.answered = true;
        return { kind: 'matched' };
      }
      // more answers than queries: whatever this exchange named is taken back, once
      return { kind: 'duplicate', revoke: entry.named.splice(0) };
    }
    // No exchange asked this: another question, or none, in a transaction whose exchange was answered is a second
    // answer to it (see the class comment).
    const answeredSiblings = (this.byTransaction.get(transactionKey(a)) ?? []).filter((s) => s.answered && this.current(s, nowMs));
    if (!answeredSiblings.length) return { kind: 'unmatched' };
    return { kind: 'duplicate', revoke: answeredSiblings.flatMap((s) => s.named.splice(0)) };
  }

  /** What a matched answer to `e` named, learnt at unix time `at`. */
  named(e: Exchange, labels: readonly DnsNameLabel[], at: number): void {
    const entry = this.byKey.get(exchangeKey(e));
    if (entry && labels.length) entry.named.push({ labels, at });
  }

  /** A query to a resolver came into this host at `nowMs` (a guest's, perhaps, about to be forwarded). */
  foreign(q: ForwardedQuery, nowMs: number): void {
    this.inbound.add(forwardKey(q), nowMs);
  }

  /** Whether a query this host sends at `nowMs` repeats one that came in within the timeout: a guest's, forwarded. */
  forwarded(q: ForwardedQuery, nowMs: number): boolean {
    return this.inbound.has(forwardKey(q), nowMs);
  }

  /**
   * nowMs is the wall clock. After it steps back, the sweep waits behind the items queued before (their expiry
   * lies ahead of every later one's), so the timeout is judged here too: past it, or sent more than a timeout
   * "later" than now, the query has waited as long as anyone can tell.
   */
  private current(entry: Entry, nowMs: number): boolean {
    return nowMs < entry.expiresMs && nowMs + 2 * this.opts.timeoutMs >= entry.expiresMs;
  }

  private drop(key: string, entry: Entry): void {
    this.byKey.delete(key);
    const siblings = this.byTransaction.get(entry.transaction);
    if (siblings === undefined) return;
    const rest = siblings.filter((s) => s !== entry);
    if (rest.length) this.byTransaction.set(entry.transaction, rest);
    else this.byTransaction.delete(entry.transaction);
  }

  private live(q: Queued): boolean {
    return q.entry.queued === q && this.byKey.get(q.key) === q.entry;
  }

  private expire(nowMs: number): void {
    // Items are queued in time order; a clock stepping back only delays the sweep (the cap still holds).
    while (this.head < this.queue.length && this.queue[this.head]!.expiresMs <= nowMs) {
      const q = this.queue[this.head++]!;
      if (!this.live(q)) continue;
      this.drop(q.key, q.entry);
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

interface Recent {
  key: string;
  expiresMs: number;
}

/**
 * Keys seen within the last `timeoutMs`, at most `maxPending` of them (the oldest goes first). A guest's query and
 * its forwarded copy are captured microseconds apart, so a key pushed out by the cap in between takes a flood of
 * that size inside that gap.
 */
class RecentKeys {
  private readonly byKey = new Map<string, Recent>();
  /** as PendingQueries': a queue with a moving head; an item is live while byKey holds that very item */
  private queue: Recent[] = [];
  private head = 0;

  constructor(private readonly opts: PendingQueryOptions) {}

  add(key: string, nowMs: number): void {
    this.expire(nowMs);
    const item = { key, expiresMs: nowMs + this.opts.timeoutMs };
    this.byKey.set(key, item);
    this.queue.push(item);
    while (this.byKey.size > this.opts.maxPending) {
      const oldest = this.queue[this.head++]!;
      if (this.byKey.get(oldest.key) === oldest) this.byKey.delete(oldest.key);
    }
    this.compact();
  }

  has(key: string, nowMs: number): boolean {
    this.expire(nowMs);
    const item = this.byKey.get(key);
    if (item === undefined) return false;
    // the wall clock stepped back or forth: as PendingQueries judges an entry
    if (nowMs >= item.expiresMs || nowMs + 2 * this.opts.timeoutMs < item.expiresMs) {
      this.byKey.delete(key);
      return false;
    }
    return true;
  }

  private expire(nowMs: number): void {
    while (this.head < this.queue.length && this.queue[this.head]!.expiresMs <= nowMs) {
      const q = this.queue[this.head++]!;
      if (this.byKey.get(q.key) === q) this.byKey.delete(q.key);
    }
    this.compact();
  }

  private compact(): void {
    const length = this.queue.length - this.head;
    if (length > 2 * this.byKey.size + 64) {
      this.queue = this.queue.slice(this.head).filter((q) => this.byKey.get(q.key) === q);
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
