import { formatIpv6Groups, normalizeAddress } from '../../../../src/classify/network.js';
import { isInterfaceName } from './parse-capture.js';

/**
 * Pure decoder from one captured frame (any link type tcpdump writes on Linux or macOS) down to its UDP
 * datagram. It never throws: a frame that is not a whole, unfragmented UDP datagram gets a reason the caller
 * counts. `truncated` means the capture holds fewer bytes than the headers claim (snaplen cut it);
 * `malformed` means the headers contradict each other.
 */

export interface UdpDatagram {
  family: 4 | 6;
  srcAddress: string;
  dstAddress: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export type DecodeFailure = 'not_udp' | 'fragment' | 'truncated' | 'unsupported_link' | 'malformed';
export type DecodeResult = { ok: true; datagram: UdpDatagram } | { ok: false; reason: DecodeFailure };

/** Link types (LINKTYPE_* as files carry them; 12, 14 and 149 are DLT values some systems write as is). */
export const LINK = {
  NULL: 0,
  EN10MB: 1,
  RAW_DLT12: 12,
  RAW_DLT14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  PKTAP_DARWIN: 149,
  PKTAP: 258,
  LINUX_SLL2: 276,
} as const;

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad and the pre-standard QinQ type some switches still use. */
const ETH_VLAN = new Set([0x8100, 0x88a8, 0x9100]);
const MAX_VLAN_TAGS = 2;
const IPPROTO_UDP = 17;
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_DEST_OPTS = 60;
/** Apple's pktap header: length, record type, inner DLT; only packet records (type 1) carry a frame. */
const PKTAP_FIXED = 12;
const PKTAP_TYPE_PACKET = 1;

const fail = (reason: DecodeFailure): DecodeResult => ({ ok: false, reason });

export function decodeUdp(linkType: number, data: Buffer): DecodeResult {
  return decodeLink(linkType, data, true);
}

function decodeLink(linkType: number, data: Buffer, mayUnwrap: boolean): DecodeResult {
  switch (linkType) {
    case LINK.NULL:
    case LINK.LOOP: {
      if (data.length < 4) return fail('truncated');
      // NULL holds the AF value in the capturing host's byte order and LOOP in network order, but writers
      // disagree (utun, OpenBSD): accept both orders. AF_INET6 is 24, 28 or 30 depending on the BSD.
      const version = ipVersionOfFamily(data.readUInt32LE(0)) ?? ipVersionOfFamily(data.readUInt32BE(0));
      if (version === undefined) return fail('not_udp');
      return decodeIp(data, 4, version);
    }
    case LINK.EN10MB:
      if (data.length < 14) return fail('truncated');
      return decodeEthertype(data, 12);
    case LINK.RAW:
    case LINK.RAW_DLT12:
    case LINK.RAW_DLT14:
      if (data.length < 1) return fail('truncated');
      return decodeIp(data, 0, data[0]! >> 4);
    case LINK.LINUX_SLL:
      // packet type, ARPHRD, address length, 8 address bytes, then the protocol as an ethertype
      if (data.length < 16) return fail('truncated');
      return decodeEthertype(data, 14);
    case LINK.LINUX_SLL2:
      // protocol first, then reserved, ifindex, ARPHRD, packet type, address length and 8 address bytes
      if (data.length < 20) return fail('truncated');
      return decodeEthertypeAt(data, data.readUInt16BE(0), 20, 0);
    case LINK.PKTAP:
    case LINK.PKTAP_DARWIN: {
      // A pktap header inside a pktap payload is not something pktap writes: refuse rather than recurse.
      if (!mayUnwrap) return fail('unsupported_link');
      if (data.length < PKTAP_FIXED) return fail('truncated');
      // The header is written little-endian by every host that has pktap.
      const headerLength = data.readUInt32LE(0);
      if (headerLength < PKTAP_FIXED) return fail('malformed');
      if (headerLength > data.length) return fail('truncated');
      if (data.readUInt32LE(4) !== PKTAP_TYPE_PACKET) return fail('not_udp');
      return decodeLink(data.readUInt32LE(8), data.subarray(headerLength), false);
    }
    default:
      return fail('unsupported_link');
  }
}

const ARPHRD_LOOPBACK = 772;

/**
 * Whether a frame was captured on a loopback interface, when its link header says so (Linux cooked captures
 * carry the interface's ARPHRD type); undefined when it cannot tell (BSD NULL is lo0 and utun alike).
 */
export function capturedOnLoopback(linkType: number, data: Buffer): boolean | undefined {
  if (linkType === LINK.LINUX_SLL && data.length >= 4) return data.readUInt16BE(2) === ARPHRD_LOOPBACK;
  if (linkType === LINK.LINUX_SLL2 && data.length >= 10) return data.readUInt16BE(8) === ARPHRD_LOOPBACK;
  return undefined;
}

/** Linux packet(7) sll_pkttype: the kernel's copy of a packet this host sent. */
const PACKET_OUTGOING = 4;
/** PTH_FLAG_DIR_IN / PTH_FLAG_DIR_OUT in xnu's bsd/net/pktap.h. */
const PTH_FLAG_DIR_IN = 0x1;
const PTH_FLAG_DIR_OUT = 0x2;
/** pth_ifname[24] at 12, pth_flags at 36: the first fields after the fixed length/type/DLT. */
const PKTAP_IFNAME = 12;
const PKTAP_FLAGS = 36;

export interface LinkMeta {
  /** Linux cooked v2: the interface index (SLL v1 has none) */
  ifindex?: number;
  /** pktap: the interface's name */
  interfaceName?: string;
  /**
   * Whether this host sent the frame ('out') or received it ('in'), when the link header records it: Linux cooked
   * captures (PACKET_OUTGOING or not) and pktap headers. Loopback on Linux only ever shows the received copy
   * (libpcap drops the outgoing one so a packet is not seen twice).
   */
  direction?: 'in' | 'out';
}

/** What the link header says about where a frame was captured and which way it went; nothing for other link types. */
export function linkMeta(linkType: number, data: Buffer): LinkMeta {
  if (linkType === LINK.LINUX_SLL && data.length >= 2) return { direction: data.readUInt16BE(0) === PACKET_OUTGOING ? 'out' : 'in' };
  if (linkType === LINK.LINUX_SLL2 && data.length >= 11) return { ifindex: data.readUInt32BE(4), direction: data[10] === PACKET_OUTGOING ? 'out' : 'in' };
  if ((linkType === LINK.PKTAP || linkType === LINK.PKTAP_DARWIN) && data.length >= PKTAP_FLAGS + 4 && data.readUInt32LE(0) >= PKTAP_FLAGS + 4) {
    const meta: LinkMeta = {};
    const end = data.indexOf(0, PKTAP_IFNAME);
    const name = data.toString('latin1', PKTAP_IFNAME, end < 0 || end > PKTAP_FLAGS ? PKTAP_FLAGS : end);
    if (isInterfaceName(name)) meta.interfaceName = name;
    const flags = data.readUInt32LE(PKTAP_FLAGS);
    // the order Apple's libpcap reads them in when it writes epb_flags
    if (flags & PTH_FLAG_DIR_IN) meta.direction = 'in';
    else if (flags & PTH_FLAG_DIR_OUT) meta.direction = 'out';
    return meta;
  }
  return {};
}

/** 127.0.0.0/8 and ::1, in canonicalIp's text. */
export function isLoopbackAddress(canonical: string): boolean {
  return canonical === '::1' || canonical.startsWith('127.');
}

function ipVersionOfFamily(af: number): 4 | 6 | undefined {
  if (af === 2) return 4;
  if (af === 24 || af === 28 || af === 30) return 6;
  return undefined;
}

/** `at` is the offset of the ethertype; VLAN tags (tag, then the next ethertype) follow it in place. */
function decodeEthertype(data: Buffer, at: number): DecodeResult {
  return decodeEthertypeAt(data, data.readUInt16BE(at), at + 2, 0);
}

function decodeEthertypeAt(data: Buffer, type: number, payload: number, tags: number): DecodeResult {
  if (ETH_VLAN.has(type)) {
    if (tags === MAX_VLAN_TAGS) return fail('unsupported_link');
    if (data.length < payload + 4) return fail('truncated');
    return decodeEthertypeAt(data, data.readUInt16BE(payload + 2), payload + 4, tags + 1);
  }
  if (type === ETH_IPV4) return decodeIp(data, payload, 4);
  if (type === ETH_IPV6) return decodeIp(data, payload, 6);
  return fail('not_udp');
}

function decodeIp(data: Buffer, off: number, version: number): DecodeResult {
  if (data.length <= off) return fail('truncated');
  if (data[off]! >> 4 !== version) return fail('malformed');
  if (version === 4) return decodeIpv4(data, off);
  if (version === 6) return decodeIpv6(data, off);
  return fail('malformed');
}

function decodeIpv4(data: Buffer, off: number): DecodeResult {
  if (data.length < off + 20) return fail('truncated');
  const headerLength = (data[off]! & 0x0f) * 4;
  const totalLength = data.readUInt16BE(off + 2);
  if (headerLength < 20 || totalLength < headerLength) return fail('malformed');
  const end = off + totalLength;
  // Link layers pad short frames: the datagram ends where the IP header says, not where the capture does.
  if (end > data.length) return fail('truncated');
  if (data[off + 9] !== IPPROTO_UDP) return fail('not_udp');
  // More-fragments flag or a non-zero offset: the answer is split and its tail (or head) is elsewhere.
  if ((data.readUInt16BE(off + 6) & 0x3fff) !== 0) return fail('fragment');
  return decodeUdpHeader(data, off + headerLength, end, 4, formatIpv4(data, off + 12), formatIpv4(data, off + 16));
}

function decodeIpv6(data: Buffer, off: number): DecodeResult {
  if (data.length < off + 40) return fail('truncated');
  const payloadLength = data.readUInt16BE(off + 4);
  // Zero means a jumbogram (or an offloaded send): never a DNS answer arriving at a host.
  if (payloadLength === 0) return fail('malformed');
  const end = off + 40 + payloadLength;
  if (end > data.length) return fail('truncated');
  let next = data[off + 6]!;
  let at = off + 40;
  for (;;) {
    if (next === IPPROTO_UDP) return decodeUdpHeader(data, at, end, 6, formatIpv6(data, off + 8), formatIpv6(data, off + 24));
    if (next === IPV6_FRAGMENT) return fail('fragment');
    if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_DEST_OPTS) return fail('not_udp');
    // Each of these starts with next-header and a length in 8-octet units beyond the first 8; every step
    // advances, so the walk ends within the payload.
    if (at + 8 > end) return fail('malformed');
    const headerLength = (data[at + 1]! + 1) * 8;
    next = data[at]!;
    at += headerLength;
    if (at > end) return fail('malformed');
  }
}

