/**
 * With `Authority=(unavailable)` no chain is printed: formats.md §4.1 says never to classify on that, but on
 * TeamIdentifier and the requirement checks; §4.3 step 5 cross-checks a platform identifier (a CodeDirectory field the
 * signer writes) with `codesign -v -R="anchor apple"`. When every requirement check fails, the code is nobody's.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import { HealthRegistry } from '../../runtime/health.js';
import { ToolRunner } from '../../runtime/tools.js';
import { createSigningService } from './signing-service.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const PLATFORM = '/usr/local/bin/not-safari';
const STAPLED = '/Applications/Claims.app/Contents/MacOS/Claims';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-unavailable-claims-'));
  const unavailable = readFileSync(path.join(fixtures, 'codesign-unavailable.txt'), 'utf8');
  writeFileSync(path.join(dir, 'platform.txt'), unavailable.replace('Identifier=com.example.widgetctl', 'Identifier=com.apple.Safari').replace('Hash type=', 'Platform identifier=15\nHash type='));
  writeFileSync(path.join(dir, 'stapled.txt'), readFileSync(path.join(fixtures, 'codesign-unavailable-stapled.txt'), 'utf8'));
  // no requirement scripted: the fake fails every one (exit 3), as codesign does for a chain that is not Apple's
  writeFileSync(
    path.join(dir, 'signing.json'),
    JSON.stringify({ [PLATFORM]: { display: { stderr_file: 'platform.txt' } }, [STAPLED]: { display: { stderr_file: 'stapled.txt' } } }),
  );
  process.env.OUTFLOW_FAKE_SIGNING = path.join(dir, 'signing.json');
});
afterAll(() => {
  delete process.env.OUTFLOW_FAKE_SIGNING;
  rmSync(dir, { recursive: true, force: true });
});

describe('Authority=(unavailable) with claims every requirement check refutes', () => {
  it('a platform identifier is not apple_platform, a stapled ticket and team id not developer_id', async () => {
    const service = createSigningService({
      platform: 'darwin',
      tools: new ToolRunner({ platform: 'darwin', toolDir: FAKE_TOOLS_DIR }),
      config: parseConfig({ signing: { timeout_ms: 10_000, workers: 2 } }),
      clock: systemClock,
      health: new HealthRegistry('darwin', 'test'),
      log: silentLogger(),
    });
    try {
      service.request([PLATFORM, STAPLED]);
      await service.idle();
      expect(service.lookup(PLATFORM)).toMatchObject({ signature_class: 'unknown', identity: 'cdhash:77aa77aa77aa77aa77aa77aa77aa77aa77aa77aa' });
      expect(service.lookup(STAPLED)).toMatchObject({ signature_class: 'unknown', identity: 'cdhash:3f9a0c17d2e44b6a91c058e7b2d1f0a6c4e8b953' });
    } finally {
      await service.stop();
    }
  });
});
