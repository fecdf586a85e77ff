import type { DnsNameCache } from '../../../runtime/context.js';
import { canonicalIp, capturedOnLoopback, decodeUdp, isLoopbackAddress } from './decode-udp.js';
import type { CapturedPacket } from './parse-capture.js';
import { labelsOf } from './labels.js';
import { DnsFormatError, parseDnsMessage } from './parse-dns.js';

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
   * from a v4-mapped address. A VM guest, a container, or a local process owning that address wrote them.
   */
  misplaced: number;
  /** Responses that name nothing: NXDOMAIN, no address, another query type. */
  unlabeled: number;
  /** Packets we could not read: a bad UDP or DNS message, a fragment, a cut capture. */
  malformed: number;
  /** Capture streams that went bad and were restarted. */
  formatErrors: number;
  restarts: number;
}

export function emptyStats(): DnsNamesStats {
  return { packets: 0, answers: 0, labels: 0, untrusted: 0, misplaced: 0, unlabeled: 0, malformed: 0, formatErrors: 0, restarts: 0 };
}

/** A few servers whose answers were ignored, for the health detail (an admin may want to trust one). */
const MAX_UNTRUSTED_SHOWN = 4;

/**
 * The resolvers whose answers count: address (canonicalIp) → the interfaces it is reached through, or null
 * when nothing says which (then any interface but loopback for a non-loopback address).
 */
export type TrustedResolvers = ReadonlyMap<string, ReadonlySet<string> | null>;

const LOOPBACK_INTERFACE = /^lo\d*$/;

/** Whether the resolver at `server` can have sent this packet, judged by where it was captured. */
function placedRight(server: string, family: 4 | 6, packet: Pick<CapturedPacket, 'linkType' | 'data' | 'interfaceName'>, interfaces: ReadonlySet<string> | null): boolean {
  // an IPv6 packet from a v4-mapped address never crosses a wire: whoever wrote it chose that source
  if (family === 6 && server.includes('.')) return false;
  const iface = packet.interfaceName;
  const onLoopback = iface !== undefined ? LOOPBACK_INTERFACE.test(iface) : capturedOnLoopback(packet.linkType, packet.data);
  if (isLoopbackAddress(server)) return onLoopback !== false;
  if (interfaces === null) return onLoopback !== true;
  return iface !== undefined && interfaces.has(iface);
}

/**
 * One captured packet: when it is a DNS response from a trusted resolver (source port 53, an address in
 * `trusted`, captured where that resolver can have sent it), the addresses it names go into `names`. Every
 * outcome is counted. Returns how many addresses were named.
 */
export function learnFromPacket(
  packet: Pick<CapturedPacket, 'linkType' | 'data' | 'interfaceName'>,
  o: { trusted: TrustedResolvers; names: Pick<DnsNameCache, 'learn'>; at: number; stats: DnsNamesStats; untrustedSeen: Set<string> },
): number {
  const { stats } = o;
  stats.packets++;
  const udp = decodeUdp(packet.linkType, packet.data);
  if (!udp.ok) {
    stats.malformed++;
    return 0;
  }
  const d = udp.datagram;
  const server = canonicalIp(d.srcAddress);
  const interfaces = server === null ? undefined : o.trusted.get(server);
  if (d.srcPort !== 53 || server === null || interfaces === undefined) {
    stats.untrusted++;
    if (server !== null && o.untrustedSeen.size < MAX_UNTRUSTED_SHOWN) o.untrustedSeen.add(server);
    return 0;
  }
  if (!placedRight(server, d.family, packet, interfaces)) {
    stats.misplaced++;
    return 0;
  }
  let labels;
  try {
    labels = labelsOf(parseDnsMessage(d.payload)).labels;
  } catch (err) {
    if (!(err instanceof DnsFormatError)) throw err;
    stats.malformed++;
    return 0;
  }
  if (!labels.length) {
    stats.unlabeled++;
    return 0;
  }
  o.names.learn(labels, o.at);
  stats.answers++;
  stats.labels += labels.length;
  return labels.length;
}
