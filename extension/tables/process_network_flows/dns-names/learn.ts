import type { DnsNameCache } from '../../../runtime/context.js';
import { canonicalIp, decodeUdp } from './decode-udp.js';
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
  /** Responses that name nothing: NXDOMAIN, no address, another query type. */
  unlabeled: number;
  /** Packets we could not read: a bad UDP or DNS message, a fragment, a cut capture. */
  malformed: number;
  /** Capture streams that went bad and were restarted. */
  formatErrors: number;
  restarts: number;
}

export function emptyStats(): DnsNamesStats {
  return { packets: 0, answers: 0, labels: 0, untrusted: 0, unlabeled: 0, malformed: 0, formatErrors: 0, restarts: 0 };
}

/** A few servers whose answers were ignored, for the health detail (an admin may want to trust one). */
const MAX_UNTRUSTED_SHOWN = 4;

/**
 * One captured packet: when it is a DNS response from a trusted resolver (source port 53, an address in
 * `trusted`), the addresses it names go into `names`. Every outcome is counted. Returns how many addresses
 * were named.
 */
export function learnFromPacket(
  linkType: number,
  data: Buffer,
  o: { trusted: ReadonlySet<string>; names: Pick<DnsNameCache, 'learn'>; at: number; stats: DnsNamesStats; untrustedSeen: Set<string> },
): number {
  const { stats } = o;
  stats.packets++;
  const udp = decodeUdp(linkType, data);
  if (!udp.ok) {
    stats.malformed++;
    return 0;
  }
  const d = udp.datagram;
  const server = canonicalIp(d.srcAddress);
  if (d.srcPort !== 53 || server === null || !o.trusted.has(server)) {
    stats.untrusted++;
    if (server !== null && o.untrustedSeen.size < MAX_UNTRUSTED_SHOWN) o.untrustedSeen.add(server);
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
