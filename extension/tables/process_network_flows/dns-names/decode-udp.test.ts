import { describe, expect, it } from 'vitest';
import { LINK, canonicalIp, decodeUdp, formatIpv6, linkMeta, type DecodeResult } from './decode-udp.js';
import { ipv6Bytes } from './testing/dns-wire.js';
import { ARPHRD, ETHERTYPE, PACKET, ethernet, ipv4, ipv6, nullHeader, pktap, sll, sll2, udp } from './testing/frames.js';

const ANSWER = Buffer.from('dns answer bytes');
const udp4 = (o: { payload?: Buffer; length?: number } = {}) => udp({ srcPort: 53, dstPort: 51234, payload: o.payload ?? ANSWER, ...(o.length ? { length: o.length } : {}) });
const v4 = (o: Partial<Parameters<typeof ipv4>[0]> = {}) => ipv4({ src: '192.0.2.53', dst: '198.51.100.7', payload: udp4(), ...o });
const v6 = (o: Partial<Parameters<typeof ipv6>[0]> = {}) => ipv6({ src: '2001:db8::53', dst: 'fe80::1:2', payload: udp4(), ...o });

const OK4 = { family: 4, srcAddress: '192.0.2.53', dstAddress: '198.51.100.7', srcPort: 53, dstPort: 51234 };
const OK6 = { family: 6, srcAddress: '2001:db8::53', dstAddress: 'fe80::1:2', srcPort: 53, dstPort: 51234 };

function expectOk(r: DecodeResult, want: object, payload = ANSWER): void {
  if (!r.ok) throw new Error(`expected a datagram, got ${r.reason}`);
  expect(r.datagram).toMatchObject(want);
  expect(r.datagram.payload.equals(payload)).toBe(true);
}

