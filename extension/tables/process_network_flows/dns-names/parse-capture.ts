/**
 * Pure, incremental reader of the capture stream `tcpdump -w -` writes to stdout: classic pcap (Linux tcpdump)
 * or pcapng (Apple's tcpdump with `-i pktap,…`). It never spawns and never reads files: the collector pushes
 * stdout chunks as they arrive and gets the complete packets back.
 *
 * A capture stream has no sync marker, so a corrupt length cannot be skipped over: every structural error is a
 * CaptureFormatError and the parser stays failed; the caller restarts tcpdump with a fresh parser.
 *
 * Memory is bounded by `maxRecordBytes`: a record is only buffered once its length has been checked against
 * the cap, and the buffer holds exactly one record (never bytes of the next one).
 */

export interface CapturedPacket {
  linkType: number;
  /** unix seconds (integer part) */
  tsSec: number;
  /**
   * captured bytes (may be a subarray of the pushed chunk: copy nothing you don't need to). The pushed chunk
   * must therefore not be reused by the caller; Node's stream chunks never are.
   */
  data: Buffer;
  /** original length on the wire; > data.length when snaplen cut it */
  origLen: number;
  /** pcapng: the interface's name (IDB if_name, e.g. `en0`, `utun4`, `lo0`) when the writer gave one */
  interfaceName?: string;
  /** pcapng: the interface's index in its section (what an EPB names it by; an SPB is always on interface 0) */
  interfaceIndex?: number;
  /**
   * pcapng: the direction the EPB's `epb_flags` option records (bits 0-1: 01 inbound, 10 outbound); absent when the
   * writer recorded none (no option, or 00 "not available"). Apple's libpcap writes it from the pktap header's
   * PTH_FLAG_DIR_IN/OUT.
   */
  direction?: 'in' | 'out';
}

export class CaptureFormatError extends Error {
  override name = 'CaptureFormatError';
  readonly code = 'CAPTURE_FORMAT';
  constructor(problem: string) {
    super(`capture stream is not valid pcap/pcapng: ${problem}; the stream cannot resynchronise, restart the capture with a new parser`);
  }
}

export interface CaptureStats {
  packets: number;
  /**
   * pcapng blocks that yielded no packet and set no state: unknown or unsupported block types (Apple's process
   * information blocks, name resolution, statistics, …) and packet blocks naming an interface the section did
   * not describe.
   */
  skippedBlocks: number;
}

/** 256 KiB is libpcap's largest snaplen (MAXIMUM_SNAPLEN); the rest leaves room for a record header and pcapng options. */
export const DEFAULT_MAX_RECORD_BYTES = 262_144 + 4_096;

const PCAP_GLOBAL_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAPNG_IDB = 1;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
/** Block type, total length, byte-order magic: the least an SHB needs before its length can be trusted. */
const SHB_PREFIX = 12;
/** Type, total length, byte-order magic, version, section length, trailing length. */
const SHB_MIN = 28;
const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const OPT_IF_NAME = 2;
const OPT_EPB_FLAGS = 2;
const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/**
 * An interface name as the OS prints it (IFNAMSIZ is 16); anything else is not kept. The resolver lists use it
 * too: a resolver's interface and a packet's are compared as text.
 */
export function isInterfaceName(text: string): boolean {
  return INTERFACE_NAME.test(text);
}

interface PcapngInterface {
  linkType: number;
  snaplen: number;
  /** timestamp units per second (10^6 unless if_tsresol says otherwise) */
  unitsPerSec: bigint;
  /** seconds added to every timestamp (if_tsoffset) */
  offsetSec: bigint;
  /** if_name, when given and printable */
  name?: string;
}

type Reader = { u16(b: Buffer, off: number): number; u32(b: Buffer, off: number): number };
const LE: Reader = { u16: (b, o) => b.readUInt16LE(o), u32: (b, o) => b.readUInt32LE(o) };
const BE: Reader = { u16: (b, o) => b.readUInt16BE(o), u32: (b, o) => b.readUInt32BE(o) };

/**
 * How many bytes the next unit (global header, record or block) takes, from the bytes at hand: either its full
 * length (`known`), or the fixed prefix needed to learn it.
 */
type Need = { bytes: number; known: boolean };

