import { describe, expect, it } from 'vitest';
import { parseSince, sinceAnchor, SinceError, SINCE_FORMS } from '../../fleet/cli/format.js';

const NEWEST = 1_773_064_700; // 2026-03-09T13:58:20Z

function refusal(value: string): SinceError {
  try {
    parseSince(value, NEWEST);
  } catch (err) {
    expect(err).toBeInstanceOf(SinceError);
    return err as SinceError;
  }
  throw new Error(`--since ${value} was accepted`);
}

describe('parseSince', () => {
  it('takes a duration back from the newest event time', () => {
    expect(parseSince('24h', NEWEST)).toBe(NEWEST - 86_400);
    expect(parseSince('7d', NEWEST)).toBe(NEWEST - 7 * 86_400);
    expect(parseSince('30m', NEWEST)).toBe(NEWEST - 1800);
    expect(parseSince('2W', NEWEST)).toBe(NEWEST - 2 * 604_800);
    expect(parseSince(' 90 s ', NEWEST)).toBe(NEWEST - 90);
  });

  it('counts a duration longer than the time since 1970 back to 0, never to a number a store cannot bind', () => {
    expect(parseSince('200000000000000d', NEWEST)).toBe(0);
    expect(parseSince('99999999999999999999999w', NEWEST)).toBe(0);
    expect(parseSince(`${Math.ceil(NEWEST / 86_400)}d`, NEWEST)).toBe(0);
  });

  it('takes unix seconds', () => {
    expect(parseSince('1773064700', NEWEST)).toBe(1_773_064_700);
    expect(parseSince('999999999', NEWEST)).toBe(999_999_999);
  });

  it('takes an ISO 8601 date or date-time, UTC unless it carries a zone', () => {
    expect(parseSince('2026-03-09', NEWEST)).toBe(Date.UTC(2026, 2, 9) / 1000);
    expect(parseSince('2026-03-09T14:30', NEWEST)).toBe(Date.UTC(2026, 2, 9, 14, 30) / 1000);
    expect(parseSince('2026-03-09 14:30:15', NEWEST)).toBe(Date.UTC(2026, 2, 9, 14, 30, 15) / 1000);
    expect(parseSince('2026-03-09T14:30:15.999Z', NEWEST)).toBe(Date.UTC(2026, 2, 9, 14, 30, 15) / 1000);
    expect(parseSince('2026-03-09T14:30:00+01:00', NEWEST)).toBe(Date.UTC(2026, 2, 9, 13, 30) / 1000);
    expect(parseSince('2026-03-09T14:30:00-0530', NEWEST)).toBe(Date.UTC(2026, 2, 9, 20, 0) / 1000);
    expect(parseSince('2026-03-09T14:30:00-05', NEWEST)).toBe(Date.UTC(2026, 2, 9, 19, 30) / 1000);
    expect(parseSince('0001-01-01', NEWEST)).toBe(Date.parse('0001-01-01T00:00:00Z') / 1000);
  });

  it('refuses what Date.parse would guess at, listing the accepted forms', () => {
    for (const v of ['March 9', 'foo 2026', '9 March 2026', 'Mon, 09 Mar 2026 00:00:00 GMT', '2026/03/09', '2026-3-9', '2026-02-30', '2026-13-01', '2026-03-09T25:00', '2026-03-09Z', 'yesterday', '', '-1d', '1.5h', '24x']) {
      const e = refusal(v);
      expect(e.message, v).toBe(`--since ${v} is not a time`);
      expect(e.hint, v).toBe(`accepted: ${SINCE_FORMS}`);
    }
  });

  it('refuses a bare number that is no unix seconds, saying what it looks like', () => {
    const bare = refusal('7');
    expect(bare.message).toBe('--since 7 is a number without a unit');
    expect(bare.hint).toMatch(/^for a duration add one: 7h, 7d; accepted: /);
    expect(refusal('24').message).toBe('--since 24 is a number without a unit');
    const ms = refusal('1773064700000');
    expect(ms.message).toBe('--since 1773064700000 looks like milliseconds (13 digits)');
    expect(ms.hint).toMatch(/^divide by 1000: 1773064700 is unix seconds; accepted: /);
    expect(refusal('17730647000').message).toBe('--since 17730647000 is not unix seconds (9 or 10 digits)');
  });

  it('counts a duration back from the newest event time, or now when that is earlier', () => {
    expect(sinceAnchor(NEWEST, NEWEST + 30 * 86_400)).toBe(NEWEST); // a replay of old logs
    expect(sinceAnchor(NEWEST + 3600, NEWEST)).toBe(NEWEST); // a host clock an hour ahead
    expect(sinceAnchor(null, NEWEST)).toBe(NEWEST); // nothing ingested yet
  });
});
