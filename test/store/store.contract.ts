/**
 * The Store contract (fleet/store/store.ts), run against every backend:
 *   storeContract('sqlite', () => openSqliteStore(':memory:'))          // test/store/sqlite.test.ts
 *   storeContract('postgres', () => openPostgresStore(url, …))           // test/store/postgres.test.ts
 * `open` must return a fresh, migrated, EMPTY store each time; the suite closes it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Detection } from '../../src/schemas/detection.js';
import { EgressCandidateSchema, type EgressCandidate } from '../../src/schemas/egress-candidate.js';
import { ChangeCursorError, candidateId, pairKey, type AppSighting, type CandidateInput, type CompactionResult, type PrevalenceKeyRef, type PrevalenceStats, type Store } from '../../fleet/store/store.js';
import { retention, rollup, rollupBounds } from '../../fleet/rules/maintenance.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { addPoints, emptySketch, estimateHosts, hostPoint } from '../../fleet/store/host-sketch.js';
import { FAR_CLOCK, dumpRollupState, hookSlices, rollupInOneTransaction, seedFourCommonKeys, seedRollupStore, type SliceKind } from '../helpers/rollup.js';

const T0 = 1_772_409_600; // 2026-03-02T00:00:00Z
const DAY = 86_400;

export function sampleCandidate(over: Partial<Record<keyof EgressCandidate, unknown>> = {}): EgressCandidate {
  return EgressCandidateSchema.parse({
    analytic: 'AN0990',
    flow_id: 'flow-1',
    pid: 100,
    process_start: T0 - 60,
    path: '/usr/bin/curl',
    protocol: 'tcp',
    remote_address: '203.0.113.9',
    remote_port: 443,
    service: 'tls',
    server_name: 'drop.example.net',
    bytes_in: 1000,
    bytes_out: 5_000_000,
    pcr: 0.9996,
    first_seen: T0,
    last_seen: T0 + 60,
    duration: 60,
    identity: 'team:APPLE/com.apple.curl',
    group_root_identity: 'team:APPLE/com.apple.zsh',
    group_root_path: '/bin/zsh',
    ...over,
  });
}

/** What a day sketch of these hosts counts (HyperLogLog: 36 hosts may read as 35): what a compacted key answers. */
export function hostEstimate(...hostSets: string[][]): number {
  const r = emptySketch();
  addPoints(r, hostSets.flat().map(hostPoint));
  return estimateHosts(r);
}

export function sampleDetection(over: Partial<Detection> = {}): Detection {
  const base: Detection = {
    id: 'det_1',
    analytic: 'AN0990',
    analytic_name: 'Sensitive data access followed by encrypted egress',
    attack_technique: 'T1041',
    attack_tactic: 'TA0010 Exfiltration',
    host_id: 'H1',
    hostname: 'mac-1.local',
    branch: 'rare_destination',
    baseline_warming: false,
    score: 75,
    severity: 'high',
    modifiers: ['+15:rare_or_new_destination'],
    suppression_key: 'H1|AN0990|team:APPLE/com.apple.zsh|example.net',
    count: 1,
    bytes_out_total: 5_000_000,
    bytes_in_total: 1000,
    first_seen: T0,
    last_seen: T0 + 60,
    created_at: T0 + 60,
    updated_at: T0 + 60,
    destination_key: 'example.net',
    flow: {
      flow_id: 'flow-1',
      protocol: 'tcp',
      family: 4,
      local_address: '192.168.1.2',
      local_port: 50000,
      remote_address: '203.0.113.9',
      remote_port: 443,
      remote_scope: 'public',
      service: 'tls',
      service_evidence: 'handshake',
      server_name: 'drop.example.net',
      interface: 'en0',
      state: 'Established',
      bytes_in: 1000,
      bytes_out: 5_000_000,
      pcr: 0.9996,
      first_seen: T0,
      last_seen: T0 + 60,
      duration: 60,
      closed: 1,
    },
    flow_ids: ['flow-1'],
    process: { pid: 100, path: '/usr/bin/curl', identity: 'team:APPLE/com.apple.curl', signature_class: 'apple_platform', team_id: 'APPLE', signing_id: 'com.apple.curl', cdhash: '', first_seen: T0 - DAY, hosts: 10 },
    process_start: T0 - 60,
    group_root: { pid: 90, path: '/bin/zsh', identity: 'team:APPLE/com.apple.zsh', launchd_job: false },
    process_chain: [],
    precursors: [],
    reasons: ['tier1_precursor'],
    browser: false,
    sanctioned: false,
    fleet: {
      active_hosts: 12,
      baseline_start: T0 - 10 * DAY,
      window_kept_from: null,
      destination_key: 'example.net',
      destination_hosts: 1,
      destination_first_seen: T0,
      destination_saturated: false,
      rare_threshold: 3,
      common_threshold: 10,
      pair_upload_hosts: 0,
      app_first_seen: T0 - DAY,
      app_hosts: 10,
    },
  };
  return { ...base, ...over };
}

function input(hostId: string, eventTime: number, over: Partial<Record<keyof EgressCandidate, unknown>> = {}, destinationKey = 'example.net'): CandidateInput {
  return { hostId, eventTime, destinationKey, candidate: sampleCandidate(over) };
}

const ALL = { from: 0, to: 4_000_000_000 };

/**
 * The upgrade of a store compacted before day sketches (SQLite 0010, PostgreSQL 0006), after the caller wrote,
 * in the old schema: event clock newest t0 + 2 d; `big.com` and `team:X/app` compacted with 900 and 700 hosts,
 * first seen t0, last seen t0 + 1 d. Old counts hold for windows reaching before the upgrade, then sketches.
 */
