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
function make(timeoutMs = 10_000): SigningService {
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
  dir = mkdtempSync(path.join(tmpdir(), 'signing-max-age-'));
  scen = path.join(dir, 'signing.json');
  prevEnv = process.env.OUTFLOW_FAKE_SIGNING;
  process.env.OUTFLOW_FAKE_SIGNING = scen;
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  process.env.OUTFLOW_FAKE_SIGNING = prevEnv;
  rmSync(dir, { recursive: true, force: true });
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
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('invalid');
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
    const service = make(500);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.widget' });
    // codesign is slow today (load, an offline OCSP lookup): the age-driven re-check times out
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
    clock.advance(86_400 + 60);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.widget' });
  });

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
    const bin = path.join(dir, 'tool');
    writeFileSync(bin, 'unsigned dev build');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make();
    service.seedFromEs(bin, esUnsigned);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('unsigned');
    // the user installs the signed release over it (another file at the path): codesign now says developer_id
    rmSync(bin);
    writeFileSync(bin, 'the signed release, another size');
    clock.advance(61);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('developer_id');
  });

  it('a failed check is retried RETRY_AFTER_FAILURE_S of real time later even after the wall clock stepped back', async () => {
    const bin = path.join(dir, 'Slow');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
    const service = make(500);
    const t0 = clock.unix();
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('unknown');
    // NTP steps the clock back a week (the RTC was fast), then ten real minutes pass; codesign answers again
    clock.set(t0 - 7 * 86_400);
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    clock.advance(600);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('developer_id');
  });

  it("a file replaced by a signed one whose first check fails is not kept as the kernel's unsigned verdict of the old image once the retry succeeds", async () => {
    const bin = path.join(dir, 'tool');
    writeFileSync(bin, 'unsigned dev build');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    const service = make(500);
    service.seedFromEs(bin, esUnsigned);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('unsigned');
    // the signed release is installed over it; the first check of the new file times out (a stuck codesign)
    rmSync(bin);
    writeFileSync(bin, 'the signed release, another size');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
    clock.advance(61);
    service.request([bin]);
    await service.idle();
    // codesign answers again; the retry delay is over
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    clock.advance(301);
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('developer_id');
  });

  it('a failed check is not retried at once after a 2 s step back of the wall clock (less than the retry delay)', async () => {
    const bin = path.join(dir, 'Slow');
    writeFileSync(bin, 'x');
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY }, hang: 'display' } });
    const service = make(500);
    const t0 = clock.unix();
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('unknown');
    // NTP steps the clock back two seconds; codesign would answer now, but the retry delay (300 s) is not over
    clock.set(t0 - 2);
    scenario({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } });
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)!.signature_class).toBe('unknown');
  });
});
