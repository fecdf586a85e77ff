import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDnsNameCache } from './name-cache.js';
import { emptyStats, learnFromPacket, type TrustedResolvers } from './learn.js';
import { CaptureStreamParser } from './parse-capture.js';
import { buildDnsMessage, NXDOMAIN_FLAGS, RESPONSE_FLAGS, TYPE } from './testing/dns-wire.js';
import { ethernet, ETHERTYPE, ipv4, ipv6, nullHeader, udp } from './testing/frames.js';

const EN10MB = 1;
const NULL = 0;
const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');

const answer = (name: string, address: string, flags = RESPONSE_FLAGS) =>
  buildDnsMessage({ id: 9, flags, questions: [{ name, type: TYPE.A }], answers: flags === RESPONSE_FLAGS ? [{ name, type: TYPE.A, ttl: 60, data: address }] : [] });
function onEthernet(src: string, srcPort: number, dns: Buffer, interfaceName?: string) {
  const data = ethernet(ETHERTYPE.IPV4, ipv4({ src, dst: '192.168.1.20', payload: udp({ srcPort, dstPort: 50123, payload: dns }) }));
  return interfaceName === undefined ? { linkType: EN10MB, data } : { linkType: EN10MB, data, interfaceName };
}

function setup(trusted: TrustedResolvers) {
  const names = createDnsNameCache({ maxNames: 100, maxTtl: 86_400, grace: 0, lateSlack: 0 });
  const stats = emptyStats();
  const untrustedSeen = new Set<string>();
  return { names, stats, untrustedSeen, o: { trusted, names, at: 1000, stats, untrustedSeen } };
}

describe('learnFromPacket (one captured packet → names, every outcome counted)', () => {
  it('learns a trusted resolver\'s answer and counts what it ignores', () => {
    const { names, stats, untrustedSeen, o } = setup(new Map([['192.168.1.1', new Set(['en0'])]]));
    expect(learnFromPacket(onEthernet('192.168.1.1', 53, answer('a.example.com', '198.51.100.1'), 'en0'), o)).toBe(1);
    // another server, the resolver from another port (not a DNS response), NXDOMAIN, garbage DNS, a cut frame
    expect(learnFromPacket(onEthernet('203.0.113.53', 53, answer('www.apple.com', '198.51.100.2'), 'en0'), o)).toBe(0);
    expect(learnFromPacket(onEthernet('192.168.1.1', 5353, answer('b.example.com', '198.51.100.3'), 'en0'), o)).toBe(0);
    expect(learnFromPacket(onEthernet('192.168.1.1', 53, answer('c.example.com', '', NXDOMAIN_FLAGS), 'en0'), o)).toBe(0);
    expect(learnFromPacket(onEthernet('192.168.1.1', 53, Buffer.from('not dns at all'), 'en0'), o)).toBe(0);
    const cut = onEthernet('192.168.1.1', 53, answer('d.example.com', '198.51.100.4'), 'en0');
    expect(learnFromPacket({ ...cut, data: cut.data.subarray(0, 30) }, o)).toBe(0);
    expect(stats).toEqual({ ...emptyStats(), packets: 6, answers: 1, labels: 1, untrusted: 2, unlabeled: 1, malformed: 2 });
    expect([...untrustedSeen]).toEqual(['203.0.113.53', '192.168.1.1']);
    expect(names.nameFor('198.51.100.1', 1000)).toBe('a.example.com');
    expect(names.nameFor('198.51.100.2', 1000)).toBe('');
    expect(names.nameFor('198.51.100.3', 1000)).toBe('');
  });

  it('a resolver reached through en0 counts only when captured on en0 (not a VM bridge, not unknown)', () => {
    const { names, stats, o } = setup(new Map([['192.168.1.1', new Set(['en0'])]]));
    // a VM guest on bridge100 writes the router's address as its source
    expect(learnFromPacket(onEthernet('192.168.1.1', 53, answer('www.apple.com', '203.0.113.66'), 'bridge100'), o)).toBe(0);
    expect(learnFromPacket(onEthernet('192.168.1.1', 53, answer('www.apple.com', '203.0.113.66')), o)).toBe(0);
    expect(stats.misplaced).toBe(2);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('a Mac owns fe80::1 on lo0: a local process answering from it there is not the en0 router', () => {
    const { names, stats, o } = setup(new Map([['fe80::1', new Set(['en0'])]]));
    const apple = answer('www.apple.com', '203.0.113.66');
    const lo0 = nullHeader(30, 'le', ipv6({ src: 'fe80::1', dst: 'fe80::1', payload: udp({ srcPort: 53, dstPort: 50000, payload: apple }) }));
    expect(learnFromPacket({ linkType: NULL, data: lo0, interfaceName: 'lo0' }, o)).toBe(0);
    expect(learnFromPacket({ linkType: NULL, data: lo0 }, o)).toBe(0);
    expect(stats.misplaced).toBe(2);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('an IPv6 packet from a v4-mapped source is never the IPv4 resolver', () => {
    const { names, stats, o } = setup(new Map([['192.168.1.1', null]]));
    const data = ethernet(ETHERTYPE.IPV6, ipv6({ src: '::ffff:c0a8:101', dst: 'fd00::20', payload: udp({ srcPort: 53, dstPort: 50000, payload: answer('www.apple.com', '203.0.113.66') }) }));
    expect(learnFromPacket({ linkType: EN10MB, data, interfaceName: 'en0' }, o)).toBe(0);
    expect(stats.misplaced).toBe(1);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
  });

  it('Linux: a container writing "127.0.0.53:53" on its veth is not systemd-resolved (captured live: netns + veth, SLL2)', () => {
    const { names, stats, o } = setup(new Map([['127.0.0.53', null]]));
    const parser = new CaptureStreamParser();
    const packets = parser.push(readFileSync(path.join(FIXTURES, 'forged-127.0.0.53-on-veth-sll2.pcap')));
    expect(packets).toHaveLength(1);
    expect(learnFromPacket(packets[0]!, o)).toBe(0);
    expect(stats.misplaced).toBe(1);
    expect(names.nameFor('203.0.113.66', 1000)).toBe('');
    // the same stub answering over lo (the real capture of the parser tests) counts
    const real = new CaptureStreamParser().push(readFileSync(path.join(FIXTURES, 'dns-any-sll2.pcap')));
    const fromStub = setup(new Map([['127.0.53.53', null]]));
    expect(real.map((p) => learnFromPacket(p, fromStub.o)).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('a resolver nothing binds to an interface: any interface but loopback', () => {
    const { names, stats, o } = setup(new Map([['9.9.9.9', null]]));
    expect(learnFromPacket(onEthernet('9.9.9.9', 53, answer('a.example.com', '198.51.100.1'), 'en7'), o)).toBe(1);
    const lo0 = nullHeader(2, 'le', ipv4({ src: '9.9.9.9', dst: '127.0.0.1', payload: udp({ srcPort: 53, dstPort: 50000, payload: answer('www.apple.com', '203.0.113.66') }) }));
    expect(learnFromPacket({ linkType: NULL, data: lo0, interfaceName: 'lo0' }, o)).toBe(0);
    expect(stats).toMatchObject({ answers: 1, misplaced: 1 });
    expect(names.nameFor('198.51.100.1', 1000)).toBe('a.example.com');
  });
});
