/** Webhook spool: a body whose write or rename failed, or that a crash interrupted, must not stay on disk forever. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSink } from '../../fleet/sinks/webhook.js';
import { silentLogger } from '../../src/log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sink(spoolDir: string): WebhookSink {
  return new WebhookSink({
    name: 'webhook#0', url: 'http://127.0.0.1:9/', secret: 's'.repeat(32), format: 'json' as never, spoolDir, timeoutMs: 100,
    backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2 }, batchSize: 100, maxSpoolBytes: 1 << 20, headers: {},
    render: (d: unknown) => d as never, log: silentLogger(),
  });
}
const tmpFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('webhook spool temporary files', () => {
  it('a failed spool write leaves no .tmp behind', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-tmp-'));
    dirs.push(dir);
    const s = sink(dir);
    // the rename target cannot be replaced (stands in for ENOSPC/EIO in the middle of a write)
    mkdirSync(path.join(dir, '0000000000000001.json', 'x'), { recursive: true });
    await expect(s.enqueue([{ id: 1 }])).rejects.toMatchObject({ code: 'SINK_FAILED' });
    await s.close();
    expect(tmpFiles(dir)).toEqual([]);
  });

  it('a .tmp a crash left behind is removed when the sink starts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-tmp-'));
    dirs.push(dir);
    mkdirSync(path.join(dir, 'dead'), { recursive: true });
    writeFileSync(path.join(dir, '.7.tmp'), 'x'.repeat(1000));
    const s = sink(dir);
    await s.close();
    expect(tmpFiles(dir)).toEqual([]);
  });
});