describe('decodeUdp link layers', () => {
  const cases: [string, number, Buffer, Buffer][] = [
    ['EN10MB', LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v4()), ethernet(ETHERTYPE.IPV6, v6())],
    ['RAW 101', LINK.RAW, v4(), v6()],
    ['RAW as DLT 12', LINK.RAW_DLT12, v4(), v6()],
    ['RAW as OpenBSD DLT 14', LINK.RAW_DLT14, v4(), v6()],
    ['NULL, little-endian host (macOS lo0: AF_INET6 30)', LINK.NULL, nullHeader(2, 'le', v4()), nullHeader(30, 'le', v6())],
    ['NULL, big-endian writer (FreeBSD AF_INET6 28)', LINK.NULL, nullHeader(2, 'be', v4()), nullHeader(28, 'be', v6())],
    ['NULL, NetBSD/OpenBSD AF_INET6 24', LINK.NULL, nullHeader(2, 'le', v4()), nullHeader(24, 'le', v6())],
    ['LOOP (network order)', LINK.LOOP, nullHeader(2, 'be', v4()), nullHeader(30, 'be', v6())],
    ['LINUX_SLL', LINK.LINUX_SLL, sll(ETHERTYPE.IPV4, v4()), sll(ETHERTYPE.IPV6, v6())],
    ['LINUX_SLL2', LINK.LINUX_SLL2, sll2(ETHERTYPE.IPV4, v4()), sll2(ETHERTYPE.IPV6, v6())],
    ['PKTAP 258 over EN10MB', LINK.PKTAP, pktap(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v4())), pktap(LINK.EN10MB, ethernet(ETHERTYPE.IPV6, v6()))],
    ['PKTAP as Darwin DLT 149 over NULL (utun)', LINK.PKTAP_DARWIN, pktap(LINK.NULL, nullHeader(2, 'le', v4())), pktap(LINK.NULL, nullHeader(30, 'le', v6()))],
    ['PKTAP over RAW with a short header', LINK.PKTAP, pktap(LINK.RAW, v4(), { headerLength: 12 }), pktap(LINK.RAW, v6(), { headerLength: 12 })],
  ];
  it.each(cases)('%s: IPv4 and IPv6', (_name, linkType, frame4, frame6) => {
    expectOk(decodeUdp(linkType, frame4), OK4);
    expectOk(decodeUdp(linkType, frame6), OK6);
  });

  it('an unknown link type, and pktap nested in pktap, are unsupported_link', () => {
    expect(decodeUdp(147, v4())).toEqual({ ok: false, reason: 'unsupported_link' });
    expect(decodeUdp(LINK.PKTAP, pktap(LINK.PKTAP, pktap(LINK.RAW, v4())))).toEqual({ ok: false, reason: 'unsupported_link' });
  });

  it('a pktap header shorter than its fixed fields is malformed; one longer than the frame is truncated; a non-packet record is not_udp', () => {
    expect(decodeUdp(LINK.PKTAP, pktap(LINK.RAW, v4(), { headerLength: 8 }))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.PKTAP, pktap(LINK.RAW, v4()).subarray(0, 100))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdp(LINK.PKTAP, pktap(LINK.RAW, v4(), { recordType: 2 }))).toEqual({ ok: false, reason: 'not_udp' });
  });

  it('BSD loopback with another address family is not_udp', () => {
    expect(decodeUdp(LINK.NULL, nullHeader(18, 'le', v4()))).toEqual({ ok: false, reason: 'not_udp' });
  });

  it('a link header cut short is truncated', () => {
    expect(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v4()).subarray(0, 13))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdp(LINK.LINUX_SLL2, sll2(ETHERTYPE.IPV4, v4()).subarray(0, 19))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdp(LINK.LINUX_SLL, sll(ETHERTYPE.IPV4, v4()).subarray(0, 15))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdp(LINK.NULL, Buffer.from([2, 0, 0]))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, Buffer.alloc(0)))).toEqual({ ok: false, reason: 'truncated' });
  });

  it('ARP and other ethertypes are not_udp', () => {
    expect(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.ARP, Buffer.alloc(28)))).toEqual({ ok: false, reason: 'not_udp' });
    expect(decodeUdp(LINK.LINUX_SLL2, sll2(0x0003, Buffer.alloc(28)))).toEqual({ ok: false, reason: 'not_udp' });
  });

  it('an ethertype that contradicts the IP version nibble is malformed', () => {
    expect(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v6()))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.NULL, nullHeader(30, 'le', v4()))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.RAW, Buffer.concat([Buffer.from([0x50]), v4().subarray(1)]))).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('linkMeta: interface and direction from the link header', () => {
  it('Linux cooked v1 has the packet type only; v2 the interface index too: PACKET_OUTGOING is out, the rest in', () => {
    expect(linkMeta(LINK.LINUX_SLL, sll(ETHERTYPE.IPV4, v4(), { packetType: PACKET.OUTGOING, arphrd: ARPHRD.ETHER }))).toEqual({ direction: 'out' });
    for (const t of [PACKET.HOST, PACKET.BROADCAST, PACKET.MULTICAST, PACKET.OTHERHOST]) expect(linkMeta(LINK.LINUX_SLL, sll(ETHERTYPE.IPV4, v4(), { packetType: t }))).toEqual({ direction: 'in' });
    expect(linkMeta(LINK.LINUX_SLL2, sll2(ETHERTYPE.IPV4, v4(), { packetType: PACKET.OUTGOING, ifindex: 0x01020304 }))).toEqual({ ifindex: 0x01020304, direction: 'out' });
    expect(linkMeta(LINK.LINUX_SLL2, sll2(ETHERTYPE.IPV4, v4(), { packetType: PACKET.HOST, ifindex: 7 }))).toEqual({ ifindex: 7, direction: 'in' });
  });

  it('pktap: pth_ifname and PTH_FLAG_DIR_IN/OUT; neither flag is no direction; a short or odd header says nothing', () => {
    const frame = ethernet(ETHERTYPE.IPV4, v4());
    expect(linkMeta(LINK.PKTAP, pktap(LINK.EN10MB, frame, { ifname: 'utun4', flags: 0x2 | 0x2000 }))).toEqual({ interfaceName: 'utun4', direction: 'out' });
    expect(linkMeta(LINK.PKTAP_DARWIN, pktap(LINK.EN10MB, frame, { ifname: 'en0', flags: 0x1 }))).toEqual({ interfaceName: 'en0', direction: 'in' });
    expect(linkMeta(LINK.PKTAP, pktap(LINK.EN10MB, frame, { ifname: 'en0 x', flags: 0 }))).toEqual({});
    expect(linkMeta(LINK.PKTAP, pktap(LINK.RAW, v4(), { headerLength: 12 }))).toEqual({});
  });

  it('other link types, and cut headers, say nothing', () => {
    expect(linkMeta(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v4()))).toEqual({});
    expect(linkMeta(LINK.NULL, nullHeader(2, 'le', v4()))).toEqual({});
    expect(linkMeta(LINK.LINUX_SLL2, sll2(ETHERTYPE.IPV4, v4()).subarray(0, 10))).toEqual({});
    expect(linkMeta(LINK.LINUX_SLL, Buffer.alloc(1))).toEqual({});
  });
});

