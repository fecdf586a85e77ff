/**
 * outflow_status.dropped for eslogger counts every event we know we lost: rows pushed out of a full buffer too.
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

it('rows evicted from a full buffer are counted in outflow_status.dropped and named in the detail', async () => {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-evict-'));
  const T = Date.now() - 5000;
  const proc = { pid: 4711, ppid: 1, path: '/usr/local/bin/exfil', signingId: null, teamId: null, startMs: T - 1000 };
  const lines = [0, 1, 2, 3, 4].map((i) => esLine({ kind: 'open', timeMs: T + i, gseq: i + 1, process: proc, body: body.open(`/Users/dana/Documents/report-${i}.pdf`) }));
  writeFileSync(path.join(dir, 'events.jsonl'), lines.join('\n') + '\n');
  writeFileSync(
    path.join(dir, 'eslogger'),
    `#!/bin/sh\nif [ "$1" = "--list-events" ]; then printf "exec\\nfork\\nexit\\nopen\\n"; exit 0; fi\ncat "${dir}/events.jsonl"; exec sleep 30\n`,
    { mode: 0o755 },
  );
  const { ctx } = testContext({ toolDir: dir, config: { events: { max_events: 2 } } });
  const collector = createEsloggerCollector(ctx, { initialBackoffMs: 30_000, readyQuietMs: 100, readyMaxMs: 5000 });
  running.push(collector);
  collector.start();
  await collector.ready();
  const health = () => ctx.health.rows().find((r) => r.component === 'eslogger')!;
  await expect.poll(() => collector.stats().sensitiveRows, { timeout: 5000 }).toBe(5);
  expect(collector.stats()).toMatchObject({ evicted: 3, lost: 0, malformed: 0 });
  await expect.poll(() => health().dropped, { timeout: 3000 }).toBe(3);
  expect(health().detail).toMatch(/3 rows evicted from full buffers/);
});
