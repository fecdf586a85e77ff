/**
 * scripts/simulate-fleet.ts as docs/fleet.md runs it: `--help` prints the usage (it was refused as
 * "--help needs a value"), a bad option prints it on stderr with exit 2.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const SCRIPT = path.join(REPO_ROOT, 'scripts/simulate-fleet.ts');
const TSX = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const simulate = (args: string[]) => spawnSync(process.execPath, ['--import', TSX, SCRIPT, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });

describe('simulate-fleet CLI', () => {
  it.each([[['--help']], [['-h']], [['--hosts', '3', '--help']]])('%j prints the usage on stdout, exit 0', (args) => {
    const r = simulate(args);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^usage: node --import tsx scripts\/simulate-fleet\.ts /);
    for (const option of ['--hosts N', '--days D', '--seed S', '--out DIR', '--files K', '--start ISO', '--duplicates RATE', '--server-names M', '-h, --help']) expect(r.stdout).toContain(`  ${option} `);
  });

  it.each(['foo', '7', '2026-02-30', '2026-03-09T10:00'])('refuses --start %s: a calendar date only', (start) => {
    const r = simulate(['--start', start, '--out', '/nonexistent-never-written']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--start must be a date, YYYY-MM-DD (got ${start})`);
  });

  it('prints the usage on stderr with exit 2 for a bad option', () => {
    const r = simulate(['--hostz', '3']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^simulate-fleet: unknown option --hostz\nusage: /);
  });
});
