import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResolvConf, parseScutilDns } from './parse-resolvers.js';

const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');

describe('parseScutilDns (macOS `scutil --dns`)', () => {
  it('lists the default and scoped resolvers once each, with the interface each is reached through', () => {
    const parsed = parseScutilDns(readFileSync(path.join(FIXTURES, 'scutil-dns-vpn.txt'), 'utf8'));
    expect(parsed).toEqual({
      resolvers: [
        { address: '10.8.0.1', interfaces: ['utun4'] },
        { address: '192.168.1.1', interfaces: ['en0'] },
        { address: 'fe80::1', interfaces: ['en0'] },
      ],
      rejected: 0,
    });
  });

  it('a resolver block without if_index may answer on any interface; a zone names the interface itself', () => {
    const text = [
      'DNS configuration',
      '',
      'resolver #1',
      '  nameserver[0] : 9.9.9.9',
      '  nameserver[1] : fe80::1%en5',
      '  flags    : Request A records',
      '',
      'resolver #2',
      '  nameserver[0] : 10.0.0.53',
      '  if_index : 7 (en1)',
      '',
      'DNS configuration (for scoped queries)',
      '',
      'resolver #1',
      '  nameserver[0] : 10.0.0.53',
      '  if_index : 9 (utun2)',
    ].join('\n');
    expect(parseScutilDns(text).resolvers).toEqual([
      { address: '9.9.9.9', interfaces: [] },
      { address: 'fe80::1', interfaces: ['en5'] },
      { address: '10.0.0.53', interfaces: ['en1', 'utun2'] },
    ]);
  });

  it('counts a nameserver line that holds no address, and ignores everything else', () => {
    const text = 'DNS configuration\n\nresolver #1\n  nameserver[0] : not-an-ip\n  nameserver[1] : 9.9.9.9\n  search domain[0] : nameserver.example\n  if_index : x (en0 en1)\n';
    expect(parseScutilDns(text)).toEqual({ resolvers: [{ address: '9.9.9.9', interfaces: [] }], rejected: 1 });
    expect(parseScutilDns('')).toEqual({ resolvers: [], rejected: 0 });
    // cut mid-line (output cap, a killed tool): the partial last line is not an address
    expect(parseScutilDns('resolver #1\n  nameserver[0] : 192.168.1.1\n  nameserver[1] : 192.168')).toEqual({ resolvers: [{ address: '192.168.1.1', interfaces: [] }], rejected: 1 });
  });
});

describe('parseResolvConf (resolv.conf(5))', () => {
  it('reads nameserver lines, skipping comments and options; systemd-resolved stub and IPv6 with zone', () => {
    const text = [
      '# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).',
      'nameserver 127.0.0.53',
      'options edns0 trust-ad',
      'search corp.example',
      '; nameserver 8.8.8.8',
      'nameserver fe80::1%eth0 # router',
      '   nameserver\t2001:4860:4860:0:0:0:0:8888',
      'nameserver',
    ].join('\n');
    expect(parseResolvConf(text)).toEqual({
      resolvers: [
        { address: '127.0.0.53', interfaces: [] },
        { address: 'fe80::1', interfaces: ['eth0'] },
        { address: '2001:4860:4860::8888', interfaces: [] },
      ],
      rejected: 0,
    });
    expect(parseResolvConf('nameserver resolver.example\n')).toEqual({ resolvers: [], rejected: 1 });
  });
});
