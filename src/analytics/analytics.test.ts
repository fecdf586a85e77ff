import { describe, expect, it } from 'vitest';
import { AnalyticsConfigSchema, defaultAnalyticsConfig } from '../config/analytics.js';
import { ANALYTIC_IDS } from '../schemas/egress-candidate.js';
import { DetectionSchema } from '../schemas/detection.js';
import { ANALYTICS, commonDestination, commonThreshold, rareDestination, type EndpointFacts } from './index.js';
import { DAY, MiB, T0, candidate, endpointFacts, fleetFacts } from './testing/facts.js';

const cfg = defaultAnalyticsConfig();
type Over = Parameters<typeof endpointFacts>[0];

const noPrecursor = { kind: 'none', tier: 0, gap: 0, time: 0 } as const;
const tier2 = { kind: 'sensitive_access', tier: 2, gap: 300, time: T0 - 300 } as const;
const archiveOnly = { kind: 'archive', tier: 0, gap: 200, time: T0 - 200 } as const;

function endpoint(id: keyof typeof ANALYTICS, over: Over): { pass: boolean; reasons: string[] } {
  return ANALYTICS[id].endpoint(endpointFacts(over), cfg);
}

describe('registry', () => {
  it('defines every analytic id once, with ATT&CK metadata', () => {
    expect(Object.keys(ANALYTICS).sort()).toEqual([...ANALYTIC_IDS].sort());
    for (const [id, a] of Object.entries(ANALYTICS)) {
      expect(a.id).toBe(id);
      expect(a.attack.technique).toMatch(/^T\d{4}(\.\d{3})?$/);
      expect(a.attack.description.length).toBeGreaterThan(40);
    }
  });
});

describe('AN0990 endpoint: external, encrypted, not browser, not sanctioned, tier-1/2 precursor', () => {
  it.each<[string, Over, boolean, string?]>([
    ['tier-1 precursor, tls', {}, true, 'tier1_precursor'],
    ['tier-2 precursor', { precursor: tier2 }, true, 'tier2_precursor'],
    ['ssh counts as encrypted', { flow: { service: 'ssh', remote_port: 22 } }, true],
    ['quic', { flow: { service: 'quic', protocol: 'udp' } }, true],
    ['not external', { external: false }, false, 'not_external'],
    ['browser', { browser: true }, false, 'browser'],
    ['sanctioned uploader', { sanctioned: true }, false, 'sanctioned'],
    ['cleartext http', { flow: { service: 'http', remote_port: 80 } }, false, 'not_encrypted'],
    ['no precursor', { precursor: noPrecursor }, false, 'no_sensitive_precursor'],
    ['archive precursor only', { precursor: archiveOnly }, false, 'no_sensitive_precursor'],
    ['precursor exactly at start − 15 min', { precursor: { kind: 'sensitive_access', tier: 1, gap: 900, time: T0 - 900 } }, true],
    ['precursor at start − 15 min − 1 s', { precursor: { kind: 'sensitive_access', tier: 1, gap: 901, time: T0 - 901 } }, false, 'no_sensitive_precursor'],
    ['read during the flow (negative gap)', { precursor: { kind: 'sensitive_access', tier: 1, gap: -10, time: T0 + 10 } }, true],
    ['precursor after the flow ended', { precursor: { kind: 'sensitive_access', tier: 1, gap: -31, time: T0 + 31 } }, false, 'no_sensitive_precursor'],
    ['small download after keychain read still a candidate (fleet decides)', { flow: { bytes_out: 2000, bytes_in: 500_000, pcr: -0.99 } }, true],
  ])('%s → pass %s', (_n, over, pass, reason) => {
    const r = endpoint('AN0990', over);
    expect(r.pass).toBe(pass);
    if (reason) expect(r.reasons).toContain(reason);
  });

  it('interned verdicts are shared between flows and frozen, so no consumer can change another flow\'s reasons', () => {
    const a = endpoint('AN0990', {});
    const b = endpoint('AN0990', {});
    expect(b).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.reasons)).toBe(true);
    expect(() => a.reasons.push('x')).toThrow(TypeError);
  });

  it('evidence lists upload shape, archive staging and closeness', () => {
    const r = endpoint('AN0990', { archive: { time: T0 - 100, gap: 100, staging: true } });
    expect(r.reasons).toEqual(
      expect.arrayContaining(['tier1_precursor', 'archive_precursor', 'staging_path', 'precursor_close', 'upload_shaped', 'no_return', 'non_browser', 'encrypted']),
    );
  });

  it('is close when any precursor in the window is: a far tier-1 read does not hide a close archive (more evidence never lowers severity)', () => {
    const farRead = { kind: 'sensitive_access' as const, tier: 1, gap: 600, time: T0 - 600 };
    expect(endpoint('AN0990', { precursor: farRead }).reasons).not.toContain('precursor_close');
    expect(endpoint('AN0990', { precursor: farRead, archive: { time: T0 - 30, gap: 30, staging: false } }).reasons).toContain('precursor_close');
    expect(endpoint('AN0990', { precursor: farRead, archive: { time: T0 - 200, gap: 200, staging: false } }).reasons).not.toContain('precursor_close');
  });

  it('is close at a gap of exactly 2 min (≤ precursor_high_gap), for the reported read and for an archive step alike; 121 s is not', () => {
    const readAt = (gap: number) => ({ kind: 'sensitive_access' as const, tier: 1, gap, time: T0 - gap });
    expect(endpoint('AN0990', { precursor: readAt(120) }).reasons).toContain('precursor_close');
    expect(endpoint('AN0990', { precursor: readAt(121) }).reasons).not.toContain('precursor_close');
    expect(endpoint('AN0990', { precursor: readAt(600), archive: { time: T0 - 120, gap: 120, staging: false } }).reasons).toContain('precursor_close');
    expect(endpoint('AN0990', { precursor: readAt(600), archive: { time: T0 - 121, gap: 121, staging: false } }).reasons).not.toContain('precursor_close');
  });

  it('claims raw_ip for an empty name only when the flow source could have seen one (nettop and ss cannot); for an IP literal always', () => {
    expect(endpoint('AN0990', { flow: { server_name: '' } }).reasons).not.toContain('raw_ip');
    expect(endpoint('AN0990', { flow: { server_name: '' }, serverNameObservable: true }).reasons).toContain('raw_ip');
    expect(endpoint('AN0990', { flow: { server_name: 'files.example.com' }, serverNameObservable: true }).reasons).not.toContain('raw_ip');
    // an IP literal as the name (Host: 203.0.113.10, a URL written as an address) says raw IP whatever the source
    for (const name of ['203.0.113.10', '203.0.113.10:8080', '[2001:db8::7]:443', '2001:db8::7']) {
      expect(endpoint('AN0990', { flow: { server_name: name } }).reasons, name).toContain('raw_ip');
    }
    expect(endpoint('AN0990', { flow: { server_name: '203.0.113.10.example.net' } }).reasons).not.toContain('raw_ip');
  });
});

