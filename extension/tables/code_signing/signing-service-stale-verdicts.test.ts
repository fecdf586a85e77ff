import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import type { SigningService } from '../../runtime/context.js';
import { HealthRegistry } from '../../runtime/health.js';
import { ToolRunner } from '../../runtime/tools.js';
import { createSigningService } from './signing-service.js';

const fx = (name: string) => path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name);
const DEV_ID_DISPLAY = readFileSync(fx('codesign-developer-id.txt'), 'utf8');

let dir: string;
let scen: string;
let prevEnv: string | undefined;
const services: SigningService[] = [];
const clock = fixedClock(1_800_000_000);
/**
 * signing.timeout_ms for every service here. The fake codesign is a real node process: on a loaded two-core CI
 * machine one run takes seconds (measured 1.5-3 s), so a check that must answer needs this much. A test whose codesign
 * hangs waits this long once for the timeout, and its own vitest timeout is raised to HANG_TEST_TIMEOUT_MS.
 */
const TOOL_TIMEOUT_MS = 10_000;
const HANG_TEST_TIMEOUT_MS = 60_000;

/** A first check of `name` that codesign does not answer in time: the service holds `unknown` for it. */
async function failedCheck(name: string): Promise<{ bin: string; service: SigningService; t0: number }> {
  const bin = path.join(dir, name);
  writeFileSync(bin, 'x');
  scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
  const service = make();
  const t0 = clock.unix();
  expect(await classAfterCheck(service, bin)).toBe('unknown');
  return { bin, service, t0 };
}

/**
 * An unsigned dev build whose kernel verdict (ES) the service holds, then replaced at its path by the signed release
 * (another file: new inode, size); codesign says developer_id of it.
 */
async function unsignedBuildReplaced(): Promise<{ bin: string; service: SigningService }> {
  const bin = path.join(dir, 'tool');
  writeFileSync(bin, 'unsigned dev build');
  scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
  const service = make();
  service.seedFromEs(bin, esUnsigned);
  expect(await classAfterCheck(service, bin)).toBe('unsigned');
  rmSync(bin);
  writeFileSync(bin, 'the signed release, another size');
  return { bin, service };
}

/** The signature class `service` holds for `bin` after it was asked to check it and went idle. */
async function classAfterCheck(service: SigningService, bin: string): Promise<string | undefined> {
  service.request([bin]);
  await service.idle();
  return service.lookup(bin)?.signature_class;
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function scenario(s: Record<string, unknown>) {
  writeFileSync(scen, JSON.stringify(s));
}
function make(timeoutMs = TOOL_TIMEOUT_MS): SigningService {
  const service = createSigningService({
    platform: 'darwin',
    tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }),
    config: parseConfig({ signing: { timeout_ms: timeoutMs } }),
    clock,
    health: new HealthRegistry('darwin', 'test'),
    log: silentLogger(),
  });
  services.push(service);
  return service;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'signing-verdicts-'));
  scen = path.join(dir, 'signing.json');
  prevEnv = process.env.OUTFLOW_FAKE_SIGNING;
  process.env.OUTFLOW_FAKE_SIGNING = scen;
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  process.env.OUTFLOW_FAKE_SIGNING = prevEnv;
  // a test that failed before its own cleanup must not leave the next ones logging into the directory removed below
  // (the fake codesign then crashes on every call, and every check of every later test ends unknown)
  delete process.env.OUTFLOW_FAKE_CALLS;
  rmSync(dir, { recursive: true, force: true });
});

