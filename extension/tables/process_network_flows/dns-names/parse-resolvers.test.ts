import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResolvConf, parseScutilDns } from './parse-resolvers.js';

const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');

describe('parseScutilDns (macOS `scutil --dns`)', () => {
  it('lists the default and scoped resolvers once each, zones stripped, mDNS resolvers having none', () => {
    const parsed = parseScutilDns(readFileSync(path.join(FIXTURES, 'scutil-dns-vpn.txt'), 'utf8'));
    expect(parsed).toEqual({ addresses: ['10.8.0.1', '192.168.1.1', 'fe80::1'], rejected: 0 });
  });

  it('counts a nameserver line that holds no address, and ignores everything else', () => {
    const text = 'DNS configuration\n\nresolver #1\n  nameserver[0] : not-an-ip\n  nameserver[1] : 9.9.9.9\n  search domain[0] : nameserver.example\n';
    expect(parseScutilDns(text)).toEqual({ addresses: ['9.9.9.9'], rejected: 1 });
    expect(parseScutilDns('')).toEqual({ addresses: [], rejected: 0 });
    // cut mid-line (output cap, a killed tool): the partial last line is not an address
    expect(parseScutilDns('resolver #1\n  nameserver[0] : 192.168.1.1\n  nameserver[1] : 192.168')).toEqual({ addresses: ['192.168.1.1'], rejected: 1 });
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
    expect(parseResolvConf(text)).toEqual({ addresses: ['127.0.0.53', 'fe80::1', '2001:4860:4860::8888'], rejected: 0 });
    expect(parseResolvConf('nameserver resolver.example\n')).toEqual({ addresses: [], rejected: 1 });
  });
});
