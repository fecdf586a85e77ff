/**
 * outflow_status for eslogger: `dropped` counts every event we know we lost, rows pushed out of a full buffer too;
 * and since eslogger's JSON is "NOT API", more than 1 % unreadable lines of at least 1 000 turns the state degraded
 * (the format has likely changed under us), while up to 1 % is noise and the collector stays running.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createEsloggerCollector, type EsloggerCollector } from './collector.js';
import { NO_FIXTURE_SELF, testContext } from './testing/test-context.js';
import { body, esLine } from './testing/es-lines.mjs';

const running: EsloggerCollector[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});

/** A fake eslogger on a tool dir that prints `lines` and stays up; the collector reading it, and its status row. */
async function streaming(lines: string[], config: Record<string, unknown> = {}) {
  const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-health-'));
  writeFileSync(path.join(dir, 'events.jsonl'), lines.join('\n') + '\n');
  writeFileSync(
    path.join(dir, 'eslogger'),
    `#!/bin/sh\nif [ "$1" = "--list-events" ]; then printf "exec\\nfork\\nexit\\nopen\\n"; exit 0; fi\ncat "${dir}/events.jsonl"; exec sleep 30\n`,
    { mode: 0o755 },
  );
  const { ctx } = testContext({ toolDir: dir, config });
  const collector = createEsloggerCollector(ctx, { initialBackoffMs: 30_000, readyQuietMs: 100, readyMaxMs: 5000, self: NO_FIXTURE_SELF });
  running.push(collector);
  collector.start();
  await collector.ready();
  return { collector, health: () => ctx.health.rows().find((r) => r.component === 'eslogger')! };
}

it('rows evicted from a full buffer are counted in outflow_status.dropped and named in the detail', async () => {
  const T = Date.now() - 5000;
  const proc = { pid: 4711, ppid: 1, path: '/usr/local/bin/exfil', signingId: null, teamId: null, startMs: T - 1000 };
  const lines = [0, 1, 2, 3, 4].map((i) => esLine({ kind: 'open', timeMs: T + i, gseq: i + 1, process: proc, body: body.open(`/Users/dana/Documents/report-${i}.pdf`) }));
  const { collector, health } = await streaming(lines, { events: { max_events: 2 } });
  await expect.poll(() => collector.stats().sensitiveRows, { timeout: 5000 }).toBe(5);
  expect(collector.stats()).toMatchObject({ evicted: 3, lost: 0, malformed: 0 });
  await expect.poll(() => health().dropped, { timeout: 3000 }).toBe(3);
  expect(health().detail).toMatch(/3 rows evicted from full buffers/);
});

it.each([
  [10, 'running'],
  [11, 'degraded'],
] as const)('%i unreadable lines of 1 000 leave eslogger %s', async (cut, state) => {
  const T = Date.now() - 5000;
  const proc = { pid: 4711, ppid: 1, path: '/usr/local/bin/sync-agent', signingId: null, teamId: null, startMs: T - 1000 };
  const whole = Array.from({ length: 1000 - cut }, (_, i) => esLine({ kind: 'open', timeMs: T + i, gseq: i + 1, process: proc, body: body.open(`/Users/dana/Documents/notes-${i}.txt`) }));
  // a line cut mid-object, as a reader falling over a changed layout would see it
  const lines = [...whole];
  for (let k = 0; k < cut; k++) lines.splice(k * 50 + 1, 0, whole[k]!.slice(0, -25));
  const { collector, health } = await streaming(lines);
  await expect.poll(() => collector.stats().lines, { timeout: 10_000 }).toBe(1000);
  expect(collector.stats().malformed).toBe(cut);
  await expect.poll(() => health().detail, { timeout: 5000 }).toMatch(new RegExp(`${cut} malformed lines`));
  expect(health().state).toBe(state);
  if (state === 'degraded') expect(health().detail).toMatch(/eslogger's JSON format may have changed/);
});