describe('AN1415 endpoint: external tls/quic, not browser/sanctioned; precursor (incl. archive) OR upload-shaped ≥ 10 MiB', () => {
  it.each<[string, Over, boolean, string?]>([
    ['sensitive precursor', {}, true],
    ['archive precursor only', { precursor: archiveOnly }, true, 'archive_precursor'],
    ['archive side-precursor with no primary', { precursor: noPrecursor, archive: { time: T0 - 30, gap: 30, staging: true }, flow: { bytes_out: 2 * MiB } }, true, 'staging_path'],
    ['no precursor, upload-shaped 10 MiB', { precursor: noPrecursor, flow: { bytes_out: 10 * MiB, pcr: 0.9 } }, true],
    ['no precursor, upload-shaped 10 MiB − 1', { precursor: noPrecursor, flow: { bytes_out: 10 * MiB - 1, pcr: 0.9 } }, false, 'no_precursor_and_not_large_upload'],
    ['no precursor, 20 MiB but pcr 0.79', { precursor: noPrecursor, flow: { bytes_out: 20 * MiB, pcr: 0.79 } }, false],
    ['no precursor, 20 MiB pcr 0.8', { precursor: noPrecursor, flow: { bytes_out: 20 * MiB, pcr: 0.8 } }, true],
    ['ssh is not tls/quic', { flow: { service: 'ssh', remote_port: 22 } }, false, 'not_tls_or_quic'],
    ['browser', { browser: true }, false, 'browser'],
    ['sanctioned', { sanctioned: true }, false, 'sanctioned'],
    ['private destination', { external: false, flow: { remote_scope: 'private' } }, false, 'not_external'],
  ])('%s → pass %s', (_n, over, pass, reason) => {
    const r = endpoint('AN1415', over);
    expect(r.pass).toBe(pass);
    if (reason) expect(r.reasons).toContain(reason);
  });
});

