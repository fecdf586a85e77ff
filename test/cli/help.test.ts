/**
 * `outflow help CMD` and `outflow CMD --help` print the same help, `fleet` included (its subcommands are declared by
 * the fleet CLI, loaded lazily).
 */
import { describe, expect, it } from 'vitest';
import { runOutflow } from '../helpers/cli.js';

describe('outflow help', () => {
  it.each([
    [['help', 'fleet'], ['fleet', '--help']],
    [['help', 'fleet', 'ingest'], ['fleet', 'ingest', '--help']],
    [['help', 'fleet', 'prevalence'], ['fleet', 'prevalence', '--help']],
    [['help', 'query'], ['query', '--help']],
    [['help', 'packs', 'build'], ['packs', 'build', '--help']],
    [['help'], ['--help']],
  ])('%j is %j', async (help, flag) => {
    const [a, b] = await Promise.all([runOutflow(help), runOutflow(flag)]);
    expect([a.code, a.stderr]).toEqual([0, '']);
    expect(a.stdout).toBe(b.stdout);
    expect(b.code).toBe(0);
  }, 60_000);

  it('lists the fleet subcommands', async () => {
    const r = await runOutflow(['help', 'fleet']);
    for (const sub of ['ingest', 'detections', 'prevalence', 'finalize', 'migrate', 'serve']) expect(r.stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
  }, 60_000);

  it('refuses an unknown command', async () => {
    const r = await runOutflow(['help', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: unknown command 'nope'/);
  }, 60_000);
});
