import { describe, expect, it } from 'vitest';
import { createDestinationKeyer, destinationKey, normalizeIp } from './destination.js';

describe('destinationKey (SPEC §4)', () => {
  it.each([
    ['uploads.example.com', '1.2.3.4', 'example.com'],
    ['a.b.c.example.co.uk', '1.2.3.4', 'example.co.uk'],
    ['WWW.Example.COM.', '1.2.3.4', 'example.com'],
    ['api.example.com:8443', '1.2.3.4', 'example.com'],
    ['my-bucket.s3.amazonaws.com', '52.1.1.1', 'my-bucket.s3.amazonaws.com'],
    ['my-bucket.s3.us-west-2.amazonaws.com', '52.1.1.1', 'my-bucket.s3.us-west-2.amazonaws.com'],
    ['acct.blob.core.windows.net', '20.1.1.1', 'acct.blob.core.windows.net'],
    ['storage.googleapis.com', '142.1.1.1', 'storage.googleapis.com'],
    ['bucket.storage.googleapis.com', '142.1.1.1', 'bucket.storage.googleapis.com'],
    ['abc123.r2.cloudflarestorage.com', '104.1.1.1', 'abc123.r2.cloudflarestorage.com'],
    ['bucket.eu.r2.cloudflarestorage.com', '104.1.1.1', 'bucket.eu.r2.cloudflarestorage.com'],
    ['tunnel-1.ngrok-free.app', '3.1.1.1', 'tunnel-1.ngrok-free.app'],
    // another organisation's Microsoft 365 tenant is not the fleet's own
    ['attacker-my.sharepoint.com', '13.107.1.1', 'attacker-my.sharepoint.com'],
    ['contoso.sharepoint.com', '13.107.1.1', 'contoso.sharepoint.com'],
    ['attacker.ngrok-free.dev', '3.1.1.1', 'attacker.ngrok-free.dev'],
    ['attacker.ngrok.dev', '3.1.1.1', 'attacker.ngrok.dev'],
    ['abcd1234.lambda-url.us-east-1.on.aws', '3.1.1.1', 'abcd1234.lambda-url.us-east-1.on.aws'],
    ['us-central1-proj.cloudfunctions.net', '216.239.1.1', 'us-central1-proj.cloudfunctions.net'],
    ['c59n4k1.oast.fun', '178.128.1.1', 'c59n4k1.oast.fun'],
    // Telegram's Bot API (a stealer's sendDocument) is not the domain people chat on
    ['api.telegram.org', '149.154.167.220', 'api.telegram.org'],
    ['vesta.web.telegram.org', '149.154.167.99', 'telegram.org'],
    // a `*` in a suffix stands for one label (the region)
    ['mytenancy.compat.objectstorage.us-ashburn-1.oraclecloud.com', '134.70.24.1', 'mytenancy.compat.objectstorage.us-ashburn-1.oraclecloud.com'],
    ['objectstorage.eu-frankfurt-1.oraclecloud.com', '134.70.24.1', 'objectstorage.eu-frankfurt-1.oraclecloud.com'],
    ['localhost', '127.0.0.1', 'localhost'],
    ['203.0.113.7', '203.0.113.7', '203.0.113.7'],
    ['', '203.0.113.7', '203.0.113.7'],
    ['', '2001:DB8::1', '2001:db8::1'],
    ['', '::ffff:198.51.100.4', '198.51.100.4'],
    ['[2001:db8::2]', '2001:db8::2', '2001:db8::2'],
  ])('%s (%s) → %s', (name, ip, want) => {
    expect(destinationKey(name, ip)).toBe(want);
  });

  it("reads the public-suffix list's ICANN section only: its private section does not split a provider's names (docs/fleet.md)", () => {
    expect(destinationKey('a.global.ssl.fastly.net', '151.101.1.1')).toBe('fastly.net');
    expect(destinationKey('www.example.com.cdn.cloudflare.net', '104.16.1.1')).toBe('cloudflare.net');
    expect(destinationKey('team-blog.blogspot.com', '142.250.1.1')).toBe('blogspot.com');
  });

  it('accepts extra shared suffixes as data', () => {
    expect(destinationKey('team-a.files.example.com', '1.1.1.1', ['files.example.com'])).toBe('team-a.files.example.com');
    expect(destinationKey('team-a.files.example.com', '1.1.1.1')).toBe('example.com');
  });

  it('normalizes IPs and memoizes names', () => {
    expect(normalizeIp('fe80::1%en0')).toBe('fe80::1');
    const key = createDestinationKeyer(undefined, 2);
    expect(key('a.example.com', '1.1.1.1')).toBe('example.com');
    expect(key('a.example.com', '9.9.9.9')).toBe('example.com');
    expect(key('b.example.org', '1.1.1.1')).toBe('example.org');
    expect(key('c.example.net', '1.1.1.1')).toBe('example.net');
    expect(key('', '10.0.0.1')).toBe('10.0.0.1');
  });
});