describe('AN0425 endpoint: external cleartext http/ftp, not browser/sanctioned, tier-1/2 precursor', () => {
  it.each<[string, Over, boolean, string?]>([
    ['http with tier-2 precursor', { flow: { service: 'http', remote_port: 80 }, precursor: tier2 }, true, 'cleartext'],
    ['ftp', { flow: { service: 'ftp', remote_port: 21 } }, true],
    ['tls', {}, false, 'not_cleartext'],
    ['archive-only precursor, no upload', { flow: { service: 'http', remote_port: 80, bytes_out: 4000, pcr: -0.4 }, precursor: archiveOnly }, false, 'no_sensitive_precursor'],
    ['archive-only precursor, upload-shaped', { flow: { service: 'http', remote_port: 80, bytes_out: MiB, pcr: 0.8 }, precursor: archiveOnly }, true, 'archive_precursor'],
    ['archive-only precursor, 1 MiB − 1 out', { flow: { service: 'http', remote_port: 80, bytes_out: MiB - 1, pcr: 0.99 }, precursor: archiveOnly }, false, 'no_sensitive_precursor'],
    ['no precursor, upload-shaped', { flow: { service: 'http', remote_port: 80, bytes_out: 30 * MiB, pcr: 0.99 }, precursor: noPrecursor }, false, 'no_sensitive_precursor'],
    ['browser', { flow: { service: 'http', remote_port: 80 }, browser: true }, false, 'browser'],
  ])('%s → pass %s', (_n, over, pass, reason) => {
    const r = endpoint('AN0425', over);
    expect(r.pass).toBe(pass);
    if (reason) expect(r.reasons).toContain(reason);
  });
});

describe('AN0032 endpoint: external, no return, not sanctioned', () => {
  it.each<[string, Over, boolean, string?]>([
    ['pcr 0.95, 1 MiB', { flow: { pcr: 0.95, bytes_out: MiB }, precursor: noPrecursor }, true, 'no_return'],
    ['pcr 0.94', { flow: { pcr: 0.94, bytes_out: 5 * MiB } }, false, 'not_no_return'],
    ['0.99 MiB', { flow: { pcr: 0.99, bytes_out: Math.floor(0.99 * MiB) } }, false, 'not_no_return'],
    ['browsers are not exempt', { browser: true }, true],
    ['sanctioned', { sanctioned: true }, false, 'sanctioned'],
    ['internal range', { external: false }, false, 'not_external'],
  ])('%s → pass %s', (_n, over, pass, reason) => {
    const r = endpoint('AN0032', over);
    expect(r.pass).toBe(pass);
    if (reason) expect(r.reasons).toContain(reason);
  });
});

describe('AN0082 endpoint: external, long-lived OR high-throughput, non-Apple signature class, not browser, not sanctioned', () => {
  const long: Over = { flow: { duration: 3600, bytes_out: 10 * MiB, pcr: 0.5, last_seen: T0 + 3600 }, precursor: noPrecursor, groupBytesOut15m: 0 };
  it.each<[string, Over, boolean, string?]>([
    ['open long-lived flow, developer_id', { ...long, signatureClass: 'developer_id' }, true, 'long_lived'],
    ['long-lived 3599 s', { ...long, flow: { ...long.flow, duration: 3599 }, signatureClass: 'developer_id' }, false, 'not_long_lived_or_high_throughput'],
    ['high-throughput flow 50 MiB, adhoc', { flow: { bytes_out: 50 * MiB }, signatureClass: 'adhoc', groupBytesOut15m: 0 }, true, 'high_throughput'],
    ['group 100 MiB in 15 min, unsigned', { flow: { bytes_out: 5 * MiB }, groupBytesOut15m: 100 * MiB }, true, 'group_high_throughput'],
    ['group 100 MiB − 1', { flow: { bytes_out: 5 * MiB }, groupBytesOut15m: 100 * MiB - 1 }, false],
    // the group rule qualifies the flows that carry its egress: a 2 KB API call of that group is not, a 64 KiB chunk is
    ['group 100 MiB, this flow 64 KiB (a chunked upload)', { flow: { bytes_out: 64 * 1024 }, groupBytesOut15m: 100 * MiB }, true, 'group_high_throughput'],
    ['group 100 MiB, this flow 64 KiB − 1', { flow: { bytes_out: 64 * 1024 - 1 }, groupBytesOut15m: 100 * MiB }, false, 'not_long_lived_or_high_throughput'],
    ['group 100 MiB, a 2 KB call', { flow: { bytes_out: 2000, pcr: 0 }, groupBytesOut15m: 100 * MiB }, false, 'not_long_lived_or_high_throughput'],
    // the group's largest flow always carries the group rule: 100 MiB split just under the floor still counts once
    ['group 100 MiB, its largest flow (64 KiB − 1)', { flow: { bytes_out: 64 * 1024 - 1 }, groupBytesOut15m: 100 * MiB, groupTop: true }, true, 'group_high_throughput'],
    ['group 100 MiB − 1, its largest flow', { flow: { bytes_out: 64 * 1024 - 1 }, groupBytesOut15m: 100 * MiB - 1, groupTop: true }, false, 'not_long_lived_or_high_throughput'],
    ['app_store', { ...long, signatureClass: 'app_store' }, true],
    ['invalid signature', { ...long, signatureClass: 'invalid' }, true],
    ['apple_platform', { ...long, signatureClass: 'apple_platform' }, false, 'signature_class_apple_platform'],
    ['apple', { ...long, signatureClass: 'apple' }, false],
    ['development', { ...long, signatureClass: 'development' }, false],
    ['unknown (signing not checked yet)', { ...long, signatureClass: 'unknown' }, false],
    ['sanctioned backup agent', { ...long, signatureClass: 'developer_id', sanctioned: true }, false, 'sanctioned'],
    // an hour-long browser video call (symmetric, so its pair never becomes upload-normal)
    ['browser (a long call in Chrome)', { ...long, flow: { ...long.flow, pcr: -0.1, bytes_out: 300 * MiB, bytes_in: 400 * MiB }, signatureClass: 'developer_id', browser: true }, false, 'browser'],
  ])('%s → pass %s', (_n, over, pass, reason) => {
    const r = endpoint('AN0082', over);
    expect(r.pass).toBe(pass);
    if (reason) expect(r.reasons).toContain(reason);
  });
});

