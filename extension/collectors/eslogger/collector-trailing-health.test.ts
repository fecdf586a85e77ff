/**
 * outflow_status after a burst of eslogger output: the losses its last chunk reveals show without waiting for more
 * output, and a refresh left pending by the burst never turns an exit reported meanwhile back into "running"
 * (doctor's osquery:eslogger takes "running" as ok).
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

/**
 * A fake eslogger printing two exit events 0.4 s apart (global_seq_num 1, then `secondSeq`), then running `after`;
 * the collector started on it and ready; its outflow_status row.
 */
async function afterBurst(secondSeq: number, after: string, initialBackoffMs: number) {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-burst-'));
  const T = Date.now() - 5000;
  const p = { pid: 80, ppid: 1, path: '/usr/bin/true', platform: true, signingId: 'com.apple.true', startMs: T - 1000 };
  writeFileSync(path.join(dir, 'a.jsonl'), esLine({ kind: 'exit', timeMs: T, gseq: 1, process: p, body: body.exit(0) }) + '\n');
  writeFileSync(path.join(dir, 'b.jsonl'), esLine({ kind: 'exit', timeMs: T + 1, gseq: secondSeq, process: { ...p, pid: 81 }, body: body.exit(0) }) + '\n');
  writeFileSync(
    path.join(dir, 'eslogger'),
    `#!/bin/sh\nif [ "$1" = "--list-events" ]; then printf "exec\\nfork\\nexit\\nopen\\n"; exit 0; fi\ncat "${dir}/a.jsonl"; sleep 0.4; cat "${dir}/b.jsonl"; ${after}\n`,
    { mode: 0o755 },
  );
  const { ctx } = testContext({ toolDir: dir });
  const collector = createEsloggerCollector(ctx, { initialBackoffMs, readyQuietMs: 100, readyMaxMs: 5000 });
  running.push(collector);
  collector.start();
  await collector.ready();
  return { collector, health: () => ctx.health.rows().find((r) => r.component === 'eslogger')! };
}

it('a seq gap in the last chunk of a burst reaches outflow_status.dropped without waiting for more output', async () => {
  // global_seq_num 2..9 never arrive: eslogger dropped them for us
  const { collector, health } = await afterBurst(10, 'exec sleep 30', 50);
  // the second chunk comes 0.4 s after the first; give the collector 2.5 s after it
  await new Promise((r) => setTimeout(r, 3000));
  expect(collector.stats().lost).toBe(8);
  expect(health().dropped).toBe(8);
  expect(health().detail).toMatch(/8 events lost/);
});

it('an eslogger that exits after a burst stays reported as exited (degraded), not running', async () => {
  // a crash, not a permission problem; no restart within the test: the exit's state is what must keep showing
  const { health } = await afterBurst(2, 'exit 3', 30_000);
  await new Promise((r) => setTimeout(r, 2500));
  expect({ state: health().state, detail: health().detail }).toMatchObject({ state: 'degraded', detail: expect.stringMatching(/exit/) });
});
