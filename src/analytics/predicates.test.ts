import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../config/analytics.js';
import {
  cleartext,
  commonThreshold,
  destinationKey,
  encrypted,
  highThroughput,
  longLived,
  longLivedSteps,
  noReturn,
  nonStandardPort,
  precursorInWindow,
  rareThreshold,
  severityBand,
  stagingPath,
  uploadShaped,
} from './index.js';
import { baselineWarming, candidateBaselineStart, destinationNovelty, unseenApp, windowKeptFrom } from './prevalence.js';
import { DAY, MiB, T0, flowFacts } from './testing/facts.js';

const HOUR = 3600;

const cfg = defaultAnalyticsConfig();

describe('flow shape predicates (SPEC §4 defaults)', () => {
  it.each([
    ['pcr 0.8, 1 MiB', 0.8, MiB, true],
    ['pcr 0.79, 1 MiB', 0.79, MiB, false],
    ['pcr 0.8, 0.99 MiB', 0.8, Math.floor(0.99 * MiB), false],
    ['pcr 0.8, 1 MiB − 1 byte', 0.8, MiB - 1, false],
    ['pcr 1, 100 MiB', 1, 100 * MiB, true],
  ])('upload-shaped: %s → %s', (_n, pcr, bytes_out, want) => {
    expect(uploadShaped(flowFacts({ pcr, bytes_out }), cfg)).toBe(want);
  });

  it.each([
    [0.95, MiB, true],
    [0.949, MiB, false],
    [0.99, MiB - 1, false],
  ])('no-return: pcr %s bytes_out %s → %s', (pcr, bytes_out, want) => {
    expect(noReturn(flowFacts({ pcr, bytes_out }), cfg)).toBe(want);
  });

  it.each([
    [3600, 10 * MiB, true, 0],
    [3599, 10 * MiB, false, 0],
    [3600, 10 * MiB - 1, false, 0],
    [4 * 3600, 10 * MiB, true, 1],
    [8 * 3600, 10 * MiB, true, 2],
    [13 * 3600, 10 * MiB, true, 3],
  ])('long-lived: duration %s bytes_out %s → %s (steps %s)', (duration, bytes_out, want, steps) => {
    const f = flowFacts({ duration, bytes_out });
    expect(longLived(f, cfg)).toBe(want);
    expect(longLivedSteps(f, cfg)).toBe(steps);
  });

  it.each([
    ['flow at 50 MiB', 50 * MiB, 0, true],
    ['flow just under 50 MiB', 50 * MiB - 1, 0, false],
    ['group at 100 MiB in 15 min', 2 * MiB, 100 * MiB, true],
    ['group just under 100 MiB', 2 * MiB, 100 * MiB - 1, false],
  ])('high-throughput: %s → %s', (_n, bytes_out, group, want) => {
    expect(highThroughput(flowFacts({ bytes_out }), group, cfg)).toBe(want);
  });

  it.each([
    ['tls', true, false],
    ['quic', true, false],
    ['ssh', true, false],
    ['http', false, true],
    ['ftp', false, true],
    ['dns', false, false],
    ['other', false, false],
  ])('service %s: encrypted %s, cleartext %s', (service, enc, clear) => {
    expect(encrypted({ service })).toBe(enc);
    expect(cleartext({ service })).toBe(clear);
  });

  it.each([
    ['tls', 'tcp', 443, false],
    ['tls', 'tcp', 4443, true],
    ['quic', 'udp', 443, false],
    ['http', 'tcp', 80, false],
    ['http', 'tcp', 8081, true],
    ['other', 'tcp', 5222, true],
  ])('non-standard port: %s %s/%s → %s', (service, protocol, remote_port, want) => {
    expect(nonStandardPort({ service, protocol, remote_port })).toBe(want);
  });
});

describe('non-standard port without a reported protocol', () => {
  it('quic is udp and the rest tcp: udp/443 is quic\'s standard port, tcp/443 is tls\'s', () => {
    expect(nonStandardPort({ service: 'quic', remote_port: 443 })).toBe(false);
    expect(nonStandardPort({ service: 'tls', remote_port: 443 })).toBe(false);
    expect(nonStandardPort({ service: 'quic', remote_port: 8443 })).toBe(true);
  });
});

describe('precursor window [flow start − 15 min, flow end]', () => {
  const flow = flowFacts({ first_seen: T0, last_seen: T0 + 120 });
  it.each([
    ['exactly 15 min before the start', T0 - 900, true],
    ['15 min + 1 s before the start', T0 - 901, false],
    ['during the flow', T0 + 60, true],
    ['at the flow end', T0 + 120, true],
    ['after the flow end', T0 + 121, false],
  ])('%s → %s', (_n, time, want) => {
    expect(precursorInWindow(time, flow, cfg)).toBe(want);
  });
});

