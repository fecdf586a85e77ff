import { describe, expect, it } from 'vitest';
import { createNetworkClassifier, normalizeAddress, parseCidr, pcr } from './network.js';

describe('normalizeAddress', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1', 4],
    ['[::1]', '::1', 6],
    ['::ffff:127.0.0.1', '127.0.0.1', 4],
    ['[::ffff:203.0.113.9]', '203.0.113.9', 4],
    ['::FFFF:c000:0201', '192.0.2.1', 4],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1', 6],
    ['fe80::1%en0', 'fe80::1', 6],
    ['[fe80::a00:27ff:fe4e:66a1]%eth0', 'fe80::a00:27ff:fe4e:66a1', 6],
    ['127.0.0.53%lo', '127.0.0.53', 4],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1', 6],
  ])('%s → %s', (raw, address, family) => {
    const n = normalizeAddress(raw);
    expect(n.address).toBe(address);
    expect(n.family).toBe(family);
  });

  it('keeps the zone apart', () => {
    expect(normalizeAddress('fe80::1%awdl0').zone).toBe('awdl0');
  });

  it.each(['::', '1::', '::1', '1:2:3:4:5:6:7:8', 'FE80::A:b', '::ffff:0:1.2.3.4', '64:ff9b::192.0.2.33'])('accepts %s', (a) => {
    expect(normalizeAddress(a).valid).toBe(true);
  });

  it.each([':::', '1:::2', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1', '1:', '1.2.3', '256.1.1.1', '1.2.3.4.5', 'g::1', '::ffff:1.2.3.999'])('rejects %s', (a) => {
    expect(normalizeAddress(a).valid).toBe(false);
  });

  it('formats per RFC 5952 (longest zero run, first on ties, no single-group compression)', () => {
    expect(normalizeAddress('2001:db8:0:0:1:0:0:1').address).toBe('2001:db8::1:0:0:1');
    expect(normalizeAddress('2001:db8:0:1:1:1:1:1').address).toBe('2001:db8:0:1:1:1:1:1');
    expect(normalizeAddress('0:0:0:0:0:0:0:0').address).toBe('::');
    expect(normalizeAddress('64:ff9b::192.0.2.33').address).toBe('64:ff9b::c000:221');
  });

  it('does not crash on garbage', () => {
    expect(normalizeAddress('not-an-ip').address).toBe('not-an-ip');
  });
});

describe('remote scope', () => {
  const c = createNetworkClassifier();
  it.each([
    ['8.8.8.8', 'public'],
    ['198.51.100.23', 'public'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['100.128.0.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.10.10', 'link_local'],
    ['fe80::1', 'link_local'],
    ['fe80::1%en0', 'link_local'],
    ['fd12:3456::1', 'private'],
    ['fc00::1', 'private'],
    ['fe00::1', 'public'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::fb', 'multicast'],
    ['2606:4700::6810:84e5', 'public'],
  ])('%s is %s', (addr, scope) => {
    expect(c.scope(addr)).toBe(scope);
  });

  it('treats configured internal ranges as private, and only those', () => {
    const k = createNetworkClassifier({ internal_ranges: ['198.51.100.0/24', '2001:db8:ff::/48'] });
    expect(k.scope('198.51.100.23')).toBe('private');
    expect(k.isExternal('198.51.100.23')).toBe(false);
    expect(k.scope('198.51.101.1')).toBe('public');
    expect(k.isExternal('198.51.101.1')).toBe(true);
    expect(k.scope('2001:db8:ff::9')).toBe('private');
    expect(k.scope('2001:db8:fe::9')).toBe('public');
  });

  it('an internal range only turns would-be public addresses private (docs/flows.md)', () => {
    const k = createNetworkClassifier({ internal_ranges: ['169.254.0.0/16', '127.0.0.0/8', '224.0.0.0/4', '203.0.113.0/24'] });
    expect(k.scope('169.254.169.254')).toBe('link_local');
    expect(k.scope('127.0.0.1')).toBe('loopback');
    expect(k.scope('224.0.0.251')).toBe('multicast');
    expect(k.scope('203.0.113.9')).toBe('private');
  });

  it('text that is no address is public: an unreadable tool line is never hidden as internal', () => {
    const k = createNetworkClassifier({ internal_ranges: ['0.0.0.0/0', '::/0'] });
    expect(k.scope('*')).toBe('public');
    expect(k.scope('not-an-ip')).toBe('public');
    expect(k.isExternal('not-an-ip')).toBe(true);
  });

  it('rejects malformed CIDRs', () => {
    expect(() => parseCidr('10.0.0.0/33')).toThrow();
    expect(() => parseCidr('nonsense/8')).toThrow();
  });
});

describe('service', () => {
  it('maps by remote port, then local port, with config overrides merged over defaults', () => {
    const c = createNetworkClassifier({ port_map: { 'tcp/9443': 'tls', 'tcp/80': 'other' } });
    expect(c.service('tcp', 443)).toBe('tls');
    expect(c.service('udp', 443)).toBe('quic');
    expect(c.service('udp', 53)).toBe('dns');
    expect(c.service('tcp', 22)).toBe('ssh');
    expect(c.service('tcp', 21)).toBe('ftp');
    expect(c.service('tcp', 9443)).toBe('tls');
    expect(c.service('tcp', 80)).toBe('other');
    expect(c.service('tcp', 8080)).toBe('http');
    expect(c.service('tcp', 61022, 22)).toBe('ssh');
    expect(c.service('tcp', 5555, 50000)).toBe('other');
  });
});

describe('pcr', () => {
  it.each([
    [0, 0, 0],
    [0, 100, 1],
    [100, 0, -1],
    [25, 75, 0.5],
    [-1, 100, 0],
    [100, -1, 0],
    [-1, -1, 0],
  ])('in %d out %d → %d', (i, o, r) => {
    expect(pcr(i, o)).toBeCloseTo(r);
  });
});
