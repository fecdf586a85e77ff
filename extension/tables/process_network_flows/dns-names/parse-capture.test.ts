import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureFormatError, CaptureStreamParser, DEFAULT_MAX_RECORD_BYTES, type CapturedPacket } from './parse-capture.js';
import { LINK, decodeUdp } from './decode-udp.js';
import { parseDnsMessage } from './parse-dns.js';
import { SCENARIO } from './testing/scenario.js';
import { expectScenario } from './testing/expect-scenario.js';
import { ETHERTYPE, PcapngWriter, ethernet, ipv4, ipv6, nullHeader, pcapFile, pcapToBigEndian, pktap, udp } from './testing/frames.js';

const fixture = (name: string): Buffer => readFileSync(join(import.meta.dirname, 'fixtures', name));

/** Fixtures captured by live-capture.test.ts from the real tcpdump on loopback. */
const FIXTURES = [
  { name: 'dns-lo-en10mb.pcap', linkType: LINK.EN10MB },
  { name: 'dns-lo-en10mb-nano.pcap', linkType: LINK.EN10MB },
  { name: 'dns-any-sll2.pcap', linkType: LINK.LINUX_SLL2 },
  { name: 'dns-any-sll.pcap', linkType: LINK.LINUX_SLL },
] as const;

function pushAll(bytes: Buffer, parser = new CaptureStreamParser()): CapturedPacket[] {
  return parser.push(bytes);
}

function pushBytewise(bytes: Buffer, parser = new CaptureStreamParser()): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  // Copies, so no packet can lean on the caller's buffer being one piece.
  for (let i = 0; i < bytes.length; i++) out.push(...parser.push(Buffer.from(bytes.subarray(i, i + 1))));
  return out;
}

function pushRandomly(bytes: Buffer, seed: number, parser = new CaptureStreamParser()): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  let s = seed;
  for (let i = 0; i < bytes.length; ) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const n = 1 + (s % 97);
    out.push(...parser.push(Buffer.from(bytes.subarray(i, i + n))));
    i += n;
  }
  return out;
}

const plain = (ps: CapturedPacket[]) => ps.map((p) => ({ linkType: p.linkType, tsSec: p.tsSec, origLen: p.origLen, data: p.data.toString('hex') }));

function expectCaptureError(fn: () => unknown, message: RegExp): CaptureFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CaptureFormatError);
  const e = caught as CaptureFormatError;
  expect(e.code).toBe('CAPTURE_FORMAT');
  expect(e.message).toMatch(message);
  expect(e.message).toMatch(/restart the capture/);
  return e;
}

describe('CaptureStreamParser on real tcpdump captures (fixtures)', () => {
  it.each(FIXTURES)('$name: all at once, one byte at a time and in random chunks give the scenario', ({ name, linkType }) => {
    const bytes = fixture(name);
    const whole = new CaptureStreamParser();
    const packets = pushAll(bytes, whole);
    expect(whole.format).toBe('pcap');
    expect(whole.pending).toBe(0);
    expect(whole.stats).toEqual({ packets: 2 * SCENARIO.length, skippedBlocks: 0 });
    expectScenario(packets, linkType);
    const bytewise = new CaptureStreamParser();
    expect(plain(pushBytewise(bytes, bytewise))).toEqual(plain(packets));
    expect(bytewise.pending).toBe(0);
    for (const seed of [1, 2, 3]) expect(plain(pushRandomly(bytes, seed))).toEqual(plain(packets));
  });

  it('the nanosecond file gives the same whole seconds as its own header says', () => {
    const bytes = fixture('dns-lo-en10mb-nano.pcap');
    expect(bytes.readUInt32LE(0)).toBe(0xa1b23c4d);
    const packets = pushAll(bytes);
    expect(packets[0]!.tsSec).toBe(bytes.readUInt32LE(24));
  });

  it('packets handed out whole are views into the pushed chunk (no copy)', () => {
    const bytes = fixture('dns-lo-en10mb.pcap');
    const [first] = pushAll(bytes);
    expect(first!.data.buffer).toBe(bytes.buffer);
  });

  it('a big-endian pcap (written on a big-endian host) reads the same', () => {
    const le = fixture('dns-lo-en10mb.pcap');
    const be = pcapToBigEndian(le);
    expect(be.readUInt32BE(0)).toBe(0xa1b2c3d4);
    expect(plain(pushAll(be))).toEqual(plain(pushAll(le)));
    expect(plain(pushBytewise(be))).toEqual(plain(pushAll(le)));
  });
});