export class CaptureStreamParser {
  private readonly maxRecordBytes: number;
  private fmt: 'pcap' | 'pcapng' | undefined;
  private failure: CaptureFormatError | undefined;
  /** pcap: byte order and link type from the global header (records carry whole seconds in either precision) */
  private pcap: { r: Reader; linkType: number } | undefined;
  /** pcapng: the current section's byte order (undefined before the first SHB) and its interfaces */
  private ng: { r: Reader; interfaces: PcapngInterface[] } | undefined;
  /** a unit cut by the end of a chunk: `staged[0, filled)` holds its first bytes */
  private staged: Buffer | undefined;
  private filled = 0;
  private readonly counters: CaptureStats = { packets: 0, skippedBlocks: 0 };

  constructor(opts: { maxRecordBytes?: number } = {}) {
    this.maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  get format(): 'pcap' | 'pcapng' | undefined {
    return this.fmt;
  }

  get stats(): CaptureStats {
    return { ...this.counters };
  }

  get pending(): number {
    return this.filled;
  }

  push(chunk: Buffer): CapturedPacket[] {
    if (this.failure) throw this.failure;
    try {
      return this.consume(chunk);
    } catch (err) {
      if (err instanceof CaptureFormatError) {
        this.failure = err;
        this.staged = undefined;
        this.filled = 0;
      }
      throw err;
    }
  }

  private consume(chunk: Buffer): CapturedPacket[] {
    const out: CapturedPacket[] = [];
    let pos = 0;
    for (;;) {
      if (this.staged) {
        // Grow the staged unit towards what is needed; re-ask once the prefix is there, as it names the full length.
        let need = this.need(this.staged.subarray(0, this.filled));
        while (!need.known || this.filled < need.bytes) {
          if (this.staged.length < need.bytes) {
            const grown = Buffer.allocUnsafe(need.bytes);
            this.staged.copy(grown, 0, 0, this.filled);
            this.staged = grown;
          }
          const take = Math.min(need.bytes - this.filled, chunk.length - pos);
          chunk.copy(this.staged, this.filled, pos, pos + take);
          this.filled += take;
          pos += take;
          if (this.filled < need.bytes) return out;
          need = this.need(this.staged.subarray(0, this.filled));
        }
        const unit = this.staged.subarray(0, need.bytes);
        this.staged = undefined;
        this.filled = 0;
        this.unit(unit, out);
        continue;
      }
      if (pos === chunk.length) return out;
      const rest = chunk.subarray(pos);
      const need = this.need(rest);
      if (need.known && rest.length >= need.bytes) {
        this.unit(rest.subarray(0, need.bytes), out);
        pos += need.bytes;
        continue;
      }
      // Cut unit: stage it in a buffer of its own (a fresh one per unit, since packets handed out point into it).
      this.staged = Buffer.allocUnsafe(Math.max(need.bytes, rest.length));
      rest.copy(this.staged);
      this.filled = rest.length;
      pos = chunk.length;
    }
  }

  private need(b: Buffer): Need {
    if (this.fmt === undefined) {
      if (b.length < 4) return { bytes: 4, known: false };
      const magic = b.readUInt32BE(0);
      if (magic === PCAPNG_SHB) return this.needBlock(b);
      if (pcapMagic(magic)) return { bytes: PCAP_GLOBAL_HEADER, known: true };
      throw new CaptureFormatError(`unknown magic number 0x${magic.toString(16).padStart(8, '0')} at the start of the stream`);
    }
    if (this.fmt === 'pcap') {
      if (b.length < PCAP_RECORD_HEADER) return { bytes: PCAP_RECORD_HEADER, known: false };
      const inclLen = this.pcap!.r.u32(b, 8);
      const total = PCAP_RECORD_HEADER + inclLen;
      if (total > this.maxRecordBytes) {
        throw new CaptureFormatError(`pcap record of ${inclLen} captured bytes exceeds the ${this.maxRecordBytes}-byte record limit`);
      }
      return { bytes: total, known: true };
    }
    return this.needBlock(b);
  }

  private needBlock(b: Buffer): Need {
    if (b.length < 8) return { bytes: 8, known: false };
    let r = this.ng?.r;
    if (b.readUInt32BE(0) === PCAPNG_SHB) {
      // The type reads the same in both orders; the section's byte order comes from the magic after the length.
      if (b.length < SHB_PREFIX) return { bytes: SHB_PREFIX, known: false };
      r = byteOrderOf(b.readUInt32LE(8));
    } else if (!r) {
      throw new CaptureFormatError('pcapng stream does not start with a Section Header Block');
    }
    const total = r.u32(b, 4);
    const min = b.readUInt32BE(0) === PCAPNG_SHB ? SHB_MIN : 12;
    if (total < min || total % 4 !== 0) {
      throw new CaptureFormatError(`pcapng block of type 0x${r.u32(b, 0).toString(16)} has an invalid total length ${total}`);
    }
    if (total > this.maxRecordBytes) {
      throw new CaptureFormatError(`pcapng block of ${total} bytes exceeds the ${this.maxRecordBytes}-byte record limit`);
    }
    return { bytes: total, known: true };
  }

  /** One complete unit whose length `need` has already checked. */
  private unit(b: Buffer, out: CapturedPacket[]): void {
    if (this.fmt === undefined) {
      const magic = b.readUInt32BE(0);
      if (magic === PCAPNG_SHB) {
        this.fmt = 'pcapng';
        this.block(b, out);
      } else {
        this.pcapHeader(b, magic);
      }
      return;
    }
    if (this.fmt === 'pcap') {
      const { r, linkType } = this.pcap!;
      const inclLen = r.u32(b, 8);
      this.counters.packets++;
      out.push({ linkType, tsSec: r.u32(b, 0), data: b.subarray(PCAP_RECORD_HEADER, PCAP_RECORD_HEADER + inclLen), origLen: r.u32(b, 12) });
      return;
    }
    this.block(b, out);
  }

  private pcapHeader(b: Buffer, magic: number): void {
    // The magic is written in the writer's byte order: read big-endian, a1b2… means a big-endian file.
    const r = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d ? BE : LE;
    const major = r.u16(b, 4);
    if (major !== 2) throw new CaptureFormatError(`pcap major version ${major} (expected 2)`);
    // The high bits of the link-type field carry FCS information (pcap spec §LinkType); the type is the low 16 bits.
    this.pcap = { r, linkType: r.u32(b, 20) & 0xffff };
    this.fmt = 'pcap';
  }

  private block(b: Buffer, out: CapturedPacket[]): void {
    const type = b.readUInt32BE(0) === PCAPNG_SHB ? PCAPNG_SHB : this.ng!.r.u32(b, 0);
    if (type === PCAPNG_SHB) {
      const r = byteOrderOf(b.readUInt32LE(8));
      const major = r.u16(b, 12);
      if (major !== 1) throw new CaptureFormatError(`pcapng section version ${major}.${r.u16(b, 14)} (expected 1.x)`);
      this.checkTrailer(b, r);
      // Interface ids are per section: a new section starts numbering from zero.
      this.ng = { r, interfaces: [] };
      return;
    }
    const ng = this.ng!;
    const r = ng.r;
    this.checkTrailer(b, r);
    const bodyEnd = b.length - 4;
    if (type === PCAPNG_IDB) {
      if (bodyEnd < 16) throw new CaptureFormatError('pcapng Interface Description Block shorter than its fixed fields');
      ng.interfaces.push(interfaceFrom(b, r, bodyEnd));
      return;
    }
    if (type === PCAPNG_EPB) {
      if (bodyEnd < 28) throw new CaptureFormatError('pcapng Enhanced Packet Block shorter than its fixed fields');
      const index = r.u32(b, 8);
      const iface = ng.interfaces[index];
      const capLen = r.u32(b, 20);
      if (28 + capLen > bodyEnd) {
        throw new CaptureFormatError(`pcapng Enhanced Packet Block claims ${capLen} captured bytes but holds ${bodyEnd - 28}`);
      }
      if (!iface) {
        this.counters.skippedBlocks++;
        return;
      }
      const ts = (BigInt(r.u32(b, 12)) << 32n) | BigInt(r.u32(b, 16));
      this.counters.packets++;
      const packet: CapturedPacket = { linkType: iface.linkType, tsSec: Number(ts / iface.unitsPerSec + iface.offsetSec), data: b.subarray(28, 28 + capLen), origLen: r.u32(b, 24), interfaceIndex: index };
      if (iface.name !== undefined) packet.interfaceName = iface.name;
      const direction = epbDirection(b, r, 28 + ((capLen + 3) & ~3), bodyEnd);
      if (direction !== undefined) packet.direction = direction;
      out.push(packet);
      return;
    }
    if (type === PCAPNG_SPB) {
      if (bodyEnd < 12) throw new CaptureFormatError('pcapng Simple Packet Block shorter than its fixed fields');
      const iface = ng.interfaces[0];
      if (!iface) {
        this.counters.skippedBlocks++;
        return;
      }
      const origLen = r.u32(b, 8);
      // An SPB has no captured length: it is the original length cut by the snaplen, within the block.
      let capLen = Math.min(origLen, bodyEnd - 12);
      if (iface.snaplen > 0) capLen = Math.min(capLen, iface.snaplen);
      this.counters.packets++;
      // An SPB carries no timestamp at all.
      const packet: CapturedPacket = { linkType: iface.linkType, tsSec: 0, data: b.subarray(12, 12 + capLen), origLen, interfaceIndex: 0 };
      if (iface.name !== undefined) packet.interfaceName = iface.name;
      out.push(packet);
      return;
    }
    this.counters.skippedBlocks++;
  }

  private checkTrailer(b: Buffer, r: Reader): void {
    const trailing = r.u32(b, b.length - 4);
    if (trailing !== b.length) {
      throw new CaptureFormatError(`pcapng block of type 0x${r.u32(b, 0).toString(16)} has total length ${b.length} at its start but ${trailing} at its end`);
    }
  }
}

function pcapMagic(magic: number): boolean {
  return magic === 0xa1b2c3d4 || magic === 0xd4c3b2a1 || magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
}

function byteOrderOf(magicLE: number): Reader {
  if (magicLE === PCAPNG_BYTE_ORDER_MAGIC) return LE;
  if (magicLE === 0x4d3c2b1a) return BE;
  throw new CaptureFormatError(`pcapng Section Header Block has an invalid byte-order magic 0x${magicLE.toString(16)}`);
}

/**
 * Calls `visit` with each option's code, value offset and length from `off` (TLVs padded to 4 bytes) until it
 * returns true. A malformed list ends the walk rather than the capture: it only loses the options after it.
 */
function eachOption(b: Buffer, r: Reader, off: number, bodyEnd: number, visit: (code: number, value: number, len: number) => boolean): void {
  while (off + 4 <= bodyEnd) {
    const code = r.u16(b, off);
    const len = r.u16(b, off + 2);
    const value = off + 4;
    if (code === OPT_END || value + len > bodyEnd) return;
    if (visit(code, value, len)) return;
    off = value + ((len + 3) & ~3);
  }
}

/**
 * The direction bits of an EPB's `epb_flags` option, scanning the options from `off`. Apple's own options (process
 * information indexes 0x8001/0x8003, service class 0x8002, metadata flags) sit beside it and are skipped.
 */
function epbDirection(b: Buffer, r: Reader, off: number, bodyEnd: number): 'in' | 'out' | undefined {
  let direction: 'in' | 'out' | undefined;
  eachOption(b, r, off, bodyEnd, (code, value, len) => {
    if (code !== OPT_EPB_FLAGS || len !== 4) return false;
    const bits = r.u32(b, value) & 0b11;
    // 11 is not a direction the format defines: no better than none
    direction = bits === 0b01 ? 'in' : bits === 0b10 ? 'out' : undefined;
    return true;
  });
  return direction;
}

function interfaceFrom(b: Buffer, r: Reader, bodyEnd: number): PcapngInterface {
  const iface: PcapngInterface = { linkType: r.u16(b, 8), snaplen: r.u32(b, 12), unitsPerSec: 1_000_000n, offsetSec: 0n };
  eachOption(b, r, 16, bodyEnd, (code, value, len) => {
    if (code === OPT_IF_TSRESOL && len >= 1) {
      const v = b[value]!;
      const exp = BigInt(v & 0x7f);
      // MSB clear: units of 10^-n s; set: 2^-n s. Exponents beyond 2^64 units per second are no timestamp anyone writes.
      const units = v & 0x80 ? 1n << exp : 10n ** exp;
      if (units <= 1n << 64n) iface.unitsPerSec = units;
    } else if (code === OPT_IF_NAME && len >= 1) {
      const name = b.toString('utf8', value, value + len).replace(/\0+$/, '');
      if (isInterfaceName(name)) iface.name = name;
    } else if (code === OPT_IF_TSOFFSET && len >= 8) {
      const first = BigInt(r.u32(b, value));
      const second = BigInt(r.u32(b, value + 4));
      // The option is a signed 64-bit count of seconds in the section's byte order: little-endian puts the low word first.
      iface.offsetSec = BigInt.asIntN(64, r === LE ? (second << 32n) | first : (first << 32n) | second);
    }
    return false;
  });
  return iface;
}
