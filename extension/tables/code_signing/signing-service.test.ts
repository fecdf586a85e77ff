import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import type { SigningService } from '../../runtime/context.js';
import { HealthRegistry } from '../../runtime/health.js';
import { ToolRunner, type Platform } from '../../runtime/tools.js';
import { appBundleOf, createSigningService, signingHealthComponent } from './signing-service.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fx = (name: string) => path.join(fixtures, name);

const WIDGET = '/Applications/Widget.app/Contents/MacOS/Widget';
const WIDGETCTL = '/usr/local/bin/widgetctl';
const LS = '/bin/ls';
const ADHOC = '/Users/dana/bin/helperd';
const UNSIGNED = '/tmp/.cache/updater';
const TAMPERED = '/Applications/Tampered.app/Contents/MacOS/Tampered';
const HANGS = '/opt/slow/bin/hangs';
const DEVTOOL = '/Users/dana/dev/Tool';
const BADARGS = '/opt/odd/bin/badargs';
const GARBLED = '/opt/odd/bin/garbled';
const SLOWSPCTL = '/Applications/Slow.app/Contents/MacOS/Slow';
/** A chain whose certificates are named like Apple's (Developer ID), issued by a self-made root: codesign's anchor check fails. */
const FORGED = '/Applications/Forged.app/Contents/MacOS/Forged';

const scenario = {
  [WIDGET]: { display: { stderr_file: fx('codesign-developer-id.txt') } },
  '/Applications/Widget.app': { spctl: { exit: 0, stderr_file: fx('spctl-notarized.txt') } },
  [WIDGETCTL]: {
    display: { stderr_file: fx('codesign-unavailable.txt') },
    check_notarization: { exit: 3 },
    requirements: { 'anchor apple generic and certificate 1[field.1.2.840.113635.100.6.2.6] exists and certificate leaf[field.1.2.840.113635.100.6.1.13] exists': { exit: 0 } },
  },
  [LS]: { display: { stderr_file: fx('codesign-apple-platform.txt') } },
  [ADHOC]: { display: { stderr_file: fx('codesign-adhoc.txt') } },
  [UNSIGNED]: { display: { exit: 1, stderr_file: fx('codesign-unsigned.txt') } },
  [TAMPERED]: { display: { stderr_file: fx('codesign-developer-id.txt') }, verify: { exit: 1, stderr: '{PATH}: invalid signature (code or signature have been modified)\nIn architecture: arm64\n' } },
  [HANGS]: { hang: 'display' },
  [BADARGS]: { display: { exit: 2, stderr: 'Usage: codesign -s identity [-fv*] path ...\n' } },
  [SLOWSPCTL]: { display: { stderr_file: fx('codesign-developer-id.txt') } },
  [FORGED]: { display: { stderr_file: fx('codesign-developer-id.txt') }, requirements: { 'anchor apple generic': { exit: 3 } } },
  '/Applications/Slow.app': { hang: 'spctl' },
  [GARBLED]: { display: { exit: 0, stderr_file: fx('codesign-garbage.txt') } },
  [DEVTOOL]: { display: { stderr_file: fx('codesign-development.txt') }, verify: { exit: 2, stderr: 'codesign: unrecognized option\n' } },
};

let dir: string;
const services: SigningService[] = [];

