/** The webhook sink's HMAC key from an inline secret written as a YAML block scalar. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { createSinks } from '../../fleet/sinks/index.js';
import { verifySignature } from '../../fleet/sinks/signature.js';
import { TestReceiver, sampleDetection, waitFor } from './serve-fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sinks-secret-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('webhook secret', () => {
  it('an inline secret written as a YAML block scalar signs with the same key as secret_file (both trimmed, as http.token is)', async () => {
    const receiver = new TestReceiver();
    await receiver.start();
    const secret = 'review-webhook-secret-0123456789';
    const cfg = path.join(dir, 'outflow.yaml');
    writeFileSync(
      cfg,
      [
        'fleet:',
        `  store: ${path.join(dir, 'x.db')}`,
        '  sinks:',
        '    - type: webhook',
        `      url: ${receiver.url}`,
        `      spool_dir: ${path.join(dir, 'spool')}`,
        '      secret: |',
        `        ${secret}`,
        '',
      ].join('\n'),
    );
    const config = loadConfig(cfg, {});
    const sinks = await createSinks(config.fleet.sinks, { log: silentLogger() });
    try {
      await sinks[0]!.write([sampleDetection()]);
      await waitFor(() => receiver.delivered.length === 1, 'the delivery');
      const [req] = receiver.delivered;
      expect(verifySignature(secret, req!.body, req!.headers['x-outflow-signature'] as string)).toBe(true);
    } finally {
      for (const s of sinks) await s.close();
      await receiver.stop();
    }
  });
});