describe('signing verdicts: a changed binary or a changed kernel verdict is seen', () => {
  it('a tampered Developer ID binary whose path holds "No such file" and ": unsupported format" is invalid, not developer_id with the vendor identity', async () => {
    // Any user can create this directory; no control characters, so isToolSafePath lets it through.
    const bin = path.join(dir, 'No such file: unsupported format', 'Widget');
    const display = DEV_ID_DISPLAY.replace('/Applications/Widget.app/Contents/MacOS/Widget', bin);
    const broken = `${bin}: invalid signature (code or signature have been modified)\nIn architecture: arm64\n`;
    scenario({
      [bin]: {
        display: { stderr: display },
        // what the real codesign says for a modified binary, for every --verify
        verify: { exit: 1, stderr: broken },
        check_notarization: { exit: 1, stderr: broken },
        requirements: { 'anchor apple generic': { exit: 1, stderr: broken } },
      },
    });
    const service = make();
    service.request([bin]);
    await service.idle();
    const row = service.lookup(bin)!;
    expect(row.signature_class).toBe('invalid');
    expect(row.identity).not.toBe('team:Q7R2K9W4ZD/com.example.widget');
  });

  it('a binary rewritten in place with the same size and its mtime restored is checked again', async () => {
    const bin = path.join(dir, 'tool');
    writeFileSync(bin, 'AAAA');
    utimesSync(bin, 1_700_000_000, 1_700_000_000);
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make();
    expect(await classAfterCheck(service, bin)).toBe('developer_id');
    const ino = statSync(bin).ino;

    // Tamper in place (same inode, same size) and put the mtime back: codesign now finds it modified.
    writeFileSync(bin, 'BBBB');
    utimesSync(bin, 1_700_000_000, 1_700_000_000);
    expect(statSync(bin).ino).toBe(ino);
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, verify: { exit: 1, stderr: `${bin}: invalid signature (code or signature have been modified)\n` } } });
    clock.advance(3600);
    expect(await classAfterCheck(service, bin)).toBe('invalid');
  });

  it('an unchanged binary is checked again once its verdict is a day old: a notarization Apple revoked is seen', async () => {
    const bin = path.join(dir, 'revoked');
    writeFileSync(bin, 'notarized once');
    const display = DEV_ID_DISPLAY.replace('/Applications/Widget.app/Contents/MacOS/Widget', bin);
    scenario({ [bin]: { display: { stderr: display }, check_notarization: { exit: 0 } } });
    const service = make();
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', notarized: 1 });
    // Apple revokes the ticket (malware found): the online check now fails it
    scenario({ [bin]: { display: { stderr: display }, check_notarization: { exit: 3, stderr: `${bin}: a sealed resource is missing or invalid\n` } } });
    clock.advance(3600);
    service.request([bin]);
    await service.idle();
    // within the day: the file is unchanged, the cached verdict stands (no codesign per exec)
    expect(service.lookup(bin)!.notarized).toBe(1);
    clock.advance(24 * 3600);
    // another path with the same code (cdhash), first checked now, is not told the day-old verdict
    const copy = path.join(dir, 'revoked-copy');
    writeFileSync(copy, 'notarized once');
    scenario({
      [bin]: { display: { stderr: display }, check_notarization: { exit: 3 } },
      [copy]: { display: { stderr: DEV_ID_DISPLAY.replace('/Applications/Widget.app/Contents/MacOS/Widget', copy) }, check_notarization: { exit: 3 } },
    });
    service.request([copy]);
    await service.idle();
    expect(service.lookup(copy)!.notarized).toBe(0);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.notarized).toBe(0);
  });

  it('a path queried through the table (lookup) is re-validated after the binary was replaced', async () => {
    const bin = path.join(dir, 'notrunning');
    writeFileSync(bin, 'v1');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make();
    // what `SELECT * FROM code_signing WHERE path = ?` does: lookupOrUnknown, nothing else
    service.lookupOrUnknown(bin);
    await service.idle();
    expect(service.lookupOrUnknown(bin).signature_class).toBe('developer_id');

    writeFileSync(bin, 'v2 is an entirely different, unsigned program');
    scenario({ [bin]: { display: { exit: 1, stderr: `${bin}: code object is not signed at all\n` } } });
    clock.advance(24 * 3600);
    for (let i = 0; i < 3; i++) {
      service.lookupOrUnknown(bin);
      await service.idle();
    }
    expect(service.lookupOrUnknown(bin).signature_class).toBe('unsigned');
  });

  it('eslogger reporting the running image invalid (kernel flags: signed, not valid) overrides an earlier codesign developer_id', async () => {
    const bin = path.join(dir, 'Widget');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make();
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', cdhash: '3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953' });
    // Code pages modified: the code directory (so the cdhash) is unchanged, the kernel no longer holds it valid.
    service.seedFromEs(bin, {
      signingId: 'com.example.widget',
      teamId: 'Q7R2K9W4ZD',
      cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953',
      platformBinary: false,
      codesigningFlags: 0x20000000 | 0x10000, // SIGNED | RUNTIME, no VALID
      csValidationCategory: 6,
    });
    expect(service.lookup(bin)!.signature_class).toBe('invalid');
  });

  it('eslogger reporting an unsigned image exec\'d at a path codesign had called developer_id is not ignored', async () => {
    const bin = path.join(dir, 'Widget2');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make();
    expect(await classAfterCheck(service, bin)).toBe('developer_id');
    // the file was replaced by an unsigned program and run: ES has no cdhash, no team, category 10 (none)
    service.seedFromEs(bin, { signingId: null, teamId: null, cdhash: null, platformBinary: false, codesigningFlags: 0, csValidationCategory: 10 });
    expect(service.lookup(bin)!.signature_class).toBe('unsigned');
  });

  it('an eslogger verdict that arrives while codesign runs is not overwritten by the older check', async () => {
    const bin = path.join(dir, 'Widget3');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const calls = path.join(dir, 'calls.ndjson');
    process.env.OUTFLOW_FAKE_CALLS = calls;
    try {
      const service = make();
      service.request([bin]);
      // once codesign runs (its display call logged; verify and more follow), the exec of an unsigned replacement is reported
      await until(() => existsSync(calls) && readFileSync(calls, 'utf8').includes('-dvvv'));
      service.seedFromEs(bin, { signingId: null, teamId: null, cdhash: null, platformBinary: false, codesigningFlags: 0, csValidationCategory: 10 });
      await service.idle();
      expect(service.lookup(bin)!.signature_class).toBe('unsigned');
    } finally {
      delete process.env.OUTFLOW_FAKE_CALLS;
    }
  });

  it('an app whose sealed resources broke after signing: codesign\'s invalid stands, with no codesign run per exec and no flip-flop', async () => {
    // codesign --verify --strict checks the resource seal (invalid); the kernel checks only the executable's pages
    // and reports a valid Developer ID image at every exec. Same cdhash, same file.
    const bin = path.join(dir, 'Sealed');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, verify: { exit: 1, stderr: `${bin}: a sealed resource is missing or invalid\n` } } });
    const calls = path.join(dir, 'sealed-calls.ndjson');
    process.env.OUTFLOW_FAKE_CALLS = calls;
    try {
      const service = make();
      expect(await classAfterCheck(service, bin)).toBe('invalid');
      const esDevId = { signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', platformBinary: false, codesigningFlags: 0x20000000 | 0x1 | 0x10000, csValidationCategory: 6 };
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        service.seedFromEs(bin, esDevId);
        seen.push(service.lookup(bin)!.signature_class);
        await service.idle();
        seen.push(service.lookup(bin)!.signature_class);
      }
      expect(seen).toEqual(Array(10).fill('invalid'));
      expect(readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes('"-dvvv"'))).toHaveLength(1);
    } finally {
      delete process.env.OUTFLOW_FAKE_CALLS;
    }
  });

  it('the kernel\'s invalid for an image codesign called developer_id is kept, and not checked again on every exec', async () => {
    const bin = path.join(dir, 'Paged');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const calls = path.join(dir, 'paged-calls.ndjson');
    process.env.OUTFLOW_FAKE_CALLS = calls;
    try {
      const service = make();
      service.request([bin]);
      await service.idle();
      const esInvalid = { signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', platformBinary: false, codesigningFlags: 0x20000000 | 0x10000, csValidationCategory: 6 };
      const displays = () => readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes('"-dvvv"')).length;
      const before = displays();
      for (let i = 0; i < 5; i++) {
        service.seedFromEs(bin, esInvalid);
        expect(await classAfterCheck(service, bin)).toBe('invalid');
      }
      expect(displays()).toBe(before);
    } finally {
      delete process.env.OUTFLOW_FAKE_CALLS;
    }
  });

  it("codesign's invalid (broken resource seal) stands when the kernel's valid Developer ID exec arrives while codesign runs", async () => {
    // a codesign that does not answer until the test lets it (a real one on a big bundle takes a while), in a tools dir
    // of its own: it says when it started, then waits for the gate file
    const tools = path.join(dir, 'tools');
    mkdirSync(tools, { mode: 0o755 });
    const started = path.join(dir, 'codesign-started');
    const gate = path.join(dir, 'codesign-gate');
    writeFileSync(path.join(tools, 'codesign'), `#!/bin/sh\n: > '${started}'\nwhile [ ! -e '${gate}' ]; do sleep 0.02; done\nexec ${path.join(FAKE_TOOLS_DIR, 'codesign')} "$@"\n`);
    chmodSync(path.join(tools, 'codesign'), 0o755);
    symlinkSync(path.join(FAKE_TOOLS_DIR, 'spctl'), path.join(tools, 'spctl'));
    const app = path.join(dir, 'SealedSlow');
    writeFileSync(app, 'x');
    scenario({ [app]: { display: { stderr: DEV_ID_DISPLAY }, verify: { exit: 1, stderr: `${app}: a sealed resource is missing or invalid\n` } } });
    const service = createSigningService({
      platform: 'darwin',
      tools: new ToolRunner({ platform: 'darwin', toolDir: tools }),
      config: parseConfig({ signing: { timeout_ms: TOOL_TIMEOUT_MS } }),
      clock,
      health: new HealthRegistry('darwin', 'test'),
      log: silentLogger(),
    });
    services.push(service);
    service.request([app]);
    // codesign is running (its first call waits at the gate)
    await until(() => existsSync(started));
    // the app is launched while codesign checks it: the kernel checks only the executable's pages
    service.seedFromEs(app, { signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', platformBinary: false, codesigningFlags: 0x20000000 | 0x1 | 0x10000, csValidationCategory: 6 });
    writeFileSync(gate, '');
    await service.idle();
    expect(service.lookup(app)!.signature_class).toBe('invalid');
  });

  it('execs of a Developer ID binary whose codesign check timed out do not run codesign again within the retry delay', async () => {
    const bin = path.join(dir, 'Widget');
    writeFileSync(bin, 'x');
    const scen = path.join(dir, 'signing.json');
    // codesign hangs on this path (a huge bundle, a stuck tool): every check times out
    writeFileSync(scen, JSON.stringify({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } }));
    process.env.OUTFLOW_FAKE_SIGNING = scen;
    const calls = path.join(dir, 'calls.ndjson');
    process.env.OUTFLOW_FAKE_CALLS = calls;
    const frozen = fixedClock(1_800_000_000); // never advances: the 300 s retry delay never passes
    const service = createSigningService({
      platform: 'darwin',
      tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }),
      // long enough for the fake codesign (a node process) to start and log its call on a loaded machine before the
      // timeout kills it; with 300 ms it was killed unstarted and the call count below read 0
      config: parseConfig({ signing: { timeout_ms: TOOL_TIMEOUT_MS } }),
      clock: frozen,
      health: new HealthRegistry('darwin', 'test'),
      log: silentLogger(),
    });
    services.push(service);
    const esDevId = { signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', platformBinary: false, codesigningFlags: 0x20000000 | 0x1 | 0x10000, csValidationCategory: 6 };
    const displays = () => (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes('"-dvvv"')).length : 0);
    for (let i = 0; i < 4; i++) {
      service.seedFromEs(bin, esDevId); // the app is launched again
      await service.idle();
      expect(service.lookup(bin)!.signature_class).toBe('developer_id');
    }
    // the first exec's check timed out; the next three fall within RETRY_AFTER_FAILURE_S
    expect(displays()).toBe(1);
  }, HANG_TEST_TIMEOUT_MS);

  it('the kernel\'s invalid stored during the retry delay after a codesign timeout is kept once the delay is over', async () => {
    const bin = path.join(dir, 'RetryWidget');
    writeFileSync(bin, 'x');
    // codesign hangs on the first check (timeout), then answers developer_id for the file on disk
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
    const service = make(300);
    expect(await classAfterCheck(service, bin)).toBe('unknown');
    // exec'ed within the retry delay: the kernel says the image that ran is not validly signed
    const esInvalid = { signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', platformBinary: false, codesigningFlags: 0x20000000 | 0x10000, csValidationCategory: 6 };
    service.seedFromEs(bin, esInvalid);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('invalid');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    clock.advance(301); // past the retry delay
    for (let i = 0; i < 3; i++) {
      service.request([bin]);
      await service.idle();
      clock.advance(61);
    }
    expect(service.lookup(bin)!.signature_class).toBe('invalid');
  }, 30_000);
});

