/**
 * eslogger reports an unsigned exec; while the signing service hashes that file for its identity, eslogger reports
 * the exec of another image at the same path (the file replaced: here ad-hoc signed, cdhash bb…). The newer
 * kernel verdict must not be overwritten by the unsigned row the hash was started for (checkDarwin's codesign path
 * guards against this: `meanwhile`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/** open() of the gated path waits for release(): the hash is under way, not finished. */
const gate = vi.hoisted(() => {
  const g = { path: '', reached: undefined as (() => void) | undefined, release: Promise.resolve() as Promise<void> };
  return g;
});
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

const ES_UNSIGNED = { signingId: '', teamId: null, cdhash: '0000000000000000000000000000000000000000', platformBinary: false, codesigningFlags: 0 };
const ES_ADHOC = { signingId: 'x-55554944', teamId: null, cdhash: 'bb'.repeat(20), platformBinary: false, codesigningFlags: CS_FLAGS.SIGNED | CS_FLAGS.ADHOC | CS_FLAGS.VALID };

let dir: string;
let prevEnv: string | undefined;
const services: SigningService[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'unsigned-exec-race-'));
  prevEnv = process.env.OUTFLOW_FAKE_SIGNING;
  process.env.OUTFLOW_FAKE_SIGNING = path.join(dir, 'signing.json');
  writeFileSync(process.env.OUTFLOW_FAKE_SIGNING, '{}');
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  process.env.OUTFLOW_FAKE_SIGNING = prevEnv;
  rmSync(dir, { recursive: true, force: true });
});

describe('unsigned exec identity, another image exec\'d while the file is hashed', () => {
  it('keeps the verdict eslogger gave for the newer exec', async () => {
    const bin = path.join(dir, 'x');
    writeFileSync(bin, 'an unsigned dropper');
    let release!: () => void;
    gate.path = bin;
    gate.release = new Promise<void>((r) => (release = r));
    const reached = new Promise<void>((r) => (gate.reached = r));
    const service = createSigningService({
      platform: 'darwin',
      tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }),
      config: parseConfig({}),
      clock: fixedClock(1_800_000_000),
      health: new HealthRegistry('darwin', 'test'),
      log: silentLogger(),
    });
    services.push(service);

    service.seedFromEs(bin, ES_UNSIGNED);
    await reached; // the background check is hashing the file for the unsigned row's identity
    service.seedFromEs(bin, ES_ADHOC); // the file was replaced and the new image exec'd
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'adhoc', cdhash: 'bb'.repeat(20) });
    release();
    await service.idle();
    expect(service.lookup(bin)).toMatchObject({ signature_class: 'adhoc', cdhash: 'bb'.repeat(20) });
  });
});
