import { describe, expect, it } from 'vitest';
import { createDnsNameCache } from './name-cache.js';
import { emptyStats, learnFromPacket } from './learn.js';
import { buildDnsMessage, NXDOMAIN_FLAGS, RESPONSE_FLAGS, TYPE } from './testing/dns-wire.js';
import { ethernet, ETHERTYPE, ipv4, udp } from './testing/frames.js';

const EN10MB = 1;

function packet(src: string, srcPort: number, dns: Buffer): Buffer {
  return ethernet(ETHERTYPE.IPV4, ipv4({ src, dst: '192.168.1.20', payload: udp({ srcPort, dstPort: 50123, payload: dns }) }));
}
const answer = (name: string, address: string, flags = RESPONSE_FLAGS) =>
  buildDnsMessage({ id: 9, flags, questions: [{ name, type: TYPE.A }], answers: flags === RESPONSE_FLAGS ? [{ name, type: TYPE.A, ttl: 60, data: address }] : [] });

describe('learnFromPacket (one captured packet → names, every outcome counted)', () => {
  it('learns a trusted resolver\'s answer and counts what it ignores', () => {
    const names = createDnsNameCache({ maxNames: 100, maxTtl: 86_400, grace: 0, lateSlack: 0 });
    const stats = emptyStats();
    const untrustedSeen = new Set<string>();
    const o = { trusted: new Set(['192.168.1.1']), names, at: 1000, stats, untrustedSeen };
    expect(learnFromPacket(EN10MB, packet('192.168.1.1', 53, answer('a.example.com', '198.51.100.1')), o)).toBe(1);
    // another server, the resolver from another port (not a DNS response), NXDOMAIN, garbage DNS, a cut frame
    expect(learnFromPacket(EN10MB, packet('203.0.113.53', 53, answer('www.apple.com', '198.51.100.2')), o)).toBe(0);
    expect(learnFromPacket(EN10MB, packet('192.168.1.1', 5353, answer('b.example.com', '198.51.100.3')), o)).toBe(0);
    expect(learnFromPacket(EN10MB, packet('192.168.1.1', 53, answer('c.example.com', '', NXDOMAIN_FLAGS)), o)).toBe(0);
    expect(learnFromPacket(EN10MB, packet('192.168.1.1', 53, Buffer.from('not dns at all')), o)).toBe(0);
    expect(learnFromPacket(EN10MB, packet('192.168.1.1', 53, answer('d.example.com', '198.51.100.4')).subarray(0, 30), o)).toBe(0);
    expect(stats).toEqual({ ...emptyStats(), packets: 6, answers: 1, labels: 1, untrusted: 2, unlabeled: 1, malformed: 2 });
    expect([...untrustedSeen]).toEqual(['203.0.113.53', '192.168.1.1']);
    expect(names.nameFor('198.51.100.1', 1000)).toBe('a.example.com');
    expect(names.nameFor('198.51.100.2', 1000)).toBe('');
    expect(names.nameFor('198.51.100.3', 1000)).toBe('');
  });
});
