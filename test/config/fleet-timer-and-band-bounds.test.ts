import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';

const TOO_LONG = 2 ** 31; // Node's timers fire after 1 ms past 2^31 − 1
const webhook = (over: Record<string, unknown>) => ({
  fleet: { sinks: [{ type: 'webhook', url: 'https://example.com/hook', secret: 'x'.repeat(16), ...over }] },
});
/** Why the config is refused ('' when it is not): the InputError's message names every key and its issue. */
const issues = (raw: unknown): string => {
  try {
    parseConfig(raw);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
};

describe('fleet delays past the timer limit are refused', () => {
  it.each([
    ['fleet.ingest.poll_interval_ms (a busy poll loop)', { fleet: { ingest: { poll_interval_ms: TOO_LONG } } }],
    ['webhook timeout_ms (every delivery aborted after 1 ms)', webhook({ timeout_ms: TOO_LONG })],
    ['webhook backoff.max_ms (retries in a busy loop)', webhook({ backoff: { initial_ms: 1000, max_ms: 2 * TOO_LONG } })],
    ['webhook backoff.initial_ms', webhook({ backoff: { initial_ms: TOO_LONG, max_ms: TOO_LONG } })],
    // query_timeout = statement_timeout + 30 s overflowed: every query failed with "Query read timeout"
    ['fleet.postgres.statement_timeout_ms', { fleet: { postgres: { statement_timeout_ms: TOO_LONG - 30_000 } } }],
  ])('%s', (_name, raw) => {
    expect(issues(raw)).not.toBe('');
  });

  it('keeps long but working values and the defaults', () => {
    expect(issues({})).toBe('');
    expect(issues({ fleet: { ingest: { poll_interval_ms: TOO_LONG - 1 }, postgres: { statement_timeout_ms: 3_600_000 } } })).toBe('');
    expect(issues(webhook({ timeout_ms: 600_000, backoff: { initial_ms: 60_000, max_ms: 86_400_000 } }))).toBe('');
  });

  it('refuses a webhook backoff.initial_ms above backoff.max_ms, naming both', () => {
    const msg = issues(webhook({ backoff: { initial_ms: 10_000, max_ms: 5_000 } }));
    expect(msg).toContain('initial_ms');
    expect(msg).toContain('max_ms');
  });
});

describe('analytics.severity bands lie on the 0–100 score', () => {
  it('refuses a band above 100, which no clamped score reaches', () => {
    expect(issues({ analytics: { severity: { critical: 101 } } })).not.toBe('');
    expect(issues({ analytics: { severity: { low: 200, medium: 300, high: 400, critical: 500 } } })).not.toBe('');
    expect(issues({ analytics: { severity: { low: -5 } } })).not.toBe('');
    expect(issues({ analytics: { severity: { low: 1, medium: 50, high: 99, critical: 100 } } })).toBe('');
  });
});
