import type { DnsNameCache } from '../../../runtime/context.js';
import { canonicalIp, capturedOnLoopback, decodeUdp, isLoopbackAddress, linkMeta, type UdpDatagram } from './decode-udp.js';
import type { CapturedPacket } from './parse-capture.js';
import { labelsOf } from './labels.js';
import type { Exchange, PendingQueries } from './match-queries.js';
import { DnsFormatError, parseDnsMessage, type DnsMessage } from './parse-dns.js';

export interface DnsNamesStats {
  packets: number;
  /** Responses from a trusted resolver that named at least one address. */
  answers: number;
  /** Addresses named. */
  labels: number;
  /** Responses from servers that are not the system's resolvers: ignored. */
  untrusted: number;
  /**
   * Responses from a resolver's address that cannot be the resolver speaking (ignored): captured on another
   * interface than the one it is reached through, a loopback source off the loopback interface, an IPv6 packet
   * from a v4-mapped address, one captured as sent by this host off loopback. A VM guest, a container, or a local
   * process owning that address wrote them.
   */
  misplaced: number;
  /**
   * Responses from a trusted resolver, captured where it can have sent them, that answer no query this host sent
   * and still waits on (ignored): another interface, port, id or question than any such query, a query that timed
   * out or was pushed out by the cap, or no query at all (a blind spoof, an injected answer).
   */
  unmatched: number;
  /**
   * Second answers to one query: one of the two was forged, so neither names anything (the first is taken back).
   * An answer echoing another question, or none, after one that matched counts too.
   */
  duplicates: number;
  /** Queries this host sent to a trusted resolver (each may be answered once). */
  queries: number;
  /** Of queries, those captured off loopback (so recorded as sent: the capture records direction there). */
  sentOffLoopback: number;
  /**
   * Queries to a trusted resolver that the capture does not show this host sending (ignored): captured inbound, or
   * with no direction recorded on an interface other than loopback.
   */
  foreignQueries: number;
  /**
   * Of foreignQueries, those captured off loopback with no direction recorded at all. Only these and none of this
   * host's queries off loopback means the capture cannot tell what this host sent (a tcpdump whose pcapng lacks epb_flags, say):
   * then nothing off loopback can be named, and the row says so.
   */
  undirectedQueries: number;
  /**
   * Queries captured as sent by this host that repeat one that came in just before (client port, id and question;
   * the server may differ, as a NAT may rewrite it): forwarded for a guest (a container or VM this host NATs or
   * bridges), so not this host's (ignored).
   */
  forwarded: number;
  /**
   * Inbound queries (to any server's port 53, remembered to spot forwarded ones) that dns_names.max_pending_queries
   * pushed out within dns_names.query_timeout: a guest's query forwarded after that would count as this host's.
   * A host that is itself a busy DNS server (over max_pending_queries / query_timeout inbound queries a second:
   * 409 with the defaults) counts them all the time, and anyone can make it count them: in the health detail, not
   * in dropped.
   */
  inboundEvicted: number;
  /**
   * Queries to other servers, or without exactly one question: never matched (those coming in are remembered all
   * the same, see forwarded).
   */
  otherQueries: number;
  /** Queries that got no answer within dns_names.query_timeout. */
  expired: number;
  /** Queries still waiting for their answer when dns_names.max_pending_queries pushed them out. */
  evicted: number;
  /**
   * Answers whose names were taken back because dns_names.max_pending_queries pushed their query out before a
   * second answer to it could have been seen (within dns_names.query_timeout).
   */
  revokedAtCap: number;
  /** Responses that name nothing: NXDOMAIN, no address, another query type. */
  unlabeled: number;
  /** Packets we could not read: a bad UDP or DNS message, a fragment, a cut capture. */
  malformed: number;
  /** Capture streams that went bad and were restarted. */
  formatErrors: number;
  restarts: number;
}

export function emptyStats(): DnsNamesStats {
  return {
    packets: 0,
    answers: 0,
    labels: 0,
    untrusted: 0,
    misplaced: 0,
    unmatched: 0,
    duplicates: 0,
    queries: 0,
    foreignQueries: 0,
    undirectedQueries: 0,
    forwarded: 0,
    inboundEvicted: 0,
    sentOffLoopback: 0,
    otherQueries: 0,
    expired: 0,
    evicted: 0,
    revokedAtCap: 0,
    unlabeled: 0,
    malformed: 0,
    formatErrors: 0,
    restarts: 0,
  };
}

