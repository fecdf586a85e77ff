import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import { refreshProcessSnapshot } from '../../process-model/refresh.js';
import type { ExtensionContext } from '../../runtime/context.js';
import { createContext } from '../../runtime/create-context.js';
import { emptyQueryContext, parseQueryContext } from '../../sdk/query-context.js';
import { enrichProcessIdentity } from './collector.js';
import { createProcessModel } from '../../process-model/model.js';
import { NOW, staticSigning } from '../egress_candidates/testing/world.js';
import { fixedClock } from '../../../src/clock.js';
import { codeSigning } from './table.js';

const scenario = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'scenario-darwin');
const WIDGET = '/Applications/Widget.app/Contents/MacOS/Widget';
const contexts: ExtensionContext[] = [];

afterEach(async () => {
  delete process.env.OUTFLOW_FAKE_SCENARIO;
  delete process.env.OUTFLOW_FAKE_CODESIGN_HANG;
  await Promise.all(contexts.splice(0).map((c) => c.signing.stop()));
});

function darwinCtx(signing: Record<string, number> = {}): ExtensionContext {
  process.env.OUTFLOW_FAKE_SCENARIO = scenario;
  const ctx = createContext({ platform: 'darwin', config: parseConfig({ tools: { dir: FAKE_TOOLS_DIR }, signing: { workers: 4, timeout_ms: 10_000, ...signing } }), log: silentLogger() });
  contexts.push(ctx);
  return ctx;
}

const pathIn = (...values: string[]) => parseQueryContext(JSON.stringify({ constraints: [{ name: 'path', list: values.map((v) => ({ op: 2, expr: v })), affinity: 'TEXT' }] }));

describe('code_signing table', () => {
  it('without a path constraint: one row per running executable; misses are unknown until checked', async () => {
    const ctx = darwinCtx();
    await refreshProcessSnapshot(ctx);
    const first = await codeSigning.generate(ctx, emptyQueryContext());
    expect(first.map((r) => r.path)).toEqual(['/Applications/Widget.app/Contents/MacOS/Widget', '/Users/dana/bin/helperd', '/bin/zsh', '/opt/slow/bin/hangs', '/sbin/launchd', '/tmp/.cache/updater', '/usr/bin/curl']);
    expect(first.every((r) => r.signature_class === 'unknown' && r.checked_at === 0)).toBe(true);
    // Re-running only fills from the background queue; the hanging path (no timeout hit yet) stays unknown.
    ctx.signing.request(first.map((r) => r.path!).filter((p) => p !== '/opt/slow/bin/hangs'));
    // every check done (the hanging path's ends at its timeout), not a fixed 20 s after which the assertions below ran
    // on whatever a loaded machine had finished by then
    await ctx.signing.idle();
    const rows = await codeSigning.generate(ctx, emptyQueryContext());
    const byPath = new Map(rows.map((r) => [r.path, r]));
    expect(byPath.get(WIDGET)).toMatchObject({ signature_class: 'developer_id', notarized: 1, identity: 'team:Q7R2K9W4ZD/com.example.widget' });
    expect(byPath.get('/usr/bin/curl')).toMatchObject({ signature_class: 'apple_platform' });
  }, 60_000);

  it('with path = / IN: only those paths; relative paths never reach the service', async () => {
    const ctx = darwinCtx();
    const rows = await codeSigning.generate(ctx, pathIn(WIDGET, '/bin/zsh', '4471', 'bin/zsh'));
    expect(rows.map((r) => r.path)).toEqual([WIDGET, '/bin/zsh']);
    const none = await codeSigning.generate(ctx, pathIn('123'));
    expect(none).toEqual([]);
  });

  it('a hanging codesign never delays generate (SPEC: answer within 2 s)', async () => {
    process.env.OUTFLOW_FAKE_CODESIGN_HANG = '1';
    const ctx = darwinCtx({ timeout_ms: 10_000 });
    await refreshProcessSnapshot(ctx);
    ctx.signing.request(ctx.processes.running().map((p) => p.path));
    await new Promise((r) => setTimeout(r, 300)); // workers are now stuck inside codesign
    const t0 = performance.now();
    const rows = await codeSigning.generate(ctx, emptyQueryContext());
    const elapsed = performance.now() - t0;
    expect(rows).toHaveLength(7);
    expect(rows.every((r) => r.signature_class === 'unknown')).toBe(true);
    expect(elapsed).toBeLessThan(2000);
  });

  it('copies identities from the signing cache into process records (lineage needs them)', async () => {
    const ctx = darwinCtx();
    await refreshProcessSnapshot(ctx);
    ctx.signing.request(['/bin/zsh', WIDGET, '/Users/dana/bin/helperd']);
    await ctx.signing.idle();
    expect(enrichProcessIdentity(ctx)).toBe(3);
    expect(ctx.processes.get(4419)).toMatchObject({ signingId: 'com.apple.zsh', teamId: null, platformBinary: true });
    expect(ctx.processes.get(4471)).toMatchObject({ signingId: 'com.example.widget', teamId: 'Q7R2K9W4ZD', platformBinary: false });
    expect(ctx.processes.get(60311)!.cdhash).toBe('c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00');
    expect(enrichProcessIdentity(ctx)).toBe(0);
  });

  it('copies a team id only where an Apple certificate vouches for it (an ad-hoc one is any text)', () => {
    const config = parseConfig({});
    const clock = fixedClock(NOW);
    const processes = createProcessModel({ config, clock, log: silentLogger() });
    const fake = '/Users/dana/bin/term';
    processes.observe({ pid: 500, processStart: NOW - 10, ppid: 1, path: fake, source: 'ps', seenAt: NOW });
    processes.observe({ pid: 501, processStart: NOW - 10, ppid: 1, path: WIDGET, source: 'ps', seenAt: NOW });
    const signing = staticSigning([
      // rcodesign and friends write any team id into an ad-hoc code directory
      { path: fake, cls: 'adhoc', teamId: 'H7V7XYVQ7D', signingId: 'com.googlecode.iterm2', cdhash: 'ad0c' },
      { path: WIDGET, cls: 'developer_id', teamId: 'Q7R2K9W4ZD', signingId: 'com.example.widget' },
    ]);
    const ctx = { processes, signing, clock } as unknown as ExtensionContext;
    expect(enrichProcessIdentity(ctx)).toBe(2);
    expect(processes.get(500)).toMatchObject({ signingId: 'com.googlecode.iterm2', teamId: null, cdhash: 'ad0c' });
    expect(processes.get(501)).toMatchObject({ teamId: 'Q7R2K9W4ZD' });
  });
});

