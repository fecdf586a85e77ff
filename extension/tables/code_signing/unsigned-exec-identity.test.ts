import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { CS_FLAGS } from '../../../src/classify/signing-class.js';
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
const ES_DEVELOPER_ID = { signingId: 'com.vendor.x', teamId: 'ABCDE12345', cdhash: 'cc'.repeat(20), platformBinary: false, codesigningFlags: CS_FLAGS.SIGNED | CS_FLAGS.VALID, csValidationCategory: 6 };
const ES_ADHOC = { signingId: 'x-55554944', teamId: null, cdhash: 'bb'.repeat(20), platformBinary: false, codesigningFlags: CS_FLAGS.SIGNED | CS_FLAGS.ADHOC | CS_FLAGS.VALID };

/** open() of the gated path waits for release(): the hash is under way, not finished. */
const gate = vi.hoisted(() => ({ path: '', reached: undefined as (() => void) | undefined, release: Promise.resolve() as Promise<void> }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const orig = await importOriginal<typeof FsPromises>();
  const open: typeof orig.open = async (...args: Parameters<typeof orig.open>) => {
    if (args[0] === gate.path) {
      gate.reached?.();
      await gate.release;
    }
    return orig.open(...args);
  };
  return { ...orig, default: { ...orig, open }, open };
});

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
  gate.path = '';
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

/**
 * eslogger reports an unsigned exec; while the signing service hashes that file for its identity, eslogger reports
 * the exec of another image at the same path (the file replaced: here ad-hoc signed, cdhash bb…). The newer
 * kernel verdict must not be overwritten by the unsigned row the hash was started for (checkDarwin's codesign path
 * guards against this: `meanwhile`).
 */
/** An unsigned binary whose hash, once started, waits for release(); `reached` when it has started. */
function gatedBinary(content: string) {
  const bin = path.join(dir, 'x');
  writeFileSync(bin, content);
  writeFileSync(process.env.OUTFLOW_FAKE_SIGNING!, '{}');
  let release!: () => void;
  gate.path = bin;
  gate.release = new Promise<void>((r) => (release = r));
  const reached = new Promise<void>((r) => (gate.reached = r));
  return { bin, reached, release };
}

describe('unsigned exec identity, another image exec\'d while the file is hashed', () => {
  it('keeps the verdict eslogger gave for the newer exec', async () => {
    const { bin, reached, release } = gatedBinary('an unsigned dropper');
    const service = make();

    service.seedFromEs(bin, ES_UNSIGNED);
    await reached; // the background check is hashing the file for the unsigned row's identity
    service.seedFromEs(bin, ES_ADHOC); // the file was replaced and the new image exec'd
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'adhoc', cdhash: 'bb'.repeat(20) });
    release();
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'adhoc', cdhash: 'bb'.repeat(20) });
  });

  // another image that needs codesign (a Developer ID binary: before macOS 26 ES cannot tell its chain): the hash is
  // dropped for it, and its check, which it could not queue while the path's own check ran, runs without a lookup
  it('has codesign check the newer image when it needs a check', async () => {
    const { bin, reached, release } = gatedBinary('an unsigned bootstrap');
    const service = make();

    service.seedFromEs(bin, ES_UNSIGNED);
    await reached;
    service.seedFromEs(bin, ES_DEVELOPER_ID); // replaced by the vendor's signed binary, which ran
    gate.path = '';
    release();
    await service.idle();
    // codesign has spoken on the file (whatever it said): a held read of this process is decided at the next settle
    expect(service.toolVerdict(bin)).toBeDefined();
  });
});
