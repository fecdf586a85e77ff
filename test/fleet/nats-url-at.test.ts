/**
 * nats.go (Fleet's nats.server) parses the userinfo of a URL up to the last '@' of its authority (Go net/url:
 * strings.LastIndex(authority, "@")), so `nats://agg:p@ss@host:4222` has the password `p@ss`. Cut at the first '@',
 * the password would be wrong and its tail would stay in the URL, which is logged.
 */
import { expect, it } from 'vitest';
import { serverCredentials } from '../../fleet/ingest/nats-source.js';

it('takes a password holding an unencoded @ whole, and leaves none of it in the server URL', () => {
  expect(serverCredentials(['nats://agg:p@ss@nats-1:4222', 'nats://[::1]:4222'])).toEqual({ servers: ['nats://nats-1:4222', 'nats://[::1]:4222'], user: 'agg', pass: 'p@ss' });
});

it('a percent-encoded @ and an IPv6 host (kept as they work today)', () => {
  expect(serverCredentials(['nats://agg:p%40ss@[fe80::1]:4222'])).toEqual({ servers: ['nats://[fe80::1]:4222'], user: 'agg', pass: 'p@ss' });
  expect(serverCredentials(['tok@127.0.0.1:4222'])).toEqual({ servers: ['127.0.0.1:4222'], token: 'tok' });
});
