import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolError } from '../../src/errors.js';
import { ToolRunner } from './tools.js';

function fakeTool(dir: string, name: string, program: string): void {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/usr/bin/env node\n${program}\n`);
  chmodSync(file, 0o755);
}

describe('ToolRunner.run limits', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'outflow-tools-limits-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns output of exactly maxBytes whole; one byte more is over the cap', async () => {
    fakeTool(dir, 'rpm', `process.stdout.write('y'.repeat(Number(process.argv[2])));`);
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir });
    const res = await runner.run('rpm', ['10000'], { maxBytes: 10_000 });
    expect(res.stdout.length).toBe(10_000);
    await expect(runner.run('rpm', ['10001'], { maxBytes: 10_000 })).rejects.toMatchObject({ code: 'TOOL_OUTPUT_LIMIT' });
  });

  it('the timeout of a run is its own, not the runner default', async () => {
    fakeTool(dir, 'ss', `setInterval(() => {}, 1000);`);
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir, defaultTimeoutMs: 20_000 });
    const err = (await runner.run('ss', [], { timeoutMs: 300 }).catch((e: unknown) => e)) as ToolError;
    expect([err.code, err.message]).toEqual(['TOOL_TIMEOUT', 'ss did not finish within 300 ms']);
  });

  it('an exit code listed in okExitCodes is a result, not a failure', async () => {
    // codesign --verify exits 1 for an unsigned or invalid binary: its verdict, not a tool failure
    fakeTool(dir, 'ps', `process.stderr.write('/tmp/x: code object is not signed at all\\n'); process.exit(1);`);
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir });
    const res = await runner.run('ps', [], { okExitCodes: [0, 1] });
    expect([res.exitCode, res.stderr]).toEqual([1, '/tmp/x: code object is not signed at all\n']);
    await expect(runner.run('ps', [])).rejects.toMatchObject({ code: 'TOOL_FAILED', details: { exitCode: 1 } });
  });
});
