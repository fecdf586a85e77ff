import { ipv6Bytes } from './dns-wire.js';

/**
 * Builders for frames and capture files, written from the format documents (RFC 791/8200/768, the tcpdump
 * link-type pages, the pcap and pcapng drafts) for the hand-built and adversarial cases that tcpdump on Linux
 * cannot produce: pcapng, big-endian files, BSD loopback, pktap, VLANs, fragments, cut frames.
 */

const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};

const v4Bytes = (a: string): Buffer => Buffer.from(a.split('.').map(Number));

export function udp(o: { srcPort: number; dstPort: number; payload: Buffer; length?: number }): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(o.srcPort, 0);
  h.writeUInt16BE(o.dstPort, 2);
  h.writeUInt16BE(o.length ?? 8 + o.payload.length, 4);
  // Checksum 0 ("none" for IPv4); nothing here verifies it, as captures of offloaded traffic carry junk there.
  return Buffer.concat([h, o.payload]);
}

export function ipv4(o: {
  src: string;
  dst: string;
  payload: Buffer;
  protocol?: number;
  /** option bytes, a multiple of 4 (IHL grows accordingly) */
  options?: Buffer;
  /** flags and fragment offset field: 0x2000 = MF, low 13 bits = offset in 8-byte units */
  fragment?: number;
  totalLength?: number;
}): Buffer {
  const options = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h[0] = 0x40 | ((20 + options.length) / 4);
  h.writeUInt16BE(o.totalLength ?? 20 + options.length + o.payload.length, 2);
  h.writeUInt16BE(0x1234, 4);
  h.writeUInt16BE(o.fragment ?? 0x4000, 6); // DF, as most stacks send
  h[8] = 64;
  h[9] = o.protocol ?? 17;
  v4Bytes(o.src).copy(h, 12);
  v4Bytes(o.dst).copy(h, 16);
  return Buffer.concat([h, options, o.payload]);
}