function decodeUdpHeader(data: Buffer, at: number, end: number, family: 4 | 6, srcAddress: string, dstAddress: string): DecodeResult {
  if (end - at < 8) return fail('malformed');
  const length = data.readUInt16BE(at + 4);
  // The IP layer is whole here (a snaplen cut was caught there), so a UDP length beyond it is a lie, not a cut.
  if (length < 8 || at + length > end) return fail('malformed');
  return {
    ok: true,
    datagram: { family, srcAddress, dstAddress, srcPort: data.readUInt16BE(at), dstPort: data.readUInt16BE(at + 2), payload: data.subarray(at + 8, at + length) },
  };
}

export function formatIpv4(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text, IPv4-mapped addresses as `::ffff:a.b.c.d`: what inet_ntop prints on macOS and Linux. */
export function formatIpv6(b: Buffer, off: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(off + 2 * i));
  if (isV4Mapped(groups)) return `::ffff:${formatIpv4(b, off + 12)}`;
  return formatIpv6Groups(groups);
}

function isV4Mapped(g: readonly number[]): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

/**
 * Any IPv4/IPv6 text in the form formatIpv4/formatIpv6 print: normalizeAddress's canonical form (brackets and a
 * %zone stripped, IPv4-mapped IPv6 as plain IPv4, so a flow to `::ffff:a.b.c.d` meets the A answer for
 * `a.b.c.d`), or null for anything that is not an address: `[addr]:port`, and IPv4 with leading zeros, which
 * some parsers read as octal.
 */
export function canonicalIp(text: string): string | null {
  const t = text.trim();
  if (t.startsWith('[') && !t.endsWith(']')) return null;
  const n = normalizeAddress(t);
  if (!n.valid || (n.family === 4 && /(?:^|\.)0\d/.test(n.address))) return null;
  return n.address;
}