const esUnsigned = { signingId: '', teamId: null, cdhash: '0000000000000000000000000000000000000000', platformBinary: false, codesigningFlags: 0 };
const esInvalid = { signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953', platformBinary: false, codesigningFlags: 0x20000000 | 0x10000, csValidationCategory: 6 };

describe('signing.max_age_s: the day-old re-check, and what a re-check keeps', () => {
  it("the kernel's invalid for an unchanged image is not replaced by codesign's developer_id when the verdict turns a day old", async () => {
    const bin = path.join(dir, 'Paged');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make();
    service.request([bin]);
    await service.idle();
    service.seedFromEs(bin, esInvalid);
    expect(await classAfterCheck(service, bin)).toBe('invalid');
    // a day later, same file, same running image: the periodic re-check must not undo the kernel's verdict
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(86_400 + 60);
      service.request([bin]);
      await service.idle();
      seen.push(service.lookup(bin)!.signature_class);
      service.seedFromEs(bin, esInvalid); // the next exec
      seen.push(service.lookup(bin)!.signature_class);
    }
    expect(seen).toEqual(Array(6).fill('invalid'));
  });

  it('a day-old developer_id verdict of an unchanged file is not wiped to unknown when the re-check times out', async () => {
    const bin = path.join(dir, 'Widget');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make();
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.widget' });
    // codesign is slow today (load, an offline OCSP lookup): the age-driven re-check times out
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
    clock.advance(86_400 + 60);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.widget' });
  }, HANG_TEST_TIMEOUT_MS);

  it('a verdict is re-checked once a day of real time has passed even after the wall clock stepped back', async () => {
    const bin = path.join(dir, 'Stepped');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, check_notarization: { exit: 0 } } });
    const service = make();
    const t0 = clock.unix();
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.notarized).toBe(1);
    // the RTC was a week fast at boot; NTP corrects it, then two real days pass; Apple revoked the ticket meanwhile
    clock.set(t0 - 7 * 86_400);
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, check_notarization: { exit: 3 } } });
    clock.advance(2 * 86_400);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.notarized).toBe(0);
  });

  it("a file replaced by a signed one (new inode, size) is not kept as the kernel's unsigned verdict of the old image", async () => {
    const { bin, service } = await unsignedBuildReplaced();
    clock.advance(61);
    expect(await classAfterCheck(service, bin)).toBe('developer_id');
  });

  it('a failed check is retried RETRY_AFTER_FAILURE_S of real time later even after the wall clock stepped back', async () => {
    const { bin, service, t0 } = await failedCheck('Slow');
    // NTP steps the clock back a week (the RTC was fast), then ten real minutes pass; codesign answers again
    clock.set(t0 - 7 * 86_400);
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    clock.advance(600);
    expect(await classAfterCheck(service, bin)).toBe('developer_id');
  }, HANG_TEST_TIMEOUT_MS);

  it("a file replaced by a signed one whose first check fails is not kept as the kernel's unsigned verdict of the old image once the retry succeeds", async () => {
    const { bin, service } = await unsignedBuildReplaced();
    // the first check of the signed release times out (a stuck codesign)
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
    clock.advance(61);
    service.request([bin]);
    await service.idle();
    // codesign answers again; the retry delay is over
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    clock.advance(301);
    expect(await classAfterCheck(service, bin)).toBe('developer_id');
  }, HANG_TEST_TIMEOUT_MS);

  it('a failed check is not retried at once after a 2 s step back of the wall clock (less than the retry delay)', async () => {
    const { bin, service, t0 } = await failedCheck('Slow');
    // NTP steps the clock back two seconds; codesign would answer now, but the retry delay (300 s) is not over
    clock.set(t0 - 2);
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    expect(await classAfterCheck(service, bin)).toBe('unknown');
  }, HANG_TEST_TIMEOUT_MS);
});