/** `ext`: extension headers in order as [type, body]; body is padded to the 8-byte multiple the format needs. */
export function ipv6(o: { src: string; dst: string; payload: Buffer; next?: number; ext?: [number, Buffer][]; payloadLength?: number }): Buffer {
  const exts = o.ext ?? [];
  const parts: Buffer[] = [];
  for (let i = 0; i < exts.length; i++) {
    const [, body] = exts[i]!;
    const next = i + 1 < exts.length ? exts[i + 1]![0] : (o.next ?? 17);
    const total = Math.ceil((body.length + 2) / 8) * 8;
    const h = Buffer.alloc(total);
    h[0] = next;
    h[1] = total / 8 - 1;
    body.copy(h, 2);
    parts.push(h);
  }
  const rest = Buffer.concat([...parts, o.payload]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(o.payloadLength ?? rest.length, 4);
  h[6] = exts.length ? exts[0]![0] : (o.next ?? 17);
  h[7] = 64;
  ipv6Bytes(o.src).copy(h, 8);
  ipv6Bytes(o.dst).copy(h, 24);
  return Buffer.concat([h, rest]);
}

export const ETHERTYPE = { IPV4: 0x0800, IPV6: 0x86dd, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8 } as const;

export function ethernet(etherType: number, payload: Buffer, vlanTags: { tpid: number; vid: number }[] = []): Buffer {
  const macs = Buffer.from('020000000001020000000002', 'hex');
  // Each tag's TPID sits where the ethertype would; the real ethertype follows the last tag.
  const tags = vlanTags.flatMap((t) => [u16(t.tpid), u16(t.vid)]);
  return Buffer.concat([macs, ...tags, u16(etherType), payload]);
}

/** Linux packet(7) sll_pkttype values. */
export const PACKET = { HOST: 0, BROADCAST: 1, MULTICAST: 2, OTHERHOST: 3, OUTGOING: 4 } as const;
/** ARPHRD_* types the cooked headers carry. */
export const ARPHRD = { ETHER: 1, LOOPBACK: 772 } as const;

export function sll(protocol: number, payload: Buffer, o: { packetType?: number; arphrd?: number } = {}): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(o.packetType ?? PACKET.HOST, 0);
  h.writeUInt16BE(o.arphrd ?? ARPHRD.LOOPBACK, 2);
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

export function sll2(protocol: number, payload: Buffer, o: { packetType?: number; arphrd?: number; ifindex?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(o.ifindex ?? 1, 4);
  h.writeUInt16BE(o.arphrd ?? ARPHRD.LOOPBACK, 8);
  h[10] = o.packetType ?? PACKET.HOST;
  h[11] = 6;
  return Buffer.concat([h, payload]);
}

/** BSD loopback / utun header: the address family as 4 bytes in the given order. */
export function nullHeader(af: number, order: 'le' | 'be', payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  if (order === 'le') h.writeUInt32LE(af);
  else h.writeUInt32BE(af);
  return Buffer.concat([h, payload]);
}

/**
 * Apple's pktap header (struct pktap_header, 156 bytes, little-endian): length, record type, DLT, ifname[24],
 * flags, protocol family, frame pre/post length, pid, comm[17], service class, iftype, unit, epid, ecomm[17].
 */
export function pktap(innerDlt: number, payload: Buffer, o: { headerLength?: number; recordType?: number; ifname?: string; flags?: number } = {}): Buffer {
  const len = o.headerLength ?? 156;
  const h = Buffer.alloc(Math.max(len, 12));
  h.writeUInt32LE(len, 0);
  h.writeUInt32LE(o.recordType ?? 1, 4);
  h.writeUInt32LE(innerDlt, 8);
  if (h.length >= 156) {
    h.write(o.ifname ?? 'en0', 12, 'latin1');
    h.writeUInt32LE(o.flags ?? 0, 36); // pth_flags: PTH_FLAG_DIR_IN 1, PTH_FLAG_DIR_OUT 2
    h.writeUInt32LE(2, 40); // protocol family
    h.writeInt32LE(321, 52); // pid
    h.write('mDNSResponder', 56, 'latin1');
  }
  return Buffer.concat([h.subarray(0, len), payload]);
}

export interface PcapRecord {
  tsSec: number;
  tsFrac?: number;
  data: Buffer;
  origLen?: number;
}

/** A classic pcap file as libpcap writes it (version 2.4). */
export function pcapFile(o: { linkType: number; records: PcapRecord[]; bigEndian?: boolean; nano?: boolean; snaplen?: number }): Buffer {
  const be = o.bigEndian ?? false;
  const w32 = (b: Buffer, v: number, off: number) => (be ? b.writeUInt32BE(v >>> 0, off) : b.writeUInt32LE(v >>> 0, off));
  const w16 = (b: Buffer, v: number, off: number) => (be ? b.writeUInt16BE(v, off) : b.writeUInt16LE(v, off));
  const g = Buffer.alloc(24);
  w32(g, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(g, 2, 4);
  w16(g, 4, 6);
  w32(g, o.snaplen ?? 262144, 16);
  w32(g, o.linkType, 20);
  const parts: Buffer[] = [g];
  for (const r of o.records) {
    const h = Buffer.alloc(16);
    w32(h, r.tsSec, 0);
    w32(h, r.tsFrac ?? 0, 4);
    w32(h, r.data.length, 8);
    w32(h, r.origLen ?? r.data.length, 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

/** Rewrite a little-endian pcap file (as tcpdump writes it on x86) into big-endian, record by record. */
export function pcapToBigEndian(le: Buffer): Buffer {
  const out = Buffer.from(le);
  for (const off of [0, 8, 12, 16, 20]) out.writeUInt32BE(le.readUInt32LE(off), off);
  out.writeUInt16BE(le.readUInt16LE(4), 4);
  out.writeUInt16BE(le.readUInt16LE(6), 6);
  let at = 24;
  while (at < le.length) {
    const incl = le.readUInt32LE(at + 8);
    for (let i = 0; i < 4; i++) out.writeUInt32BE(le.readUInt32LE(at + 4 * i), at + 4 * i);
    at += 16 + incl;
  }
  return out;
}

export interface PcapngOption {
  code: number;
  value: Buffer;
}

/** pcapng writer for one section in one byte order (draft-ietf-opsawg-pcapng §3, §4). */
export class PcapngWriter {
  private readonly parts: Buffer[] = [];
  constructor(private readonly bigEndian = false) {}

  private u16(v: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.bigEndian) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    return b;
  }
  private u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.bigEndian) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    return b;
  }
  private pad(b: Buffer): Buffer {
    return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  }
  options(opts: PcapngOption[]): Buffer {
    if (opts.length === 0) return Buffer.alloc(0);
    const parts = opts.map((o) => Buffer.concat([this.u16(o.code), this.u16(o.value.length), this.pad(o.value)]));
    return Buffer.concat([...parts, this.u16(0), this.u16(0)]);
  }
  /** Any block: type, total length, body padded, total length again. */
  block(type: number, body: Buffer, o: { trailingLength?: number } = {}): this {
    const padded = this.pad(body);
    const total = 12 + padded.length;
    this.parts.push(this.u32(type), this.u32(total), padded, this.u32(o.trailingLength ?? total));
    return this;
  }
  shb(opts: PcapngOption[] = []): this {
    const body = Buffer.concat([this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), Buffer.alloc(8, 0xff), this.options(opts)]);
    return this.block(0x0a0d0d0a, body);
  }
  idb(linkType: number, o: { snaplen?: number; opts?: PcapngOption[] } = {}): this {
    const body = Buffer.concat([this.u16(linkType), this.u16(0), this.u32(o.snaplen ?? 524288), this.options(o.opts ?? [])]);
    return this.block(1, body);
  }
  epb(iface: number, ts: bigint, data: Buffer, o: { origLen?: number; opts?: PcapngOption[]; capLen?: number } = {}): this {
    const body = Buffer.concat([
      this.u32(iface),
      this.u32(Number(ts >> 32n)),
      this.u32(Number(ts & 0xffffffffn)),
      this.u32(o.capLen ?? data.length),
      this.u32(o.origLen ?? data.length),
      this.pad(data),
      this.options(o.opts ?? []),
    ]);
    return this.block(6, body);
  }
  spb(data: Buffer, origLen = data.length): this {
    return this.block(3, Buffer.concat([this.u32(origLen), data]));
  }
  /**
   * Apple's Process Information Block (type 0x80000001, libpcap's pcap-ng.h): pid, then the process name option
   * (code 2). EPBs name it by index with option 0x8001 (and 0x8003 for the effective process).
   */
  pib(pid: number, name: string): this {
    return this.block(0x80000001, Buffer.concat([this.u32(pid), this.options([this.option(2, name)])]));
  }
  option(code: number, value: Buffer | string | number, width: 1 | 4 | 8 = 4): PcapngOption {
    if (typeof value === 'string') return { code, value: Buffer.from(value, 'utf8') };
    if (Buffer.isBuffer(value)) return { code, value };
    if (width === 1) return { code, value: Buffer.from([value]) };
    if (width === 8) {
      const big = BigInt.asUintN(64, BigInt(value));
      const hi = this.u32(Number(big >> 32n));
      const lo = this.u32(Number(big & 0xffffffffn));
      return { code, value: this.bigEndian ? Buffer.concat([hi, lo]) : Buffer.concat([lo, hi]) };
    }
    return { code, value: this.u32(value) };
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** epb_flags direction bits (pcapng §4.3.1): what Apple's libpcap writes from pktap's PTH_FLAG_DIR_IN/OUT. */
export const EPB_INBOUND = 0b01;
export const EPB_OUTBOUND = 0b10;

/**
 * The options Apple's libpcap (pcap_ng_dump_pktap) puts on an EPB: the process information block index (0x8001),
 * epb_flags with the direction (2), the service class (0x8002).
 */
export function appleEpbOptions(w: PcapngWriter, o: { pib?: number; direction?: number; svc?: number }): PcapngOption[] {
  const opts: PcapngOption[] = [];
  if (o.pib !== undefined) opts.push(w.option(0x8001, o.pib));
  if (o.direction !== undefined) opts.push(w.option(2, o.direction));
  opts.push(w.option(0x8002, o.svc ?? 0));
  return opts;
}
