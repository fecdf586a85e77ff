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
 * it when free; a bridge changes nothing), id and question. So inbound queries are remembered (`foreign`) and an
 * outbound one that repeats one of them is the guest's (`forwarded`). This holds whether or not the capture records
 * interfaces. Without them (Linux cooked v1) it is what keeps a guest from answering its own forwarded query on its
 * bridge, where its answer would match with nothing to tell the interfaces apart. With them the guest's answer on
 * its bridge never matches, but the resolver's genuine answer would, and would name addresses of the guest's
 * choosing for this host (a lookup of the guest's own zone can answer any address): as a local process can, but
 * the guest is not this host. The answer to a forwarded query then counts as unmatched.
 *
 * The server is not part of what is compared, and inbound queries to any server are remembered, trusted or not: a
 * NAT that also rewrites the guest's resolver (DNAT: the guest asks 10.0.2.3, the query leaves for 8.8.8.8) sends
 * the inbound copy to another address than the outbound one, and keyed by server the pair would not be recognised.
 * What that costs:
 * - A query of this host's own is taken for forwarded when an inbound query with its client port, id and question
 *   came in within the timeout before it. By chance that is one in about 2^31 per remembered query with the same
 *   question (a random port and id; a busy DNS server on this host remembers at most `maxPending` of them). On
 *   purpose it takes knowing the port and id before the query is sent: someone who sees them only sees the query
 *   going out, too late to send its copy in ahead of it (ahead of a stub's retransmission, it makes the resolver's
 *   second answer a duplicate), and a flood of guesses covers at most `maxPending` of the 2^31 pairs. And the
 *   failure is an address left unnamed, keyed by IP as without DNS names: safe, as a flood of the pending cap is.
 * - Memory: the inbound queries have their own map, bounded by the same cap and timeout, so a host that is itself a
 *   busy DNS server (every query to it is inbound) keeps at most `maxPending` of them and never pushes out an
 *   exchange of this host's own.
 * - The window. A guest's query whose inbound copy the cap pushed out (counted: `inboundEvicted`) before its
 *   outbound copy is captured is not recognised. That gap is not microseconds: the outbound copy is captured when
 *   the driver sends it, after the uplink's egress queue, so the gap is that queue's delay (small with fq_codel, 10 ms
 *   to a second on a saturated FIFO uplink). And anyone can send queries to port 53 of this host's public address
 *   (captured even when nothing listens there). Under one oldest-first cap, a remote sender's queries within the gap
 *   would push the guest's copy out, and the resolver's genuine answer to the guest's lookup would then name
 *   addresses for this host.
 *   So the cap is shared between the interfaces the queries came in on (RecentKeys): past it, the interface holding
 *   the most loses its oldest, and on a tie the one the new query came in on does. Queries coming in on the uplink
 *   then push out only the uplink's own, unless a guest's bridge or veth holds more, which takes the guest's own
 *   queries (it could push its own copy out anyway: `maxPending` queries of its own within the gap, as before).
 *   Guests that share one interface and have none of their own (hosts on a hotspot's wlan0) share its part.
 *   Not remembering the uplink's inbound queries at all would also stop the remote sender, and save parsing them,
 *   but needs to know which interface is the uplink. Nothing says so on Linux: resolv.conf binds no resolver to an
 *   interface (`trusted` maps it to null). Learning it from where queries to the resolvers leave could be steered: a
 *   guest's frame to another guest's MAC with a resolver's address as destination leaves on that guest's veth. And a
 *   NAT whose clients and uplink share one interface (a one-armed router) has the client's inbound copy on the
 *   uplink. Sharing the cap needs to know neither. Its cost is a map lookup per interface holding inbound queries
 *   for each query sent, and a sweep of each per query, sent or inbound (a few interfaces hold any within the timeout).
 *   Where the capture records no interface (Linux cooked v1: all under '') there is one part, oldest first, as
 *   before: there `maxPending` inbound queries from anyone within the gap still push a guest's copy out.
 * A NAT that changes the client port (a port already taken, or NAT with random ports) is not recognised at all.
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
  /** Inbound queries (remembered to spot forwarded ones) the cap pushed out before their timeout. */
  inboundEvicted: number;
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

/**
 * What a query forwarded for a guest keeps through NAT: the client address changes, the interface too, and the
 * server when the NAT rewrites the guest's resolver.
 */
export type ForwardedQuery = Pick<Exchange, 'clientPort' | 'id' | 'question'>;

/** A query that came in, and the interface it came in on (its share of the cap). */
export type InboundQuery = ForwardedQuery & Pick<Transaction, 'iface'>;

function transactionKey(t: Transaction): string {
  return `${t.iface}\n${t.client}\n${t.clientPort}\n${t.server}\n${t.id}`;
}

const questionKey = (q: DnsQuestion): string => `${q.type}\n${q.class}\n${q.name}`;

/**
 * One string per exchange. Addresses are compared in decode-udp's text, which is the same for the query's and the
 * answer's bytes; the name is parse-dns's lower-cased text, so a resolver echoing 0x20 mixed case still matches.
 */
export function exchangeKey(e: Exchange): string {
  return keyIn(transactionKey(e), e.question);
}

/** An exchange's key from its transaction's, which PendingQueries needs as well. */
function keyIn(transaction: string, q: DnsQuestion): string {
  return `${transaction}\n${questionKey(q)}`;
}

function forwardKey(q: ForwardedQuery): string {
  return `${q.clientPort}\n${q.id}\n${questionKey(q.question)}`;
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
  /** queries sent and not yet answered (a stub's retransmission repeats id, port and question) */
  waiting: number;
  /** whether an answer matched it yet */
  answered: boolean;
  key: string;
  transaction: string;
  named: Named[];
}

/** A value and when it expires: one per put, in the queue; stale once its key is put again or removed. */
interface Slot<V> {
  key: string;
  value: V;
  expiresMs: number;
}

/**
 * Values by key, each kept for `timeoutMs` after it was last put and at most `maxPending` of them (the oldest
 * goes first). Subclasses hear of every value that leaves (`left`).
 */
abstract class ExpiringKeys<V> {
  private readonly byKey = new Map<string, Slot<V>>();
  /**
   * Expiry order as a queue with a moving head rather than the Map's own order: deleting from the front of a Map
   * leaves holes V8 skips on every fresh iteration until it rehashes, so a sweep per packet would cost O(holes).
   * A slot is live while `byKey` holds that very slot. By reference, not by time: every packet of a capture chunk
   * is handled at the same nowMs, so a key put again in the same chunk leaves an earlier slot with the same
   * expiry, which would otherwise count as live (kept by compaction, and taken for the key's place at the cap).
   */
  private queue: Slot<V>[] = [];
  private head = 0;

  constructor(protected readonly opts: PendingQueryOptions) {}

  get size(): number {
    return this.byKey.size;
  }

  /** A value left: pushed out by the cap ('evicted') or past its time ('expired'). */
  protected abstract left(key: string, value: V, why: 'expired' | 'evicted'): void;

  protected slot(key: string): Slot<V> | undefined {
    return this.byKey.get(key);
  }

  /** `value` at `key` from `nowMs` on (callers sweep first): its timeout starts anew, and the cap may push the oldest out. */
  protected put(key: string, value: V, nowMs: number): void {
    const slot = { key, value, expiresMs: nowMs + this.opts.timeoutMs };
    this.byKey.set(key, slot);
    this.queue.push(slot);
    while (this.byKey.size > this.opts.maxPending) this.evictOldest();
    this.compact();
  }

  /** Push the oldest value out ('evicted'), if there is one. */
  protected evictOldest(): void {
    while (this.head < this.queue.length) {
      const oldest = this.queue[this.head++]!;
      if (this.live(oldest)) {
        this.remove(oldest, 'evicted');
        return;
      }
    }
  }

  protected remove(slot: Slot<V>, why: 'expired' | 'evicted'): void {
    this.byKey.delete(slot.key);
    this.left(slot.key, slot.value, why);
  }

  /**
   * nowMs is the wall clock. After it steps back, the sweep waits behind the items queued before (their expiry
   * lies ahead of every later one's), so the timeout is judged here too: past it, or put more than a timeout
   * "later" than now, the value has waited as long as anyone can tell.
   */
  protected current(slot: Slot<V>, nowMs: number): boolean {
    return nowMs < slot.expiresMs && nowMs + 2 * this.opts.timeoutMs >= slot.expiresMs;
  }

  protected expire(nowMs: number): void {
    // Items are queued in time order; a clock stepping back only delays the sweep (the cap still holds).
    while (this.head < this.queue.length && this.queue[this.head]!.expiresMs <= nowMs) {
      const q = this.queue[this.head++]!;
      if (this.live(q)) this.remove(q, 'expired');
    }
    this.compact();
  }

  private live(q: Slot<V>): boolean {
    return this.byKey.get(q.key) === q;
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

export class PendingQueries extends ExpiringKeys<Entry> {
  /** the exchanges of each transaction (one, unless a stub asks several questions with one id and port) */
  private readonly byTransaction = new Map<string, Entry[]>();
  private readonly inbound: RecentKeys;
  /** what answered exchanges the cap pushed out had named, for `sent` to return */
  private readonly pushedOut: Named[] = [];

  constructor(
    opts: PendingQueryOptions,
    private readonly stats: PendingQueryStats,
  ) {
    super(opts);
    this.inbound = new RecentKeys(opts, stats);
  }

  /** This host sent the query `e` at `nowMs`. Returns what answered exchanges the cap pushed out had named. */
  sent(e: Exchange, nowMs: number): Named[] {
    this.expire(nowMs);
    const transaction = transactionKey(e);
    const key = keyIn(transaction, e.question);
    let entry = this.slot(key)?.value;
    if (entry === undefined) {
      entry = { waiting: 0, answered: false, key, transaction, named: [] };
      const siblings = this.byTransaction.get(entry.transaction);
      if (siblings) siblings.push(entry);
      else this.byTransaction.set(entry.transaction, [entry]);
    }
    entry.waiting++;
    // a retransmission extends the wait
    this.put(key, entry, nowMs);
    return this.pushedOut.splice(0);
  }

  /** An answer `a` arrived at `nowMs`: whether it answers a query this host sent and still waits on. */
  answered(a: Answer, nowMs: number): AnswerMatch {
    this.expire(nowMs);
    const transaction = transactionKey(a);
    const slot = a.question === undefined ? undefined : this.slot(keyIn(transaction, a.question));
    if (slot !== undefined) {
      const entry = slot.value;
      if (!this.current(slot, nowMs)) {
        this.remove(slot, 'expired');
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
    const answeredSiblings = (this.byTransaction.get(transaction) ?? []).filter((s) => s.answered && this.current(this.slot(s.key)!, nowMs));
    if (!answeredSiblings.length) return { kind: 'unmatched' };
    return { kind: 'duplicate', revoke: answeredSiblings.flatMap((s) => s.named.splice(0)) };
  }

  /** What a matched answer to `e` named, learnt at unix time `at`. */
  named(e: Exchange, labels: readonly DnsNameLabel[], at: number): void {
    const entry = this.slot(exchangeKey(e))?.value;
    if (entry && labels.length) entry.named.push({ labels, at });
  }

  /**
   * A query to port 53 of any server came into this host at `nowMs` on `q.iface` (a guest's, perhaps, about to be
   * forwarded).
   */
  foreign(q: InboundQuery, nowMs: number): void {
    this.inbound.add(q.iface, forwardKey(q), nowMs);
  }

  /**
   * Whether a query this host sends at `nowMs` repeats one that came in within the timeout (client port, id and
   * question; to whichever server): a guest's, forwarded.
   */
  forwarded(q: ForwardedQuery, nowMs: number): boolean {
    return this.inbound.has(forwardKey(q), nowMs);
  }

  protected left(_key: string, entry: Entry, why: 'expired' | 'evicted'): void {
    const siblings = this.byTransaction.get(entry.transaction);
    if (siblings !== undefined) {
      const rest = siblings.filter((s) => s !== entry);
      if (rest.length) this.byTransaction.set(entry.transaction, rest);
      else this.byTransaction.delete(entry.transaction);
    }
    if (why === 'expired') {
      this.stats.expired += entry.waiting;
      return;
    }
    this.stats.evicted += entry.waiting;
    if (entry.named.length) {
      this.stats.revokedAtCap++;
      this.pushedOut.push(...entry.named);
    }
  }
}

/**
 * Keys seen within the last `timeoutMs`, each under the interface it came in on, at most `maxPending` of them in
 * all. When a new key goes past the cap, the interface holding the most keys loses its oldest (counted as
 * `inboundEvicted`); on a tie, the interface the new key came in on does. So keys coming in on one interface push
 * out another's only while that one holds more: a flood on the uplink pushes out the uplink's own keys, not the
 * one a guest's query left on its bridge or veth (module comment). With a single interface, or none recorded
 * (''), this is plain oldest-first.
 */
class RecentKeys {
  /** only interfaces that hold a key: one that empties is dropped (veths come and go) */
  private readonly byIface = new Map<string, InterfaceKeys>();
  /** keys held over all interfaces, kept by each InterfaceKeys as keys come and go (not summed per add) */
  private readonly held = { keys: 0 };

  constructor(
    private readonly opts: PendingQueryOptions,
    private readonly stats: PendingQueryStats,
  ) {}

  /** Keys held, over all interfaces. */
  get size(): number {
    return this.held.keys;
  }

  add(iface: string, key: string, nowMs: number): void {
    this.expire(nowMs);
    let keys = this.byIface.get(iface);
    if (keys === undefined) {
      keys = new InterfaceKeys(iface, this.opts, this.stats, this.held);
      this.byIface.set(iface, keys);
    }
    keys.add(key, nowMs);
    if (this.size <= this.opts.maxPending) return;
    let victim = keys;
    for (const other of this.byIface.values()) if (other.size > victim.size) victim = other;
    victim.evictOne();
    if (victim.size === 0) this.byIface.delete(victim.iface);
  }

  /** Whether `key` came in on any interface within the timeout. */
  has(key: string, nowMs: number): boolean {
    this.expire(nowMs);
    for (const keys of this.byIface.values()) if (keys.has(key, nowMs)) return true;
    return false;
  }

  private expire(nowMs: number): void {
    for (const [iface, keys] of this.byIface) {
      keys.sweep(nowMs);
      if (keys.size === 0) this.byIface.delete(iface);
    }
  }
}

/** One interface's share of RecentKeys, counted in its `held` as keys come and go. */
class InterfaceKeys extends ExpiringKeys<true> {
  constructor(
    readonly iface: string,
    opts: PendingQueryOptions,
    private readonly stats: PendingQueryStats,
    private readonly held: { keys: number },
  ) {
    super(opts);
  }

  sweep(nowMs: number): void {
    this.expire(nowMs);
  }

  add(key: string, nowMs: number): void {
    if (this.slot(key) === undefined) this.held.keys++;
    this.put(key, true, nowMs);
  }

  evictOne(): void {
    this.evictOldest();
  }

  has(key: string, nowMs: number): boolean {
    const slot = this.slot(key);
    if (slot === undefined) return false;
    // the wall clock stepped back or forth: as PendingQueries judges an entry
    if (!this.current(slot, nowMs)) {
      this.remove(slot, 'expired');
      return false;
    }
    return true;
  }

  protected left(_key: string, _value: true, why: 'expired' | 'evicted'): void {
    this.held.keys--;
    if (why === 'evicted') this.stats.inboundEvicted++;
  }
}