describe('prevalence thresholds', () => {
  it.each([
    [0, 3, 10],
    [12, 3, 10],
    [300, 3, 30],
    [301, 4, 31],
    [500, 5, 50],
    [10_000, 100, 1000],
  ])('%s active hosts: rare ≤ %s, common ≥ %s', (active, rare, common) => {
    expect(rareThreshold(active, cfg)).toBe(rare);
    expect(commonThreshold(active, cfg)).toBe(common);
  });

  it('baseline warms for baseline_maturity_days of event time', () => {
    const at = (now: number, baselineStart: number | null) => ({ now, windowFrom: now - 30 * DAY, baselineStart, prevalenceKeptFrom: null });
    expect(baselineWarming(at(T0, null), cfg)).toBe(true);
    expect(baselineWarming(at(T0 + 7 * DAY - 1, T0), cfg)).toBe(true);
    expect(baselineWarming(at(T0 + 7 * DAY, T0), cfg)).toBe(false);
    expect(baselineWarming(at(T0, null), { ...cfg, baseline_maturity_days: 0 })).toBe(false);
  });

  it("a window that begins in a gap of the store's data has its baseline start at the first day with data after it", () => {
    const day = (t: number) => Math.floor(t / DAY);
    // a 10-day pilot from T0, then nothing until day 60
    const days = [...Array.from({ length: 11 }, (_, d) => day(T0) + d), day(T0) + 60, day(T0) + 61];
    const from = (t: number) => days.filter((d) => d >= day(t));
    // the window of a candidate an hour after the gap begins on day 30: its baseline starts with day 60
    const start = day(T0 + 60 * DAY) * DAY;
    expect(candidateBaselineStart(T0, T0 + 30 * DAY + HOUR, from(T0 + 30 * DAY + HOUR))).toBe(start);
    expect(baselineWarming({ now: T0 + 60 * DAY + HOUR, windowFrom: T0 + 30 * DAY + HOUR, baselineStart: start, prevalenceKeptFrom: null }, cfg)).toBe(true);
    // a window that begins with data keeps the store's first event, gaps inside it or not
    expect(candidateBaselineStart(T0, T0 + 5 * DAY, from(T0 + 5 * DAY))).toBe(T0);
    expect(candidateBaselineStart(T0 + 3 * HOUR, T0 + HOUR, days)).toBe(T0 + 3 * HOUR);
    // a window that begins before the store's first event: the store's start (its first day is the first with data)
    expect(candidateBaselineStart(T0 + 3 * HOUR, T0 - 20 * DAY, days)).toBe(T0 + 3 * HOUR);
    // the days as read from the batch's earliest window: later windows find theirs further on
    expect(candidateBaselineStart(T0, T0 + 40 * DAY, days)).toBe(start);
    // no day recorded from the window on (a store written without its days): the store's start; empty store: null
    expect(candidateBaselineStart(T0, T0 + 90 * DAY, days)).toBe(T0);
    expect(candidateBaselineStart(null, T0, days)).toBeNull();
  });

  it('a late candidate (window reaching back before the data kept) has its baseline start there', () => {
    // the store's first event was T0; the rollup expired everything last seen before day 40; windows are 30 days
    const facts = (now: number, windowFrom = now - 30 * DAY) => ({ now, windowFrom, baselineStart: T0, prevalenceKeptFrom: T0 + 40 * DAY });
    expect(windowKeptFrom(facts(T0 + 45 * DAY))).toBe(T0 + 40 * DAY);
    expect(windowKeptFrom(facts(T0 + 70 * DAY - 1))).toBe(T0 + 40 * DAY);
    // a window within the data kept is not late: judged from the store's first event
    expect(windowKeptFrom(facts(T0 + 70 * DAY))).toBeNull();
    // the window finalization read decides, not event time − 30 days (its end is rounded up past finalize_delay)
    expect(windowKeptFrom(facts(T0 + 70 * DAY - 60, T0 + 40 * DAY + 300))).toBeNull();
    // warming until 7 days of the window are kept; a window wholly expired keeps nothing
    expect(baselineWarming(facts(T0 + 20 * DAY), cfg)).toBe(true);
    expect(baselineWarming(facts(T0 + 47 * DAY - 1), cfg)).toBe(true);
    expect(baselineWarming(facts(T0 + 47 * DAY), cfg)).toBe(false);
    // a store younger than the window: the rollup's bound is before its first event, nothing is late
    expect(windowKeptFrom({ windowFrom: T0 - 20 * DAY, baselineStart: T0, prevalenceKeptFrom: T0 - 20 * DAY - 1 })).toBeNull();
    // baseline_maturity_days 0 judges on whatever is kept, as it does a young store
    expect(baselineWarming(facts(T0 + 20 * DAY), { ...cfg, baseline_maturity_days: 0 })).toBe(false);
  });

  it('a late candidate needs all but a day of a window no longer than the maturity, not more than it can hold', () => {
    const short = { ...cfg, prevalence_window_days: 5 };
    // 5-day windows, data kept from day 40: a candidate of day 44 has 4 days of its window kept
    const facts = (now: number) => ({ now, windowFrom: now - 5 * DAY, baselineStart: T0, prevalenceKeptFrom: T0 + 40 * DAY });
    expect(baselineWarming(facts(T0 + 44 * DAY), short)).toBe(false);
    expect(baselineWarming(facts(T0 + 44 * DAY - 1), short)).toBe(true);
  });

  it.each([
    ['first seen 6 days ago on 1 host', T0 - 6 * DAY, 1, true],
    ['first seen exactly 7 days ago on 3 hosts', T0 - 7 * DAY, 3, true],
    ['first seen 8 days ago', T0 - 8 * DAY, 1, false],
    ['new but on 6 of 500 hosts (rare threshold 5)', T0 - DAY, 6, false],
    ['never stored before (null)', null, 1, true],
  ])('unseen app: %s → %s', (_n, firstSeen, hosts, want) => {
    expect(unseenApp({ identity: 'cdhash:ab', firstSeen, hosts }, { now: T0, activeHosts: 500 }, cfg)).toBe(want);
  });

  it('an empty identity (unknown code) is never "unseen"', () => {
    expect(unseenApp({ identity: '', firstSeen: null, hosts: 1 }, { now: T0, activeHosts: 500 }, cfg)).toBe(false);
  });

  it.each([
    ['rare destination', 2, T0 - 60 * DAY, 1],
    ['first seen 3 days ago, 20 hosts', 20, T0 - 3 * DAY, 1],
    ['first seen exactly 7 days ago, 20 hosts', 20, T0 - 7 * DAY, 1],
    ['no first-seen time stored (never seen before), 20 hosts', 20, null, 1],
    ['common destination', 60, T0 - 10 * DAY, -1],
    ['seen for 30 days by 20 hosts', 20, T0 - 30 * DAY, -1],
    ['neither', 20, T0 - 10 * DAY, 0],
  ])('destination novelty: %s → %s', (_n, destinationHosts, destinationFirstSeen, want) => {
    expect(destinationNovelty({ now: T0, activeHosts: 500, destinationHosts, destinationFirstSeen }, cfg)).toBe(want);
  });
});

