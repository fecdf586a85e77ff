import { DEFAULT_PORT_MAP } from '../config/extension.js';

/**
 * Pure network classification for flows (SPEC §2 `process_network_flows`): address normalisation,
 * remote_scope and the port → service map. Everything here is a lookup; nothing touches the network.
 */
export type RemoteScope = 'public' | 'private' | 'loopback' | 'link_local' | 'multicast';
export type Service = 'tls' | 'quic' | 'http' | 'ftp' | 'ssh' | 'dns' | 'other';
export type Protocol = 'tcp' | 'udp';

export interface NormalizedAddress {
  /** IPv4 dotted quad, or IPv6 lower-case without zone; IPv4-mapped IPv6 becomes IPv4. */
  address: string;
  family: 4 | 6;
  /** False when the text is not an IP address at all (then address is the trimmed input). */
  valid: boolean;
  /** IPv6 zone (`%en0`) when one was present. */
  zone?: string;
}

/** IPv4 dotted quad as an unsigned 32-bit integer, or undefined. Hand-rolled: it runs for every flow row. */
export function ipv4ToInt(address: string): number | undefined {
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || ++digits > 3) return undefined;
    octet = octet * 10 + d;
    if (octet > 255) return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return n * 256 + octet;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 (optionally with an embedded IPv4 tail; a %zone is ignored) as its eight 16-bit groups, or undefined. */
export function ipv6Groups(address: string): number[] | undefined {
  let end = address.indexOf('%');
  if (end < 0) end = address.length;
  const groups: number[] = [];
  let gapAt = -1;
  let i = 0;
  if (end >= 2 && address.charCodeAt(0) === 58) {
    if (address.charCodeAt(1) !== 58) return undefined;
    gapAt = 0;
    i = 2;
  }
  while (i < end) {
    let j = i;
    let val = 0;
    while (j < end) {
      const h = hexDigit(address.charCodeAt(j));
      if (h < 0) break;
      val = val * 16 + h;
      j++;
    }
    const c = j < end ? address.charCodeAt(j) : -1;
    if (c === 46) {
      const v4 = ipv4ToInt(address.slice(i, end));
      if (v4 === undefined) return undefined;
      groups.push(v4 >>> 16, v4 & 0xffff);
      break;
    }
    if (j === i || j - i > 4) return undefined;
    groups.push(val);
    if (j === end) break;
    if (c !== 58) return undefined;
    j++;
    if (j < end && address.charCodeAt(j) === 58) {
      if (gapAt >= 0) return undefined;
      gapAt = groups.length;
      j++;
    } else if (j === end) {
      return undefined; // a single trailing colon
    }
    i = j;
  }
  if (gapAt < 0) return groups.length === 8 ? groups : undefined;
  const missing = 8 - groups.length;
  if (missing < 1) return undefined;
  groups.splice(gapAt, 0, ...new Array<number>(missing).fill(0));
  return groups;
}

/** IPv6 as a 128-bit bigint (CIDR matching), or undefined when malformed. */
export function ipv6ToBigInt(address: string): bigint | undefined {
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(g);
  return n;
}

/** RFC 5952 text: lower-case, the longest run (≥ 2) of zero groups compressed, first one on ties. */
export function formatIpv6Groups(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Canonical form of an address as the tools print it: strips brackets and the zone, maps
 * `::ffff:a.b.c.d` to IPv4, compresses IPv6 (RFC 5952). Unparseable text is returned trimmed with a
 * family guess, so a strange tool line still yields a row rather than a crash.
 */
export function normalizeAddress(raw: string): NormalizedAddress {
  let text = raw.trim();
  if (text.charCodeAt(0) === 91 && text.includes(']')) {
    const close = text.indexOf(']');
    text = text.slice(1, close) + text.slice(close + 1);
  }
  let zone: string | undefined;
  const zoneAt = text.indexOf('%');
  if (zoneAt >= 0) {
    zone = text.slice(zoneAt + 1);
    text = text.slice(0, zoneAt);
  }
  if (ipv4ToInt(text) !== undefined) return { address: text, family: 4, valid: true };
  const g = ipv6Groups(text);
  if (!g) return { address: text.toLowerCase(), family: text.includes(':') ? 6 : 4, valid: false, ...(zone ? { zone } : {}) };
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const hi = g[6]!;
    const lo = g[7]!;
    return { address: `${hi >>> 8}.${hi & 255}.${lo >>> 8}.${lo & 255}`, family: 4, valid: true };
  }
  return { address: formatIpv6Groups(g), family: 6, valid: true, ...(zone ? { zone } : {}) };
}

