/**
 * guardStdout(), installed from CLI start, must leave stdout errors other than EPIPE to a listener that handles them
 *: `fleet serve`'s stdout sink gets them in its write callbacks (reported, retried through the
 * outbox); thrown from the guard, the same error killed the aggregator.
 * stdout here is a TCP socket (systemd StandardOutput=socket, a log shipper over TCP) whose peer resets: ECONNRESET.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { pathToFileURL } from 'node:url';

const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const CHILD = path.join(REPO_ROOT, 'test/cli/stdout-guard-sink-child.ts');

async function runWithResetStdout(guard: boolean): Promise<{ code: number | null; stderr: string }> {
  const server = net.createServer((s) => {
    // read a little, then reset the connection (RST): the writer's next send fails with ECONNRESET
    s.once('data', () => s.resetAndDestroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD], { cwd: REPO_ROOT, stdio: ['ignore', sock, 'pipe'], env: { ...process.env, REVIEW_GUARD: guard ? '1' : '0' } });
  sock.destroy();
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  server.close();
  return { code, stderr };
}

describe('stdout guard vs the fleet serve stdout sink', () => {
  it('control: without the CLI-start guard, a reset stdout is reported to the sink and the process lives', async () => {
    const r = await runWithResetStdout(false);
    expect(r.stderr).toMatch(/ALIVE failed=[1-9]/);
    expect(r.code).toBe(0);
  }, 60_000);

  it('with guardStdout() from CLI start (as main() now does), the aggregator survives a non-EPIPE stdout error', async () => {
    const r = await runWithResetStdout(true);
    expect(r.stderr).not.toMatch(/ECONNRESET/);
    expect(r.stderr).toMatch(/ALIVE failed=[1-9]/);
    expect(r.code).toBe(0);
  }, 60_000);
});