describe('CaptureStreamParser on hand-built pcap', () => {
  const frame = ethernet(ETHERTYPE.IPV4, ipv4({ src: '192.0.2.53', dst: '192.0.2.10', payload: udp({ srcPort: 53, dstPort: 40000, payload: SCENARIO[0]!.response }) }));

  it('big-endian nanosecond pcap: whole seconds from the header, origLen beyond a snaplen cut', () => {
    const bytes = pcapFile({ linkType: LINK.EN10MB, bigEndian: true, nano: true, records: [{ tsSec: 1_717_171_717, tsFrac: 999_999_999, data: frame.subarray(0, 60), origLen: frame.length }] });
    expect(bytes.readUInt32BE(0)).toBe(0xa1b23c4d);
    const parser = new CaptureStreamParser();
    const [p] = parser.push(bytes);
    expect(p).toMatchObject({ linkType: LINK.EN10MB, tsSec: 1_717_171_717, origLen: frame.length });
    expect(p!.data.equals(frame.subarray(0, 60))).toBe(true);
    expect(decodeUdp(p!.linkType, p!.data)).toEqual({ ok: false, reason: 'truncated' });
  });

  it('link type from the low 16 bits (the high bits carry FCS information)', () => {
    const bytes = pcapFile({ linkType: LINK.EN10MB | 0x1000_0000 | 0x0400_0000, records: [{ tsSec: 1, data: frame }] });
    expect(pushAll(bytes)[0]!.linkType).toBe(LINK.EN10MB);
  });

  it('PKTAP (258) records unwrap to the DNS answer', () => {
    const bytes = pcapFile({ linkType: LINK.PKTAP, records: [{ tsSec: 1_717_000_000, data: pktap(LINK.EN10MB, frame) }] });
    const [p] = pushBytewise(bytes);
    const d = decodeUdp(p!.linkType, p!.data);
    if (!d.ok) throw new Error(d.reason);
    expect(parseDnsMessage(d.datagram.payload).answers).toEqual(SCENARIO[0]!.expect.answers);
  });

  it('a zero-length record is a packet with no bytes', () => {
    const bytes = pcapFile({ linkType: LINK.EN10MB, records: [{ tsSec: 5, data: Buffer.alloc(0) }, { tsSec: 6, data: frame }] });
    const ps = pushBytewise(bytes);
    expect(ps.map((p) => [p.tsSec, p.data.length])).toEqual([
      [5, 0],
      [6, frame.length],
    ]);
  });
});

