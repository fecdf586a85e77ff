/**
 * A universal binary run under Rosetta (or with `arch -x86_64`) runs its x86_64 slice: eslogger reports that slice's
 * cdhash, while `codesign -dvvv` displays the native slice's (formats.md §4.1: one CDHash= line) and `codesign --verify`
 * checks every slice. The file is the one codesign judged: its verdict stands, without a codesign run per exec.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import { HealthRegistry } from '../../runtime/health.js';
import { ToolRunner } from '../../runtime/tools.js';
import { createSigningService } from './signing-service.js';

const DEV_ID_DISPLAY = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'codesign-developer-id.txt'), 'utf8');
/** The x86_64 slice of the same file, as the kernel reports its exec (valid Developer ID code). */
const X86_SLICE = { signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', cdhash: '1111222233334444555566667777888899990000', platformBinary: false, codesigningFlags: 0x20000000 | 0x10000 | 0x1, csValidationCategory: 6 };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'universal-slice-'));
  process.env.OUTFLOW_FAKE_CALLS = path.join(dir, 'calls.ndjson');
});
afterEach(() => {
  delete process.env.OUTFLOW_FAKE_SIGNING;
  delete process.env.OUTFLOW_FAKE_CALLS;
  rmSync(dir, { recursive: true, force: true });
});

describe('execs of the other slice of a universal binary codesign judged', () => {
  it('do not run codesign again per exec', async () => {
    const bin = path.join(dir, 'Widget');
    writeFileSync(bin, 'x');
    writeFileSync(path.join(dir, 'signing.json'), JSON.stringify({ [bin]: { display: { stderr: DEV_ID_DISPLAY } } }));
    process.env.OUTFLOW_FAKE_SIGNING = path.join(dir, 'signing.json');
    const service = createSigningService({
      platform: 'darwin',
      tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }),
      config: parseConfig({ signing: { timeout_ms: 10_000 } }),
      clock: fixedClock(1_800_000_000),
      health: new HealthRegistry('darwin', 'test'),
      log: silentLogger(),
    });
    const displays = () => (existsSync(process.env.OUTFLOW_FAKE_CALLS!) ? readFileSync(process.env.OUTFLOW_FAKE_CALLS!, 'utf8').split('\n').filter((l) => l.includes('-dvvv')).length : 0);
    try {
      service.request([bin]);
      await service.idle();
      expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.widget' });
      for (let i = 0; i < 3; i++) {
        service.seedFromEs(bin, X86_SLICE);
        await service.idle();
      }
      expect(displays()).toBe(1);
      expect(service.lookup(bin)).toMatchObject({ signature_class: 'developer_id', identity: 'team:Q7R2K9W4ZD/com.example.widget' });
    } finally {
      await service.stop();
    }
  });
});