export async function expectLegacyCompactionUpgrade(s: Store, t0: number): Promise<void> {
  const late = t0 + 40 * DAY;
  await s.prevalence.observeDestinations([{ key: 'big.com', hostId: 'H1', firstSeen: late, lastSeen: late }]);
  await s.prevalence.observeApps([{ identity: 'team:X/app', hostId: 'H1', firstSeen: t0 + 3 * DAY, lastSeen: t0 + 3 * DAY }]);
  // windows starting before the upgrade (newest event time then: t0 + 2 d) count the compaction count
  expect((await s.prevalence.destinations(['big.com'], { from: t0, to: late })).get('big.com')).toMatchObject({ hosts: 900, saturated: true });
  expect((await s.prevalence.apps(['team:X/app'], { from: t0, to: t0 + 4 * DAY })).get('team:X/app')).toMatchObject({ hosts: 700, saturated: true });
  // windows wholly after it count the sketches
  expect((await s.prevalence.destinations(['big.com'], { from: late - 30 * DAY, to: late })).get('big.com')).toMatchObject({ hosts: 1, saturated: true });
  const [many] = await s.prevalence.statsMany([{ window: { from: t0 + 2 * DAY, to: t0 + 4 * DAY }, destinations: ['big.com'], pairs: [], apps: ['team:X/app'] }]);
  expect(many!.destinations.get('big.com')!.hosts).toBe(0);
  expect(many!.apps.get('team:X/app')!.hosts).toBe(1);
}

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
    });

    it('migrate is idempotent and ping answers', async () => {
      expect(await store.migrate()).toEqual([]);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('results (dedupe)', () => {
      it('reports new keys once, also within one call, and expires by unixTime', async () => {
        expect(await store.results.markSeen([{ digest: 'a', unixTime: T0 }, { digest: 'b', unixTime: T0 + 10 }, { digest: 'a', unixTime: T0 }])).toEqual([true, true, false]);
        expect(await store.results.markSeen([{ digest: 'a', unixTime: T0 }, { digest: 'c', unixTime: T0 }])).toEqual([false, true]);
        expect(await store.results.expire(T0 + 5)).toBe(2);
        expect(await store.results.markSeen([{ digest: 'a', unixTime: T0 }, { digest: 'b', unixTime: T0 + 10 }])).toEqual([true, false]);
      });
      it('handles large batches', async () => {
        const keys = Array.from({ length: 1500 }, (_, i) => ({ digest: `k${i % 1000}`, unixTime: T0 }));
        const r = await store.results.markSeen(keys);
        expect(r.filter(Boolean)).toHaveLength(1000);
        expect(r.slice(1000).some(Boolean)).toBe(false);
      });
    });

    describe('hosts', () => {
      it('merges first/last seen, keeps the newest hostname, counts active hosts in a window', async () => {
        await store.hosts.touch([
          { hostId: 'H1', hostname: 'old', firstSeen: T0, lastSeen: T0 + 10 },
          { hostId: 'H2', hostname: '', firstSeen: T0 + 20 * DAY, lastSeen: T0 + 20 * DAY },
        ]);
        await store.hosts.touch([{ hostId: 'H1', hostname: 'new', firstSeen: T0 - 5, lastSeen: T0 + 100 }]);
        await store.hosts.touch([{ hostId: 'H1', hostname: 'stale', firstSeen: T0 + 1, lastSeen: T0 + 2 }]);
        const got = await store.hosts.get(['H1', 'H2', 'H3']);
        expect(got.get('H1')).toEqual({ hostId: 'H1', hostname: 'new', firstSeen: T0 - 5, lastSeen: T0 + 100 });
        expect(got.has('H3')).toBe(false);
        expect(await store.hosts.activeCount({ from: T0, to: T0 + DAY })).toBe(1);
        expect(await store.hosts.activeCount({ from: T0, to: T0 + 30 * DAY })).toBe(2);
        expect(await store.hosts.activeCount({ from: T0 + DAY, to: T0 + 30 * DAY })).toBe(1);
        expect(await store.hosts.expire(T0 + DAY)).toBe(1);
        expect((await store.hosts.get(['H1'])).size).toBe(0);
      });
      it('breaks a hostname tie (two names dated the same second) by value, whatever the arrival order', async () => {
        for (const [id, names] of [['H1', ['mac-a.local', 'mac-b.local']], ['H2', ['mac-b.local', 'mac-a.local']]] as const) {
          for (const hostname of names) await store.hosts.touch([{ hostId: id, hostname, hostnameTime: T0 + 60, firstSeen: T0 + 60, lastSeen: T0 + 60 }]);
        }
        const got = await store.hosts.get(['H1', 'H2']);
        expect([got.get('H1')!.hostname, got.get('H2')!.hostname]).toEqual(['mac-b.local', 'mac-b.local']);
      });
      it('keeps the newest status per host and component', async () => {
        await store.hosts.recordStatus([{ hostId: 'H1', component: 'flows', platform: 'darwin', state: 'running', detail: '', version: '0.1.0', time: T0 + 10 }]);
        await store.hosts.recordStatus([
          { hostId: 'H1', component: 'flows', platform: 'darwin', state: 'degraded', detail: 'old', version: '0.1.0', time: T0 },
          { hostId: 'H1', component: 'eslogger', platform: 'darwin', state: 'permission_denied', detail: 'grant FDA', version: '0.1.0', time: T0 },
          { hostId: 'H2', component: 'flows', platform: 'linux', state: 'running', detail: '', version: '0.1.0', time: T0 },
        ]);
        const h1 = await store.hosts.listStatus('H1');
        expect(h1.map((s) => [s.component, s.state])).toEqual([
          ['eslogger', 'permission_denied'],
          ['flows', 'running'],
        ]);
        expect((await store.hosts.listStatus()).map((s) => s.hostId)).toEqual(['H1', 'H1', 'H2']);
      });
      it('finds status rows by state, component and time, worst first, and counts hosts per component and state', async () => {
        await store.hosts.touch([
          { hostId: 'H1', hostname: 'mac-1.local', firstSeen: T0, lastSeen: T0 + 100 },
          { hostId: 'H2', hostname: 'mac-2.local', firstSeen: T0, lastSeen: T0 + 100 },
        ]);
        const st = (hostId: string, component: string, state: string, time: number) => ({ hostId, component, platform: 'darwin', state, detail: state === 'running' ? '' : `fix ${component}`, version: '0.1.0', time });
        await store.hosts.recordStatus([
          st('H1', 'flows', 'running', T0 + 100),
          st('H1', 'eslogger', 'permission_denied', T0 + 100),
          st('H2', 'flows', 'degraded', T0 + 100),
          st('H2', 'eslogger', 'running', T0 + 100),
          st('H2', 'dns_names', 'disabled', T0 + 100),
          // a host that never touched a host row (status only): listed without a name
          st('H3', 'eslogger', 'future_state', T0),
        ]);
        const all = await store.hosts.findStatus({ limit: 100 });
        expect(all.truncated).toBe(false);
        expect(all.rows.map((r) => [r.hostId, r.component, r.state])).toEqual([
          ['H3', 'eslogger', 'future_state'],
          ['H1', 'eslogger', 'permission_denied'],
          ['H2', 'flows', 'degraded'],
          ['H2', 'dns_names', 'disabled'],
          ['H1', 'flows', 'running'],
          ['H2', 'eslogger', 'running'],
        ]);
        expect(all.rows[1]).toEqual({ hostId: 'H1', hostname: 'mac-1.local', component: 'eslogger', platform: 'darwin', state: 'permission_denied', detail: 'fix eslogger', version: '0.1.0', time: T0 + 100 });
        expect(all.rows[0]!.hostname).toBe('');
        const problems = await store.hosts.findStatus({ problems: true, since: T0 + 50, limit: 100 });
        expect(problems.rows.map((r) => [r.hostId, r.component])).toEqual([
          ['H1', 'eslogger'],
          ['H2', 'flows'],
        ]);
        expect((await store.hosts.findStatus({ component: 'eslogger', state: 'running', limit: 100 })).rows.map((r) => r.hostId)).toEqual(['H2']);
        const first = await store.hosts.findStatus({ problems: true, limit: 2 });
        expect([first.rows.length, first.truncated]).toEqual([2, true]);
        const known = { components: ['dns_names', 'eslogger', 'flows'], states: ['running', 'degraded', 'permission_denied', 'disabled'] };
        expect(await store.hosts.statusCounts(T0 + 50, known)).toEqual([
          { component: 'dns_names', state: 'disabled', hosts: 1 },
          { component: 'eslogger', state: 'permission_denied', hosts: 1 },
          { component: 'eslogger', state: 'running', hosts: 1 },
          { component: 'flows', state: 'degraded', hosts: 1 },
          { component: 'flows', state: 'running', hosts: 1 },
        ]);
        // made-up names are folded before grouping: however many there are, they are one "other" group each way
        await store.hosts.recordStatus([
          st('H3', 'eslogger', 'running', T0 + 100),
          ...Array.from({ length: 300 }, (_, i) => st('H4', `A${String(i).padStart(3, '0')}`, 'running', T0 + 100)),
          st('H4', 'flows', 'weird', T0 + 100),
        ]);
        expect((await store.hosts.statusCounts(T0, known)).map((r) => [r.component, r.state, r.hosts])).toEqual([
          ['dns_names', 'disabled', 1],
          ['eslogger', 'permission_denied', 1],
          ['eslogger', 'running', 2],
          ['flows', 'degraded', 1],
          ['flows', 'other', 1],
          ['flows', 'running', 1],
          // hosts, not rows: one host's 300 made-up components are one host
          ['other', 'running', 1],
        ]);
      });
      it('records the status of a host whose id carries a lone surrogate', async () => {
        const id = 'EVIL-\ud800';
        await store.hosts.touch([{ hostId: id, hostname: 'evil.local', firstSeen: T0, lastSeen: T0 }]);
        await store.hosts.recordStatus([{ hostId: id, component: 'flows', platform: 'darwin', state: 'running', detail: '', version: '0.1.0', time: T0 }]);
        expect((await store.hosts.listStatus()).map((s) => [s.component, s.time])).toEqual([['flows', T0]]);
      });
    });

    it('event clock merges min/max and starts empty', async () => {
      expect(await store.clock.get()).toEqual({ earliest: null, newest: null });
      await store.clock.observe(T0 + 10, T0 + 20);
      await store.clock.observe(T0, T0 + 15);
      await store.clock.observe(T0 + 12, T0 + 30);
      expect(await store.clock.get()).toEqual({ earliest: T0, newest: T0 + 30 });
    });

    it('records the days with data once each, reads them from a day on in order, and forgets the days before a bound', async () => {
      const d0 = Math.floor(T0 / DAY);
      expect(await store.clock.dataDaysFrom(0)).toEqual([]);
      await store.clock.observeDays([]);
      await store.clock.observeDays([d0 + 3, d0, d0 + 3]);
      await store.transaction(async (tx) => {
        await tx.clock.observeDays([d0 + 1, d0]);
        expect(await tx.clock.dataDaysFrom(d0)).toEqual([d0, d0 + 1, d0 + 3]);
      });
      await store.clock.observeDays([d0 + 60]);
      expect(await store.clock.dataDaysFrom(0)).toEqual([d0, d0 + 1, d0 + 3, d0 + 60]);
      expect(await store.clock.dataDaysFrom(d0 + 2)).toEqual([d0 + 3, d0 + 60]);
      expect(await store.clock.dataDaysFrom(d0 + 61)).toEqual([]);
      // a rolled-back batch records no day
      await expect(
        store.transaction(async (tx) => {
          await tx.clock.observeDays([d0 + 30]);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await store.clock.dataDaysFrom(d0 + 4)).toEqual([d0 + 60]);
      expect(await store.clock.expireDays(d0 + 3)).toBe(2);
      expect(await store.clock.expireDays(d0 + 3)).toBe(0);
      expect(await store.clock.dataDaysFrom(0)).toEqual([d0 + 3, d0 + 60]);
      // the clock itself is apart: days say nothing of earliest/newest
      expect(await store.clock.get()).toEqual({ earliest: null, newest: null });
    });

    it('retention forgets the days before the day ahead of the prevalence data kept, none before the first expiry', async () => {
      const d0 = Math.floor(T0 / DAY);
      const cfg = defaultAnalyticsConfig();
      const days = Array.from({ length: 50 }, (_, i) => d0 + i);
      await store.clock.observe(T0, T0 + 49 * DAY);
      await store.clock.observeDays(days);
      const opts = { analytics: cfg, detectionsDays: 90, quarantineDays: 30, clock: FAR_CLOCK };
      expect(await retention(store, opts)).toMatchObject({ dataDays: 0 });
      expect(await store.clock.dataDaysFrom(0)).toEqual(days);
      await store.prevalence.expire(T0 + 20 * DAY + 3600, { keys: [] });
      expect(await retention(store, opts)).toMatchObject({ dataDays: 19 });
      expect(await store.clock.dataDaysFrom(0)).toEqual(days.slice(19));
    });

    describe('prevalence', () => {
      it('counts distinct hosts per destination as of the window end and within it', async () => {
        await store.prevalence.observeDestinations([
          { key: 'example.net', hostId: 'H1', firstSeen: T0, lastSeen: T0 + 10 },
          { key: 'example.net', hostId: 'H2', firstSeen: T0 + 5 * DAY, lastSeen: T0 + 5 * DAY },
          { key: 'other.org', hostId: 'H1', firstSeen: T0, lastSeen: T0 },
        ]);
        await store.prevalence.observeDestinations([{ key: 'example.net', hostId: 'H1', firstSeen: T0 + 1, lastSeen: T0 + 2 * DAY }]);
        const at = await store.prevalence.destinations(['example.net', 'missing.io'], { from: T0 - 30 * DAY, to: T0 + DAY });
        expect(at.get('example.net')).toMatchObject({ hosts: 1, firstSeen: T0, saturated: false });
        expect(at.get('missing.io')).toEqual({ hosts: 0, firstSeen: null, lastSeen: null, saturated: false });
        expect((await store.prevalence.destinations(['example.net'], { from: T0, to: T0 + 6 * DAY })).get('example.net')!.hosts).toBe(2);
        // H1 last seen T0+2d: outside a window starting at T0+3d.
        expect((await store.prevalence.destinations(['example.net'], { from: T0 + 3 * DAY, to: T0 + 6 * DAY })).get('example.net')!.hosts).toBe(1);
        // Not seen at all up to window.to.
        expect((await store.prevalence.destinations(['example.net'], { from: 0, to: T0 - 1 })).get('example.net')).toMatchObject({ hosts: 0, firstSeen: null });
        const spans = await store.prevalence.destinationHosts('example.net', ALL, 10);
        expect(spans).toEqual([
          { hostId: 'H1', firstSeen: T0, lastSeen: T0 + 2 * DAY },
          { hostId: 'H2', firstSeen: T0 + 5 * DAY, lastSeen: T0 + 5 * DAY },
        ]);
      });

      it('honours countCap as a lower bound of the exact count', async () => {
        await store.prevalence.observeDestinations(Array.from({ length: 30 }, (_, i) => ({ key: 'big.com', hostId: `H${i}`, firstSeen: T0, lastSeen: T0 })));
        const capped = (await store.prevalence.destinations(['big.com'], ALL, 10)).get('big.com')!.hosts;
        expect(capped).toBeGreaterThanOrEqual(10);
        expect(capped).toBeLessThanOrEqual(30);
        expect((await store.prevalence.destinations(['big.com'], ALL)).get('big.com')!.hosts).toBe(30);
        // a negative cap is no cap, on every store (PostgreSQL's LIMIT refused it)
        expect((await store.prevalence.destinations(['big.com'], ALL, -1)).get('big.com')!.hosts).toBe(30);
        expect((await store.prevalence.statsMany([{ window: ALL, countCap: -1, destinations: ['big.com'], pairs: [], apps: [] }]))[0]!.destinations.get('big.com')!.hosts).toBe(30);
      });

      it('compacts keys at the common threshold into day sketches and stops tracking hosts', async () => {
        await store.prevalence.observeDestinations(Array.from({ length: 12 }, (_, i) => ({ key: 'common.com', hostId: `H${i}`, firstSeen: T0, lastSeen: T0 + i })));
        await store.prevalence.observeDestinations([{ key: 'small.com', hostId: 'H1', firstSeen: T0, lastSeen: T0 }]);
        const r = await store.prevalence.compact(10, ALL);
        expect(r.destinations).toBe(1);
        expect(await store.prevalence.compact(10, ALL)).toEqual({ destinations: 0, pairs: 0, apps: 0 });
        const s = (await store.prevalence.destinations(['common.com', 'small.com'], ALL));
        expect(s.get('common.com')).toMatchObject({ hosts: 12, saturated: true, firstSeen: T0 });
        expect(s.get('small.com')).toMatchObject({ hosts: 1, saturated: false });
        expect(await store.prevalence.destinationHosts('common.com', ALL, 100)).toEqual([]);
        await store.prevalence.observeDestinations([
          { key: 'common.com', hostId: 'H99', firstSeen: T0 + DAY, lastSeen: T0 + DAY },
          { key: 'common.com', hostId: 'H3', firstSeen: T0 + DAY, lastSeen: T0 + DAY },
        ]);
        expect(await store.prevalence.destinationHosts('common.com', ALL, 100)).toEqual([]);
        // a new host counts, a known one does not count twice
        expect((await store.prevalence.destinations(['common.com'], ALL)).get('common.com')).toMatchObject({ hosts: 13, saturated: true, lastSeen: T0 + DAY });
        expect((await store.prevalence.destinations(['common.com'], { from: T0 + DAY, to: T0 + 2 * DAY })).get('common.com')).toMatchObject({ hosts: 2, saturated: true });
      });

      it('with opts.keys, a pair is matched whole: pairs crossing the listed ones (same app, same destination) are left alone', async () => {
        const ids = ['team:A/a', 'team:B/b'];
        const dests = ['x.com', 'y.com'];
        const rows = (identity: string, key: string) => Array.from({ length: 12 }, (_, i) => ({ identity, key, hostId: `H${i}`, firstSeen: T0 + 10 * DAY, lastSeen: T0 + 10 * DAY }));
        const all = ids.flatMap((identity) => dests.map((key) => ({ identity, key })));
        await store.prevalence.observePairs([...all.flatMap((p) => rows(p.identity, p.key)), ...all.map((p) => ({ ...p, hostId: 'OLD', firstSeen: T0, lastSeen: T0 }))]);
        const window = { from: T0 + DAY, to: T0 + 20 * DAY };
        expect(await store.prevalence.commonKeys(10, window)).toHaveLength(4);
        // (A, x) and (B, y): every app and destination of the crossing pairs (A, y) and (B, x) is listed, but not those pairs
        const listed = [
          { family: 'pairs' as const, identity: 'team:A/a', key: 'x.com', rows: 12 },
          { family: 'pairs' as const, identity: 'team:B/b', key: 'y.com', rows: 12 },
        ];
        await store.prevalence.expire(T0 + DAY, { keys: listed });
        expect(await store.prevalence.compact(10, window, { keys: listed })).toEqual({ destinations: 0, pairs: 2, apps: 0 });
        expect([...(await store.prevalence.pairs(all, ALL))].map(([k, s]) => [k, s.saturated, s.hosts])).toEqual([
          [pairKey('team:A/a', 'x.com'), true, 12],
          [pairKey('team:A/a', 'y.com'), false, 13],
          [pairKey('team:B/b', 'x.com'), false, 13],
          [pairKey('team:B/b', 'y.com'), true, 12],
        ]);
        expect((await store.prevalence.expirableKeys(T0 + DAY)).map((r) => (r.family === 'pairs' ? pairKey(r.identity, r.key) : r.family)).sort()).toEqual([pairKey('team:A/a', 'y.com'), pairKey('team:B/b', 'x.com')]);
      });

      it('lists the keys compact and expire would change, and with opts.keys changes only those, each as it stands', async () => {
        const rows = (key: string, n: number, at: number) => Array.from({ length: n }, (_, i) => ({ key, hostId: `H${i}`, firstSeen: at, lastSeen: at }));
        await store.prevalence.observeDestinations([...rows('one.com', 12, T0 + 10 * DAY), ...rows('two.com', 11, T0 + 10 * DAY), ...rows('rare.com', 3, T0 + 10 * DAY), ...rows('old.com', 2, T0)]);
        await store.prevalence.observeDestinations(rows('two.com', 1, T0)); // H0's span of two.com now starts at T0
        await store.prevalence.observeApps([{ identity: 'team:X/app', hostId: 'H1', firstSeen: T0, lastSeen: T0 }]);
        const window = { from: T0 + DAY, to: T0 + 20 * DAY };
        expect(await store.prevalence.commonKeys(10, window)).toEqual([
          { family: 'destinations', key: 'one.com', rows: 12 },
          { family: 'destinations', key: 'two.com', rows: 11 },
        ]);
        expect(await store.prevalence.expirableKeys(T0 + DAY)).toEqual([
          { family: 'destinations', key: 'old.com', rows: 2 },
          { family: 'apps', identity: 'team:X/app', rows: 1 },
        ]);
        // a listed key that is no longer common (here: a higher threshold) is left alone
        expect(await store.prevalence.compact(12, window, { keys: [{ family: 'destinations', key: 'two.com', rows: 11 }] })).toEqual({ destinations: 0, pairs: 0, apps: 0 });
        expect(await store.prevalence.compact(10, window, { keys: [{ family: 'destinations', key: 'two.com', rows: 11 }] })).toEqual({ destinations: 1, pairs: 0, apps: 0 });
        expect(await store.prevalence.commonKeys(10, window)).toEqual([{ family: 'destinations', key: 'one.com', rows: 12 }]);
        expect(await store.prevalence.expire(T0 + DAY, { keys: [{ family: 'apps', identity: 'team:X/app', rows: 1 }] })).toEqual({ destinations: 0, pairs: 0, apps: 1 });
        expect(await store.prevalence.keptFrom()).toBe(T0 + DAY);
        expect((await store.prevalence.destinations(['old.com', 'one.com', 'two.com'], ALL))).toEqual(
          new Map([
            ['old.com', { hosts: 2, firstSeen: T0, lastSeen: T0, saturated: false }],
            ['one.com', { hosts: 12, firstSeen: T0 + 10 * DAY, lastSeen: T0 + 10 * DAY, saturated: false }],
            ['two.com', { hosts: 11, firstSeen: T0, lastSeen: T0 + 10 * DAY, saturated: true }],
          ]),
        );
        expect(await store.prevalence.expirableKeys(T0 + DAY)).toEqual([{ family: 'destinations', key: 'old.com', rows: 2 }]);
      });

      it("a compacted key's host count slides with the window: common once, rare again when few hosts still see it", async () => {
        // 40 hosts on day 0 make the key common and compacted; on day 35 one host still sights it.
        await store.prevalence.observeDestinations(Array.from({ length: 40 }, (_, i) => ({ key: 'once-common.io', hostId: `H${i}`, firstSeen: T0 + i, lastSeen: T0 + 3600 })));
        await store.prevalence.observeApps(Array.from({ length: 40 }, (_, i) => ({ identity: 'team:A/app', hostId: `H${i}`, firstSeen: T0, lastSeen: T0 })));
        await store.prevalence.observePairs(Array.from({ length: 40 }, (_, i) => ({ identity: 'team:A/app', key: 'once-common.io', hostId: `H${i}`, firstSeen: T0, lastSeen: T0 })));
        expect(await store.prevalence.compact(10, ALL)).toEqual({ destinations: 1, pairs: 1, apps: 1 });
        const late = T0 + 35 * DAY;
        await store.prevalence.observeDestinations([{ key: 'once-common.io', hostId: 'H7', firstSeen: late, lastSeen: late }]);
        await store.prevalence.observeApps([{ identity: 'team:A/app', hostId: 'H7', firstSeen: late, lastSeen: late }]);
        await store.prevalence.observePairs([{ identity: 'team:A/app', key: 'once-common.io', hostId: 'H7', firstSeen: late, lastSeen: late }]);
        const window = { from: late - 30 * DAY, to: late };
        expect((await store.prevalence.destinations(['once-common.io'], window)).get('once-common.io')).toMatchObject({ hosts: 1, saturated: true, firstSeen: T0, lastSeen: late });
        expect((await store.prevalence.apps(['team:A/app'], window)).get('team:A/app')).toMatchObject({ hosts: 1, saturated: true });
        expect((await store.prevalence.pairs([{ identity: 'team:A/app', key: 'once-common.io' }], window)).get(pairKey('team:A/app', 'once-common.io'))).toMatchObject({ hosts: 1, saturated: true });
        // the window that holds day 0 still counts everyone, also through statsMany
        expect((await store.prevalence.destinations(['once-common.io'], { from: T0, to: late })).get('once-common.io')!.hosts).toBe(40);
        const [many] = await store.prevalence.statsMany([{ window, destinations: ['once-common.io'], pairs: [], apps: ['team:A/app'] }]);
        expect(many!.destinations.get('once-common.io')!.hosts).toBe(1);
        expect(many!.apps.get('team:A/app')!.hosts).toBe(1);
        // expiry drops the days before the window: every window then counts the one host
        await store.prevalence.expire(late - 30 * DAY);
        expect((await store.prevalence.destinations(['once-common.io'], ALL)).get('once-common.io')).toMatchObject({ hosts: 1, saturated: true });
        // a key whose last sighting expires goes with its sketches: seen again, it starts over, exact
        await store.prevalence.expire(late + 1);
        await store.prevalence.observeDestinations([{ key: 'once-common.io', hostId: 'H1', firstSeen: late + 2, lastSeen: late + 2 }]);
        expect((await store.prevalence.destinations(['once-common.io'], ALL)).get('once-common.io')).toMatchObject({ hosts: 1, saturated: false, firstSeen: late + 2 });
      });

      it('compaction keeps a long host row on every day of its span: windows ending before the compaction day still count the host', async () => {
        // A slowly growing destination: 9 hosts use it every day from day 0 to day 40, below the common threshold
        // 10; a 10th host joins at day 40 00:30 and the rollup compacts the key.
        const hosts = Array.from({ length: 9 }, (_, i) => `H${i}`);
        for (let d = 0; d <= 40; d++) {
          const t = T0 + d * DAY + (d === 40 ? 600 : 12 * 3600);
          await store.prevalence.observeDestinations(hosts.map((hostId) => ({ key: 'slow.example', hostId, firstSeen: t, lastSeen: t })));
        }
        await store.prevalence.observeDestinations([{ key: 'slow.example', hostId: 'H-new', firstSeen: T0 + 40 * DAY + 1800, lastSeen: T0 + 40 * DAY + 1800 }]);
        // the window of a candidate from day 39, 23:50, finalized after the rollup
        const w39 = { from: T0 + 39 * DAY + 86_100 - 30 * DAY, to: T0 + 39 * DAY + 86_100 };
        expect((await store.prevalence.destinations(['slow.example'], w39)).get('slow.example')!.hosts).toBe(9);
        const newest = T0 + 40 * DAY + 1800;
        expect((await store.prevalence.compact(10, { from: newest - 30 * DAY, to: newest })).destinations).toBe(1);
        expect((await store.prevalence.destinations(['slow.example'], w39)).get('slow.example')).toMatchObject({ hosts: 9, saturated: true });
        const [many] = await store.prevalence.statsMany([{ window: w39, destinations: ['slow.example'], pairs: [], apps: [] }]);
        expect(many!.destinations.get('slow.example')!.hosts).toBe(9);
        expect((await store.prevalence.destinations(['slow.example'], { from: newest - 30 * DAY, to: newest })).get('slow.example')!.hosts).toBe(10);
      });

      it('compaction with keptFrom folds host rows last seen before its window (but kept by expiry) into sketches: earlier windows still count them', async () => {
        // 3 hosts seen only on day 0, 23:58 (kept by the rollup's margin); 10 others make the key common on day 30
        const rollupFrom = T0 + DAY + 60; // the rollup's window starts on day 1; expiry keeps from day 0, 23:56
        await store.prevalence.observeDestinations(['A', 'B', 'C'].map((hostId) => ({ key: 'margin.example', hostId, firstSeen: T0 + DAY - 120, lastSeen: T0 + DAY - 120 })));
        await store.prevalence.observeDestinations(Array.from({ length: 10 }, (_, i) => ({ key: 'margin.example', hostId: `N${i}`, firstSeen: T0 + 30 * DAY, lastSeen: T0 + 30 * DAY })));
        // a candidate whose flow started on day 30 just before the newcomers: its window ends then
        const w = { from: T0 - 1, to: T0 + 30 * DAY - 1 };
        const before = (await store.prevalence.destinations(['margin.example'], w)).get('margin.example')!.hosts;
        expect(before).toBe(3);
        expect((await store.prevalence.compact(10, { from: rollupFrom, to: rollupFrom + 30 * DAY }, { keptFrom: T0 + DAY - 240 })).destinations).toBe(1);
        expect((await store.prevalence.destinations(['margin.example'], w)).get('margin.example')).toMatchObject({ hosts: 3, saturated: true });
      });

      it('several sightings of one (compacted key, host) in one call count like one host row: in every 30-day window their span overlaps', async () => {
        await store.prevalence.observeDestinations(Array.from({ length: 12 }, (_, i) => ({ key: 'k.example', hostId: `S${i}`, firstSeen: T0, lastSeen: T0 })));
        await store.prevalence.compact(10, { from: T0 - 30 * DAY, to: T0 });
        // one call, host X on days 1, 20 and 31: one span [1, 31]
        await store.prevalence.observeDestinations([1, 20, 31].map((d) => ({ key: 'k.example', hostId: 'X', firstSeen: T0 + d * DAY + 60, lastSeen: T0 + d * DAY + 60 })));
        const hostsEnding = async (day: number) => (await store.prevalence.destinations(['k.example'], { from: T0 + (day - 30) * DAY + 120, to: T0 + day * DAY + 120 })).get('k.example')!.hosts;
        // windows ending on days 31 … 61 overlap the span (and no longer hold day 0's 12 hosts)
        for (const day of [31, 32, 45, 61]) expect(await hostsEnding(day), `window ending day ${day}`).toBe(1);
        expect(await hostsEnding(62)).toBe(0);
      });

      it("a 3-day prevalence window: a backlog call's sightings of a compacted key count in every 3-day window they overlap", async () => {
        await store.prevalence.observeDestinations(Array.from({ length: 12 }, (_, i) => ({ key: 'short.example', hostId: `S${i}`, firstSeen: T0, lastSeen: T0 })));
        await store.prevalence.compact(10, { from: T0 - 3 * DAY, to: T0 });
        // a backlog batch: 12 other hosts on days 1 … 10, merged by ingest into one span per host
        await store.prevalence.observeDestinations(
          Array.from({ length: 12 }, (_, i) => ({ key: 'short.example', hostId: `B${i}`, firstSeen: T0 + DAY + 60, lastSeen: T0 + 10 * DAY + 60 })),
          { windowDays: 3 },
        );
        for (const day of [5, 6, 7, 8, 9, 10, 12]) {
          const hosts = (await store.prevalence.destinations(['short.example'], { from: T0 + (day - 3) * DAY + 120, to: T0 + day * DAY + 120 })).get('short.example')!.hosts;
          expect(hosts, `3-day window ending day ${day}`).toBe(12);
        }
      });

      it("the rollup keeps a window more of day sketches: a late candidate's window still finds a span's earlier point", async () => {
        // 12 hosts use the key from day 0 to day 40; compaction at day 40 folds each row to points on days 40 and 10
        await store.prevalence.observeDestinations(
          Array.from({ length: 12 }, (_, i) => ({ key: 'late.example', hostId: `H${i}`, firstSeen: T0 + 60, lastSeen: T0 + 40 * DAY + 60 })),
        );
        await store.prevalence.compact(10, { from: T0 + 10 * DAY + 120, to: T0 + 40 * DAY + 120 });
        // the next day's rollup slides the window to day 11 and keeps sketches from 30 days earlier
        const from = T0 + 11 * DAY + 120;
        await store.prevalence.expire(from, { sketchesBefore: from - 30 * DAY });
        // a candidate from day 38, finalized late
        expect((await store.prevalence.destinations(['late.example'], { from: T0 + 8 * DAY + 120, to: T0 + 38 * DAY + 120 })).get('late.example')!.hosts).toBe(12);
      });

      it('expires sightings and keys last seen before the window', async () => {
        await store.prevalence.observeDestinations([
          { key: 'a.com', hostId: 'H1', firstSeen: T0, lastSeen: T0 },
          { key: 'a.com', hostId: 'H2', firstSeen: T0, lastSeen: T0 + 40 * DAY },
          { key: 'b.com', hostId: 'H1', firstSeen: T0, lastSeen: T0 },
        ]);
        await store.prevalence.observeApps([{ identity: 'team:X/old', hostId: 'H1', firstSeen: T0, lastSeen: T0 }]);
        const r = await store.prevalence.expire(T0 + 10 * DAY);
        expect(r).toMatchObject({ destinations: 1, apps: 1 });
        expect((await store.prevalence.destinations(['a.com', 'b.com'], ALL)).get('a.com')!.hosts).toBe(1);
        expect((await store.prevalence.destinations(['b.com'], ALL)).get('b.com')!.firstSeen).toBeNull();
        expect((await store.prevalence.apps(['team:X/old'], ALL)).get('team:X/old')!.firstSeen).toBeNull();
      });

      it('keeps a sighting last seen at the expiry bound itself: the window starting there still counts its host', async () => {
        const bound = T0 + 10 * DAY;
        await store.prevalence.observeDestinations([
          { key: 'edge.example.com', hostId: 'H1', firstSeen: T0, lastSeen: bound },
          { key: 'edge.example.com', hostId: 'H2', firstSeen: T0, lastSeen: bound - 1 },
        ]);
        await store.prevalence.observeApps([{ identity: 'team:EDGE/agent', hostId: 'H1', firstSeen: T0, lastSeen: bound }]);
        await store.prevalence.expire(bound);
        const window = { from: bound, to: bound + 30 * DAY };
        expect((await store.prevalence.destinations(['edge.example.com'], window)).get('edge.example.com')).toMatchObject({ hosts: 1, firstSeen: T0 });
        expect(await store.prevalence.destinationHosts('edge.example.com', ALL, 10)).toEqual([{ hostId: 'H1', firstSeen: T0, lastSeen: bound }]);
        expect((await store.prevalence.apps(['team:EDGE/agent'], window)).get('team:EDGE/agent')).toMatchObject({ hosts: 1 });
      });

      it('keeps the largest bound it expired before (keptFrom), null until the first expiry, in the caller\'s transaction', async () => {
        expect(await store.prevalence.keptFrom()).toBeNull();
        await store.prevalence.expire(T0 + 10 * DAY);
        expect(await store.prevalence.keptFrom()).toBe(T0 + 10 * DAY);
        // an older bound (a rollup of a store whose clock was rewound, say) cannot bring expired rows back
        await store.prevalence.expire(T0 + 5 * DAY);
        expect(await store.prevalence.keptFrom()).toBe(T0 + 10 * DAY);
        await expect(
          store.transaction(async (tx) => {
            await tx.prevalence.expire(T0 + 20 * DAY);
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
        expect(await store.prevalence.keptFrom()).toBe(T0 + 10 * DAY);
        await store.prevalence.expire(T0 + 20 * DAY);
        expect(await store.prevalence.keptFrom()).toBe(T0 + 20 * DAY);
      });

      it('tracks upload-shaped pairs per (identity, key)', async () => {
        await store.prevalence.observePairs([
          { identity: 'team:A/app', key: 'x.com', hostId: 'H1', firstSeen: T0, lastSeen: T0 },
          { identity: 'team:A/app', key: 'x.com', hostId: 'H2', firstSeen: T0, lastSeen: T0 },
          { identity: 'team:A/app', key: 'y.com', hostId: 'H1', firstSeen: T0, lastSeen: T0 },
          { identity: 'team:B/app', key: 'x.com', hostId: 'H3', firstSeen: T0, lastSeen: T0 },
        ]);
        const m = await store.prevalence.pairs([{ identity: 'team:A/app', key: 'x.com' }, { identity: 'team:A/app', key: 'z.com' }, { identity: 'team:B/app', key: 'x.com' }], ALL);
        expect(m.get(pairKey('team:A/app', 'x.com'))!.hosts).toBe(2);
        expect(m.get(pairKey('team:A/app', 'z.com'))!.hosts).toBe(0);
        expect(m.get(pairKey('team:B/app', 'x.com'))!.hosts).toBe(1);
      });

      it('tracks app first-seen fleet-wide and per host, with attributes', async () => {
        await store.prevalence.observeApps([
          { identity: 'team:A/app', hostId: 'H1', firstSeen: T0 + 100, lastSeen: T0 + 100, path: '/Applications/A.app/Contents/MacOS/A', signatureClass: 'developer_id', teamId: 'A', signingId: 'app' },
          { identity: 'team:A/app', hostId: 'H2', firstSeen: T0 + 50, lastSeen: T0 + 200 },
          { identity: 'cdhash:abc', hostId: 'H1', firstSeen: T0, lastSeen: T0, cdhash: 'abc', signatureClass: 'adhoc' },
        ]);
        const apps = await store.prevalence.apps(['team:A/app', 'cdhash:abc', 'team:none/x'], ALL);
        expect(apps.get('team:A/app')).toMatchObject({ hosts: 2, firstSeen: T0 + 50, path: '/Applications/A.app/Contents/MacOS/A', signatureClass: 'developer_id', teamId: 'A', signingId: 'app' });
        expect(apps.get('cdhash:abc')).toMatchObject({ hosts: 1, cdhash: 'abc', signatureClass: 'adhoc' });
        expect(apps.get('team:none/x')).toMatchObject({ hosts: 0, firstSeen: null });
        expect(await store.prevalence.appHosts('team:A/app', ALL, 1)).toEqual([{ hostId: 'H2', firstSeen: T0 + 50, lastSeen: T0 + 200 }]);
        expect((await store.prevalence.apps(['team:A/app'], { from: 0, to: T0 + 60 })).get('team:A/app')!.hosts).toBe(1);
      });
      it('statsMany answers every window exactly as the per-window reads do', async () => {
        // Hosts spread over time so windows see different subsets; `big.com` crosses the cap, `sat.com` is compacted.
        await store.prevalence.observeDestinations(Array.from({ length: 12 }, (_, i) => ({ key: 'sat.com', hostId: `H${i}`, firstSeen: T0, lastSeen: T0 + i })));
        await store.prevalence.compact(10, ALL);
        await store.prevalence.observeDestinations([
          ...Array.from({ length: 30 }, (_, i) => ({ key: 'big.com', hostId: `H${String(i).padStart(2, '0')}`, firstSeen: T0 + i * 3600, lastSeen: T0 + i * 3600 + 600 })),
          { key: 'one.com', hostId: 'H1', firstSeen: T0 + DAY, lastSeen: T0 + DAY },
        ]);
        await store.prevalence.observePairs([
          { identity: 'team:A/app', key: 'big.com', hostId: 'H1', firstSeen: T0, lastSeen: T0 + 2 * DAY },
          { identity: 'team:A/app', key: 'big.com', hostId: 'H2', firstSeen: T0 + DAY, lastSeen: T0 + DAY },
        ]);
        await store.prevalence.observeApps([
          { identity: 'team:A/app', hostId: 'H1', firstSeen: T0 + 100, lastSeen: T0 + 100, path: '/A', signatureClass: 'developer_id', teamId: 'A', signingId: 'app' },
          { identity: 'team:A/app', hostId: 'H3', firstSeen: T0 + DAY, lastSeen: T0 + DAY },
        ]);
        const destinations = ['big.com', 'one.com', 'sat.com', 'missing.io', 'big.com'];
        const pairs = [{ identity: 'team:A/app', key: 'big.com' }, { identity: 'team:B/app', key: 'big.com' }];
        const apps = ['team:A/app', 'team:none/x'];
        const requests = [
          { window: ALL, destinations, pairs, apps },
          { window: ALL, countCap: 10, destinations, pairs, apps },
          { window: { from: T0 + 5 * 3600, to: T0 + 12 * 3600 }, countCap: 5, destinations, pairs, apps },
          { window: { from: T0 + 5 * 3600, to: T0 + 12 * 3600 }, destinations, pairs, apps },
          { window: { from: T0 + DAY, to: T0 + 3 * DAY }, countCap: 3, destinations, pairs, apps },
          { window: { from: 0, to: T0 - 1 }, destinations, pairs, apps },
          { window: ALL, destinations: [], pairs: [], apps: [] },
        ];
        const many = await store.prevalence.statsMany(requests);
        expect(many).toHaveLength(requests.length);
        // A count stopped at its cap may report the last sighting of any counted host (PrevalenceRepo): there the
        // two reads must agree on everything else, and lastSeen must be a sighting in the window, at most the latest.
        const agree = async <S extends PrevalenceStats>(got: Map<string, S>, want: Map<string, S>, r: (typeof requests)[number], exact: Map<string, S>) => {
          expect([...got.keys()]).toEqual([...want.keys()]);
          for (const [k, w] of want) {
            const g = got.get(k)!;
            if (r.countCap === undefined || w.hosts < r.countCap || w.saturated) {
              expect(g).toEqual(w);
              continue;
            }
            expect({ ...g, lastSeen: 0 }).toEqual({ ...w, lastSeen: 0 });
            expect(g.lastSeen).toBeGreaterThanOrEqual(r.window.from);
            expect(g.lastSeen).toBeLessThanOrEqual(exact.get(k)!.lastSeen!);
          }
        };
        for (const [i, r] of requests.entries()) {
          await agree(many[i]!.destinations, await store.prevalence.destinations(r.destinations, r.window, r.countCap), r, await store.prevalence.destinations(r.destinations, r.window));
          await agree(many[i]!.pairs, r.pairs.length ? await store.prevalence.pairs(r.pairs, r.window, r.countCap) : new Map(), r, await store.prevalence.pairs(r.pairs, r.window));
          await agree(many[i]!.apps, r.apps.length ? await store.prevalence.apps(r.apps, r.window, r.countCap) : new Map(), r, await store.prevalence.apps(r.apps, r.window));
        }
        expect(many[2]!.destinations.get('big.com')!.hosts).toBe(5);
        expect(many[3]!.destinations.get('big.com')!.hosts).toBe(8);
        expect(many[0]!.destinations.get('sat.com')!.saturated).toBe(true);
      });

      it('counts a key first seen in the last second of a window, and a host last seen in its first second, in both reads alike', async () => {
        const window = { from: T0 - 30 * DAY, to: T0 };
        await store.prevalence.observeDestinations([
          { key: 'edge.example.com', hostId: 'H1', firstSeen: T0, lastSeen: T0 + 60 },
          { key: 'early.example.com', hostId: 'H2', firstSeen: T0 - 40 * DAY, lastSeen: T0 - 30 * DAY },
        ]);
        await store.prevalence.observeApps([{ identity: 'team:EDGE/new.agent', hostId: 'H1', firstSeen: T0, lastSeen: T0 }]);
        const edge = { hosts: 1, firstSeen: T0, saturated: false };
        expect((await store.prevalence.destinations(['edge.example.com'], window)).get('edge.example.com')).toMatchObject(edge);
        expect((await store.prevalence.destinations(['early.example.com'], window)).get('early.example.com')).toMatchObject({ hosts: 1 });
        const [many] = await store.prevalence.statsMany([{ window, destinations: ['edge.example.com', 'early.example.com'], pairs: [], apps: ['team:EDGE/new.agent'] }]);
        expect(many!.destinations.get('edge.example.com')).toMatchObject(edge);
        expect(many!.destinations.get('early.example.com')).toMatchObject({ hosts: 1 });
        expect(many!.apps.get('team:EDGE/new.agent')).toMatchObject(edge);
        // a second earlier, neither exists yet
        const [before] = await store.prevalence.statsMany([{ window: { from: window.from - 1, to: T0 - 1 }, destinations: ['edge.example.com'], pairs: [], apps: [] }]);
        expect(before!.destinations.get('edge.example.com')).toMatchObject({ hosts: 0, firstSeen: null });
      });
      it('takes app attributes from the newest sighting by event time, whatever the arrival order', async () => {
        const id = 'team:A/app';
        const sighting = (hostId: string, t: number, over: Partial<AppSighting> = {}): AppSighting => ({ identity: id, hostId, firstSeen: t, lastSeen: t, ...over });
        const rows: AppSighting[] = [
          sighting('H1', T0 + 100, { path: '/old/A', signatureClass: 'adhoc', teamId: 'A', signingId: 'app', cdhash: 'c1' }),
          sighting('H2', T0 + 300, { path: '/new/A', signatureClass: 'developer_id', teamId: 'A', signingId: 'app', cdhash: 'c3' }),
          sighting('H3', T0 + 200, { path: '/mid/A', signatureClass: 'developer_id', teamId: 'A', signingId: 'app', cdhash: 'c2' }),
          // as new as H2's: per attribute the greater value wins, on every backend and in any order
          sighting('H4', T0 + 300, { path: '/new/B', signatureClass: 'developer_id', teamId: 'A', signingId: 'app', cdhash: 'c0' }),
          // newest, but carries no attributes (a candidate's chain identity): changes none
          sighting('H5', T0 + 400),
        ];
        const expected = { hosts: 5, firstSeen: T0 + 100, path: '/new/B', signatureClass: 'developer_id', teamId: 'A', signingId: 'app', cdhash: 'c3' };
        const attrsAfter = async (s: Store, batches: AppSighting[][]) => {
          for (const b of batches) await s.prevalence.observeApps(b);
          const a = (await s.prevalence.apps([id], ALL)).get(id)!;
          return { hosts: a.hosts, firstSeen: a.firstSeen, path: a.path, signatureClass: a.signatureClass, teamId: a.teamId, signingId: a.signingId, cdhash: a.cdhash };
        };
        // One row per call in arrival order, then (on fresh stores) reversed, and as one reversed batch.
        // Each store is read before the next is opened: a backend's `open` may reset shared tables.
        expect(await attrsAfter(store, rows.map((r) => [r]))).toEqual(expected);
        for (const batches of [[...rows].reverse().map((r) => [r]), [[...rows].reverse()], [[rows[3]!, rows[0]!], [rows[4]!, rows[1]!, rows[2]!]]]) {
          const other = await open();
          try {
            expect(await attrsAfter(other, batches)).toEqual(expected);
          } finally {
            await other.close();
          }
        }
      });
      it('dates each app attribute on its own: rows that leave different attributes empty merge alike in any order', async () => {
        const id = 'team:B/app';
        const sighting = (hostId: string, t: number, over: Partial<AppSighting>): AppSighting => ({ identity: id, hostId, firstSeen: t, lastSeen: t, ...over });
        // The newest row carries no team id; of the two older ones that do, the newer must win in every order.
        // (With one time per app, the oldest filled the empty team id first in some orders and then held it.)
        const rows = [
          sighting('H1', T0 + 300, { path: '/Applications/B.app/Contents/MacOS/B', signatureClass: 'developer_id' }),
          sighting('H2', T0 + 100, { teamId: 'OLDTEAM', cdhash: 'c-old' }),
          sighting('H3', T0 + 200, { teamId: 'NEWTEAM' }),
        ];
        const expected = { path: '/Applications/B.app/Contents/MacOS/B', signatureClass: 'developer_id', teamId: 'NEWTEAM', signingId: '', cdhash: 'c-old' };
        const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        const groupings = [...orders.map((o) => o.map((i) => [rows[i]!])), [[rows[1]!, rows[0]!], [rows[2]!]], [[rows[0]!], [rows[2]!, rows[1]!]], [[...rows]]];
        for (const [n, batches] of groupings.entries()) {
          const s = n === 0 ? store : await open();
          try {
            for (const b of batches) await s.prevalence.observeApps(b);
            const a = (await s.prevalence.apps([id], ALL)).get(id)!;
            expect({ path: a.path, signatureClass: a.signatureClass, teamId: a.teamId, signingId: a.signingId, cdhash: a.cdhash }, `grouping ${n}`).toEqual(expected);
          } finally {
            if (s !== store) await s.close();
          }
        }
      });
    });

    describe('candidates', () => {
      it('upserts by (host, analytic, flow): newer versions replace and re-pend, older ones are ignored', async () => {
        expect(await store.candidates.upsertPending([input('H1', T0 + 100), input('H2', T0 + 50), input('H1', T0 + 100, { analytic: 'AN0032' })])).toBe(3);
        expect(await store.candidates.countPending()).toBe(3);
        const pending = await store.candidates.pendingUpTo(T0 + 100, 10);
        expect(pending.map((p) => [p.hostId, p.eventTime, p.candidate.analytic])).toEqual([
          ['H2', T0 + 50, 'AN0990'],
          ['H1', T0 + 100, 'AN0032'],
          ['H1', T0 + 100, 'AN0990'],
        ]);
        expect(pending[0]!.id).toBe(candidateId(input('H2', 0)));
        expect(pending[0]!.candidate).toEqual(sampleCandidate());
        expect(await store.candidates.pendingUpTo(T0 + 99, 10)).toHaveLength(1);
        expect(await store.candidates.pendingUpTo(T0 + 100, 2)).toHaveLength(2);

        await store.candidates.markFinalized(pending.map((p) => ({ id: p.id, detectionId: p.hostId === 'H1' ? 'det_x' : null, countedBytesOut: 5, countedBytesIn: 1, branch: 'x' })));
        expect(await store.candidates.countPending()).toBe(0);
        // Same or older version: ignored. Newer: pending again, keeping what was already counted.
        expect(await store.candidates.upsertPending([input('H1', T0 + 100), input('H1', T0 + 90, { bytes_out: 9_000_000 })])).toBe(0);
        expect(await store.candidates.upsertPending([input('H1', T0 + 100, { bytes_out: 6_000_000 })])).toBe(1);
        const again = await store.candidates.pendingUpTo(T0 + 1000, 10);
        expect(again).toHaveLength(1);
        expect(again[0]).toMatchObject({ hostId: 'H1', detectionId: 'det_x', countedBytesOut: 5, countedBytesIn: 1, status: 'pending' });
        expect(again[0]!.candidate.bytes_out).toBe(6_000_000);
      });

      it('a version older than the one last judged, delivered again late, does not make the next version due at its own old time', async () => {
        await store.candidates.upsertPending([input('H1', T0, { bytes_out: 2_000_000 }), input('H1', T0 + 60, { bytes_out: 3_000_000 })]);
        const due = await store.candidates.pendingUpTo(T0, 10);
        expect(due.map((p) => p.eventTime)).toEqual([T0 + 60]);
        await store.candidates.markFinalized(due.map((p) => ({ id: p.id, detectionId: 'det_x', countedBytesOut: 3_000_000, countedBytesIn: 0, branch: 'x', version: p.version })));
        // the flow's next report, then its first one again (another source, a re-read file): that one was judged already
        await store.candidates.upsertPending([input('H1', T0 + 600, { bytes_out: 9_000_000 })]);
        await store.candidates.upsertPending([input('H1', T0, { bytes_out: 2_000_000 })]);
        expect(await store.candidates.pendingUpTo(T0 + 599, 10)).toHaveLength(0);
        expect((await store.candidates.pendingUpTo(T0 + 600, 10)).map((p) => p.eventTime)).toEqual([T0 + 600]);
      });

      it('a pending row is due at its earliest unjudged report: a flow reported every minute is not put off by its newer versions', async () => {
        // three reports of one open flow, a minute apart; the last arrives before the first was judged
        await store.candidates.upsertPending([input('H1', T0, { bytes_out: 2_000_000 })]);
        await store.candidates.upsertPending([input('H1', T0 + 60, { bytes_out: 3_000_000 })]);
        await store.candidates.upsertPending([input('H1', T0 + 120, { bytes_out: 4_000_000 })]);
        const due = await store.candidates.pendingUpTo(T0, 10);
        expect(due.map((p) => [p.eventTime, p.candidate.bytes_out])).toEqual([[T0 + 120, 4_000_000]]);
        await store.candidates.markFinalized(due.map((p) => ({ id: p.id, detectionId: 'det_x', countedBytesOut: 4_000_000, countedBytesIn: 0, branch: 'x', version: p.version })));
        // once judged, the next report is due at its own time
        await store.candidates.upsertPending([input('H1', T0 + 180, { bytes_out: 5_000_000 })]);
        expect(await store.candidates.pendingUpTo(T0 + 179, 10)).toHaveLength(0);
        expect(await store.candidates.pendingUpTo(T0 + 180, 10)).toHaveLength(1);
        // an older report arriving late (out of order) brings a pending row's due time forward, whatever the order
        await store.candidates.upsertPending([input('H2', T0 + 300, { bytes_out: 3_000_000 }), input('H2', T0 + 240, { bytes_out: 2_000_000 })]);
        expect((await store.candidates.pendingUpTo(T0 + 240, 10)).map((p) => [p.hostId, p.eventTime])).toEqual([['H1', T0 + 180], ['H2', T0 + 300]]);
      });

      it('counts a flow once however many of its versions one batch brings, in any order', async () => {
        const older = input('H1', T0, { bytes_out: 1_000 });
        const newer = input('H1', T0 + 300, { bytes_out: 2_000 });
        expect(await store.candidates.upsertPending([older, newer])).toBe(1);
        const other = await open();
        try {
          expect(await other.candidates.upsertPending([newer, older])).toBe(1);
        } finally {
          await other.close();
        }
        expect(await store.candidates.countPending()).toBe(1);
      });

      it('breaks version ties deterministically whatever the arrival order', async () => {
        const a = input('H1', T0, { bytes_in: 10 });
        const b = input('H1', T0, { bytes_in: 20 });
        await store.candidates.upsertPending([a]);
        await store.candidates.upsertPending([b]);
        const first = (await store.candidates.pendingUpTo(T0, 10))[0]!.candidate.bytes_in;
        const other = await open();
        try {
          await other.candidates.upsertPending([b]);
          await other.candidates.upsertPending([a]);
          expect((await other.candidates.pendingUpTo(T0, 10))[0]!.candidate.bytes_in).toBe(first);
        } finally {
          await other.close();
        }
      });

      it('finalizes only the judged version: a newer version ingested after the read stays pending', async () => {
        await store.candidates.upsertPending([input('H1', T0)]);
        const [judged] = await store.candidates.pendingUpTo(T0 + 1000, 10);
        expect(judged!.version).toMatchObject({ eventTime: T0, bytesOut: 5_000_000 });
        // ingest runs between finalization's read and its commit
        expect(await store.candidates.upsertPending([input('H1', T0 + 50, { bytes_out: 7_000_000 })])).toBe(1);

        const committed = await store
          .transaction(async (tx) => {
            await tx.detections.upsert([sampleDetection({ id: 'det_old' })]);
            await tx.candidates.markFinalized([{ id: judged!.id, detectionId: 'det_old', countedBytesOut: 5_000_000, countedBytesIn: 1000, branch: 'rare_destination', version: judged!.version }]);
          })
          .then(
            () => true,
            (err: unknown) => {
              // a backend may reject the whole batch instead (PostgreSQL); it must say why
              expect(err).toMatchObject({ code: 'STORE_WRITE' });
              return false;
            },
          );

        expect(await store.candidates.countPending()).toBe(1);
        const [newer] = await store.candidates.pendingUpTo(T0 + 1000, 10);
        expect(newer).toMatchObject({ id: judged!.id, eventTime: T0 + 50, status: 'pending' });
        expect(newer!.candidate.bytes_out).toBe(7_000_000);
        expect(newer!.version).toMatchObject({ eventTime: T0 + 50, bytesOut: 7_000_000 });
        // Either the batch committed and the newer version carries the fold (it adds only its delta when
        // judged), or nothing of the batch exists.
        if (committed) {
          expect(newer).toMatchObject({ detectionId: 'det_old', countedBytesOut: 5_000_000, countedBytesIn: 1000 });
          expect(await store.detections.get('det_old')).not.toBeNull();
        } else {
          expect(newer).toMatchObject({ detectionId: null, countedBytesOut: 0, countedBytesIn: 0 });
          expect(await store.detections.get('det_old')).toBeNull();
        }

        // The next run judges the newer version and finalizes it.
        await store.transaction((tx) => tx.candidates.markFinalized([{ id: newer!.id, detectionId: 'det_old', countedBytesOut: 7_000_000, countedBytesIn: 1000, branch: 'rare_destination', version: newer!.version }]));
        expect(await store.candidates.countPending()).toBe(0);
      });

      it('finalizes only the judged version outside a transaction too, and records the fold on the newer one', async () => {
        await store.candidates.upsertPending([input('H1', T0)]);
        const [judged] = await store.candidates.pendingUpTo(T0 + 1000, 10);
        expect(await store.candidates.upsertPending([input('H1', T0 + 50, { bytes_out: 7_000_000 })])).toBe(1);
        // a direct call (no transaction): nothing to roll back, so the newer version keeps the fold and stays pending
        await store.candidates.markFinalized([{ id: judged!.id, detectionId: 'det_old', countedBytesOut: 5_000_000, countedBytesIn: 1000, branch: 'rare_destination', version: judged!.version }]);
        expect(await store.candidates.countPending()).toBe(1);
        const [newer] = await store.candidates.pendingUpTo(T0 + 1000, 10);
        expect(newer).toMatchObject({ id: judged!.id, eventTime: T0 + 50, status: 'pending', detectionId: 'det_old', countedBytesOut: 5_000_000, countedBytesIn: 1000 });
        // the judged version itself is finalized by the same direct call
        await store.candidates.markFinalized([{ id: newer!.id, detectionId: 'det_old', countedBytesOut: 7_000_000, countedBytesIn: 1000, branch: 'rare_destination', version: newer!.version }]);
        expect(await store.candidates.countPending()).toBe(0);
      });

      it('outside a transaction, an outcome without a version finalizes whatever version the row is', async () => {
        await store.candidates.upsertPending([input('H1', T0)]);
        const [judged] = await store.candidates.pendingUpTo(T0 + 1000, 10);
        await store.candidates.upsertPending([input('H1', T0 + 50, { bytes_out: 7_000_000 })]);
        await store.candidates.markFinalized([{ id: judged!.id, detectionId: 'det_a', countedBytesOut: 1, countedBytesIn: 1, branch: 'no_fire:x' }]);
        expect(await store.candidates.countPending()).toBe(0);
      });

      it('outside a transaction, outcomes for one id apply in order: a later stale one does not undo the current one', async () => {
        await store.candidates.upsertPending([input('H1', T0)]);
        const [v1] = await store.candidates.pendingUpTo(T0 + 1000, 10);
        await store.candidates.upsertPending([input('H1', T0 + 50, { bytes_out: 7_000_000 })]);
        const [v2] = await store.candidates.pendingUpTo(T0 + 1000, 10);
        await store.candidates.markFinalized([
          { id: v2!.id, detectionId: 'det_current', countedBytesOut: 7_000_000, countedBytesIn: 1000, branch: 'rare_destination', version: v2!.version },
          { id: v1!.id, detectionId: 'det_stale', countedBytesOut: 5_000_000, countedBytesIn: 1000, branch: 'rare_destination', version: v1!.version },
        ]);
        expect(await store.candidates.countPending()).toBe(0);
      });

      it('tells a version that differs only in its body from the judged one: it stays pending', async () => {
        // Same line time and bytes out: only the body (here bytes_in) tells the versions apart, and the tie
        // goes to the greater body text whatever the order, so which one is stored first depends on the pair.
        const low = input('H1', T0, { bytes_in: 10 });
        const high = input('H1', T0, { bytes_in: 20 });
        const winner = JSON.stringify(low.candidate) > JSON.stringify(high.candidate) ? low : high;
        const loser = winner === low ? high : low;
        await store.candidates.upsertPending([loser]);
        const [judged] = await store.candidates.pendingUpTo(T0, 10);
        expect(await store.candidates.upsertPending([winner])).toBe(1);
        const committed = await store.transaction((tx) => tx.candidates.markFinalized([{ id: judged!.id, detectionId: null, countedBytesOut: 0, countedBytesIn: 0, branch: 'no_fire:x', version: judged!.version }])).then(
          () => true,
          () => false,
        );
        expect([committed, await store.candidates.countPending()]).toEqual([committed, 1]);
        const [pending] = await store.candidates.pendingUpTo(T0, 10);
        expect(pending!.candidate.bytes_in).toBe(winner.candidate.bytes_in);
        expect(pending!.version!.digest).not.toBe(judged!.version!.digest);
        // and an identical line again changes nothing
        expect(await store.candidates.upsertPending([winner])).toBe(0);
      });

      it('expires only finalized candidates', async () => {
        await store.candidates.upsertPending([input('H1', T0), input('H2', T0)]);
        const [p] = await store.candidates.pendingUpTo(T0, 1);
        await store.candidates.markFinalized([{ id: p!.id, detectionId: null, countedBytesOut: 0, countedBytesIn: 0, branch: 'no_fire:x' }]);
        expect(await store.candidates.expire(T0 + 1)).toBe(1);
        expect(await store.candidates.countPending()).toBe(1);
      });
    });

    describe('detections', () => {
      it('upserts by id, lists by last_seen with filters, counts by analytic, expires', async () => {
        const d1 = sampleDetection();
        const d2 = sampleDetection({ id: 'det_2', analytic: 'AN0032', host_id: 'H2', last_seen: T0 + 500, suppression_key: 'H2|AN0032|x|y' });
        const d3 = sampleDetection({ id: 'det_3', last_seen: T0 + 300, suppression_key: 'H1|AN0990|r|other' });
        await store.detections.upsert([d1, d2, d3]);
        expect(await store.detections.get('det_2')).toEqual(d2);
        expect(await store.detections.get('nope')).toBeNull();
        expect((await store.detections.list()).map((d) => d.id)).toEqual(['det_1', 'det_3', 'det_2']);
        expect((await store.detections.list({ since: T0 + 200 })).map((d) => d.id)).toEqual(['det_3', 'det_2']);
        expect((await store.detections.list({ analytic: 'AN0990', host: 'H1', limit: 1 })).map((d) => d.id)).toEqual(['det_3']);
        // a host by its id or its current hostname, ASCII case aside (non-ASCII letters must match exactly, in both stores)
        await store.hosts.touch([
          { hostId: 'H1', hostname: 'mac-1.local', firstSeen: T0, lastSeen: T0 },
          { hostId: 'H2', hostname: 'JÜRGEN-MBP.local', firstSeen: T0, lastSeen: T0 },
        ]);
        expect((await store.detections.list({ host: 'h1' })).map((d) => d.id)).toEqual(['det_1', 'det_3']);
        expect((await store.detections.list({ host: 'MAC-1.local' })).map((d) => d.id)).toEqual(['det_1', 'det_3']);
        expect((await store.detections.list({ host: 'jÜrgen-mbp.LOCAL' })).map((d) => d.id)).toEqual(['det_2']);
        expect(await store.detections.list({ host: 'jürgen-mbp.local' })).toEqual([]);
        expect(await store.detections.list({ host: 'mac-9.local' })).toEqual([]);
        // a limit keeps the newest, listed oldest first
        expect((await store.detections.list({ limit: 2 })).map((d) => d.id)).toEqual(['det_3', 'det_2']);
        expect(await store.detections.countByAnalytic()).toEqual({ AN0032: 1, AN0990: 2 });
        await store.detections.upsert([{ ...d1, count: 3, last_seen: T0 + 900 }]);
        expect(await store.detections.get('det_1')).toMatchObject({ count: 3, last_seen: T0 + 900 });
        expect(await store.detections.expire(T0 + 400)).toBe(1);
        expect((await store.detections.list()).map((d) => d.id)).toEqual(['det_2', 'det_1']);
      });

      it('since includes a detection last seen at that very second', async () => {
        await store.detections.upsert([
          sampleDetection({ id: 'at-since', last_seen: T0 + 600, suppression_key: 'H1|AN0990|r|a' }),
          sampleDetection({ id: 'before-since', last_seen: T0 + 599, suppression_key: 'H1|AN0990|r|b' }),
        ]);
        expect((await store.detections.list({ since: T0 + 600 })).map((d) => d.id)).toEqual(['at-since']);
      });

      it('an empty host or analytic filter filters nothing (not the hosts without a hostname)', async () => {
        await store.detections.upsert([sampleDetection(), sampleDetection({ id: 'det_2', host_id: 'H2', last_seen: T0 + 70, suppression_key: 'H2|AN0990|r|x' })]);
        await store.hosts.touch([
          { hostId: 'H1', hostname: '', firstSeen: T0, lastSeen: T0 },
          { hostId: 'H2', hostname: 'mac-2.local', firstSeen: T0, lastSeen: T0 },
        ]);
        expect((await store.detections.list({ host: '' })).map((d) => d.id)).toEqual(['det_1', 'det_2']);
        expect((await store.detections.list({ analytic: '' as never })).map((d) => d.id)).toEqual(['det_1', 'det_2']);
      });

      it('takes a detection stored before fleet.window_kept_from existed (a later flow updating it) as null there', async () => {
        const { window_kept_from: _, ...olderFleet } = sampleDetection().fleet;
        await store.detections.upsert([{ ...sampleDetection(), fleet: olderFleet } as Detection]);
        expect((await store.detections.get('det_1'))!.fleet.window_kept_from).toBeNull();
      });

      it('answers where detections stand: creation time and latest change, for those still stored (the outbox prunes sink checkpoints with it)', async () => {
        expect(await store.detections.latestChanges([])).toEqual(new Map());
        await store.detections.upsert([
          sampleDetection({ id: 'a', suppression_key: 'k-a', created_at: T0 - 2 * DAY, last_seen: T0 - 2 * DAY }),
          sampleDetection({ id: 'b', host_id: 'H2', suppression_key: 'k-b', created_at: T0, last_seen: T0 }),
        ]);
        const [a, b] = await store.detections.changedSince('', 10);
        expect(await store.detections.latestChanges(['b', 'missing', 'a', 'b'])).toEqual(
          new Map([
            ['b', { createdAt: T0, cursor: b!.cursor }],
            ['a', { createdAt: T0 - 2 * DAY, cursor: a!.cursor }],
          ]),
        );
        // an update moves its latest change (and keeps its creation time); retention drops the detection from the answer
        await store.detections.upsert([sampleDetection({ id: 'a', suppression_key: 'k-a', created_at: T0 - 2 * DAY, last_seen: T0 - DAY, count: 2 })]);
        const [updated] = await store.detections.changedSince(b!.cursor, 10);
        expect(await store.detections.latestChanges(['a'])).toEqual(new Map([['a', { createdAt: T0 - 2 * DAY, cursor: updated!.cursor }]]));
        expect(await store.detections.expire(T0 - 1)).toBe(1);
        expect(await store.detections.latestChanges(['a', 'b'])).toEqual(new Map([['b', { createdAt: T0, cursor: b!.cursor }]]));
        // more ids than one statement takes on PostgreSQL (chunked)
        const many = Array.from({ length: 12_000 }, (_, i) => `x${i}`);
        expect([...(await store.detections.latestChanges([...many, 'b'])).keys()]).toEqual(['b']);
      });

      it('finds the open detection of a suppression key', async () => {
        const k = 'H1|AN0990|root|example.net';
        await store.detections.upsert([
          sampleDetection({ id: 'old', suppression_key: k, created_at: T0 - 2 * DAY }),
          sampleDetection({ id: 'new', suppression_key: k, created_at: T0 }),
          sampleDetection({ id: 'other', suppression_key: 'else', created_at: T0 }),
        ]);
        const open = await store.detections.openBySuppressionKey([k, 'missing'], T0 - DAY);
        expect([...open.keys()]).toEqual([k]);
        expect(open.get(k)!.map((d) => d.id)).toEqual(['new']);
        expect((await store.detections.openBySuppressionKey([k], T0 + 1)).size).toBe(0);
        // every window since the bound, oldest first: a late candidate may belong to an older one than the newest
        await store.detections.upsert([sampleDetection({ id: 'mid', suppression_key: k, created_at: T0 - DAY - 5 })]);
        const all = await store.detections.openBySuppressionKey([k, k], T0 - 3 * DAY);
        expect(all.get(k)!.map((d) => d.id)).toEqual(['old', 'mid', 'new']);
      });

      it('finds a detection of a suppression key created at the bound itself (the lookup includes it)', async () => {
        const k = 'H1|AN1415|team:UBF8T346G9/com.microsoft.VSCode|team-drive.com';
        await store.detections.upsert([
          sampleDetection({ id: 'at-bound', suppression_key: k, created_at: T0 - DAY }),
          sampleDetection({ id: 'before-bound', suppression_key: k, created_at: T0 - DAY - 1 }),
        ]);
        expect((await store.detections.openBySuppressionKey([k], T0 - DAY)).get(k)?.map((d) => d.id)).toEqual(['at-bound']);
        expect((await store.detections.openBySuppressionKey([k], T0 - DAY + 1)).size).toBe(0);
      });

      it('keeps and finds a detection whose suppression key is longer than a PostgreSQL index entry (a group root known by its path)', async () => {
        // suppressionKey falls back to group_root_path (cut at MAX_PATH_TEXT, 4096) when the root has no code identity;
        // text that does not compress, as a host may send it
        let path = '/Users/Shared/';
        for (let i = 0; path.length < 4000; i++) path += ((i * 2654435761) >>> 0).toString(36);
        const k = `H1|AN0990|${path}|example.net`;
        await store.detections.upsert([sampleDetection({ suppression_key: k })]);
        expect((await store.detections.openBySuppressionKey([k], T0)).get(k)!.map((d) => d.id)).toEqual(['det_1']);
        await store.transaction(async (tx) => {
          expect((await tx.detections.openBySuppressionKey([k], T0)).get(k)!.map((d) => d.id)).toEqual(['det_1']);
          await tx.detections.upsert([sampleDetection({ suppression_key: k, count: 2 })]);
        });
        expect((await store.detections.get('det_1'))!.count).toBe(2);
      });

      it('hands out every change once, in change order, as the latest version (the sinks outbox)', async () => {
        const ids = (changes: { detection: Detection }[]) => changes.map((c) => `${c.detection.id}:${c.detection.count}`);
        expect(await store.detections.changeCursor()).toBe('');
        expect(await store.detections.changedSince('', 10)).toEqual([]);
        for (const id of ['a', 'b', 'c']) await store.detections.upsert([sampleDetection({ id, suppression_key: `k-${id}` })]);
        const all = await store.detections.changedSince('', 10);
        expect(ids(all)).toEqual(['a:1', 'b:1', 'c:1']);
        expect(all[0]!.detection).toEqual(sampleDetection({ id: 'a', suppression_key: 'k-a' }));
        expect(await store.detections.changeCursor()).toBe(all[2]!.cursor);
        const page = await store.detections.changedSince('', 2);
        expect(ids(page)).toEqual(['a:1', 'b:1']);
        expect(ids(await store.detections.changedSince(page[1]!.cursor, 10))).toEqual(['c:1']);
        expect(await store.detections.changedSince(all[2]!.cursor, 10)).toEqual([]);

        // an update moves the detection past every cursor, as its new version, once
        await store.detections.upsert([sampleDetection({ id: 'a', suppression_key: 'k-a', count: 2 })]);
        const updated = await store.detections.changedSince(all[2]!.cursor, 10);
        expect(ids(updated)).toEqual(['a:2']);
        expect(ids(await store.detections.changedSince('', 10))).toEqual(['b:1', 'c:1', 'a:2']);
        // each change names the detection's first change (its insert): before it, a reader was never offered it
        expect(all.map((c) => c.firstCursor)).toEqual(all.map((c) => c.cursor));
        expect(updated[0]!.firstCursor).toBe(all[0]!.cursor);
        expect(updated[0]!.cursor).not.toBe(all[0]!.cursor);

        // retention deleting the newest change does not hand its place to a later detection
        expect(await store.detections.expire(T0 + 10 * DAY)).toBe(3);
        expect(await store.detections.changedSince('', 10)).toEqual([]);
        await store.detections.upsert([sampleDetection({ id: 'd', suppression_key: 'k-d' })]);
        expect(ids(await store.detections.changedSince(updated[0]!.cursor, 10))).toEqual(['d:1']);

        // a rolled-back upsert never shows
        const before = await store.detections.changeCursor();
        await expect(
          store.transaction(async (tx) => {
            await tx.detections.upsert([sampleDetection({ id: 'e', suppression_key: 'k-e' })]);
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        expect(await store.detections.changedSince(before, 10)).toEqual([]);
        await expect(store.detections.changedSince('not a cursor', 1)).rejects.toBeInstanceOf(ChangeCursorError);
        await expect(store.detections.countChangedSince('not a cursor')).rejects.toBeInstanceOf(ChangeCursorError);
      });

      it('pages through many changes of one upsert in order, each once, and counts the backlog', async () => {
        const many = Array.from({ length: 25 }, (_, i) => sampleDetection({ id: `m${String(i).padStart(2, '0')}`, suppression_key: `k-${i}` }));
        await store.detections.upsert(many);
        expect(await store.detections.countChangedSince('')).toBe(25);
        const seen: string[] = [];
        let cursor = '';
        for (let page = 0; page < 20; page++) {
          const changes = await store.detections.changedSince(cursor, 4);
          if (!changes.length) break;
          seen.push(...changes.map((c) => c.detection.id));
          cursor = changes[changes.length - 1]!.cursor;
          expect(await store.detections.countChangedSince(cursor)).toBe(25 - seen.length);
        }
        expect(seen.length).toBe(25);
        expect([...seen].sort()).toEqual(many.map((d) => d.id));
        expect(cursor).toBe(await store.detections.changeCursor());
        // the next upsert follows, whatever the counters' digit count
        await store.detections.upsert([sampleDetection({ id: 'z-last', suppression_key: 'k-last' })]);
        expect((await store.detections.changedSince(cursor, 4)).map((c) => c.detection.id)).toEqual(['z-last']);
      });
    });

    it('quarantine stores lines with their reason, newest first', async () => {
      await store.quarantine.add([
        { receivedAt: 100, source: 'file:/a', reason: 'not JSON', line: 'garbage' },
        { receivedAt: 200, source: 'http:1.2.3.4', reason: 'missing name', line: '{}' },
      ]);
      expect(await store.quarantine.count()).toBe(2);
      expect((await store.quarantine.list(1))[0]).toEqual({ receivedAt: 200, source: 'http:1.2.3.4', reason: 'missing name', line: '{}' });
      expect(await store.quarantine.expire(150)).toBe(1);
      expect(await store.quarantine.count()).toBe(1);
    });

    it('checkpoints.putIfAbsent keeps the first one saved and answers with it', async () => {
      expect(await store.checkpoints.putIfAbsent('sink:a', { cursor: 'c1' })).toEqual({ cursor: 'c1' });
      expect(await store.checkpoints.putIfAbsent('sink:a', { cursor: 'c2' })).toEqual({ cursor: 'c1' });
      expect(await store.checkpoints.get('sink:a')).toEqual({ cursor: 'c1' });
      expect(await store.transaction((tx) => tx.checkpoints.putIfAbsent('sink:b', { cursor: 'c3' }))).toEqual({ cursor: 'c3' });
    });

    it('checkpoints round-trip and overwrite', async () => {
      expect(await store.checkpoints.get('file:/var/log/a')).toBeNull();
      await store.checkpoints.put('file:/var/log/a', { ino: 5, offset: 100 });
      await store.checkpoints.put('file:/var/log/a', { ino: 5, offset: 250 });
      await store.checkpoints.put('nats:results', { seq: 9 });
      expect(await store.checkpoints.get('file:/var/log/a')).toEqual({ ino: 5, offset: 250 });
      expect(await store.checkpoints.list()).toEqual([
        { sourceId: 'file:/var/log/a', checkpoint: { ino: 5, offset: 250 } },
        { sourceId: 'nats:results', checkpoint: { seq: 9 } },
      ]);
    });

    describe('transactions and job locks', () => {
      it('commits state and checkpoint together, or neither', async () => {
        await store.transaction(async (tx) => {
          await tx.hosts.touch([{ hostId: 'H1', hostname: '', firstSeen: T0, lastSeen: T0 }]);
          await tx.checkpoints.put('file:/x', { offset: 10 });
        });
        await expect(
          store.transaction(async (tx) => {
            await tx.hosts.touch([{ hostId: 'H2', hostname: '', firstSeen: T0, lastSeen: T0 }]);
            await tx.checkpoints.put('file:/x', { offset: 20 });
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await store.checkpoints.get('file:/x')).toEqual({ offset: 10 });
        expect((await store.hosts.get(['H1', 'H2'])).size).toBe(1);
      });

      it('forgets dedupe keys of a rolled-back transaction (their rows are new when re-sent)', async () => {
        await expect(
          store.transaction(async (tx) => {
            expect(await tx.results.markSeen([{ digest: 'rb1', unixTime: T0 }, { digest: 'rb2', unixTime: T0 }])).toEqual([true, true]);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await store.results.markSeen([{ digest: 'rb1', unixTime: T0 }, { digest: 'rb3', unixTime: T0 }])).toEqual([true, true]);
        expect(await store.transaction((tx) => tx.results.markSeen([{ digest: 'rb1', unixTime: T0 }, { digest: 'rb2', unixTime: T0 }]))).toEqual([false, true]);
      });

      it('runs concurrent transactions without losing writes', async () => {
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            store.transaction(async (tx) => {
              await tx.prevalence.observeDestinations([{ key: 'c.com', hostId: `H${i}`, firstSeen: T0, lastSeen: T0 }]);
              await tx.clock.observe(T0 + i, T0 + i);
            }),
          ),
        );
        expect((await store.prevalence.destinations(['c.com'], ALL)).get('c.com')!.hosts).toBe(8);
        expect(await store.clock.get()).toEqual({ earliest: T0, newest: T0 + 7 });
      });

      it('withJobLock refuses a second holder of the same name at once', async () => {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const first = store.withJobLock('finalize', async () => {
          await gate;
          return 1;
        });
        await new Promise((r) => setTimeout(r, 20));
        expect(await store.withJobLock('finalize', async () => 2)).toEqual({ acquired: false });
        expect(await store.withJobLock('rollup', async () => 3)).toEqual({ acquired: true, value: 3 });
        release();
        expect(await first).toEqual({ acquired: true, value: 1 });
        expect(await store.withJobLock('finalize', async () => 4)).toEqual({ acquired: true, value: 4 });
      });

      it('refuses work after close', async () => {
        await store.close();
        await expect(store.hosts.activeCount(ALL)).rejects.toThrow();
      });
    });

    describe('rollup in slices (fleet/rules/maintenance.ts)', () => {
      const cfg = defaultAnalyticsConfig();
      const sum = (a: CompactionResult, b: CompactionResult): CompactionResult => ({ destinations: a.destinations + b.destinations, pairs: a.pairs + b.pairs, apps: a.apps + b.apps });
      const refName = (r: PrevalenceKeyRef) => (r.family === 'destinations' ? r.key : r.family === 'pairs' ? pairKey(r.identity, r.key) : r.identity) + ` (${r.family})`;

      /** The store a one-transaction rollup of seed `seed` leaves, and its answer; `store` is then a fresh store with the same seed. */
      async function oneTransactionReference(seed: number) {
        const seeded = await seedRollupStore(store, T0, seed);
        const result = await rollupInOneTransaction(store, cfg);
        const state = await dumpRollupState(store, seeded, T0);
        await store.close();
        store = await open();
        await seedRollupStore(store, T0, seed);
        return { seeded, result, state };
      }

      it.each([
        [7, 25],
        [11, 1],
      ])('seed %i, slices of %i rows: leaves the store, and answers, as one exclusive transaction did', async (seed, sliceRows) => {
        const reference = await oneTransactionReference(seed);
        // the seed gives every step work in every family
        for (const f of ['destinations', 'pairs', 'apps'] as const) {
          expect(reference.result.compacted[f]).toBeGreaterThan(1);
          expect(reference.result.expired[f]).toBeGreaterThan(1);
        }
        expect(reference.result).toMatchObject({ activeHosts: 30, commonThreshold: 10, hostsExpired: 10, dedupeKeysExpired: 11 });
        const hooked = hookSlices(store, (_kind, _n, run) => run());
        expect(await rollup(hooked.store, { analytics: cfg, clock: FAR_CLOCK, sliceRows })).toEqual(reference.result);
        expect(hooked.exclusive()).toBeGreaterThan(20);
        expect(await dumpRollupState(store, reference.seeded, T0)).toEqual(reference.state);
      }, 60_000);

      it('an ingest transaction started while a slice runs commits between slices, before the rollup ends, and its sightings are compacted alike', async () => {
        const newest = T0 + 40 * DAY;
        const keys = await seedFourCommonKeys(store, newest);
        const order: string[] = [];
        let ingest: Promise<void> | undefined;
        const hooked = hookSlices(store, async (kind, n, run) => {
          if (kind === 'compact' && n === 1) {
            // queued behind this slice: sights the key this slice compacts, and the one the last slice compacts
            ingest = store
              .transaction(async (tx) => {
                await tx.prevalence.observeDestinations(['a.example', 'd.example'].map((key) => ({ key, hostId: 'H12', firstSeen: newest, lastSeen: newest })));
                order.push('ingest');
              })
              .then(() => void order.push('ingest committed'));
          }
          const r = await run();
          order.push(`${kind} ${n}`);
          return r;
        });
        // 12 host rows + 1 a key: one key per slice
        const r = await rollup(hooked.store, { analytics: cfg, clock: FAR_CLOCK, sliceRows: 13 });
        order.push('rollup');
        await ingest;
        // the store runs one transaction at a time: the batch ran whole between slices 1 and 2
        expect(order.filter((o) => !o.startsWith('expire') && o !== 'ingest committed')).toEqual(['compact 1', 'ingest', 'compact 2', 'compact 3', 'compact 4', 'rollup']);
        expect(order.indexOf('ingest committed')).toBeLessThan(order.indexOf('rollup'));
        expect(r.compacted.destinations).toBe(4);
        const window = { from: newest - 30 * DAY, to: newest };
        const stats = await store.prevalence.destinations(keys, window);
        // a.example took H12 into its sketches (compacted already), d.example as a host row its slice then folded
        expect(keys.map((k) => [k, stats.get(k)!.hosts, stats.get(k)!.saturated])).toEqual([
          ['a.example', 13, true],
          ['b.example', 12, true],
          ['c.example', 12, true],
          ['d.example', 13, true],
        ]);
        for (const k of keys) expect(await store.prevalence.destinationHosts(k, ALL, 100)).toEqual([]);
        // nothing to expire: keptFrom is recorded all the same
        expect(await store.prevalence.keptFrom()).toBe(rollupBounds(newest, cfg).keepFrom);
      });

      it("with nothing to expire, keptFrom is raised before a compaction commits: no window starting before it counts a compacted key's spans cut at keepFrom unannounced", async () => {
        const newest = T0 + 60 * DAY;
        const keys = await seedFourCommonKeys(store, newest);
        // every host's span of every key reaches back 40 days, past what the rollup keeps (nothing is older than
        // keepFrom, so there is nothing to expire): compaction folds the spans into sketches from keepFrom's day on
        await store.prevalence.observeDestinations(keys.flatMap((key) => Array.from({ length: 12 }, (_, i) => ({ key, hostId: `H${i}`, firstSeen: newest - 40 * DAY, lastSeen: newest - 40 * DAY }))));
        const { keepFrom, sketchesBefore } = rollupBounds(newest, cfg);
        expect(await store.prevalence.expirableKeys(keepFrom, { sketchesBefore })).toEqual([]);
        // a late candidate's window (a backlog), ending two days before keepFrom: all 12 hosts before the rollup
        const late = { from: keepFrom - 32 * DAY, to: keepFrom - 2 * DAY };
        for (const s of (await store.prevalence.destinations(keys, late)).values()) expect(s).toMatchObject({ hosts: 12, saturated: false });
        // finalization takes such a window's counts only while it starts at or after keptFrom (windowKeptFrom), so at
        // every commit a key counts its 12 hosts there, or keptFrom is past the window's start
        const unannounced: string[] = [];
        const check = async (when: string) => {
          const kept = await store.prevalence.keptFrom();
          for (const [k, s] of await store.prevalence.destinations(keys, late)) if (s.hosts !== 12 && (kept === null || kept <= late.from)) unannounced.push(`${when}: ${k} counts ${s.hosts} hosts, keptFrom ${kept}`);
        };
        const hooked = hookSlices(store, (_kind, _n, run) => run(), (n) => check(`before exclusive transaction ${n}`));
        expect((await rollup(hooked.store, { analytics: cfg, clock: FAR_CLOCK, sliceRows: 13 })).compacted.destinations).toBe(4);
        await check('after the rollup');
        expect(unannounced).toEqual([]);
        expect(await store.prevalence.keptFrom()).toBe(keepFrom);
      });

      it.each(['expire', 'compact'] as const)('an error in a %s slice leaves every key done or untouched, and the next rollup finishes the job', async (failIn: SliceKind) => {
        const reference = await oneTransactionReference(7);
        const handed: (readonly PrevalenceKeyRef[])[] = [];
        let done: CompactionResult = { destinations: 0, pairs: 0, apps: 0 };
        const failing = hookSlices(store, async (kind, n, run, keys) => {
          const r = await run();
          if (kind !== failIn) return r;
          handed.push(keys ?? []);
          if (n === 2) throw new Error('slice 2 failed');
          done = sum(done, r);
          return r;
        });
        await expect(rollup(failing.store, { analytics: cfg, clock: FAR_CLOCK, sliceRows: 25 })).rejects.toThrow('slice 2 failed');
        // slice 1 committed, slice 2 rolled back: its keys are still to do, slice 1's are not
        const b = rollupBounds(reference.seeded.newest, cfg);
        const left = (failIn === 'expire' ? await store.prevalence.expirableKeys(b.keepFrom, { sketchesBefore: b.sketchesBefore }) : await store.prevalence.commonKeys(10, b.window)).map(refName);
        expect(handed).toHaveLength(2);
        for (const k of handed[0]!.map(refName)) expect(left).not.toContain(k);
        for (const k of handed[1]!.map(refName)) expect(left).toContain(k);
        // a key is compacted whole or not at all: saturated keys have no host rows
        const [all] = await store.prevalence.statsMany([{ window: ALL, destinations: reference.seeded.destinations, pairs: [], apps: reference.seeded.apps }]);
        for (const [k, s] of all!.destinations) expect([k, (await store.prevalence.destinationHosts(k, ALL, 1)).length > 0]).toEqual([k, !s.saturated && s.firstSeen !== null]);
        for (const [k, s] of all!.apps) expect([k, (await store.prevalence.appHosts(k, ALL, 1)).length > 0]).toEqual([k, !s.saturated && s.firstSeen !== null]);

        const again = await rollup(store, { analytics: cfg, clock: FAR_CLOCK, sliceRows: 25 });
        const field = failIn === 'expire' ? 'expired' : 'compacted';
        expect(sum(again[field], done)).toEqual(reference.result[field]);
        expect(await dumpRollupState(store, reference.seeded, T0)).toEqual(reference.state);
      }, 60_000);
    });
  });
}
