/**
 * Commands piped into a reader that goes away (`| head`, `| true`) end quietly with their own exit code, as any Unix
 * tool does, instead of dying of an unhandled EPIPE with a stack trace.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliArgs, REPO_ROOT } from '../helpers/cli.js';

async function intoGoneReader(args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, cliArgs(args), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OUTFLOW_TOOL_DIR: '' } });
  child.stdout!.destroy();
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stderr, ms: Date.now() - started };
}

describe('a reader that has gone', () => {
  it('query ends quietly, and query --every stops instead of running on for nobody', async () => {
    const once = await intoGoneReader(['query', 'SELECT component, state FROM outflow_status']);
    expect(once.stderr).not.toMatch(/Unhandled 'error' event|EPIPE/);
    expect(once.code).toBe(0);
    const repeated = await intoGoneReader(['query', '--every', '1', '--count', '30', 'SELECT component FROM outflow_status']);
    expect(repeated.stderr).not.toMatch(/Unhandled 'error' event|EPIPE/);
    expect(repeated.code).toBe(0);
    expect(repeated.ms).toBeLessThan(20_000);
  }, 60_000);

  it.each([[['fleet', '--help']], [['help', 'fleet']], [['fleet', 'ingest', '--help']]])('outflow %s (help written by commander) ends quietly with 0', async (args) => {
    const r = await intoGoneReader(args);
    expect(r.stderr).not.toMatch(/Unhandled 'error' event|EPIPE/);
    expect(r.code).toBe(0);
  }, 60_000);
});
