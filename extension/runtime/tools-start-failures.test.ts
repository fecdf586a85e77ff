import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolRunner } from './tools.js';

describe('ToolRunner.run: a tool that cannot be started', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'outflow-tools-start-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a file without execute permission is TOOL_PERMISSION (health: permission_denied), a missing one TOOL_NOT_FOUND', async () => {
    writeFileSync(path.join(dir, 'ps'), '#!/bin/sh\necho "  PID"\n', { mode: 0o644 });
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir });
    await expect(runner.run('ps', [])).rejects.toMatchObject({ code: 'TOOL_PERMISSION', tool: 'ps' });
    await expect(runner.run('ss', [])).rejects.toMatchObject({ code: 'TOOL_NOT_FOUND', tool: 'ss' });
  });
});
