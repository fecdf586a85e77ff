/**
 * outflow.ext's first line is `#!<node> <flag>`. The kernel ends the interpreter path at the first
 * blank (Linux and macOS alike), so a --node path with a space (/Library/Application Support/…/node, a common
 * place on a Mac) gives an outflow.ext that no one can exec; osqueryd would respawn it for ever. Packaging must
 * refuse such a path, as it refuses a relative one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageOutflow } from '../../scripts/package.js';

const work = mkdtempSync(path.join(tmpdir(), 'outflow-pkg-node-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('package --node', () => {
  it('refuses an interpreter path a #! line cannot carry (a blank in it)', async () => {
    await expect(packageOutflow({ node: '/Library/Application Support/Outflow/node', out: path.join(work, 'a') })).rejects.toThrow(/--node/);
  });
  it('refuses an interpreter path too long for a #! line', async () => {
    await expect(packageOutflow({ node: `/opt/${'n'.repeat(300)}/node`, out: path.join(work, 'b') })).rejects.toThrow(/--node/);
  });
});