let fifos: string[] = [];
let injected: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-signing-'));
  // unsigned per codesign, then swapped for FIFOs: hashing must not block on open(2)
  fifos = ['fifo-a', 'fifo-b'].map((n) => path.join(dir, n));
  for (const f of fifos) {
    execFileSync('mkfifo', [f]);
    (scenario as Record<string, unknown>)[f] = { display: { exit: 1, stderr: '{PATH}: code object is not signed at all\n' } };
  }
  // an executable whose name carries codesign output lines of its own
  injected = path.join(dir, 'evil\nIdentifier=com.apple.Safari\nAuthority=Software Signing\nAuthority=Apple Code Signing Certification Authority\nAuthority=Apple Root CA\nPlatform identifier=15');
  writeFileSync(injected, 'not really a binary');
  writeFileSync(path.join(dir, 'signing.json'), JSON.stringify(scenario));
  process.env.OUTFLOW_FAKE_SIGNING = path.join(dir, 'signing.json');
  process.env.OUTFLOW_FAKE_CALLS = path.join(dir, 'calls.jsonl');
});
afterAll(() => {
  delete process.env.OUTFLOW_FAKE_SIGNING;
  delete process.env.OUTFLOW_FAKE_CALLS;
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

function make(platform: Platform, signing: Record<string, number> = {}, toolDir: string | null = FAKE_TOOLS_DIR) {
  const config = parseConfig({ signing: { timeout_ms: 10_000, ...signing } });
  const health = new HealthRegistry(platform, 'test');
  const tools = new ToolRunner({ platform, toolDir: toolDir ?? undefined });
  const service = createSigningService({ platform, tools, config, clock: systemClock, health, log: silentLogger() });
  services.push(service);
  return { service, health };
}

const calls = () =>
  readFileSync(process.env.OUTFLOW_FAKE_CALLS!, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { tool: string; args: string[] });

describe('darwin signing service (fake codesign/spctl)', () => {
  it('a miss returns undefined at once and the background check fills the cache', async () => {
    const { service } = make('darwin');
    expect(service.lookup(WIDGET)).toBeUndefined();
    expect(service.lookupOrUnknown(WIDGET)).toMatchObject({ signature_class: 'unknown', checked_at: 0, signed: -1 });
    await service.idle();
    expect(service.lookup(WIDGET)).toMatchObject({
      path: WIDGET,
      signature_class: 'developer_id',
      team_id: 'Q7R2K9W4ZD',
      signing_id: 'com.example.widget',
      notarized: 1,
      hardened_runtime: 1,
      valid: 1,
      identity: 'team:Q7R2K9W4ZD/com.example.widget',
    });
    expect(service.lookup(WIDGET)!.checked_at).toBeGreaterThan(0);
    // spctl ran on the bundle, not the bare executable.
    expect(calls().some((c) => c.tool === 'spctl' && c.args.at(-1) === '/Applications/Widget.app')).toBe(true);
  });

  it('classifies every class through the tools', async () => {
    const { service } = make('darwin', { workers: 3 });
    service.request([LS, ADHOC, UNSIGNED, TAMPERED, WIDGETCTL, DEVTOOL]);
    await service.idle();
    expect(service.lookup(LS)).toMatchObject({ signature_class: 'apple_platform', identity: 'team:APPLE/com.apple.ls', notarized: -1 });
    expect(service.lookup(ADHOC)).toMatchObject({ signature_class: 'adhoc', identity: 'cdhash:c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00' });
    expect(service.lookup(UNSIGNED)).toMatchObject({ signature_class: 'unsigned', signed: 0 });
    expect(service.lookup(TAMPERED)).toMatchObject({ signature_class: 'invalid', valid: 0 });
    // Authority=(unavailable) on a bare binary: the Developer ID requirement decides; notarization via codesign.
    expect(service.lookup(WIDGETCTL)).toMatchObject({ signature_class: 'developer_id', notarized: 0, team_id: 'Q7R2K9W4ZD' });
    // Unexpected verify exit code (2): inconclusive, the class still comes from the display.
    expect(service.lookup(DEVTOOL)).toMatchObject({ signature_class: 'development', valid: -1 });
    const bare = calls().filter((c) => c.args.at(-1) === WIDGETCTL);
    // a printed Apple chain is confirmed by codesign's anchor check before it earns an Apple-issued class
    expect(calls().some((c) => c.args.at(-1) === LS && c.args.includes('-R=anchor apple generic'))).toBe(true);
    expect(bare.some((c) => c.tool === 'spctl')).toBe(false);
    expect(bare.some((c) => c.args.includes('--check-notarization') && c.args.includes('-R=notarized'))).toBe(true);
  });

  it("takes a chain named like Apple's that codesign's anchor check refuses for nobody's: unknown, by cdhash", async () => {
    const { service } = make('darwin');
    service.request([FORGED, WIDGET]);
    await service.idle();
    expect(service.lookup(FORGED)).toMatchObject({ signature_class: 'unknown', identity: expect.stringMatching(/^cdhash:/) });
    expect(service.lookup(WIDGET)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.widget' });
  });

  it('an unexpected display exit code or unparseable output is an unknown row and a degraded health, not a crash', async () => {
    const { service, health } = make('darwin');
    service.request([BADARGS, GARBLED]);
    await service.idle();
    expect(service.lookup(BADARGS)).toMatchObject({ signature_class: 'unknown', signed: -1 });
    expect(service.lookup(GARBLED)).toMatchObject({ signature_class: 'unknown', signed: -1 });
    expect(service.lookup(BADARGS)!.checked_at).toBeGreaterThan(0);
    const h = health.rows().find((r) => r.component === signingHealthComponent('darwin'))!;
    expect(h.state).toBe('degraded');
    expect(h.detail).toMatch(/codesign exited with code 2|no recognizable lines/);
  });

  it('never hands codesign a path holding a newline (its output lines could forge an Apple chain): invalid, by file hash', async () => {
    const { service } = make('darwin');
    service.request([injected, LS]);
    await service.idle();
    expect(service.lookup(injected)).toMatchObject({
      signature_class: 'invalid',
      valid: 0,
      team_id: '',
      identity: `cdhash:${createHash('sha256').update('not really a binary').digest('hex')}`,
    });
    expect(service.lookup(LS)).toMatchObject({ signature_class: 'apple_platform' });
    expect(calls().some((c) => c.args.some((a) => a.includes('\n')))).toBe(false);
  });

  it('an unsigned path that is a FIFO hashes to nothing without blocking a worker (checked on the opened descriptor, so a swap after a check cannot block it either)', async () => {
    const { service } = make('darwin', { workers: 2 });
    service.request([...fifos, WIDGET]);
    await service.idle();
    for (const f of fifos) expect(service.lookup(f)).toMatchObject({ signature_class: 'unsigned', identity: '' });
    expect(service.lookup(WIDGET)).toMatchObject({ signature_class: 'developer_id' });
  });

  it('never passes a relative path (a leading digit would be a pid to codesign)', async () => {
    const { service } = make('darwin');
    service.request(['123', 'relative/bin', '']);
    expect(service.lookup('4471')).toBeUndefined();
    await service.idle();
    expect(calls().every((c) => c.args.at(-1)!.startsWith('/') || c.tool === 'ps')).toBe(true);
    expect(service.lookupOrUnknown('123').signature_class).toBe('unknown');
  });

  it('a hanging codesign times out in the background; lookups stay instant and health says degraded', async () => {
    const { service, health } = make('darwin', { timeout_ms: 1000 });
    // lookup is synchronous: it cannot wait on the hung tool, it answers from the cache or not at all.
    expect(service.lookup(HANGS)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(service.lookup(HANGS)).toBeUndefined();
    await service.idle();
    expect(service.lookup(HANGS)).toMatchObject({ signature_class: 'unknown' });
    expect(service.lookup(HANGS)!.checked_at).toBeGreaterThan(0);
    const h = health.rows().find((r) => r.component === signingHealthComponent('darwin'))!;
    expect(h.state).toBe('degraded');
    expect(h.detail).toMatch(/did not finish within 1000 ms/);
    // Failed paths are not retried on every request.
    const before = calls().filter((c) => c.args.at(-1) === HANGS).length;
    service.request([HANGS]);
    await service.idle();
    expect(calls().filter((c) => c.args.at(-1) === HANGS).length).toBe(before);
  });

  it('a hanging spctl leaves notarized unknown but keeps the class from codesign', async () => {
    // the default 10 s: the codesign runs before spctl must answer, and one fake codesign (a node process) takes
    // seconds on a loaded machine; 1.5 s timed them out there (unknown, not developer_id). spctl's hang costs the 10 s.
    const { service, health } = make('darwin');
    service.request([SLOWSPCTL]);
    await service.idle();
    expect(service.lookup(SLOWSPCTL)).toMatchObject({ signature_class: 'developer_id', notarized: -1, team_id: 'Q7R2K9W4ZD' });
    expect(health.rows().find((r) => r.component === signingHealthComponent('darwin'))!.detail).toMatch(/notarization check failed: spctl did not finish/);
  }, 60_000);

  it('a codesign failure after an ES seed keeps what eslogger said', async () => {
    const { service } = make('darwin', { timeout_ms: 300 });
    // developer_id without notarization info: ES seeds it and queues codesign, which hangs here.
    service.seedFromEs(HANGS, { signingId: 'com.example.slow', teamId: 'Q7R2K9W4ZD', cdhash: null, platformBinary: false, csValidationCategory: 6 });
    await service.idle();
    expect(service.lookup(HANGS)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.slow', notarized: -1 });
  });

  it('a missing codesign is an unavailable health state, not a crash', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'outflow-notools-'));
    try {
      const { service, health } = make('darwin', {}, empty);
      service.request([WIDGET]);
      await service.idle();
      expect(service.lookup(WIDGET)!.signature_class).toBe('unknown');
      expect(health.rows().find((r) => r.component === signingHealthComponent('darwin'))!.state).toBe('unavailable');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('bounded LRU: the least recently used path is evicted', async () => {
    const { service } = make('darwin', { cache_size: 2, workers: 1 });
    service.request([LS, ADHOC]);
    await service.idle();
    service.lookup(LS); // LS becomes most recent
    service.request([UNSIGNED]);
    await service.idle();
    expect(service.lookup(ADHOC)).toBeUndefined();
    expect(service.lookup(LS)).toBeDefined();
  });

  it('re-checks a path when its (inode, size, mtime) changes', async () => {
    const clock = fixedClock(1_800_000_000);
    const local = mkdtempSync(path.join(tmpdir(), 'outflow-restat-'));
    const bin = path.join(local, 'tool');
    writeFileSync(bin, 'v1');
    const scen = path.join(local, 'signing.json');
    writeFileSync(scen, JSON.stringify({ [bin]: { display: { stderr_file: fx('codesign-adhoc.txt') } } }));
    const prev = process.env.OUTFLOW_FAKE_SIGNING;
    process.env.OUTFLOW_FAKE_SIGNING = scen;
    try {
      const config = parseConfig({});
      const service = createSigningService({ platform: 'darwin', tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }), config, clock, health: new HealthRegistry('darwin', 't'), log: silentLogger() });
      services.push(service);
      service.request([bin]);
      await service.idle();
      expect(service.lookup(bin)!.signature_class).toBe('adhoc');
      writeFileSync(scen, JSON.stringify({ [bin]: { display: { exit: 1, stderr: '{PATH}: code object is not signed at all\n' } } }));
      clock.advance(120);
      service.request([bin]); // unchanged file: only re-stat'ed, class kept
      await service.idle();
      expect(service.lookup(bin)!.signature_class).toBe('adhoc');
      writeFileSync(bin, 'v2 is longer');
      clock.advance(120);
      service.request([bin]);
      await service.idle();
      expect(service.lookup(bin)).toMatchObject({ signature_class: 'unsigned' });
      // Unsigned code is identified by the file's SHA-256.
      expect(service.lookup(bin)!.identity).toMatch(/^cdhash:[0-9a-f]{64}$/);
    } finally {
      process.env.OUTFLOW_FAKE_SIGNING = prev;
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('seedFromEs answers from eslogger fields first', async () => {
    const { service } = make('darwin');
    service.seedFromEs('/Applications/Other.app/Contents/MacOS/Other', { signingId: 'com.example.other', teamId: 'Q7R2K9W4ZD', cdhash: 'AABBCCDDEEFF00112233445566778899AABBCCDD', platformBinary: false, codesigningFlags: 0x20010001, csValidationCategory: 4 });
    expect(service.lookup('/Applications/Other.app/Contents/MacOS/Other')).toMatchObject({ signature_class: 'app_store', cdhash: 'aabbccddeeff00112233445566778899aabbccdd', identity: 'team:Q7R2K9W4ZD/com.example.other', hardened_runtime: 1 });
    service.seedFromEs('/usr/bin/curl', { signingId: 'com.apple.curl', teamId: null, cdhash: null, platformBinary: true });
    expect(service.lookup('/usr/bin/curl')).toMatchObject({ signature_class: 'apple_platform', identity: 'team:APPLE/com.apple.curl' });
    await service.idle();
    // A definite ES answer is final: no codesign run for it.
    expect(calls().some((c) => c.args.at(-1) === '/usr/bin/curl' || c.args.at(-1) === '/Applications/Other.app/Contents/MacOS/Other')).toBe(false);
    // A new image at the same path (different cdhash) replaces the entry; the same image does not.
    const before = service.lookup('/usr/bin/curl');
    service.seedFromEs('/usr/bin/curl', { signingId: 'com.apple.curl', teamId: null, cdhash: null, platformBinary: true });
    expect(service.lookup('/usr/bin/curl')).toBe(before);
    service.seedFromEs('/Applications/Other.app/Contents/MacOS/Other', { signingId: 'a.out', teamId: null, cdhash: '11'.repeat(20), platformBinary: false, csValidationCategory: 7 });
    expect(service.lookup('/Applications/Other.app/Contents/MacOS/Other')).toMatchObject({ signature_class: 'adhoc', identity: `cdhash:${'11'.repeat(20)}` });
  });

  it('appBundleOf finds the bundle of a main executable only', () => {
    expect(appBundleOf(WIDGET)).toBe('/Applications/Widget.app');
    expect(appBundleOf('/Applications/Widget.app')).toBe('/Applications/Widget.app');
    expect(appBundleOf('/Applications/Widget.app/Contents/Resources/tool')).toBeUndefined();
    expect(appBundleOf(WIDGETCTL)).toBeUndefined();
  });
});

describe.skipIf(process.getuid?.() !== 0)('linux signing service with a tools.dir root will not run from', () => {
  it('says permission_denied with the fix, not that no package tool exists', async () => {
    const unsafe = mkdtempSync(path.join(tmpdir(), 'outflow-pkgtools-'));
    copyFileSync('/usr/bin/dpkg-query', path.join(unsafe, 'dpkg-query'));
    chmodSync(unsafe, 0o777);
    try {
      const { service, health } = make('linux', {}, unsafe);
      service.request(['/usr/bin/ssh']);
      await service.idle();
      expect(service.lookup('/usr/bin/ssh')).toMatchObject({ signature_class: 'unknown' });
      expect(health.rows().find((r) => r.component === signingHealthComponent('linux'))).toMatchObject({
        state: 'permission_denied',
        detail: expect.stringMatching(new RegExp(`^refusing to run dpkg-query as root from tools.dir ${unsafe}: .*writable.*; tools.dir \\(OUTFLOW_TOOL_DIR\\) is meant for tests`)),
      });
    } finally {
      rmSync(unsafe, { recursive: true, force: true });
    }
  });
});

describe('linux signing service (real dpkg-query on this machine)', () => {
  it('a dpkg-owned binary is `package` with its package name; a copy in a temp dir is unknown', async () => {
    const local = mkdtempSync(path.join(tmpdir(), 'outflow-pkg-'));
    const copy = path.join(local, 'ssh');
    copyFileSync('/usr/bin/ssh', copy);
    try {
      const { service, health } = make('linux', {}, null);
      service.request(['/usr/bin/ssh', '/usr/bin/ps', copy]);
      await service.idle();
      expect(service.lookup('/usr/bin/ssh')).toMatchObject({ signature_class: 'package', signing_id: 'openssh-client', identity: 'package:openssh-client' });
      // usrmerge: procps registers /bin/ps.
      expect(service.lookup('/usr/bin/ps')).toMatchObject({ signature_class: 'package', signing_id: 'procps' });
      expect(service.lookup(copy)).toMatchObject({ signature_class: 'unknown', signing_id: '' });
      expect(service.lookup(copy)!.checked_at).toBeGreaterThan(0);
      expect(health.rows().find((r) => r.component === signingHealthComponent('linux'))!.state).toBe('running');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });
});
