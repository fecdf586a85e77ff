/**
 * `Platform identifier=` is a field of the CodeDirectory the signer writes (formats.md §4.1): a Developer ID holder can
 * set it and call the code `com.apple.Safari`. Apple platform code is Apple's own signature, which `anchor apple
 * generic` (satisfied by every Developer ID) does not tell from a vendor's; formats.md §4.3 step 5 cross-checks it
 * with `anchor apple`. A Developer ID chain stays developer_id, under its own team.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyCodesign } from '../../../src/classify/signing-class.js';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import { HealthRegistry } from '../../runtime/health.js';
import { ToolRunner } from '../../runtime/tools.js';
import { parseCodesignDisplay } from './parse-codesign.js';
import { createSigningService } from './signing-service.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const BIN = '/usr/local/bin/safari-helper';
const claimed = readFileSync(path.join(fixtures, 'codesign-developer-id.txt'), 'utf8')
  .replace('Identifier=com.example.widget', 'Identifier=com.apple.Safari')
  .replace('Hash type=', 'Platform identifier=15\nHash type=');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-platform-claim-'));
  writeFileSync(path.join(dir, 'display.txt'), claimed);
  // a genuine Developer ID chain: `anchor apple generic` holds (the fake answers it from the printed root), `anchor apple` does not
  writeFileSync(path.join(dir, 'signing.json'), JSON.stringify({ [BIN]: { display: { stderr_file: 'display.txt' }, requirements: { 'anchor apple': { exit: 3 } } } }));
  process.env.OUTFLOW_FAKE_SIGNING = path.join(dir, 'signing.json');
});
afterAll(() => {
  delete process.env.OUTFLOW_FAKE_SIGNING;
  rmSync(dir, { recursive: true, force: true });
});

describe('a platform identifier under a Developer ID chain', () => {
  it('classifies as developer_id, not apple_platform', () => {
    const info = parseCodesignDisplay(claimed, BIN).info;
    expect(classifyCodesign(info, { valid: true, reason: null }, { requirements: { appleIssued: true } })).toMatchObject({
      signature_class: 'developer_id',
      identity: 'team:Q7R2K9W4ZD/com.apple.Safari',
    });
  });

  it('through codesign: never team:APPLE', async () => {
    const config = parseConfig({ signing: { timeout_ms: 10_000 } });
    const service = createSigningService({
      platform: 'darwin',
      tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }),
      config,
      clock: systemClock,
      health: new HealthRegistry('darwin', 'test'),
      log: silentLogger(),
    });
    try {
      service.request([BIN]);
      await service.idle();
      const row = service.lookup(BIN)!;
      expect(row.identity).not.toBe('team:APPLE/com.apple.Safari');
      expect(row.signature_class).not.toBe('apple_platform');
    } finally {
      await service.stop();
    }
  });
});
