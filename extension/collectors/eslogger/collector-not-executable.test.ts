import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createEsloggerCollector, type EsloggerCollector } from './collector.js';
import { testContext } from './testing/test-context.js';

const running: EsloggerCollector[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

it('an eslogger this user may not execute is reported permission_denied, not degraded', async () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-noexec-'));
  writeFileSync(path.join(dir, 'eslogger'), '#!/bin/sh\nprintf "exec\\nopen\\n"\n', { mode: 0o644 });
  const { ctx } = testContext({ toolDir: dir });
  const collector = createEsloggerCollector(ctx, { initialBackoffMs: 30_000, readyQuietMs: 100, readyMaxMs: 5000 });
  running.push(collector);
  collector.start();
  await collector.ready();
  const health = ctx.health.rows().find((r) => r.component === 'eslogger')!;
  expect(health).toMatchObject({ state: 'permission_denied', detail: expect.stringMatching(/not executable/) });
});