/** What Apple's tcpdump writes with `-i pktap,all`: a section, interfaces with their own link types, packets with process options. */
function applePcapng(w: PcapngWriter): { bytes: Buffer; frames: Buffer[] } {
  const en0Frame = ethernet(ETHERTYPE.IPV4, ipv4({ src: '192.168.1.1', dst: '192.168.1.23', payload: udp({ srcPort: 53, dstPort: 61000, payload: SCENARIO[0]!.response }) }));
  const lo0Frame = nullHeader(30, 'le', ipv6({ src: '::1', dst: '::1', payload: udp({ srcPort: 53, dstPort: 61001, payload: SCENARIO[1]!.response }) }));
  const spbFrame = ethernet(ETHERTYPE.IPV4, ipv4({ src: '192.168.1.1', dst: '192.168.1.23', payload: udp({ srcPort: 53, dstPort: 61002, payload: SCENARIO[3]!.response }) }));
  w.shb([w.option(2, 'arm64'), w.option(3, 'Darwin 23.5.0'), w.option(4, 'tcpdump (libpcap 1.10.1 Apple)')]);
  w.idb(LINK.EN10MB, { opts: [w.option(2, 'en0')] });
  // lo0 with nanosecond timestamps (if_tsresol 9) and an odd-length name (option padding)
  w.idb(LINK.NULL, { snaplen: 65535, opts: [w.option(2, 'lo0'), w.option(9, 9, 1)] });
  // Apple's process information block (type 0x80000001): process name and uuid
  w.block(0x80000001, Buffer.concat([w.option(2, 'mDNSResponder').value, Buffer.alloc(19)]));
  w.epb(0, 1_717_000_000_123_456n, en0Frame, {
    opts: [
      w.option(2, 0x00000001), // epb_flags: inbound
      w.option(0x8001, 0), // Apple: index of the process information block
      w.option(0x8004, 0), // Apple: effective process
      w.option(0x8002, 0x00000003), // Apple: service class
      w.option(1, 'comment of 7'),
      w.option(2989, Buffer.from([0x00, 0x00, 0x00, 0x3f, 0xaa, 0xbb, 0xcc])), // custom option with a PEN, odd length
    ],
  });
  w.block(0x00000bad, Buffer.from('a block type nobody defined'));
  w.epb(1, 1_717_000_001_999_999_999n, lo0Frame, { origLen: lo0Frame.length });
  w.spb(spbFrame);
  // a packet on an interface the section never described
  w.epb(7, 1_717_000_002_000_000n, en0Frame);
  return { bytes: w.done(), frames: [en0Frame, lo0Frame, spbFrame] };
}

describe('CaptureStreamParser on pcapng (as Apple tcpdump writes with pktap)', () => {
  for (const bigEndian of [false, true]) {
    it(`${bigEndian ? 'big' : 'little'}-endian section: interfaces, Apple options, resolution, unknown blocks`, () => {
      const { bytes, frames } = applePcapng(new PcapngWriter(bigEndian));
      const parser = new CaptureStreamParser();
      const packets = parser.push(bytes);
      expect(parser.format).toBe('pcapng');
      expect(packets.map((p) => ({ linkType: p.linkType, tsSec: p.tsSec, origLen: p.origLen }))).toEqual([
        { linkType: LINK.EN10MB, tsSec: 1_717_000_000, origLen: frames[0]!.length },
        { linkType: LINK.NULL, tsSec: 1_717_000_001, origLen: frames[1]!.length },
        // a Simple Packet Block has no timestamp
        { linkType: LINK.EN10MB, tsSec: 0, origLen: frames[2]!.length },
      ]);
      packets.forEach((p, i) => expect(p.data.equals(frames[i]!)).toBe(true));
      // epb_flags among Apple's own options gives the direction; lo0's EPB has none, and an SPB cannot carry it
      expect(packets.map((p) => [p.interfaceIndex, p.direction])).toEqual([
        [0, 'in'],
        [1, undefined],
        [0, undefined],
      ]);
      // the process information block, the unknown block and the packet on interface 7
      expect(parser.stats).toEqual({ packets: 3, skippedBlocks: 3 });
      expect(parser.pending).toBe(0);
      const answers = packets.map((p) => {
        const d = decodeUdp(p.linkType, p.data);
        if (!d.ok) throw new Error(d.reason);
        return parseDnsMessage(d.datagram.payload).answers;
      });
      expect(answers).toEqual([SCENARIO[0]!.expect.answers, SCENARIO[1]!.expect.answers, SCENARIO[3]!.expect.answers]);
      expect(plain(pushBytewise(bytes))).toEqual(plain(packets));
      for (const seed of [7, 8]) expect(plain(pushRandomly(bytes, seed))).toEqual(plain(packets));
    });
  }

  it('a new section resets the interfaces and may switch byte order', () => {
    const first = new PcapngWriter(false);
    first.shb().idb(LINK.EN10MB).idb(LINK.NULL);
    const frame = Buffer.from('frame');
    first.epb(1, 1_000_000n, frame);
    const second = new PcapngWriter(true);
    second.shb().idb(LINK.RAW, { opts: [second.option(9, 0x80 | 10, 1), second.option(14, 1_000_000_000, 8)] });
    second.epb(1, 5n * 1024n, frame); // interface 1 is gone with the old section
    second.epb(0, 5n * 1024n + 1023n, frame); // 2^-10 s units, plus the 10^9 s offset
    const parser = new CaptureStreamParser();
    const packets = parser.push(Buffer.concat([first.done(), second.done()]));
    expect(packets.map((p) => [p.linkType, p.tsSec])).toEqual([
      [LINK.NULL, 1],
      [LINK.RAW, 1_000_000_005],
    ]);
    expect(parser.stats).toEqual({ packets: 2, skippedBlocks: 1 });
  });

  it('a PKTAP interface (the whole pktap header kept) decodes through it', () => {
    const w = new PcapngWriter();
    const inner = ethernet(ETHERTYPE.IPV4, ipv4({ src: '192.0.2.53', dst: '192.0.2.10', payload: udp({ srcPort: 53, dstPort: 40000, payload: SCENARIO[3]!.response }) }));
    w.shb().idb(LINK.PKTAP).epb(0, 0n, pktap(LINK.EN10MB, inner));
    const [p] = pushBytewise(w.done());
    const d = decodeUdp(p!.linkType, p!.data);
    if (!d.ok) throw new Error(d.reason);
    expect(d.datagram.payload.equals(SCENARIO[3]!.response)).toBe(true);
  });
});

