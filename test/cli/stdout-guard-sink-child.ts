/**
 * Child of stdout-guard-sink.test.ts: what `outflow fleet serve` with a `stdout` sink now does. cli/main.ts
 * calls guardStdout() first (28a3737); the stdout sink then writes detections to process.stdout and expects write
 * errors in its callbacks (jsonl.ts: "the failing batch is reported (and counted) there").
 */
import { guardStdout } from '../../src/stdout.js';
import { JsonlStreamSink } from '../../fleet/sinks/jsonl.js';
import type { Detection } from '../../fleet/sinks/sink.js';

if (process.env.REVIEW_GUARD === '1') guardStdout();
const sink = new JsonlStreamSink(process.stdout, (d) => d, 'stdout#0');
let failed = 0;
const big = { id: 'x', pad: 'p'.repeat(64 * 1024) } as unknown as Detection;
for (let i = 0; i < 200; i++) {
  await sink.write([big]).catch(() => failed++);
  await new Promise((r) => setTimeout(r, 5));
}
process.stderr.write(`ALIVE failed=${failed}\n`);
process.exit(0);