describe('fleet finalization', () => {
  const mature = fleetFacts();
  const warming = fleetFacts({ baselineStart: T0 - 3 * DAY });
  const common = { destinationHosts: 200, destinationFirstSeen: T0 - 90 * DAY } as const;

  describe.each(['AN0990', 'AN0425'] as const)('%s: rare destination OR abnormal ratio', (id) => {
    it.each([
      ['rare destination, mature baseline', {}, fleetFacts(), true, 'rare_destination'],
      ['rare destination at exactly the threshold (5 of 500)', {}, fleetFacts({ destinationHosts: 5 }), true, 'rare_destination'],
      ['6 of 500 hosts, pair upload-normal', {}, fleetFacts({ destinationHosts: 6, pairUploadHosts: 3 }), false, 'no_fire:upload_normal_pair'],
      ['rare at 12 hosts: threshold 3', {}, fleetFacts({ activeHosts: 12, destinationHosts: 3, pairUploadHosts: 3 }), true, 'rare_destination'],
      ['12 hosts: 4 is not rare', {}, fleetFacts({ activeHosts: 12, destinationHosts: 4, pairUploadHosts: 3 }), false, 'no_fire:upload_normal_pair'],
      ['common destination, upload-shaped, pair not upload-normal', {}, fleetFacts({ ...common, pairUploadHosts: 2 }), true, 'abnormal_ratio'],
      ['common destination, not upload-shaped', { pcr: -0.5, bytes_out: 5000 }, fleetFacts(common), false, 'no_fire:not_rare_not_upload_shaped'],
      ['rare while warming, not upload-shaped', { pcr: 0.1 }, warming, false, 'baseline_warming'],
      ['rare while warming but abnormal ratio', {}, warming, true, 'abnormal_ratio'],
    ])('%s', (_n, cOver, f, fire, branch) => {
      const v = ANALYTICS[id].finalize(candidate({ analytic: id, ...cOver }), f, cfg);
      expect(v.fire).toBe(fire);
      expect(v.branch).toBe(branch);
      if (!fire) expect(v.severity).toBe('info');
    });
  });

  it('warming verdicts say so', () => {
    const v = ANALYTICS.AN0990.finalize(candidate({ pcr: 0.1 }), warming, cfg);
    expect(v).toMatchObject({ fire: false, branch: 'baseline_warming', baselineWarming: true });
    expect(ANALYTICS.AN0990.finalize(candidate(), warming, cfg).baselineWarming).toBe(true);
    expect(ANALYTICS.AN0990.finalize(candidate(), mature, cfg).baselineWarming).toBe(false);
  });

  describe('AN1415', () => {
    const noPre = { precursor_kind: 'none', precursor_time: 0, precursor_path: '', precursor_category: '', precursor_tier: 0, precursor_pid: 0, precursor_gap: 0 } as const;
    it.each([
      ['with precursor: rare', {}, mature, true, 'rare_destination'],
      ['with precursor: abnormal ratio', {}, fleetFacts({ ...common, pairUploadHosts: 0 }), true, 'abnormal_ratio'],
      ['without precursor: rare and 15 MiB upload', noPre, mature, true, 'rare_and_upload'],
      ['without precursor: 9 MiB upload', { ...noPre, bytes_out: 9 * MiB }, mature, false, 'no_fire:no_precursor_and_not_large_upload'],
      ['without precursor: not rare', noPre, fleetFacts({ destinationHosts: 6 }), false, 'no_fire:not_rare'],
      ['without precursor: rarity alone while warming', noPre, warming, false, 'baseline_warming'],
    ])('%s', (_n, cOver, f, fire, branch) => {
      const v = ANALYTICS.AN1415.finalize(candidate({ analytic: 'AN1415', ...cOver }), f, cfg);
      expect(v.fire).toBe(fire);
      expect(v.branch).toBe(branch);
    });

    it('without precursor stays medium even with every modifier', () => {
      const v = ANALYTICS.AN1415.finalize(candidate({ ...noPre, server_name: '', reasons: 'staging_path' }), mature, cfg);
      expect(v.fire).toBe(true);
      expect(v.severity).toBe('medium');
    });
  });

  describe('AN0032: previously unseen identity in the chain', () => {
    const old = { identity: 'team:APPLE/com.apple.curl', firstSeen: T0 - 300 * DAY, hosts: 500 };
    it.each([
      ['flow process new', [{ identity: 'cdhash:aa', firstSeen: T0 - DAY, hosts: 1 }], mature, true, 'unseen_app'],
      ['Apple curl, unsigned parent first seen today', [old, { identity: 'cdhash:bb', firstSeen: T0, hosts: 1 }], mature, true, 'unseen_app'],
      ['every link old', [old, { ...old, identity: 'team:ABC/com.x' }], mature, false, 'no_fire:every_chain_identity_known'],
      ['new but already on 30 of 500 hosts', [{ identity: 'team:X/y', firstSeen: T0 - DAY, hosts: 30 }], mature, false, 'no_fire:every_chain_identity_known'],
      ['unseen while warming', [{ identity: 'cdhash:aa', firstSeen: T0, hosts: 1 }], warming, false, 'baseline_warming'],
    ])('%s', (_n, chainApps, base, fire, branch) => {
      const v = ANALYTICS.AN0032.finalize(candidate({ analytic: 'AN0032' }), { ...base, chainApps }, cfg);
      expect(v.fire).toBe(fire);
      expect(v.branch).toBe(branch);
    });
  });

  describe('AN0082: pair not upload-normal; launchd job raises severity', () => {
    const c = candidate({ analytic: 'AN0082', precursor_kind: 'none', precursor_gap: 0, duration: 5 * 3600, bytes_out: 40 * MiB, pcr: 0.6, reasons: 'long_lived' });
    it('fires when the pair is not upload-normal, even while warming', () => {
      expect(ANALYTICS.AN0082.finalize(c, fleetFacts({ ...common, pairUploadHosts: 2 }), cfg)).toMatchObject({ fire: true, branch: 'not_upload_normal' });
      expect(ANALYTICS.AN0082.finalize(c, { ...warming, ...common }, cfg)).toMatchObject({ fire: true, baselineWarming: true });
    });
    it('does not fire for an upload-normal pair', () => {
      expect(ANALYTICS.AN0082.finalize(c, fleetFacts({ pairUploadHosts: 3 }), cfg)).toMatchObject({ fire: false, branch: 'no_fire:upload_normal_pair' });
    });
    it('a background launchd job scores higher than the same flow under a GUI app', () => {
      const gui = ANALYTICS.AN0082.finalize(c, fleetFacts(common), cfg);
      const job = ANALYTICS.AN0082.finalize(c, fleetFacts({ ...common, groupRootIsLaunchdJob: true }), cfg);
      expect(job.score - gui.score).toBe(cfg.severity.modifier);
      expect(job.modifiers).toContain('+15:background_launchd_job');
      expect(gui.modifiers).toContain('+5:long_lived_steps_1');
    });
  });

  describe('severity modifiers', () => {
    const base = fleetFacts({ destinationHosts: 20, destinationFirstSeen: T0 - 10 * DAY, pairUploadHosts: 0 });
    const far = { precursor_gap: 600 };
    const score = (cOver: Parameters<typeof candidate>[0], f = base) => ANALYTICS.AN0990.finalize(candidate({ ...far, ...cOver }), f, cfg);

    it('neutral destination, named host on 443: the base score', () => {
      const v = score({});
      expect(v).toMatchObject({ fire: true, branch: 'abnormal_ratio', score: 60, severity: 'medium', modifiers: [] });
    });
    it.each([
      ['rare / first seen ≤ 7 d: +15', {}, fleetFacts({ destinationHosts: 2 }), 75, '+15:rare_or_new_destination'],
      ['common / seen ≥ 30 d: −15', {}, fleetFacts({ destinationHosts: 100, destinationFirstSeen: T0 - 40 * DAY }), 45, '-15:common_or_established_destination'],
      // prevalence before age: a roll-out to most of the fleet this week is common, not new
      ['common but first seen 3 d ago: −15', {}, fleetFacts({ destinationHosts: 100, destinationFirstSeen: T0 - 3 * DAY }), 45, '-15:common_or_established_destination'],
      ['neither rare nor common, first seen 3 d ago: +15', {}, fleetFacts({ destinationHosts: 20, destinationFirstSeen: T0 - 3 * DAY }), 75, '+15:rare_or_new_destination'],
      ['rare however old: +15', {}, fleetFacts({ destinationHosts: 2, destinationFirstSeen: T0 - 40 * DAY }), 75, '+15:rare_or_new_destination'],
      ['raw IP (the endpoint says so): +15', { server_name: '', reasons: 'raw_ip' }, base, 75, '+15:raw_ip'],
      ['non-standard port: +15', { remote_port: 4443, service_evidence: 'handshake' }, base, 75, '+15:non_standard_port'],
      ['staging path (archive precursor in /tmp): +15', { precursor_kind: 'archive', precursor_path: '/private/tmp/loot.zip' }, base, 75, '+15:staging_path'],
      ['staging path (reason): +15', { reasons: 'tier1_precursor,archive_precursor,staging_path' }, base, 75, '+15:staging_path'],
    ])('%s', (_n, cOver, f, want, mod) => {
      const v = score(cOver as Parameters<typeof candidate>[0], f);
      expect(v.score).toBe(want);
      expect(v.modifiers).toContain(mod);
    });
    it('a raw IP on a non-standard port is one +15 (raw IP or non-standard port), not two', () => {
      const v = score({ server_name: '', remote_port: 4443, service_evidence: 'handshake', reasons: 'tier1_precursor,raw_ip,non_standard_port' });
      expect(v).toMatchObject({ score: 75, modifiers: ['+15:raw_ip'] });
    });
    it('no server name from a source that cannot see names is not a raw IP: no modifier', () => {
      expect(score({ server_name: '', reasons: 'tier1_precursor,upload_shaped' })).toMatchObject({ score: 60, modifiers: [] });
    });
    it('a close precursor other than the reported one (reason precursor_close) lifts the score to high too', () => {
      expect(score({ precursor_gap: 600, reasons: 'tier1_precursor,archive_precursor,precursor_close' })).toMatchObject({ score: 73, severity: 'high' });
    });
    it('precursor gap ≤ 2 min lifts the score to high; 121 s does not', () => {
      expect(score({ precursor_gap: 120 })).toMatchObject({ score: 73, severity: 'high' });
      expect(score({ precursor_gap: -30 })).toMatchObject({ severity: 'high' });
      expect(score({ precursor_gap: 121 })).toMatchObject({ score: 60, severity: 'medium' });
    });
    it('everything at once is critical and capped at 100', () => {
      const v = score({ server_name: '', precursor_gap: 10, reasons: 'staging_path,raw_ip' }, fleetFacts({ destinationHosts: 1 }));
      expect(v.score).toBe(100);
      expect(v.severity).toBe('critical');
    });
  });

  describe('every number is config (SPEC §4): base scores, the long-lived step, the age of a new destination', () => {
    const tuned = AnalyticsConfigSchema.parse({ new_destination_days: 2, severity: { long_lived_step: 7, base: { an0990: 64, an1415_precursor: 57, an1415: 44, an0425: 66, an0032: 52, an0082: 41 } } });
    const neutral = fleetFacts({ destinationHosts: 20, destinationFirstSeen: T0 - 10 * DAY, pairUploadHosts: 0 });
    it('each analytic starts from its configured base', () => {
      const far = { precursor_gap: 600 };
      expect(ANALYTICS.AN0990.finalize(candidate({ ...far }), neutral, tuned)).toMatchObject({ baseScore: 64, score: 64 });
      expect(ANALYTICS.AN0425.finalize(candidate({ ...far, analytic: 'AN0425', service: 'http', remote_port: 80 }), neutral, tuned)).toMatchObject({ baseScore: 66 });
      expect(ANALYTICS.AN1415.finalize(candidate({ ...far, analytic: 'AN1415' }), neutral, tuned)).toMatchObject({ baseScore: 57 });
      const noPre = { analytic: 'AN1415', precursor_kind: 'none', precursor_gap: 0, precursor_tier: 0, reasons: 'upload_shaped', bytes_out: 40 * MiB, pcr: 0.99 } as const;
      expect(ANALYTICS.AN1415.finalize(candidate(noPre), fleetFacts({ destinationHosts: 1 }), tuned)).toMatchObject({ fire: true, baseScore: 44 });
      expect(ANALYTICS.AN0032.finalize(candidate({ analytic: 'AN0032' }), { ...neutral, chainApps: [{ identity: 'cdhash:aa', firstSeen: T0 - DAY, hosts: 1 }] }, tuned)).toMatchObject({ fire: true, baseScore: 52 });
    });
    it('AN0082 adds long_lived_step per step passed, and starts from its base', () => {
      const c = candidate({ analytic: 'AN0082', precursor_kind: 'none', precursor_gap: 0, duration: 9 * 3600, bytes_out: 40 * MiB, pcr: 0.6, reasons: 'long_lived' });
      const v = ANALYTICS.AN0082.finalize(c, neutral, tuned);
      expect(v).toMatchObject({ fire: true, baseScore: 41 });
      expect(v.modifiers).toContain('+14:long_lived_steps_2');
    });
    it('severity bands must rise (a score must fall in exactly one band)', () => {
      const r = AnalyticsConfigSchema.safeParse({ severity: { medium: 80 } });
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]).toMatchObject({ path: ['severity', 'critical'], message: 'bands must rise: low < medium < high < critical' });
      expect(AnalyticsConfigSchema.safeParse({ severity: { low: 10, medium: 30, high: 60, critical: 80 } }).success).toBe(true);
    });

    it('rare must stay below common (a destination cannot be both; exact host sets are kept only below common)', () => {
      for (const [cfg, path] of [
        [{ rare: { min_hosts: 20 } }, ['rare', 'min_hosts']],
        [{ rare: { min_hosts: 10 } }, ['rare', 'min_hosts']],
        [{ rare: { fraction: 0.2 } }, ['rare', 'fraction']],
        [{ common: { fraction: 0.01 } }, ['rare', 'fraction']],
      ] as const) {
        const r = AnalyticsConfigSchema.safeParse(cfg);
        expect(r.success, JSON.stringify(cfg)).toBe(false);
        expect(r.error?.issues[0]?.path, JSON.stringify(cfg)).toEqual(path);
        expect(r.error?.issues[0]?.message).toMatch(/below common/);
      }
      expect(AnalyticsConfigSchema.safeParse({ rare: { min_hosts: 20 }, common: { min_hosts: 50 } }).success).toBe(true);
      expect(AnalyticsConfigSchema.safeParse({ rare: { fraction: 0 }, common: { fraction: 0.001 } }).success).toBe(true);
    });

    it('fractions of 0 on both sides (fixed host counts, 3 and 10 at every fleet size) are accepted', () => {
      expect(AnalyticsConfigSchema.safeParse({ rare: { fraction: 0 }, common: { fraction: 0 } }).success).toBe(true);
    });

    it('a config accepted never makes one destination both rare and common, where the two ceilings meet too', () => {
      // 0.095 < 0.1 and 3 < 10, yet at 180 active hosts ⌈17.1⌉ = ⌈18⌉: counts read capped at common would all be rare
      const cfg = AnalyticsConfigSchema.parse({ rare: { fraction: 0.095 }, common: { fraction: 0.1 } });
      const both: number[] = [];
      for (let active = 0; active <= 2000; active++) {
        const hosts = commonThreshold(active, cfg);
        if (rareDestination({ destinationHosts: hosts, activeHosts: active }, cfg) && commonDestination({ destinationHosts: hosts, activeHosts: active }, cfg)) both.push(active);
      }
      expect(both).toEqual([]);
    });

    it('open_flow_update_interval is 0 to half an hour (the rollup keeps about an hour of sightings past the window)', () => {
      expect(AnalyticsConfigSchema.parse({ open_flow_update_interval: 1800 }).open_flow_update_interval).toBe(1800);
      for (const v of [-1, 1801, 1.5]) {
        const r = AnalyticsConfigSchema.safeParse({ open_flow_update_interval: v });
        expect(r.success, String(v)).toBe(false);
        expect(r.error?.issues[0]?.path).toEqual(['open_flow_update_interval']);
      }
    });

    it("a base score is 0–100 (a detection's base_score is), and the long-lived step is not negative", () => {
      // a base of 120 validated once, then every detection of the analytic failed DetectionSchema in
      // detections.upsert, and its finalize batch with it, run after run
      for (const base of [{ an0990: 101 }, { an1415: -1 }, { an0082: 120 }]) {
        const r = AnalyticsConfigSchema.safeParse({ severity: { base } });
        expect(r.success, JSON.stringify(base)).toBe(false);
        expect(r.error?.issues[0]?.path).toEqual(['severity', 'base', Object.keys(base)[0]]);
      }
      expect(AnalyticsConfigSchema.safeParse({ severity: { long_lived_step: -5 } }).success).toBe(false);
      const top = AnalyticsConfigSchema.parse({ severity: { base: { an0990: 100 } } });
      const v = ANALYTICS.AN0990.finalize(candidate({ precursor_gap: 600 }), neutral, top);
      expect(DetectionSchema.shape.base_score.safeParse(v.baseScore).success).toBe(true);
      expect(DetectionSchema.shape.score.safeParse(v.score).success).toBe(true);
    });
    it('a score already at the high band gets no precursor floor, and one already at the AN1415 cap no cap (the modifiers list only what changed it)', () => {
      const at = (base: Record<string, number>) => AnalyticsConfigSchema.parse({ severity: { base } });
      // 58 + 15 (rare) = 73, the high band, with a keychain read 60 s before the flow
      const high = ANALYTICS.AN0990.finalize(candidate({ precursor_gap: 60 }), fleetFacts({ destinationHosts: 1 }), at({ an0990: 58 }));
      expect(high).toMatchObject({ score: 73, severity: 'high', modifiers: ['+15:rare_or_new_destination'] });
      // 57 + 15 (rare) = 72, exactly high − 1
      const noPre = { analytic: 'AN1415', precursor_kind: 'none', precursor_gap: 0, precursor_tier: 0, reasons: 'upload_shaped', bytes_out: 40 * MiB, pcr: 0.99 } as const;
      const capped = ANALYTICS.AN1415.finalize(candidate(noPre), fleetFacts({ destinationHosts: 1 }), at({ an1415: 57 }));
      expect(capped).toMatchObject({ fire: true, score: 72, severity: 'medium', modifiers: ['+15:rare_or_new_destination'] });
    });
    it('a destination first seen 3 days ago is new only while that is within new_destination_days', () => {
      const threeDays = fleetFacts({ destinationHosts: 20, destinationFirstSeen: T0 - 3 * DAY, pairUploadHosts: 0 });
      expect(ANALYTICS.AN0990.finalize(candidate({ precursor_gap: 600 }), threeDays, cfg).modifiers).toContain('+15:rare_or_new_destination');
      expect(ANALYTICS.AN0990.finalize(candidate({ precursor_gap: 600 }), threeDays, tuned).modifiers).toEqual([]);
    });
  });

  it('every analytic returns a well-formed verdict for every branch input', () => {
    for (const a of Object.values(ANALYTICS)) {
      for (const f of [mature, warming, fleetFacts({ ...common, pairUploadHosts: 10 })]) {
        const v = a.finalize(candidate({ analytic: a.id }), f, cfg);
        expect(v.score).toBeGreaterThanOrEqual(0);
        expect(v.score).toBeLessThanOrEqual(100);
        expect(['info', 'low', 'medium', 'high', 'critical']).toContain(v.severity);
        expect(v.branch.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('config drives every threshold', () => {
  it('a stricter upload shape changes AN1415 without precursor', () => {
    const strict = { ...cfg, upload_shaped: { min_pcr: 0.99, min_bytes_out: cfg.upload_shaped.min_bytes_out } };
    const f: EndpointFacts = endpointFacts({ precursor: noPrecursor, flow: { pcr: 0.98, bytes_out: 20 * MiB } });
    expect(ANALYTICS.AN1415.endpoint(f, cfg).pass).toBe(true);
    expect(ANALYTICS.AN1415.endpoint(f, strict).pass).toBe(false);
  });
  it('a wider precursor window admits an older precursor', () => {
    const f = endpointFacts({ precursor: { kind: 'sensitive_access', tier: 1, gap: 1200, time: T0 - 1200 } });
    expect(ANALYTICS.AN0990.endpoint(f, cfg).pass).toBe(false);
    expect(ANALYTICS.AN0990.endpoint(f, { ...cfg, precursor_window: 1800 }).pass).toBe(true);
  });
});

describe('verdicts are not disturbed by later checks (reasons are collected in a reused list)', () => {
  it('a failed verdict keeps its own reasons after other failing and passing checks', () => {
    const browserNoPrecursor = endpoint('AN0990', { browser: true, precursor: noPrecursor });
    const sanctioned = endpoint('AN0990', { sanctioned: true });
    const passing = endpoint('AN0990', {});
    const unencrypted = endpoint('AN0990', { flow: { service: 'http', remote_port: 80 } });
    expect(browserNoPrecursor).toEqual({ pass: false, reasons: ['browser', 'no_sensitive_precursor'] });
    expect(sanctioned).toEqual({ pass: false, reasons: ['sanctioned'] });
    expect(passing.pass).toBe(true);
    expect(passing.reasons).toContain('tier1_precursor');
    expect(unencrypted).toEqual({ pass: false, reasons: ['not_encrypted'] });
  });
  it('evidence follows the facts object, also when the same flow is asked again after another', () => {
    const a = endpointFacts({});
    const b = endpointFacts({ browser: false, precursor: archiveOnly });
    const first = ANALYTICS.AN1415.endpoint(a, cfg).reasons;
    const other = ANALYTICS.AN1415.endpoint(b, cfg).reasons;
    expect(ANALYTICS.AN1415.endpoint(a, cfg).reasons).toEqual(first);
    expect(other).toContain('archive_precursor');
    expect(first).not.toContain('archive_precursor');
  });
});

describe('raw IP written as the server name', () => {
  it('AN0425 to http://203.0.113.10/upload: the raw_ip reason and +15', () => {
    const cfg = defaultAnalyticsConfig();
    const flow = { service: 'http', remote_port: 80, server_name: '203.0.113.10', remote_address: '203.0.113.10' };
    const ep = ANALYTICS.AN0425.endpoint(endpointFacts({ flow }), cfg);
    expect(ep.pass).toBe(true);
    expect(ep.reasons).toContain('raw_ip');
    const c = candidate({ analytic: 'AN0425', ...flow, precursor_gap: 600, reasons: ep.reasons.join(',') });
    expect(ANALYTICS.AN0425.finalize(c, fleetFacts({ destinationKey: '203.0.113.10' }), cfg).modifiers).toContain('+15:raw_ip');
  });
});