describe('CaptureStreamParser on broken streams', () => {
  it('a record cut at the end of the stream stays pending and yields nothing', () => {
    const bytes = fixture('dns-lo-en10mb.pcap');
    const parser = new CaptureStreamParser();
    const packets = parser.push(bytes.subarray(0, bytes.length - 5));
    expect(packets).toHaveLength(2 * SCENARIO.length - 1);
    const lastRecord = 16 + pushAll(bytes).at(-1)!.data.length;
    expect(parser.pending).toBe(lastRecord - 5);
    // the rest arrives later
    expect(parser.push(bytes.subarray(bytes.length - 5))).toHaveLength(1);
    expect(parser.pending).toBe(0);
  });

  it('a cut header stays pending too', () => {
    const parser = new CaptureStreamParser();
    expect(parser.push(fixture('dns-lo-en10mb.pcap').subarray(0, 30))).toEqual([]);
    expect(parser.format).toBe('pcap');
    expect(parser.pending).toBe(6);
    const ng = new CaptureStreamParser();
    expect(ng.push(new PcapngWriter().shb().done().subarray(0, 10))).toEqual([]);
    expect(ng.format).toBeUndefined();
    expect(ng.pending).toBe(10);
  });

  it('a bad magic number fails, and the parser stays failed', () => {
    const parser = new CaptureStreamParser();
    const e = expectCaptureError(() => parser.push(Buffer.from('tcpdump: listening on lo\n')), /unknown magic number 0x74637064/);
    expect(() => parser.push(fixture('dns-lo-en10mb.pcap'))).toThrow(e);
    expect(parser.pending).toBe(0);
  });

  it('a bad magic number fails even when it arrives a byte at a time', () => {
    expectCaptureError(() => pushBytewise(Buffer.from([0xa1, 0xb2, 0xc3, 0xd5, 0, 0])), /unknown magic number 0xa1b2c3d5/);
  });

  it('an absurd record length fails as soon as the record header is in, before buffering anything', () => {
    const head = fixture('dns-lo-en10mb.pcap').subarray(0, 24);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(0x7fff_fff0, 8);
    const parser = new CaptureStreamParser();
    parser.push(head);
    parser.push(rec.subarray(0, 15));
    expect(parser.pending).toBe(15);
    expectCaptureError(() => parser.push(rec.subarray(15)), new RegExp(`record of ${0x7fff_fff0} captured bytes exceeds the ${DEFAULT_MAX_RECORD_BYTES}-byte record limit`));
  });

  it('the record limit is the option given, counted with the record header', () => {
    const frame = Buffer.alloc(100);
    const bytes = pcapFile({ linkType: LINK.RAW, records: [{ tsSec: 1, data: frame }] });
    expect(new CaptureStreamParser({ maxRecordBytes: 116 }).push(bytes)).toHaveLength(1);
    expectCaptureError(() => new CaptureStreamParser({ maxRecordBytes: 115 }).push(bytes), /exceeds the 115-byte record limit/);
    const ng = new PcapngWriter().shb().idb(LINK.RAW).epb(0, 0n, frame).done();
    expectCaptureError(() => new CaptureStreamParser({ maxRecordBytes: 128 }).push(ng), /pcapng block of 132 bytes exceeds the 128-byte record limit/);
  });

  it('memory stays bounded: a record being filled holds at most its own length', () => {
    const big = Buffer.alloc(200_000, 0x55);
    const bytes = pcapFile({ linkType: LINK.RAW, records: [{ tsSec: 1, data: big }, { tsSec: 2, data: big }] });
    const parser = new CaptureStreamParser();
    let maxPending = 0;
    let got = 0;
    for (let i = 0; i < bytes.length; i += 4096) {
      got += parser.push(bytes.subarray(i, i + 4096)).length;
      maxPending = Math.max(maxPending, parser.pending);
    }
    expect(got).toBe(2);
    expect(maxPending).toBeLessThan(16 + big.length);
  });

  it('a pcapng block whose trailing length differs from its leading length', () => {
    const w = new PcapngWriter();
    w.shb().idb(LINK.EN10MB).block(0x00000bad, Buffer.alloc(8), { trailingLength: 24 });
    expectCaptureError(() => pushBytewise(w.done()), /block of type 0xbad has total length 20 at its start but 24 at its end/);
  });

  it('an SHB whose trailing length differs', () => {
    const shb = Buffer.from(new PcapngWriter().shb().done());
    shb.writeUInt32LE(shb.length + 4, shb.length - 4);
    expectCaptureError(() => pushAll(shb), /at its start but/);
  });

  it('pcapng block lengths that are not a multiple of 4, or shorter than a block', () => {
    const shb = new PcapngWriter().shb().done();
    const odd = Buffer.alloc(12);
    odd.writeUInt32LE(1, 0);
    odd.writeUInt32LE(13, 4);
    expectCaptureError(() => pushAll(Buffer.concat([shb, odd])), /block of type 0x1 has an invalid total length 13/);
    const tiny = Buffer.alloc(12);
    tiny.writeUInt32LE(6, 0);
    tiny.writeUInt32LE(8, 4);
    expectCaptureError(() => pushAll(Buffer.concat([shb, tiny])), /block of type 0x6 has an invalid total length 8/);
  });

  it('an SHB with a bad byte-order magic or an unknown major version', () => {
    const shb = Buffer.from(new PcapngWriter().shb().done());
    const badOrder = Buffer.from(shb);
    badOrder.writeUInt32LE(0x12345678, 8);
    expectCaptureError(() => pushAll(badOrder), /invalid byte-order magic 0x12345678/);
    const v2 = Buffer.from(shb);
    v2.writeUInt16LE(2, 12);
    expectCaptureError(() => pushAll(v2), /section version 2\.0 \(expected 1\.x\)/);
  });

  it('an EPB whose captured length runs past its block', () => {
    const w = new PcapngWriter();
    w.shb().idb(LINK.EN10MB).epb(0, 0n, Buffer.alloc(8), { capLen: 64 });
    expectCaptureError(() => pushAll(w.done()), /Enhanced Packet Block claims 64 captured bytes but holds 8/);
  });

  it('a pcap with an unknown major version', () => {
    const bytes = Buffer.from(fixture('dns-lo-en10mb.pcap'));
    bytes.writeUInt16LE(3, 4);
    expectCaptureError(() => pushAll(bytes), /pcap major version 3/);
  });
});

