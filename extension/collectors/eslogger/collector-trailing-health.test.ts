/** outflow_status must show the events eslogger lost, also when the loss came at the end of a burst. */
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

it('a seq gap in the last chunk of a burst reaches outflow_status.dropped without waiting for more output', async () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-rev-'));
  const T = Date.now() - 5000;
  const p = { pid: 80, ppid: 1, path: '/usr/bin/true', platform: true, signingId: 'com.apple.true', startMs: T - 1000 };
  writeFileSync(path.join(dir, 'a.jsonl'), esLine({ kind: 'exit', timeMs: T, gseq: 1, process: p, body: body.exit(0) }) + '\n');
  // global_seq_num 2..9 never arrive: eslogger dropped them for us
  writeFileSync(path.join(dir, 'b.jsonl'), esLine({ kind: 'exit', timeMs: T + 1, gseq: 10, process: { ...p, pid: 81 }, body: body.exit(0) }) + '\n');
  writeFileSync(
    path.join(dir, 'eslogger'),
    `#!/bin/sh\nif [ "$1" = "--list-events" ]; then printf "exec\\nfork\\nexit\\nopen\\n"; exit 0; fi\ncat "${dir}/a.jsonl"; sleep 0.4; cat "${dir}/b.jsonl"; exec sleep 30\n`,
    { mode: 0o755 },
  );
  const { ctx } = testContext({ toolDir: dir });
  const collector = createEsloggerCollector(ctx, { initialBackoffMs: 50, readyQuietMs: 100, readyMaxMs: 5000 });
  running.push(collector);
  collector.start();
  await collector.ready();
  const health = () => ctx.health.rows().find((r) => r.component === 'eslogger')!;
  // the second chunk comes 0.4 s after the first; give the collector 2.5 s after it
  await new Promise((r) => setTimeout(r, 3000));
  expect(collector.stats().lost).toBe(8);
  expect(health().dropped).toBe(8);
  expect(health().detail).toMatch(/8 events lost/);
});
