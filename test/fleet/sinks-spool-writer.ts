/**
 * Child process for the spool-restart test: spools N single-detection batches for a receiver that is
 * down, prints "spooled N" and waits to be killed (SIGKILL, so nothing gets a chance to flush).
 */
import { silentLogger } from '../../src/log.js';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { sampleDetection } from './serve-fixtures.js';

const [spoolDir, url, count] = process.argv.slice(2);
const sink = new WebhookSink({
  name: 'webhook#0',
  url: url!,
  secret: 'spool-restart-secret-0123456789',
  format: 'json',
  spoolDir: spoolDir!,
  timeoutMs: 1000,
  backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2 },
  batchSize: 1,
  maxSpoolBytes: 1 << 20,
  headers: {},
  render: (d) => d,
  log: silentLogger(),
});
const n = Number(count);
await sink.write(Array.from({ length: n }, (_, i) => sampleDetection({ id: `before-restart-${i}` })));
process.stdout.write(`spooled ${n}\n`);
setInterval(() => undefined, 1000);
