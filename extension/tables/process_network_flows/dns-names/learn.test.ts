import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDnsNameCache } from './name-cache.js';
import { emptyStats, learnFromPacket, type LearnOptions, type TrustedResolvers } from './learn.js';
import { PendingQueries } from './match-queries.js';
import { CaptureStreamParser, type CapturedPacket } from './parse-capture.js';
import { buildAnswer, buildDnsMessage, buildQuery, NXDOMAIN_FLAGS, RESPONSE_FLAGS, TYPE } from './testing/dns-wire.js';
import { ARPHRD, ethernet, ETHERTYPE, ipv4, ipv6, nullHeader, PACKET, sll, sll2, udp } from './testing/frames.js';

const EN10MB = 1;
const NULL = 0;
const SLL = 113;
const SLL2 = 276;
const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');
const ROUTER = '192.168.1.1';
const MAC = '192.168.1.20';

type Packet = Pick<CapturedPacket, 'linkType' | 'data' | 'interfaceName' | 'interfaceIndex' | 'direction'>;
interface Where {
  interfaceName?: string;
  direction?: 'in' | 'out';
}
const where = (p: Packet, w: Where): Packet => ({ ...p, ...(w.interfaceName !== undefined ? { interfaceName: w.interfaceName } : {}), ...(w.direction ? { direction: w.direction } : {}) });

/** A UDP datagram in a Linux cooked v2 frame over Ethernet: captured on `ifindex`, sll_pkttype `packetType`. */
function sll2Udp(src: string, dst: string, srcPort: number, dstPort: number, payload: Buffer, ifindex: number, packetType: number): Packet {
  return { linkType: SLL2, data: sll2(ETHERTYPE.IPV4, ipv4({ src, dst, payload: udp({ srcPort, dstPort, payload }) }), { ifindex, packetType, arphrd: ARPHRD.ETHER }) };
}

/** The same in Linux cooked v1, which records no interface. */
function sllUdp(src: string, dst: string, srcPort: number, dstPort: number, payload: Buffer, packetType: number): Packet {
  return { linkType: SLL, data: sll(ETHERTYPE.IPV4, ipv4({ src, dst, payload: udp({ srcPort, dstPort, payload }) }), { packetType, arphrd: ARPHRD.ETHER }) };
}

/** What a stub on this Mac sends: `id`, one A question, from `port` to the resolver's port 53. */
function query(name: string, o: { id?: number; port?: number; server?: string; type?: number } & Where = {}): Packet {
  const dns = buildQuery(o.id ?? 9, name, o.type ?? TYPE.A);
  const data = ethernet(ETHERTYPE.IPV4, ipv4({ src: MAC, dst: o.server ?? ROUTER, payload: udp({ srcPort: o.port ?? 50123, dstPort: 53, payload: dns }) }));
  return where({ linkType: EN10MB, data }, { interfaceName: 'en0', direction: 'out', ...o });
}

/** The resolver's answer giving `address` for `name`, echoing `qname` (default `name`) as its question. */
function answer(name: string, address: string, o: { id?: number; port?: number; server?: string; srcPort?: number; flags?: number; qname?: string; qtype?: number; dns?: Buffer } & Where = {}): Packet {
  const flags = o.flags ?? RESPONSE_FLAGS;
  const dns =
    o.dns ??
    buildDnsMessage({ id: o.id ?? 9, flags, questions: [{ name: o.qname ?? name, type: o.qtype ?? TYPE.A }], answers: flags === RESPONSE_FLAGS ? [{ name: o.qname ?? name, type: TYPE.A, ttl: 60, data: address }] : [] });
  const data = ethernet(ETHERTYPE.IPV4, ipv4({ src: o.server ?? ROUTER, dst: MAC, payload: udp({ srcPort: o.srcPort ?? 53, dstPort: o.port ?? 50123, payload: dns }) }));
  return where({ linkType: EN10MB, data }, { interfaceName: 'en0', direction: 'in', ...o });
}

function setup(trusted: TrustedResolvers = new Map([[ROUTER, new Set(['en0'])]]), pendingOpts = { maxPending: 16, timeoutMs: 10_000 }) {
  const names = createDnsNameCache({ maxNames: 100, maxTtl: 86_400, grace: 0, lateSlack: 0 });
  const stats = emptyStats();
  const untrustedSeen = new Set<string>();
  const o: LearnOptions = { trusted, names, pending: new PendingQueries(pendingOpts, stats), at: 1000, nowMs: 1_000_000, stats, untrustedSeen };
  const feed = (p: Packet, nowMs = o.nowMs) => learnFromPacket(p, { ...o, nowMs });
  return { names, stats, untrustedSeen, o, feed };
}

