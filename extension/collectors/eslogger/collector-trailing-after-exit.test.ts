/**
 * The trailing health refresh scheduled during a burst must not outlive the eslogger run that
 * scheduled it. An eslogger that exits right after a burst is "degraded: eslogger exited …, restarting in …";
 * the trailing refresh (up to 1 s later) must not turn outflow_status back to "running: streaming …" while no
 * eslogger runs (doctor's osquery:eslogger takes "running" as ok).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createEsloggerCollector, type EsloggerCollector } from './collector.js';
import { testContext } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const running: EsloggerCollector[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

it('an eslogger that exits after a burst stays reported as exited (degraded), not running', async () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-exit-'));
  const T = Date.now() - 5000;
  const p = { pid: 80, ppid: 1, path: '/usr/bin/true', platform: true, signingId: 'com.apple.true', startMs: T - 1000 };
  writeFileSync(path.join(dir, 'a.jsonl'), esLine({ kind: 'exit', timeMs: T, gseq: 1, process: p, body: body.exit(0) }) + '\n');
  writeFileSync(path.join(dir, 'b.jsonl'), esLine({ kind: 'exit', timeMs: T + 1, gseq: 2, process: { ...p, pid: 81 }, body: body.exit(0) }) + '\n');
  // a burst in two chunks 0.4 s apart, then eslogger dies (a crash, not a permission problem)
  writeFileSync(
    path.join(dir, 'eslogger'),
    `#!/bin/sh\nif [ "$1" = "--list-events" ]; then printf "exec\\nfork\\nexit\\nopen\\n"; exit 0; fi\ncat "${dir}/a.jsonl"; sleep 0.4; cat "${dir}/b.jsonl"; exit 3\n`,
    { mode: 0o755 },
  );
  const { ctx } = testContext({ toolDir: dir });
  // no restart within the test: the exit's state is what outflow_status must keep showing
  const collector = createEsloggerCollector(ctx, { initialBackoffMs: 30_000, readyQuietMs: 100, readyMaxMs: 5000 });
  running.push(collector);
  collector.start();
  await collector.ready();
  const health = () => ctx.health.rows().find((r) => r.component === 'eslogger')!;
  await new Promise((r) => setTimeout(r, 2500));
  expect({ state: health().state, detail: health().detail }).toMatchObject({ state: 'degraded', detail: expect.stringMatching(/exit/) });
});