describe('decodeUdp VLAN tags', () => {
  it('one 802.1Q tag', () => {
    expectOk(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v4(), [{ tpid: ETHERTYPE.VLAN, vid: 42 }])), OK4);
  });
  it('802.1ad outer + 802.1Q inner (QinQ)', () => {
    const tags = [
      { tpid: ETHERTYPE.QINQ, vid: 100 },
      { tpid: ETHERTYPE.VLAN, vid: 42 },
    ];
    expectOk(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV6, v6(), tags)), OK6);
  });
  it('a tag cooked capture re-inserted in front of the protocol (SLL2)', () => {
    const frame = sll2(ETHERTYPE.VLAN, Buffer.concat([Buffer.from([0, 42, 0x08, 0x00]), v4()]));
    expectOk(decodeUdp(LINK.LINUX_SLL2, frame), OK4);
  });
  it('three tags are unsupported_link; a frame cut inside a tag is truncated', () => {
    const three = [1, 2, 3].map((vid) => ({ tpid: ETHERTYPE.VLAN, vid }));
    expect(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v4(), three))).toEqual({ ok: false, reason: 'unsupported_link' });
    expect(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, v4(), [{ tpid: ETHERTYPE.VLAN, vid: 1 }]).subarray(0, 16))).toEqual({ ok: false, reason: 'truncated' });
  });
});

describe('decodeUdp IPv4', () => {
  it('options (IHL 6) move the UDP header', () => {
    const frame = v4({ options: Buffer.from([0x94, 0x04, 0x00, 0x00]) }); // Router Alert
    expect(frame[0]).toBe(0x46);
    expectOk(decodeUdp(LINK.RAW, frame), OK4);
  });

  it('Ethernet padding after the IP datagram is not payload', () => {
    const tiny = Buffer.from('x');
    const frame = ethernet(ETHERTYPE.IPV4, Buffer.concat([v4({ payload: udp4({ payload: tiny }) }), Buffer.alloc(17)]));
    expectOk(decodeUdp(LINK.EN10MB, frame), OK4, tiny);
  });

  it('a first fragment (MF set) and a later fragment (offset) are fragments; DF alone is not', () => {
    expect(decodeUdp(LINK.RAW, v4({ fragment: 0x2000 }))).toEqual({ ok: false, reason: 'fragment' });
    expect(decodeUdp(LINK.RAW, v4({ fragment: 0x00b9 }))).toEqual({ ok: false, reason: 'fragment' });
    expectOk(decodeUdp(LINK.RAW, v4({ fragment: 0x4000 })), OK4);
    expectOk(decodeUdp(LINK.RAW, v4({ fragment: 0 })), OK4);
  });

  it('TCP is not_udp', () => {
    expect(decodeUdp(LINK.RAW, v4({ protocol: 6 }))).toEqual({ ok: false, reason: 'not_udp' });
  });

  it('a datagram cut by the snaplen (IP and UDP lengths beyond the capture) is truncated', () => {
    const frame = ethernet(ETHERTYPE.IPV4, v4());
    for (const keep of [14 + 19, 14 + 20 + 4, frame.length - 1]) {
      expect(decodeUdp(LINK.EN10MB, frame.subarray(0, keep))).toEqual({ ok: false, reason: 'truncated' });
    }
  });

  it('header lengths that contradict each other are malformed', () => {
    const ihl4 = Buffer.from(v4());
    ihl4[0] = 0x44;
    expect(decodeUdp(LINK.RAW, ihl4)).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.RAW, v4({ totalLength: 19 }))).toEqual({ ok: false, reason: 'malformed' });
    // UDP says more bytes than the (whole) IP datagram holds: a lie, not a cut
    expect(decodeUdp(LINK.RAW, v4({ payload: udp4({ length: 8 + ANSWER.length + 1 }) }))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.RAW, v4({ payload: udp4({ length: 7 }) }))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.RAW, v4({ payload: Buffer.alloc(7) }))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a UDP length reaching into Ethernet padding beyond the IP datagram is malformed', () => {
    const datagram = v4({ payload: udp4({ payload: Buffer.from('abc'), length: 8 + 10 }) });
    expect(decodeUdp(LINK.EN10MB, ethernet(ETHERTYPE.IPV4, Buffer.concat([datagram, Buffer.alloc(20)])))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a UDP length shorter than the IP payload ends the payload there', () => {
    expectOk(decodeUdp(LINK.RAW, v4({ payload: udp4({ length: 8 + 3 }) })), OK4, ANSWER.subarray(0, 3));
  });
});

