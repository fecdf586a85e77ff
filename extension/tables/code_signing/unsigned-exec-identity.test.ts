import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * SPEC §2 code_signing.identity: `cdhash:<hash>` for adhoc/unsigned code. docs/analytics.md ("App identity"): code
 * that is not signed at all is named by the SHA-256 of its file, because the cdhash eslogger reports for it is all
 * zeros. That must hold whether the path was first met through `ps` (codesign only) or through an eslogger exec
 * (the normal case on a Mac where eslogger runs): an empty identity never counts as previously unseen (AN0032).
 */
const fx = (name: string) => path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', name);
const UNSIGNED_DISPLAY = readFileSync(fx('codesign-unsigned.txt'), 'utf8');
/** What eslogger reports for the exec of a binary that is not signed at all (formats.md §5; parse-eslogger keeps it). */
const ES_UNSIGNED = { signingId: '', teamId: null, cdhash: '0000000000000000000000000000000000000000', platformBinary: false, codesigningFlags: 0 };

let dir: string;
let prevEnv: string | undefined;
const services: SigningService[] = [];

function make(): SigningService {
  const service = createSigningService({
    platform: 'darwin',
    tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }),
    config: parseConfig({}),
    clock: fixedClock(1_800_000_000),
    health: new HealthRegistry('darwin', 'test'),
    log: silentLogger(),
  });
  services.push(service);
  return service;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'unsigned-exec-identity-'));
  prevEnv = process.env.OUTFLOW_FAKE_SIGNING;
  process.env.OUTFLOW_FAKE_SIGNING = path.join(dir, 'signing.json');
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  process.env.OUTFLOW_FAKE_SIGNING = prevEnv;
  rmSync(dir, { recursive: true, force: true });
});

describe('code_signing identity of unsigned code', () => {
  it('is cdhash:<sha256 of the file> when only codesign saw it', async () => {
    const bin = path.join(dir, 'dropper');
    writeFileSync(bin, 'an unsigned dropper');
    writeFileSync(process.env.OUTFLOW_FAKE_SIGNING!, JSON.stringify({ [bin]: { display: { exit: 1, stderr: UNSIGNED_DISPLAY.replaceAll('/tmp/.cache/updater', bin) } } }));
    const service = make();
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'unsigned', identity: `cdhash:${createHash('sha256').update('an unsigned dropper').digest('hex')}` });
  });

  it('is cdhash:<sha256 of the file> too when eslogger reported its exec first', async () => {
    const bin = path.join(dir, 'dropper');
    writeFileSync(bin, 'an unsigned dropper');
    writeFileSync(process.env.OUTFLOW_FAKE_SIGNING!, JSON.stringify({ [bin]: { display: { exit: 1, stderr: UNSIGNED_DISPLAY.replaceAll('/tmp/.cache/updater', bin) } } }));
    const service = make();
    service.seedFromEs(bin, ES_UNSIGNED);
    // the table asks for it (code_signing generate / egress_candidates) and the background check runs
    service.request([bin]);
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'unsigned', identity: `cdhash:${createHash('sha256').update('an unsigned dropper').digest('hex')}` });
  });
});
