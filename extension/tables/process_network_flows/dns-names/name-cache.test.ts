import { describe, expect, it } from 'vitest';
import { createDnsNameCache } from './name-cache.js';

const opts = { maxNames: 1000, maxTtl: 86_400, grace: 600, lateSlack: 7 };

describe('DNS name cache (remote address → the name it was resolved for)', () => {
  it('names a flow first seen within the answer TTL plus grace, and not before the answer or after it expired', () => {
    const cache = createDnsNameCache(opts);
    cache.learn([{ address: '162.125.1.18', name: 'content.dropboxapi.com', ttl: 60 }], 1000);
    expect(cache.nameFor('162.125.1.18', 1005)).toBe('content.dropboxapi.com');
    // 60 s TTL + 600 s grace
    expect(cache.nameFor('162.125.1.18', 1660)).toBe('content.dropboxapi.com');
    expect(cache.nameFor('162.125.1.18', 1661)).toBe('');
    // a flow sampled a moment before its answer was read still gets it (lateSlack), one long before does not
    expect(cache.nameFor('162.125.1.18', 993)).toBe('content.dropboxapi.com');
    expect(cache.nameFor('162.125.1.18', 992)).toBe('');
    expect(cache.nameFor('162.125.1.19', 1005)).toBe('');
  });

  it('forget takes back what one learn set, and leaves an address a later answer named', () => {
    const cache = createDnsNameCache(opts);
    cache.learn([{ address: '203.0.113.66', name: 'www.apple.com', ttl: 60 }, { address: '2001:db8::66', name: 'www.apple.com', ttl: 60 }], 1000);
    cache.learn([{ address: '198.51.100.9', name: 'cdn.example.com', ttl: 60 }], 1000);
    cache.learn([{ address: '203.0.113.66', name: 'cdn.example.com', ttl: 60 }], 1001);
    cache.forget([{ address: '203.0.113.66', name: 'www.apple.com', ttl: 60 }, { address: '2001:0db8::0066', name: 'www.apple.com', ttl: 60 }], 1000);
    expect(cache.nameFor('203.0.113.66', 1001)).toBe('cdn.example.com');
    expect(cache.nameFor('2001:db8::66', 1001)).toBe('');
    expect(cache.nameFor('198.51.100.9', 1001)).toBe('cdn.example.com');
    expect(cache.size).toBe(2);
  });

  it('matches the address however the flow tool wrote it (IPv6 zero runs, v4-mapped, zone, brackets, case)', () => {
    const cache = createDnsNameCache(opts);
    cache.learn(
      [
        { address: '2606:4700:0:0:0:0:6810:85e5', name: 'api.example.com', ttl: 300 },
        { address: '198.51.100.23', name: 'upload.example.net', ttl: 300 },
      ],
      1000,
    );
    expect(cache.nameFor('2606:4700::6810:85E5', 1001)).toBe('api.example.com');
    expect(cache.nameFor('[2606:4700::6810:85e5]', 1001)).toBe('api.example.com');
    expect(cache.nameFor('::ffff:198.51.100.23', 1001)).toBe('upload.example.net');
    expect(cache.nameFor('not an address', 1001)).toBe('');
  });

  it('the latest answer for an address wins; TTLs above max_ttl count as max_ttl', () => {
    const cache = createDnsNameCache({ ...opts, maxTtl: 3600, grace: 0 });
    cache.learn([{ address: '104.16.1.1', name: 'one.example', ttl: 604_800 }], 1000);
    cache.learn([{ address: '104.16.1.1', name: 'two.example', ttl: 300 }], 2000);
    expect(cache.nameFor('104.16.1.1', 2001)).toBe('two.example');
    expect(cache.size).toBe(1);
    cache.learn([{ address: '104.16.2.2', name: 'long.example', ttl: 604_800 }], 1000);
    expect(cache.nameFor('104.16.2.2', 4600)).toBe('long.example');
    expect(cache.nameFor('104.16.2.2', 4601)).toBe('');
  });

  it('stays within max_names, dropping the addresses answered longest ago (a refreshed one moves to the back)', () => {
    const cache = createDnsNameCache({ ...opts, maxNames: 10 });
    const a = (i: number) => `192.0.2.${i}`;
    for (let i = 1; i <= 10; i++) cache.learn([{ address: a(i), name: `h${i}.example`, ttl: 300 }], 1000 + i);
    cache.learn([{ address: a(1), name: 'h1.example', ttl: 300 }], 1011);
    cache.learn([{ address: a(11), name: 'h11.example', ttl: 300 }], 1012);
    // over the cap by one: a tenth goes at once, the two answered longest ago (2 and 3; 1 was answered again)
    expect(cache.size).toBe(9);
    const known = (i: number) => cache.nameFor(a(i), 1013) !== '';
    expect([1, 2, 3, 4, 10, 11].map(known)).toEqual([true, false, false, true, true, true]);
    // a flood of answers never grows it
    for (let i = 0; i < 5000; i++) cache.learn([{ address: `10.1.${i >> 8}.${i & 255}`, name: `f${i}.example`, ttl: 60 }], 2000);
    expect(cache.size).toBeLessThanOrEqual(10);
    expect(cache.nameFor('10.1.19.135', 2000)).toBe('f4999.example');
  });

  it('ignores labels without an address or a name', () => {
    const cache = createDnsNameCache(opts);
    cache.learn([{ address: 'x', name: 'a.example', ttl: 60 }, { address: '192.0.2.9', name: '', ttl: 60 }], 1000);
    expect(cache.size).toBe(0);
  });
});