describe('CaptureStreamParser: which way a pcapng packet went (epb_flags)', () => {
  it('inbound 01 and outbound 10 in the low bits, in either byte order; 00, 11, a short option or none is no direction', () => {
    for (const bigEndian of [false, true]) {
      const w = new PcapngWriter(bigEndian);
      const frame = Buffer.alloc(61); // an odd length: the options start after the padding
      w.shb().idb(1, { opts: [w.option(2, 'en0')] });
      const flags = [0b01, 0b10, 0x00ff_0000 | 0b10, 0b00, 0b11];
      for (const f of flags) w.epb(0, 0n, frame, { opts: [w.option(0x8001, 0), w.option(2, f)] });
      w.epb(0, 0n, frame, { opts: [w.option(2, Buffer.from([2, 0]))] });
      w.epb(0, 0n, frame);
      // an option whose length runs past its block ends the scan: the epb_flags after it is lost, the packet is not
      w.epb(0, 0n, frame, { opts: [w.option(0x8002, 0), w.option(2, 0b10)] });
      const bytes = w.done();
      const intact = new CaptureStreamParser().push(bytes).at(-1)!;
      expect(intact.direction).toBe('out');
      const broken = Buffer.from(bytes);
      // from the end: trailing length 4, end of options 4, epb_flags 8, then the service class option's header
      const svcLength = bytes.length - 4 - 4 - 8 - 8 + 2;
      expect(bigEndian ? broken.readUInt16BE(svcLength) : broken.readUInt16LE(svcLength)).toBe(4);
      if (bigEndian) broken.writeUInt16BE(400, svcLength);
      else broken.writeUInt16LE(400, svcLength);
      const packets = new CaptureStreamParser().push(broken);
      expect(packets.map((p) => p.direction)).toEqual(['in', 'out', 'out', undefined, undefined, undefined, undefined, undefined]);
      expect(packets.every((p) => p.interfaceIndex === 0 && p.interfaceName === 'en0')).toBe(true);
    }
  });
});