describe('severity bands (low 21 / medium 47 / high 73 / critical 90)', () => {
  it.each([
    [0, 'info'],
    [20, 'info'],
    [21, 'low'],
    [46, 'low'],
    [47, 'medium'],
    [72, 'medium'],
    [73, 'high'],
    [89, 'high'],
    [90, 'critical'],
    [100, 'critical'],
  ])('%s → %s', (score, band) => {
    expect(severityBand(score, cfg)).toBe(band);
  });
});

describe('staging paths', () => {
  it.each([
    ['/tmp/out.zip', true],
    ['/private/tmp/x/loot.zip', true],
    ['/var/tmp/a.tgz', true],
    ['/Users/Shared/a.zip', true],
    ['/var/folders/zz/abc123/T/TemporaryItems/a.zip', true],
    ['/private/var/folders/zz/abc123/T/a.zip', true],
    // one level before T, as the endpoint's archive_events.staging accepts (the fleet said no before)
    ['/var/folders/zz/T/a.zip', true],
    ['/Users/u/Documents/../a.zip', false],
    ['/Users/u/.cache/a.zip', true],
    ['/Users/u/Documents/a.zip', false],
    ['/Users/u/Documents/.hidden-file.zip', false],
    ['', false],
  ])('%s → %s', (p, want) => {
    expect(stagingPath(p)).toBe(want);
  });
});

describe('destination key', () => {
  it.each([
    ['www.example.co.uk', '1.2.3.4', 'example.co.uk'],
    ['Upload.Example.NET.', '1.2.3.4', 'example.net'],
    ['attacker-bucket.s3.us-east-1.amazonaws.com', '52.1.1.1', 'attacker-bucket.s3.us-east-1.amazonaws.com'],
    ['evil.blob.core.windows.net', '20.1.1.1', 'evil.blob.core.windows.net'],
    ['content.dropboxapi.com', '162.125.1.1', 'dropboxapi.com'],
    ['', '203.0.113.9', '203.0.113.9'],
    ['', '2001:DB8::1', '2001:db8::1'],
  ])('%s / %s → %s', (sn, ip, want) => {
    expect(destinationKey(sn, ip)).toBe(want);
  });
});