/** A few servers whose answers were ignored, for the health detail (an admin may want to trust one). */
const MAX_UNTRUSTED_SHOWN = 4;

/**
 * The resolvers whose answers count: address (canonicalIp) → the interfaces it is reached through, or null
 * when nothing says which (then any interface but loopback for a non-loopback address).
 */
export type TrustedResolvers = ReadonlyMap<string, ReadonlySet<string> | null>;

const LOOPBACK_INTERFACE = /^lo\d*$/;

type Captured = Pick<CapturedPacket, 'linkType' | 'data' | 'interfaceName' | 'interfaceIndex' | 'direction'>;

/** Where a packet was captured and which way it went, from the capture format or the link header. */
interface Place {
  /** the interface as exchangeKey compares it; '' when the capture cannot say (Linux cooked v1, a one-interface pcap) */
  key: string;
  name: string | undefined;
  loopback: boolean | undefined;
  direction: 'in' | 'out' | undefined;
}

function placeOf(packet: Captured): Place {
  const meta = linkMeta(packet.linkType, packet.data);
  const name = packet.interfaceName ?? meta.interfaceName;
  const key = name ?? (packet.interfaceIndex !== undefined ? `#${packet.interfaceIndex}` : meta.ifindex !== undefined ? `if${meta.ifindex}` : '');
  const loopback = name !== undefined ? LOOPBACK_INTERFACE.test(name) : capturedOnLoopback(packet.linkType, packet.data);
  return { key, name, loopback, direction: packet.direction ?? meta.direction };
}

/** Whether the resolver at `server` can have sent this packet, judged by where it was captured. */
function placedRight(server: string, family: 4 | 6, place: Place, interfaces: ReadonlySet<string> | null): boolean {
  // an IPv6 packet from a v4-mapped address never crosses a wire: whoever wrote it chose that source
  if (family === 6 && server.includes('.')) return false;
  // Off loopback, an answer captured going out was sent (or bridged) by this host, not received from the resolver:
  // a VM guest bridged to the uplink gets its own queries counted as this host's (they leave through it), and
  // would otherwise answer them itself out through the bridge. On loopback every copy is this host's (xnu's
  // dlil calls pktap on output and on input, lo0 included, per its source), as queries there count either way.
  if (place.direction === 'out' && place.loopback !== true) return false;
  if (isLoopbackAddress(server)) return place.loopback !== false;
  if (interfaces === null) return place.loopback !== true;
  return place.name !== undefined && interfaces.has(place.name);
}

export interface LearnOptions {
  trusted: TrustedResolvers;
  names: Pick<DnsNameCache, 'learn' | 'forget'>;
  /** the queries this host sent, waiting for their answers */
  pending: PendingQueries;
  /** unix seconds, as names are learnt */
  at: number;
  /** milliseconds, as queries wait */
  nowMs: number;
  stats: DnsNamesStats;
  untrustedSeen: Set<string>;
}

/**
 * One captured packet. A DNS query this host sent to a trusted resolver is remembered, and one that came in (to any
 * server), to spot its copy forwarded for a guest. A response counts when it comes from a trusted resolver (source
 * port 53, an address in `trusted`, captured where that resolver can have sent it) and answers such a query
 * (match-queries.ts): then the addresses it names go into `names`. Every outcome is counted. Returns how many
 * addresses were named.
 */
export function learnFromPacket(packet: Captured, o: LearnOptions): number {
  const { stats } = o;
  stats.packets++;
  const udp = decodeUdp(packet.linkType, packet.data);
  if (!udp.ok) {
    stats.malformed++;
    return 0;
  }
  const d = udp.datagram;
  // The QR bit alone sorts queries from responses: no response is parsed before its source is known to be trusted.
  // Anything too short to hold it goes the response way, where an untrusted source is all it gets counted as.
  if (d.payload.length > 2 && (d.payload[2]! & 0x80) === 0) {
    if (d.dstPort === 53) queryFrom(packet, d, o);
    else stats.otherQueries++;
    return 0;
  }
  return answerFrom(packet, d, o);
}

