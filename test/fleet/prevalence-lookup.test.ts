import { describe, expect, it } from 'vitest';
import { destinationLookupKey } from '../../fleet/api/prevalence.js';
import { destinationKey } from '../../src/classify/destination.js';

describe('destinationLookupKey (what a person types for a destination lookup)', () => {
  it.each([
    ['figma.com', 'figma.com'],
    ['figma.com/', 'figma.com'],
    ['figma.com./', 'figma.com'],
    ['https://www.figma.com/files', 'figma.com'],
    ['HTTPS://WWW.Figma.COM:8443/files?x=1#top', 'figma.com'],
    ['https://user:pw@www.figma.com/', 'figma.com'],
    // protocol-relative, as HTML writes a src or href
    ['//files.example.com/x', 'example.com'],
    ['//user@files.example.com/x', 'example.com'],
    ['//user:pw@[2001:db8::1]:443/x', '2001:db8::1'],
    ['www.figma.com/files/abc', 'figma.com'],
    ['www.figma.com?q', 'figma.com'],
    ['Files.Example.com.', 'example.com'],
    ['https://bucket.s3.amazonaws.com/key', 'bucket.s3.amazonaws.com'],
    ['203.0.113.7', '203.0.113.7'],
    ['203.0.113.7:443', '203.0.113.7'],
    ['http://203.0.113.7:8080/upload', '203.0.113.7'],
    ['[2001:DB8::1]:443', '2001:db8::1'],
    ['https://[2001:db8:0:0::1]/x', '2001:db8:0:0::1'], // not re-compressed: ingest keeps an IP's zeros as sent
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    // as SNI and DNS carry a Unicode name: punycode
    ['https://bücher.de/x', 'xn--bcher-kva.de'],
    ['www.Bücher.DE.:443', 'xn--bcher-kva.de'],
  ])('%s → %s', (asked, key) => {
    expect(destinationLookupKey(asked)).toBe(key);
  });

  it('gives the key ingest gives a bare server name or IP', () => {
    for (const name of ['api.dropbox.com', 'x.y.example.co.uk', 'storage.googleapis.com', '198.51.100.4', 'fe80::1%en0']) expect(destinationLookupKey(name)).toBe(destinationKey(name, name));
  });

  it('refuses what names no host', () => {
    for (const asked of ['/', 'https:///files', '///files', '//', '  ']) expect(() => destinationLookupKey(asked), asked).toThrow(/names no destination/);
  });
});