describe('decodeUdp IPv6', () => {
  it('skips hop-by-hop, destination options and routing headers', () => {
    const ext: [number, Buffer][] = [
      [0, Buffer.from([0x05, 0x02, 0x00, 0x00, 0x01, 0x00])], // hop-by-hop: Router Alert + PadN
      [60, Buffer.alloc(14)], // destination options, 16 bytes
      [43, Buffer.from([0, 0, 0, 0, 0, 0])], // routing type 0, no segments left
    ];
    expectOk(decodeUdp(LINK.RAW, v6({ ext })), OK6);
  });

  it('a fragment header is a fragment, even behind hop-by-hop', () => {
    expect(decodeUdp(LINK.RAW, v6({ ext: [[44, Buffer.alloc(6)]] }))).toEqual({ ok: false, reason: 'fragment' });
    expect(
      decodeUdp(LINK.RAW, v6({ ext: [[0, Buffer.alloc(6)], [44, Buffer.alloc(6)]] })),
    ).toEqual({ ok: false, reason: 'fragment' });
  });

  it('ICMPv6, TCP and no-next-header are not_udp', () => {
    expect(decodeUdp(LINK.RAW, v6({ next: 58 }))).toEqual({ ok: false, reason: 'not_udp' });
    expect(decodeUdp(LINK.RAW, v6({ ext: [[0, Buffer.alloc(6)]], next: 6 }))).toEqual({ ok: false, reason: 'not_udp' });
    expect(decodeUdp(LINK.RAW, v6({ next: 59, payload: Buffer.alloc(0) }))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.RAW, v6({ next: 59, payload: Buffer.alloc(8) }))).toEqual({ ok: false, reason: 'not_udp' });
  });

  it('a cut datagram is truncated; an extension header longer than the payload or a zero payload length is malformed', () => {
    const frame = v6();
    expect(decodeUdp(LINK.RAW, frame.subarray(0, 39))).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeUdp(LINK.RAW, frame.subarray(0, frame.length - 1))).toEqual({ ok: false, reason: 'truncated' });
    const longExt = Buffer.from(v6({ ext: [[0, Buffer.alloc(6)]] }));
    longExt[41] = 200; // hop-by-hop claims 1608 bytes
    expect(decodeUdp(LINK.RAW, longExt)).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.RAW, v6({ payloadLength: 0 }))).toEqual({ ok: false, reason: 'malformed' });
    // hop-by-hop names a destination-options header, but the payload (and the capture) end right there
    expect(decodeUdp(LINK.RAW, v6({ ext: [[0, Buffer.alloc(6)]], next: 60, payload: Buffer.alloc(0) }))).toEqual({ ok: false, reason: 'malformed' });
    expect(decodeUdp(LINK.RAW, v6({ payload: udp4({ length: 200 }) }))).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('formatIpv6 (RFC 5952, as inet_ntop prints)', () => {
  it.each([
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // tie: the first run
    ['2001:0000:0000:0001:0000:0000:0000:0001', '2001:0:0:1::1'], // the longer run wins
    ['2001:0DB8:0000:0000:0000:0000:0000:0000', '2001:db8::'],
    ['FE80:0000:0000:0000:ABCD:00EF:0000:0001', 'fe80::abcd:ef:0:1'],
    ['0000:0000:0000:0000:0000:FFFF:C000:0201', '::ffff:192.0.2.1'],
  ])('%s → %s', (full, want) => {
    const b = Buffer.concat([Buffer.from([0xee]), ipv6Bytes(full)]);
    expect(formatIpv6(b, 1)).toBe(want);
  });

  it('agrees with the WHATWG URL serializer on 2000 random addresses with zero runs', () => {
    let seed = 0x5eed;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let n = 0; n < 2000; n++) {
      const b = Buffer.alloc(16);
      for (let g = 0; g < 8; g++) if (next() % 3 !== 0) b.writeUInt16BE(next() % 2 ? next() & 0xffff : next() & 0xf, 2 * g);
      const mapped = b.subarray(0, 10).every((x) => x === 0) && b.readUInt16BE(10) === 0xffff;
      if (mapped) continue; // URL prints these in hex; inet_ntop in dotted form (tested above)
      const url = new URL(`http://[${[0, 1, 2, 3, 4, 5, 6, 7].map((g) => b.readUInt16BE(2 * g).toString(16)).join(':')}]/`);
      expect(formatIpv6(b, 0)).toBe(url.hostname.slice(1, -1));
    }
  });
});

describe('canonicalIp', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    [' 192.0.2.1 ', '192.0.2.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['2001:DB8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['fe80::1%en0', 'fe80::1'],
    ['[fe80::1%25utun3]', 'fe80::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:C000:0201', '192.0.2.1'],
    ['0:0:0:0:0:ffff:c000:201', '192.0.2.1'],
    ['::', '::'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
  ])('%s → %s', (text, want) => {
    expect(canonicalIp(text)).toBe(want);
  });

  it.each(['', 'example.com', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.04', '1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1', '[::1]:53', '1.2.3.4:53', ':::'])(
    '%j is not an IP',
    (text) => {
      expect(canonicalIp(text)).toBeNull();
    },
  );

  it('is the identity on formatIpv6 output except for v4-mapped addresses', () => {
    for (const text of ['2001:db8::1', '::1', 'fe80::abcd:ef:0:1', '2001:0:0:1::1']) {
      expect(canonicalIp(formatIpv6(ipv6Bytes(text), 0))).toBe(text);
    }
    expect(canonicalIp(formatIpv6(ipv6Bytes('::ffff:c000:201'), 0))).toBe('192.0.2.1');
  });
});