describe('CaptureStreamParser: which interface a pcapng packet came from', () => {
  it('carries the IDB if_name per packet (EPB and SPB); a name no OS prints is not kept; pcap has none', () => {
    const w = new PcapngWriter();
    const frame = Buffer.alloc(60);
    w.shb()
      .idb(1, { opts: [w.option(2, 'en0')] })
      .idb(0, { opts: [w.option(2, 'utun4\0\0')] })
      .idb(1, { opts: [w.option(2, 'en0 spoof')] })
      .idb(1)
      .epb(0, 0n, frame)
      .epb(1, 0n, frame)
      .epb(2, 0n, frame)
      .epb(3, 0n, frame)
      .spb(frame);
    const packets = new CaptureStreamParser().push(w.done());
    expect(packets.map((p) => p.interfaceName)).toEqual(['en0', 'utun4', undefined, undefined, 'en0']);
    expect(packets.map((p) => p.interfaceIndex)).toEqual([0, 1, 2, 3, 0]);
    const pcap = new CaptureStreamParser().push(pcapFile({ linkType: 1, records: [{ tsSec: 1, tsFrac: 0, data: frame }] }));
    expect(pcap.map((p) => [p.interfaceName, p.interfaceIndex, p.direction])).toEqual([[undefined, undefined, undefined]]);
  });
});