interface Range4 {
  family: 4;
  base: number;
  mask: number;
}
interface Range6 {
  family: 6;
  base: bigint;
  mask: bigint;
}
type Range = Range4 | Range6;

/** Parse `a.b.c.d/n` or `v6/n`; throws on malformed input (config is validated before it gets here). */
export function parseCidr(cidr: string): Range {
  const slash = cidr.lastIndexOf('/');
  if (slash < 0) throw new Error(`not a CIDR: ${cidr}`);
  const addr = cidr.slice(0, slash);
  const bits = Number(cidr.slice(slash + 1));
  const v4 = ipv4ToInt(addr);
  if (v4 !== undefined) {
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`bad prefix length in ${cidr}`);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { family: 4, base: (v4 & mask) >>> 0, mask };
  }
  const v6 = ipv6ToBigInt(addr);
  if (v6 === undefined || !Number.isInteger(bits) || bits < 0 || bits > 128) throw new Error(`not a CIDR: ${cidr}`);
  const all = (1n << 128n) - 1n;
  const mask = bits === 0 ? 0n : (all << BigInt(128 - bits)) & all;
  return { family: 6, base: v6 & mask, mask };
}

function inRange(r: Range, v4: number | undefined, v6: bigint | undefined): boolean {
  if (r.family === 4) return v4 !== undefined && ((v4 & r.mask) >>> 0) === r.base;
  return v6 !== undefined && (v6 & r.mask) === r.base;
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'].map(parseCidr);
const LINK_LOCAL = ['169.254.0.0/16', 'fe80::/10'].map(parseCidr);
const MULTICAST = ['224.0.0.0/4', 'ff00::/8', '255.255.255.255/32'].map(parseCidr);
/** RFC 1918, ULA fc00::/7, CGNAT 100.64.0.0/10 (SPEC: all "private"); 0.0.0.0/8 and :: are "this host". */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', '0.0.0.0/8', '::/128'].map(parseCidr);

export interface NetworkConfigInput {
  internal_ranges?: readonly string[];
  port_map?: Readonly<Record<string, Service>>;
}

export interface NetworkClassifier {
  scope(address: string): RemoteScope;
  /** True when remote_scope is public and the address is outside network.internal_ranges (SPEC §4 "External"). */
  isExternal(address: string): boolean;
  /** Service by port map: remote port first (client side), then local port (we are the server). */
  service(protocol: Protocol, remotePort: number, localPort?: number): Service;
}

/**
 * Build the classifier once from config (ranges parsed up front). Addresses in
 * network.internal_ranges are reported as `private`: an admin who declares a public block internal
 * wants it out of every "public" view, not only out of the analytics.
 */
export function createNetworkClassifier(network: NetworkConfigInput = {}): NetworkClassifier {
  const internal = (network.internal_ranges ?? []).map(parseCidr);
  const portMap = new Map<string, Service>(Object.entries({ ...DEFAULT_PORT_MAP, ...(network.port_map ?? {}) }));

  const builtinScope = (v4: number | undefined, v6: bigint | undefined): RemoteScope => {
    if (LOOPBACK.some((r) => inRange(r, v4, v6))) return 'loopback';
    if (LINK_LOCAL.some((r) => inRange(r, v4, v6))) return 'link_local';
    if (MULTICAST.some((r) => inRange(r, v4, v6))) return 'multicast';
    if (PRIVATE.some((r) => inRange(r, v4, v6))) return 'private';
    return 'public';
  };

  const parse = (address: string): { v4?: number; v6?: bigint } => {
    const n = normalizeAddress(address);
    return n.family === 4 ? { v4: ipv4ToInt(n.address) } : { v6: ipv6ToBigInt(n.address) };
  };

  const scope = (address: string): RemoteScope => {
    const { v4, v6 } = parse(address);
    if (v4 === undefined && v6 === undefined) return 'public'; // unknown text: never hide it as internal
    const s = builtinScope(v4, v6);
    if (s === 'public' && internal.some((r) => inRange(r, v4, v6))) return 'private';
    return s;
  };

  return {
    scope,
    isExternal: (address) => scope(address) === 'public',
    service(protocol, remotePort, localPort) {
      return portMap.get(`${protocol}/${remotePort}`) ?? (localPort !== undefined ? portMap.get(`${protocol}/${localPort}`) : undefined) ?? 'other';
    },
  };
}

/** Producer/consumer ratio (out − in)/(out + in); 0 when there are no bytes or a counter is unknown (−1). */
export function pcr(bytesIn: number, bytesOut: number): number {
  if (bytesIn < 0 || bytesOut < 0) return 0;
  const total = bytesIn + bytesOut;
  return total === 0 ? 0 : (bytesOut - bytesIn) / total;
}