function queryFrom(packet: Captured, d: UdpDatagram, o: LearnOptions): void {
  const { stats } = o;
  const server = canonicalIp(d.dstAddress);
  const trusted = server !== null && o.trusted.has(server);
  const place = placeOf(packet);
  // On loopback every packet is sent by this host (and Linux shows only the received copy there).
  if (place.direction !== 'out' && place.loopback !== true) {
    if (trusted) {
      stats.foreignQueries++;
      if (place.direction === undefined) stats.undirectedQueries++;
    } else stats.otherQueries++;
    // A guest's, perhaps, which this host forwards next: its copy going out must not count as this host's. To any
    // server, as a NAT may rewrite the guest's resolver to a trusted one; under the interface it came in on, so that
    // queries flooding in on the uplink cannot push out a guest's (match-queries.ts). Already counted, as foreign or
    // other: an unreadable one is not counted as malformed too.
    const msg = parse(d.payload);
    if (msg?.questions.length === 1) o.pending.foreign({ iface: place.key, clientPort: d.srcPort, id: msg.id, question: msg.questions[0]! }, o.nowMs);
    return;
  }
  if (!trusted) {
    stats.otherQueries++;
    return;
  }
  const msg = parse(d.payload, stats);
  if (msg === undefined) return;
  if (msg.questions.length !== 1) {
    stats.otherQueries++;
    return;
  }
  const exchange: Exchange = { iface: place.key, client: d.srcAddress, clientPort: d.srcPort, server: d.dstAddress, id: msg.id, question: msg.questions[0]! };
  if (o.pending.forwarded(exchange, o.nowMs)) {
    stats.forwarded++;
    return;
  }
  const revoke = o.pending.sent(exchange, o.nowMs);
  for (const n of revoke) o.names.forget(n.labels, n.at);
  stats.queries++;
  if (place.loopback !== true) stats.sentOffLoopback++;
}

function answerFrom(packet: Captured, d: UdpDatagram, o: LearnOptions): number {
  const { stats } = o;
  const server = canonicalIp(d.srcAddress);
  const interfaces = server === null ? undefined : o.trusted.get(server);
  if (d.srcPort !== 53 || server === null || interfaces === undefined) {
    stats.untrusted++;
    if (server !== null && o.untrustedSeen.size < MAX_UNTRUSTED_SHOWN) o.untrustedSeen.add(server);
    return 0;
  }
  const place = placeOf(packet);
  if (!placedRight(server, d.family, place, interfaces)) {
    stats.misplaced++;
    return 0;
  }
  const msg = parse(d.payload, stats);
  if (msg === undefined) return 0;
  // without exactly one question it answers no query, but may still be a second answer to one (match-queries.ts)
  const question = msg.questions.length === 1 ? msg.questions[0]! : undefined;
  const transaction = { iface: place.key, client: d.dstAddress, clientPort: d.dstPort, server: d.srcAddress, id: msg.id };
  const match = o.pending.answered({ ...transaction, question }, o.nowMs);
  if (match.kind === 'unmatched') {
    stats.unmatched++;
    return 0;
  }
  if (match.kind === 'duplicate') {
    stats.duplicates++;
    for (const n of match.revoke) o.names.forget(n.labels, n.at);
    return 0;
  }
  const { labels } = labelsOf(msg);
  if (!labels.length) {
    stats.unlabeled++;
    return 0;
  }
  o.names.learn(labels, o.at);
  // matched, so it has its question
  o.pending.named({ ...transaction, question: question! }, labels, o.at);
  stats.answers++;
  stats.labels += labels.length;
  return labels.length;
}

/** The DNS message in `payload`, or undefined when it is unreadable (counted as malformed when `stats` is given). */
function parse(payload: Buffer, stats?: DnsNamesStats): DnsMessage | undefined {
  try {
    return parseDnsMessage(payload);
  } catch (err) {
    if (!(err instanceof DnsFormatError)) throw err;
    if (stats) stats.malformed++;
    return undefined;
  }
}