describe('learnFromPacket: an answer names only when it answers a query this host sent', () => {
  it('a query out on en0 and its answer in on en0 name the address; every other outcome is counted', () => {
    const { names, stats, untrustedSeen, feed } = setup();
    expect(feed(query('a.example.com'))).toBe(0);
    expect(feed(answer('a.example.com', '198.51.100.1'))).toBe(1);
    expect(names.nameFor('198.51.100.1', 1000)).toBe('a.example.com');
    // another server, the resolver from another port, NXDOMAIN to a real query, garbage DNS, a cut frame
    expect(feed(answer('www.apple.com', '198.51.100.2', { server: '203.0.113.53' }))).toBe(0);
    expect(feed(answer('b.example.com', '198.51.100.3', { srcPort: 5353 }))).toBe(0);
    feed(query('c.example.com', { id: 3 }));
    expect(feed(answer('c.example.com', '', { id: 3, flags: NXDOMAIN_FLAGS }))).toBe(0);
    // a response header whose question runs past the message
    expect(feed(answer('x', '', { dns: Buffer.concat([Buffer.from([0, 9, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]), Buffer.from('\x07cut')]) }))).toBe(0);
    const cut = answer('d.example.com', '198.51.100.4');
    expect(feed({ ...cut, data: cut.data.subarray(0, 30) })).toBe(0);
    expect(stats).toEqual({ ...emptyStats(), packets: 8, queries: 2, sentOffLoopback: 2, answers: 1, labels: 1, untrusted: 2, unlabeled: 1, malformed: 2 });
    expect([...untrustedSeen]).toEqual(['203.0.113.53', ROUTER]);
    expect(names.nameFor('198.51.100.2', 1000)).toBe('');
  });

  it('a blind spoof names nothing: no query, another id, port, client address, question name, type or class', () => {
    const { names, stats, feed } = setup();
    expect(feed(answer('www.apple.com', '203.0.113.66'))).toBe(0);
    feed(query('www.apple.com', { id: 0x4242, port: 61000 }));
    const spoofs = [
      answer('www.apple.com', '203.0.113.66', { id: 0x4243, port: 61000 }),
      answer('www.apple.com', '203.0.113.66', { id: 0x4242, port: 61001 }),
      answer('www.apple.com', '203.0.113.66', { id: 0x4242, port: 61000, qname: 'www.apple.com.evil.example' }),
      answer('www.apple.com', '203.0.113.66', { id: 0x4242, port: 61000, qtype: TYPE.AAAA }),
      answer('www.apple.com', '203.0.113.66', {
        id: 0x4242,
        port: 61000,
        dns: buildDnsMessage({ id: 0x4242, flags: RESPONSE_FLAGS, questions: [{ name: 'www.apple.com', type: TYPE.A, class: 3 }], answers: [{ name: 'www.apple.com', type: TYPE.A, ttl: 60, data: '203.0.113.66' }] }),
      }),
    ];
    for (const s of spoofs) expect(feed(s)).toBe(0);
    // to another address of this host's: same ports, id and question, but not where the query came from
    const other = answer('www.apple.com', '203.0.113.66', { id: 0x4242, port: 61000 });
    const otherData = Buffer.from(other.data);
    otherData[14 + 19] = 21; // destination 192.168.1.21
    expect(feed({ ...other, data: otherData })).toBe(0);
    expect(stats).toMatchObject({ queries: 1, unmatched: 7, answers: 0 });
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    // the real answer is still welcome, with the 0x20 mixed case a resolver echoes
    expect(feed(answer('WwW.ApPlE.cOm', '17.253.144.10', { id: 0x4242, port: 61000 }))).toBe(1);
    expect(names.nameFor('17.253.144.10', 1000)).toBe('www.apple.com');
  });

  it('an answer captured on another interface than its query is not its answer', () => {
    // a resolver nothing binds to an interface (resolv.conf, dns_names.resolvers): a VM guest on bridge100 writes
    // its address, with the ports, id and question of the Mac's query on en0
    const { names, stats, feed } = setup(new Map([['9.9.9.9', null]]));
    feed(query('www.apple.com', { server: '9.9.9.9' }));
    expect(feed(answer('www.apple.com', '203.0.113.66', { server: '9.9.9.9', interfaceName: 'bridge100' }))).toBe(0);
    expect(stats).toMatchObject({ misplaced: 0, unmatched: 1 });
    expect(feed(answer('www.apple.com', '17.253.144.10', { server: '9.9.9.9' }))).toBe(1);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    expect(names.nameFor('17.253.144.10', 1000)).toBe('www.apple.com');
  });

  it('Linux cooked v2: interfaces by index, direction by packet type', () => {
    const { names, stats, feed } = setup(new Map([['9.9.9.9', null]]));
    const dnsAnswer = (address: string) => buildAnswer(77, 'a.example.com', address, 60);
    feed(sll2Udp('10.0.0.5', '9.9.9.9', 40000, 53, buildQuery(77, 'a.example.com', TYPE.A), 2, PACKET.OUTGOING));
    // a container's veth (ifindex 9) carrying the resolver's address and the query's ports, id and question
    expect(feed(sll2Udp('9.9.9.9', '10.0.0.5', 53, 40000, dnsAnswer('203.0.113.66'), 9, PACKET.HOST))).toBe(0);
    expect(feed(sll2Udp('9.9.9.9', '10.0.0.5', 53, 40000, dnsAnswer('198.51.100.1'), 2, PACKET.HOST))).toBe(1);
    // a query that came in (this host is not who asked) is no query of this host's
    feed(sll2Udp('10.0.0.5', '9.9.9.9', 40001, 53, buildQuery(78, 'b.example.com', TYPE.A), 2, PACKET.HOST));
    expect(stats).toMatchObject({ queries: 1, foreignQueries: 1, undirectedQueries: 0, unmatched: 1, answers: 1 });
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    expect(names.nameFor('198.51.100.1', 1000)).toBe('a.example.com');
  });

  it('a second answer to one query: neither names anything, the first is taken back', () => {
    const { names, stats, feed } = setup();
    names.learn([{ address: '198.51.100.9', name: 'other.example.com', ttl: 60 }], 999);
    feed(query('www.apple.com', { id: 5 }));
    // the forger wins the race; the resolver's own answer follows
    expect(feed(answer('www.apple.com', '203.0.113.66', { id: 5 }))).toBe(1);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('www.apple.com');
    expect(feed(answer('www.apple.com', '17.253.144.10', { id: 5 }))).toBe(0);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    expect(names.nameFor('17.253.144.10', 1000)).toBe('');
    // a third answer has nothing left to take back, and an unrelated name stays
    expect(feed(answer('www.apple.com', '198.51.100.9', { id: 5 }))).toBe(0);
    expect(names.nameFor('198.51.100.9', 1000)).toBe('other.example.com');
    expect(stats).toMatchObject({ queries: 1, answers: 1, duplicates: 2 });
  });

  it('the resolver\'s error reply without its question, after a forged answer, is a second answer: the forgery is taken back', () => {
    const { names, stats, feed } = setup();
    feed(query('www.apple.com', { id: 5 }));
    expect(feed(answer('www.apple.com', '203.0.113.66', { id: 5 }))).toBe(1);
    const servfail = buildDnsMessage({ id: 5, flags: 0x8182, questions: [], answers: [] });
    expect(feed(answer('www.apple.com', '', { id: 5, dns: servfail }))).toBe(0);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    // so is an answer to another question in the same transaction
    feed(query('www.apple.com', { id: 6 }));
    expect(feed(answer('www.apple.com', '203.0.113.67', { id: 6 }))).toBe(1);
    expect(feed(answer('icloud.com', '17.253.144.10', { id: 6 }))).toBe(0);
    expect(names.nameFor('203.0.113.67', 1000)).toBe('');
    expect(stats).toMatchObject({ queries: 2, answers: 2, duplicates: 2, unmatched: 0 });
  });

  it('Linux cooked v1 (no interface): a NATed guest cannot answer its own forwarded query on its veth', () => {
    // The guest's query comes in on its veth, goes out NATed with its source port kept; the guest
    // keeps the resolver from answering and writes the answer itself. SLL v1 records no interface to tell them apart.
    const R = '8.8.8.8';
    const HOST_IP = '192.168.1.20';
    const GUEST = '172.17.0.2';
    const { names, stats, feed } = setup(new Map([[R, null]]));
    feed(sllUdp(GUEST, R, 41000, 53, buildQuery(0x1234, 'www.apple.com', TYPE.A), PACKET.HOST));
    feed(sllUdp(HOST_IP, R, 41000, 53, buildQuery(0x1234, 'www.apple.com', TYPE.A), PACKET.OUTGOING));
    expect(feed(sllUdp(R, HOST_IP, 53, 41000, buildAnswer(0x1234, 'www.apple.com', '203.0.113.66', 3600), PACKET.HOST))).toBe(0);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    // this host's own query, even to the same resolver from a port a guest used before, still names
    feed(sllUdp(HOST_IP, R, 41000, 53, buildQuery(0x4321, 'icloud.com', TYPE.A), PACKET.OUTGOING));
    expect(feed(sllUdp(R, HOST_IP, 53, 41000, buildAnswer(0x4321, 'icloud.com', '17.253.144.10', 3600), PACKET.HOST))).toBe(1);
    expect(stats).toMatchObject({ foreignQueries: 1, forwarded: 1, queries: 1, unmatched: 1, answers: 1, duplicates: 0 });
  });

  it('Linux cooked v1: nor when the NAT also rewrites the guest\'s resolver to a trusted one (DNAT 10.0.2.3 → 8.8.8.8)', () => {
    // The guest asks the address its NAT gives it as resolver, untrusted here; the NAT sends the query on to the
    // trusted 8.8.8.8 with the guest's port, id and question. The guest then answers it itself on its veth.
    const R = '8.8.8.8';
    const GUEST_RESOLVER = '10.0.2.3';
    const HOST_IP = '192.168.1.20';
    const GUEST = '10.0.2.15';
    const { names, stats, feed } = setup(new Map([[R, null]]));
    feed(sllUdp(GUEST, GUEST_RESOLVER, 41000, 53, buildQuery(0x1234, 'www.apple.com', TYPE.A), PACKET.HOST));
    feed(sllUdp(HOST_IP, R, 41000, 53, buildQuery(0x1234, 'www.apple.com', TYPE.A), PACKET.OUTGOING));
    // the guest's forgery, written on its veth with the resolver's address as source
    expect(feed(sllUdp(R, HOST_IP, 53, 41000, buildAnswer(0x1234, 'www.apple.com', '203.0.113.66', 3600), PACKET.HOST))).toBe(0);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    expect(stats).toMatchObject({ otherQueries: 1, foreignQueries: 0, forwarded: 1, queries: 0, unmatched: 1, answers: 0 });
    // this host's own query from the same port, with another id, still names
    feed(sllUdp(HOST_IP, R, 41000, 53, buildQuery(0x4321, 'www.apple.com', TYPE.A), PACKET.OUTGOING));
    expect(feed(sllUdp(R, HOST_IP, 53, 41000, buildAnswer(0x4321, 'www.apple.com', '17.253.144.10', 3600), PACKET.HOST))).toBe(1);
    expect(stats).toMatchObject({ forwarded: 1, queries: 1, answers: 1, duplicates: 0 });
  });

  it('Linux cooked v2: with DNAT of the guest\'s resolver, the resolver\'s genuine answer to the guest\'s query names nothing', () => {
    const R = '8.8.8.8';
    const { names, stats, feed } = setup(new Map([[R, null]]));
    // in on the guest's veth (9) to 10.0.2.3, out on eth0 (2) to 8.8.8.8, its answer in on eth0
    feed(sll2Udp('10.0.2.15', '10.0.2.3', 40000, 53, buildQuery(77, 'evil.example', TYPE.A), 9, PACKET.HOST));
    feed(sll2Udp('10.0.0.5', R, 40000, 53, buildQuery(77, 'evil.example', TYPE.A), 2, PACKET.OUTGOING));
    expect(feed(sll2Udp(R, '10.0.0.5', 53, 40000, buildAnswer(77, 'evil.example', '17.253.144.10', 60), 2, PACKET.HOST))).toBe(0);
    expect(names.nameFor('17.253.144.10', 1000)).toBe('');
    expect(stats).toMatchObject({ otherQueries: 1, forwarded: 1, queries: 0, unmatched: 1, answers: 0 });
  });

  it('Linux cooked v2: a guest\'s lookups this host forwards (NAT or a bridge) do not name addresses for it', () => {
    // the genuine answer to a guest's query is of the guest's choosing: a lookup of its own zone can name any address
    const R = '9.9.9.9';
    const { names, stats, feed } = setup(new Map([[R, null]]));
    const dnsAnswer = (id: number, address: string) => buildAnswer(id, 'evil.example', address, 60);
    // NAT: in on the container's veth (9), out on eth0 (2) from this host's address, the port kept
    feed(sll2Udp('172.17.0.2', R, 40000, 53, buildQuery(77, 'evil.example', TYPE.A), 9, PACKET.HOST));
    feed(sll2Udp('10.0.0.5', R, 40000, 53, buildQuery(77, 'evil.example', TYPE.A), 2, PACKET.OUTGOING));
    expect(feed(sll2Udp(R, '10.0.0.5', 53, 40000, dnsAnswer(77, '17.253.144.10'), 2, PACKET.HOST))).toBe(0);
    // a bridge: the guest's own address both ways, in on its tap (7), out through the uplink (2)
    feed(sll2Udp('10.0.0.9', R, 40001, 53, buildQuery(78, 'evil.example', TYPE.A), 7, PACKET.OTHERHOST));
    feed(sll2Udp('10.0.0.9', R, 40001, 53, buildQuery(78, 'evil.example', TYPE.A), 2, PACKET.OUTGOING));
    expect(feed(sll2Udp(R, '10.0.0.9', 53, 40001, dnsAnswer(78, '17.253.144.11'), 2, PACKET.OTHERHOST))).toBe(0);
    expect(names.nameFor('17.253.144.10', 1000)).toBe('');
    expect(names.nameFor('17.253.144.11', 1000)).toBe('');
    expect(stats).toMatchObject({ foreignQueries: 2, forwarded: 2, queries: 0, unmatched: 2, answers: 0 });
  });

  it('Linux cooked v2: queries from the Internet to this host\'s own address cannot push a guest\'s inbound copy out', () => {
    // Inbound queries to any server's port 53 are remembered, including ones a remote party
    // sends to this host's public address (captured though nothing listens or the firewall drops them). Between the
    // guest's copy in on its veth and its forwarded copy out on the uplink (the capture sees an outgoing packet when
    // the driver sends it, after the uplink's queue), a cap's worth of them came in on the uplink: they push out the
    // uplink's own entries, not the veth's.
    const R = '9.9.9.9';
    const { names, stats, feed } = setup(new Map([[R, null]]), { maxPending: 16, timeoutMs: 10_000 });
    feed(sll2Udp('172.17.0.2', R, 40000, 53, buildQuery(77, 'evil.example', TYPE.A), 9, PACKET.HOST));
    for (let i = 0; i < 16; i++) feed(sll2Udp('198.51.100.7', '10.0.0.5', 1024 + i, 53, buildQuery(i, `x${i}.example`, TYPE.A), 2, PACKET.HOST));
    feed(sll2Udp('10.0.0.5', R, 40000, 53, buildQuery(77, 'evil.example', TYPE.A), 2, PACKET.OUTGOING));
    expect(feed(sll2Udp(R, '10.0.0.5', 53, 40000, buildAnswer(77, 'evil.example', '17.253.144.10', 60), 2, PACKET.HOST))).toBe(0);
    expect(stats).toMatchObject({ forwarded: 1, queries: 0, unmatched: 1, answers: 0, inboundEvicted: 1 });
    expect(names.nameFor('17.253.144.10', 1000)).toBe('');
  });

  it('taking back leaves an address alone that a later answer named', () => {
    const { names, feed, o } = setup();
    feed(query('www.apple.com', { id: 5 }));
    feed(answer('www.apple.com', '203.0.113.66', { id: 5 }));
    feed(query('cdn.example.com', { id: 6 }));
    learnFromPacket(answer('cdn.example.com', '203.0.113.66', { id: 6 }), { ...o, at: 1001 });
    feed(answer('www.apple.com', '203.0.113.66', { id: 5 }));
    expect(names.nameFor('203.0.113.66', 1001)).toBe('cdn.example.com');
  });

  it('an answer after dns_names.query_timeout matches nothing, and the query is counted as expired', () => {
    const { names, stats, feed } = setup(undefined, { maxPending: 16, timeoutMs: 10_000 });
    feed(query('slow.example.com'), 1_000_000);
    expect(feed(answer('slow.example.com', '198.51.100.1'), 1_010_000)).toBe(0);
    expect(stats).toMatchObject({ queries: 1, expired: 1, unmatched: 1 });
    feed(query('slow.example.com'), 1_020_000);
    expect(feed(answer('slow.example.com', '198.51.100.1'), 1_029_999)).toBe(1);
    expect(names.nameFor('198.51.100.1', 1000)).toBe('slow.example.com');
  });

  it('at dns_names.max_pending_queries the oldest query goes, counted; its answer then matches nothing', () => {
    const { stats, feed } = setup(undefined, { maxPending: 4, timeoutMs: 10_000 });
    for (let i = 0; i < 10; i++) feed(query(`q${i}.example.com`, { id: i, port: 40000 + i }));
    expect(stats).toMatchObject({ queries: 10, evicted: 6 });
    expect(feed(answer('q0.example.com', '198.51.100.1', { id: 0, port: 40000 }))).toBe(0);
    expect(feed(answer('q9.example.com', '198.51.100.2', { id: 9, port: 40009 }))).toBe(1);
    expect(stats).toMatchObject({ unmatched: 1, answers: 1 });
  });

  it('a flood of queries after a forged answer cannot push the exchange out to save the forgery from the resolver\'s answer', () => {
    const { names, stats, feed } = setup(undefined, { maxPending: 16, timeoutMs: 10_000 });
    feed(query('www.apple.com', { id: 5, port: 50000 }));
    expect(feed(answer('www.apple.com', '203.0.113.66', { id: 5, port: 50000 }))).toBe(1);
    // any local process can send these, faster than the resolver answers
    for (let i = 0; i < 16; i++) feed(query(`flood${i}.example.com`, { id: 100 + i, port: 40000 + i }));
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    expect(feed(answer('www.apple.com', '17.253.144.10', { id: 5, port: 50000 }))).toBe(0);
    expect(stats).toMatchObject({ answers: 1, unmatched: 1, revokedAtCap: 1 });
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('queries this host cannot be shown to have sent are not counted as its own', () => {
    const { names, stats, feed } = setup(new Map([['9.9.9.9', null]]));
    // inbound on a bridge (a guest asking, or writing the Mac's address as its source), and with no direction at all
    feed(query('www.apple.com', { server: '9.9.9.9', direction: 'in' }));
    feed({ ...query('www.apple.com', { server: '9.9.9.9', id: 10 }), direction: undefined } as Packet);
    expect(feed(answer('www.apple.com', '203.0.113.66', { server: '9.9.9.9' }))).toBe(0);
    expect(feed(answer('www.apple.com', '203.0.113.66', { server: '9.9.9.9', id: 10 }))).toBe(0);
    // queries to a server that is not a trusted resolver, with two questions, or to another port are not tracked
    feed(query('www.apple.com', { server: '203.0.113.53' }));
    const two = buildDnsMessage({ id: 11, flags: 0x0100, questions: [{ name: 'a.example.com', type: TYPE.A }, { name: 'b.example.com', type: TYPE.A }] });
    feed(where({ linkType: EN10MB, data: ethernet(ETHERTYPE.IPV4, ipv4({ src: MAC, dst: '9.9.9.9', payload: udp({ srcPort: 50123, dstPort: 53, payload: two }) })) }, { interfaceName: 'en0', direction: 'out' }));
    feed(where({ linkType: EN10MB, data: ethernet(ETHERTYPE.IPV4, ipv4({ src: MAC, dst: '9.9.9.9', payload: udp({ srcPort: 50123, dstPort: 5353, payload: buildQuery(12, 'a.local', TYPE.A) }) })) }, { interfaceName: 'en0', direction: 'out' }));
    expect(stats).toMatchObject({ queries: 0, foreignQueries: 2, undirectedQueries: 1, otherQueries: 3, unmatched: 2 });
    expect(names.size).toBe(0);
  });

  it('on loopback every packet is this host\'s: a query counts whichever way the capture says it went', () => {
    const { names, stats, feed } = setup(new Map([['127.0.0.53', null]]));
    const lo = (src: string, dst: string, srcPort: number, dstPort: number, dns: Buffer): Packet => ({
      linkType: SLL2,
      // Linux shows loopback packets once, as received (PACKET_HOST)
      data: sll2(ETHERTYPE.IPV4, ipv4({ src, dst, payload: udp({ srcPort, dstPort, payload: dns }) }), { ifindex: 1, arphrd: ARPHRD.LOOPBACK, packetType: PACKET.HOST }),
    });
    feed(lo('127.0.0.1', '127.0.0.53', 45000, 53, buildQuery(1, 'a.example.com', TYPE.A)));
    const dns = buildAnswer(1, 'a.example.com', '198.51.100.1', 60);
    expect(feed(lo('127.0.0.53', '127.0.0.1', 53, 45000, dns))).toBe(1);
    expect(stats).toMatchObject({ queries: 1, answers: 1 });
    expect(names.nameFor('198.51.100.1', 1000)).toBe('a.example.com');
  });

  it('truncated packets: a cut query is no query; a cut answer leaves its query waiting for the whole one', () => {
    const { names, stats, feed } = setup();
    const q = query('a.example.com', { id: 1 });
    // cut inside the IP datagram (snaplen), then inside the DNS question (a UDP length that lies)
    feed({ ...q, data: q.data.subarray(0, 50) });
    expect(feed(answer('a.example.com', '198.51.100.1', { id: 1 }))).toBe(0);
    const shortDns = buildQuery(2, 'b.example.com', TYPE.A).subarray(0, 20);
    feed(where({ linkType: EN10MB, data: ethernet(ETHERTYPE.IPV4, ipv4({ src: MAC, dst: ROUTER, payload: udp({ srcPort: 50123, dstPort: 53, payload: shortDns }) })) }, { interfaceName: 'en0', direction: 'out' }));
    feed(query('c.example.com', { id: 3 }));
    const a = answer('c.example.com', '198.51.100.3', { id: 3 });
    expect(feed({ ...a, data: a.data.subarray(0, a.data.length - 3) })).toBe(0);
    const cutDns = buildAnswer(3, 'c.example.com', '198.51.100.3', 60);
    expect(feed(answer('c.example.com', '', { id: 3, dns: cutDns.subarray(0, cutDns.length - 2) }))).toBe(0);
    expect(feed(a)).toBe(1);
    expect(stats).toMatchObject({ queries: 1, malformed: 4, unmatched: 1, answers: 1 });
    expect(names.nameFor('198.51.100.3', 1000)).toBe('c.example.com');
  });
});

describe('learnFromPacket on real tcpdump captures (fixtures: the scenario server on loopback)', () => {
  const packetsOf = (name: string) => new CaptureStreamParser().push(readFileSync(path.join(FIXTURES, name)));

  it.each(['dns-any-sll2.pcap', 'dns-any-sll.pcap'])('%s: every answer matches the query before it and names its addresses', (fixture) => {
    const { names, stats, feed } = setup(new Map([['127.0.53.53', null], ['::1', null]]));
    for (const p of packetsOf(fixture)) feed(p);
    expect(stats).toMatchObject({ packets: 10, queries: 5, unmatched: 0, duplicates: 0, answers: 4, unlabeled: 1, malformed: 0 });
    expect(names.nameFor('23.215.0.136', 1000)).toBe('www.example.com');
    expect(names.nameFor('2600:1406:3a00:21::2e66', 1000)).toBe('www.example.com');
    expect(names.nameFor('140.82.112.6', 1000)).toBe('api.github.com');
  });

  it('the same answers replayed without their queries name nothing', () => {
    const { names, stats, feed } = setup(new Map([['127.0.53.53', null], ['::1', null]]));
    packetsOf('dns-any-sll2.pcap').forEach((p, i) => i % 2 === 1 && feed(p));
    expect(stats).toMatchObject({ queries: 0, unmatched: 5, answers: 0 });
    expect(names.size).toBe(0);
  });

  it('a capture that records neither direction nor interface type (-i lo, Ethernet) cannot show a query is this host\'s', () => {
    const { names, stats, feed } = setup(new Map([['127.0.53.53', null], ['::1', null]]));
    for (const p of packetsOf('dns-lo-en10mb.pcap')) feed(p);
    expect(stats).toMatchObject({ queries: 0, foreignQueries: 5, undirectedQueries: 5, unmatched: 5, answers: 0 });
    expect(names.size).toBe(0);
  });
});

describe('learnFromPacket: where an answer was captured (before matching)', () => {
  it('a resolver reached through en0 counts only when captured on en0 (not a VM bridge, not unknown)', () => {
    const { names, stats, feed } = setup();
    feed(query('www.apple.com'));
    // a VM guest on bridge100 writes the router's address as its source
    expect(feed(answer('www.apple.com', '203.0.113.66', { interfaceName: 'bridge100' }))).toBe(0);
    expect(feed({ ...answer('www.apple.com', '203.0.113.66'), interfaceName: undefined } as Packet)).toBe(0);
    expect(stats.misplaced).toBe(2);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('an answer this host sent out is no answer to its query: a bridged VM guest forging one out through en0', () => {
    // A guest bridged to en0 (bridged networking: its frames leave through en0, captured outbound there) asks the
    // router from its own address and port, so its query counts as sent by this host. It keeps the router from
    // answering (a bad UDP checksum, say) and writes the answer itself, out through the bridge to any MAC.
    const { names, stats, feed } = setup();
    const GUEST = '192.168.1.50';
    const dns = buildAnswer(0x77, 'www.apple.com', '203.0.113.66', 3600);
    feed(where({ linkType: EN10MB, data: ethernet(ETHERTYPE.IPV4, ipv4({ src: GUEST, dst: ROUTER, payload: udp({ srcPort: 41000, dstPort: 53, payload: buildQuery(0x77, 'www.apple.com', TYPE.A) }) })) }, { interfaceName: 'en0', direction: 'out' }));
    const forged = where({ linkType: EN10MB, data: ethernet(ETHERTYPE.IPV4, ipv4({ src: ROUTER, dst: GUEST, payload: udp({ srcPort: 53, dstPort: 41000, payload: dns }) })) }, { interfaceName: 'en0', direction: 'out' });
    expect(feed(forged)).toBe(0);
    expect(stats).toMatchObject({ queries: 1, misplaced: 1, answers: 0 });
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    // Linux, a guest on a bridge with the uplink: sent out eth0 (PACKET_OUTGOING)
    const linux = setup(new Map([['9.9.9.9', null]]));
    const dns9 = buildAnswer(0x77, 'www.apple.com', '203.0.113.66', 3600);
    linux.feed(sll2Udp(GUEST, '9.9.9.9', 41000, 53, buildQuery(0x77, 'www.apple.com', TYPE.A), 2, PACKET.OUTGOING));
    expect(linux.feed(sll2Udp('9.9.9.9', GUEST, 53, 41000, dns9, 2, PACKET.OUTGOING))).toBe(0);
    expect(linux.stats).toMatchObject({ queries: 1, misplaced: 1, answers: 0 });
    // received, it is the resolver's answer
    expect(linux.feed(sll2Udp('9.9.9.9', GUEST, 53, 41000, dns9, 2, PACKET.HOST))).toBe(1);
  });

  it('a Mac owns fe80::1 on lo0: a local process answering from it there is not the en0 router', () => {
    const { names, stats, feed } = setup(new Map([['fe80::1', new Set(['en0'])]]));
    const apple = buildAnswer(9, 'www.apple.com', '203.0.113.66', 60);
    const lo0 = nullHeader(30, 'le', ipv6({ src: 'fe80::1', dst: 'fe80::1', payload: udp({ srcPort: 53, dstPort: 50000, payload: apple }) }));
    expect(feed({ linkType: NULL, data: lo0, interfaceName: 'lo0' })).toBe(0);
    expect(feed({ linkType: NULL, data: lo0 })).toBe(0);
    expect(stats.misplaced).toBe(2);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('an IPv6 packet from a v4-mapped source is never the IPv4 resolver', () => {
    const { names, stats, feed } = setup(new Map([[ROUTER, null]]));
    const dns = buildAnswer(9, 'www.apple.com', '203.0.113.66', 60);
    const data = ethernet(ETHERTYPE.IPV6, ipv6({ src: '::ffff:c0a8:101', dst: 'fd00::20', payload: udp({ srcPort: 53, dstPort: 50000, payload: dns }) }));
    expect(feed({ linkType: EN10MB, data, interfaceName: 'en0' })).toBe(0);
    expect(stats.misplaced).toBe(1);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('Linux: a container writing "127.0.0.53:53" on its veth is not systemd-resolved (captured live: netns + veth, SLL2)', () => {
    const { names, stats, feed } = setup(new Map([['127.0.0.53', null]]));
    const parser = new CaptureStreamParser();
    const packets = parser.push(readFileSync(path.join(FIXTURES, 'forged-127.0.0.53-on-veth-sll2.pcap')));
    expect(packets).toHaveLength(1);
    expect(feed(packets[0]!)).toBe(0);
    expect(stats.misplaced).toBe(1);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('a resolver nothing binds to an interface: any interface but loopback', () => {
    const { names, stats, feed } = setup(new Map([['9.9.9.9', null]]));
    feed(query('a.example.com', { server: '9.9.9.9', interfaceName: 'en7' }));
    expect(feed(answer('a.example.com', '198.51.100.1', { server: '9.9.9.9', interfaceName: 'en7' }))).toBe(1);
    const dns = buildAnswer(9, 'www.apple.com', '203.0.113.66', 60);
    const lo0 = nullHeader(2, 'le', ipv4({ src: '9.9.9.9', dst: '127.0.0.1', payload: udp({ srcPort: 53, dstPort: 50000, payload: dns }) }));
    expect(feed({ linkType: NULL, data: lo0, interfaceName: 'lo0' })).toBe(0);
    expect(stats).toMatchObject({ answers: 1, misplaced: 1 });
    expect(names.nameFor('198.51.100.1', 1000)).toBe('a.example.com');
  });
});
