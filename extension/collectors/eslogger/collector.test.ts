import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_TOOLS_DIR } from '../../../test/helpers/cli.js';
import type { Collector } from '../../runtime/context.js';
import { createEsloggerCollector, type EsloggerCollector } from './collector.js';
import { NO_FIXTURE_SELF, testContext } from './testing/test-context.js';
import type { OwnProcess } from './pipeline.js';
import { body, esLine, keychainDittoScenario } from './testing/es-lines.mjs';

const FAKE_ENV = ['OUTFLOW_FAKE_ESLOGGER', 'OUTFLOW_FAKE_ESLOGGER_IDLE', 'OUTFLOW_FAKE_ESLOGGER_DENY', 'OUTFLOW_FAKE_ESLOGGER_EXIT', 'OUTFLOW_FAKE_ESLOGGER_FLOOD', 'OUTFLOW_FAKE_ESLOGGER_LIST', 'OUTFLOW_FAKE_CALLS'];
const running: Collector[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  for (const k of FAKE_ENV) delete process.env[k];
});

function tempDir(): string {
  return mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'eslogger-'));
}

/** `self`: the extension's own process, default one no fixture uses; 'this process' = the collector's default. */
function start(opts: { env?: Record<string, string>; config?: unknown; toolDir?: string; self?: OwnProcess | 'this process' } = {}) {
  // ToolRunner passes OUTFLOW_FAKE_* from this process's environment to fake tools.
  for (const [k, v] of Object.entries(opts.env ?? {})) process.env[k] = v;
  const { ctx, recorded } = testContext({ toolDir: opts.toolDir ?? FAKE_TOOLS_DIR, config: opts.config });
  const self = opts.self === 'this process' ? undefined : (opts.self ?? NO_FIXTURE_SELF);
  const collector: EsloggerCollector = createEsloggerCollector(ctx, { initialBackoffMs: 50, readyQuietMs: 100, readyMaxMs: 5000, self });
  running.push(collector);
  collector.start();
  return { ctx, recorded, collector, health: () => ctx.health.rows().find((r) => r.component === 'eslogger')! };
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('eslogger collector (fake eslogger child process)', () => {
  it('streams the scenario into both buffers and is ready after the first batch', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'eslogger.jsonl');
    const base = Date.now() - 10_000;
    writeFileSync(file, keychainDittoScenario(base).join('\n') + '\n');
    const calls = path.join(dir, 'calls.jsonl');
    const { ctx, collector, health, recorded } = start({ env: { OUTFLOW_FAKE_ESLOGGER: file, OUTFLOW_FAKE_CALLS: calls } });
    await collector.ready();
    expect(ctx.sensitiveEvents.toArray().map((r) => [r.pid, r.category, r.file_path])).toEqual([
      [4_207_001, 'keychain', '/Users/dana/Library/Keychains/login.keychain-db'],
      [4_207_003, 'documents', '/Users/dana/Documents/Q3 report.pdf'],
      [4_207_003, 'documents', '/Users/dana/Documents/résumé 2026.pages'],
    ]);
    expect(ctx.archiveEvents.toArray().map((r) => [r.tool, r.operation, r.archive_path, r.staging])).toEqual([
      ['ditto', 'exec', '/tmp/docs.zip', 1],
      ['ditto', 'create', '/tmp/docs.zip', 1],
    ]);
    expect(recorded.exited.map((e) => e.pid)).toEqual([4_207_003, 4_207_001]);
    expect(health()).toMatchObject({ state: 'running', events: 5, dropped: 0 });
    expect(health().detail).toMatch(/20 lines/);
    // --list-events first, then the intersection with what we want, as JSON
    const invocations = readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l).args);
    expect(invocations).toEqual([['--list-events'], ['--format', 'json', 'exec', 'fork', 'exit', 'open', 'create', 'write', 'rename', 'close', 'clone', 'copyfile', 'link']]);
    await collector.stop();
    expect(collector.stats().restarts).toBe(0);
  });

  it("writes no row for the files this process and its tools open (eslogger mutes only its own process group)", async () => {
    const dir = tempDir();
    const file = path.join(dir, 'eslogger.jsonl');
    const base = Date.now() - 10_000;
    // this process as the kernel dates it (a fork a moment before Node's time origin), and a codesign it started
    const self = { pid: process.pid, ppid: 1, path: process.execPath, signingId: null, teamId: null, startMs: Math.floor(performance.timeOrigin) - 500 };
    const codesign = { pid: 2_000_000 + (process.pid % 100_000), ppid: process.pid, path: '/usr/bin/codesign', platform: true, signingId: 'com.apple.codesign', startMs: base };
    // a reader that is not ours whatever pid this worker has (beyond any real pid, adopted by launchd)
    const other = { pid: 2 ** 22 + 2, ppid: 1, path: '/usr/local/bin/sync-agent', signingId: null, teamId: null, startMs: base };
    const lines = [self, codesign, other].map((p, i) => esLine({ kind: 'open', timeMs: base + 100, gseq: 90_020 + i, process: p, body: body.open('/Users/dana/Downloads/Installer.pkg') }));
    writeFileSync(file, lines.join('\n') + '\n');
    const { ctx, collector } = start({ env: { OUTFLOW_FAKE_ESLOGGER: file }, self: 'this process' });
    await collector.ready();
    expect(ctx.sensitiveEvents.toArray().map((r) => r.pid)).toEqual([other.pid]);
    expect(collector.stats()).toMatchObject({ own: 2, lost: 0 });
  });

  it('writes the scenario rows whatever pid the OS gave this worker (one the scenario uses as a parent)', async () => {
    const real = Object.getOwnPropertyDescriptor(process, 'pid')!;
    // 4_200_601 is the scenario's Terminal zsh, parent of the script that reads the login keychain
    Object.defineProperty(process, 'pid', { ...real, value: 4_200_601 });
    try {
      const file = path.join(tempDir(), 'eslogger.jsonl');
      writeFileSync(file, keychainDittoScenario(Date.now() - 10_000).join('\n') + '\n');
      const { ctx, collector } = start({ env: { OUTFLOW_FAKE_ESLOGGER: file } });
      await collector.ready();
      expect(ctx.sensitiveEvents.toArray().map((r) => r.pid)).toEqual([4_207_001, 4_207_003, 4_207_003]);
    } finally {
      Object.defineProperty(process, 'pid', real);
    }
  });

  it('asks only for events this eslogger lists', async () => {
    const calls = path.join(tempDir(), 'calls.jsonl');
    const { collector } = start({ env: { OUTFLOW_FAKE_ESLOGGER_LIST: 'exec,fork,exit,open,close,unlink', OUTFLOW_FAKE_CALLS: calls, OUTFLOW_FAKE_ESLOGGER_EXIT: '0' } });
    await collector.ready();
    await until(() => readFileSync(calls, 'utf8').trim().split('\n').length >= 2);
    const second = JSON.parse(readFileSync(calls, 'utf8').trim().split('\n')[1]!).args;
    expect(second).toEqual(['--format', 'json', 'exec', 'fork', 'exit', 'open', 'close']);
  });

  it('on a quiet host, resolves ready after readyMaxMs and stays running', async () => {
    for (const [k, v] of Object.entries({ OUTFLOW_FAKE_ESLOGGER_IDLE: '1' })) process.env[k] = v;
    const { ctx } = testContext({ toolDir: FAKE_TOOLS_DIR });
    const collector = createEsloggerCollector(ctx, { readyMaxMs: 800 });
    running.push(collector);
    const t0 = Date.now();
    collector.start();
    await collector.ready();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    const h = ctx.health.rows().find((r) => r.component === 'eslogger')!;
    expect(h.state).toBe('running');
    expect(h.detail).toMatch(/waiting for events/);
    expect(collector.stats().restarts).toBe(0);
  });

  it('a fake without scenario fails fast: ready at once, degraded, retrying', async () => {
    const { collector, health } = start();
    await collector.ready();
    await until(() => health().state === 'degraded');
    expect(health().detail).toMatch(/no scenario/);
  });

  it('reports missing Full Disk Access as permission_denied with what to grant, and keeps retrying', async () => {
    const { collector, health } = start({ env: { OUTFLOW_FAKE_ESLOGGER_DENY: 'not_permitted' } });
    await collector.ready();
    expect(health().state).toBe('permission_denied');
    expect(health().detail).toMatch(/Full Disk Access/);
    expect(health().detail).toMatch(/SystemPolicyAllFiles/);
    await until(() => collector.stats().restarts >= 2);
    expect(health().state).toBe('permission_denied');
  });

  it('reports a non-root run as permission_denied "run as root"', async () => {
    const { collector, health } = start({ env: { OUTFLOW_FAKE_ESLOGGER_DENY: 'not_privileged' } });
    await collector.ready();
    expect(health()).toMatchObject({ state: 'permission_denied' });
    expect(health().detail).toMatch(/root/);
  });

  it('reports a missing binary as unavailable (needs macOS 13+)', async () => {
    const { collector, health } = start({ toolDir: tempDir() });
    await collector.ready();
    expect(health().state).toBe('unavailable');
    expect(health().detail).toMatch(/macOS 13/);
  });

  it('survives the binary vanishing between --list-events and the stream (unavailable, ready, retrying)', async () => {
    const dir = tempDir();
    const tool = path.join(dir, 'eslogger');
    writeFileSync(tool, '#!/bin/sh\nif [ "$1" = "--list-events" ]; then printf "exec\\nopen\\n"; rm -f "$0"; exit 0; fi\nexit 1\n', { mode: 0o755 });
    const { collector, health } = start({ toolDir: dir });
    await collector.ready();
    await until(() => health().state === 'unavailable');
    expect(health().detail).toMatch(/macOS 13/);
    await until(() => collector.stats().restarts >= 1);
  });

  it('is disabled by config', async () => {
    const { collector, health } = start({ config: { eslogger: { enabled: false } } });
    await collector.ready();
    expect(health().state).toBe('disabled');
  });

  it('restarts eslogger with backoff when it exits, without double counting sequence gaps', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'eslogger.jsonl');
    writeFileSync(file, keychainDittoScenario(Date.now() - 10_000).join('\n') + '\n');
    const { collector, health, ctx } = start({ env: { OUTFLOW_FAKE_ESLOGGER: file, OUTFLOW_FAKE_ESLOGGER_EXIT: '0' }, config: { eslogger: { restart_backoff_max: 0.2 } } });
    await collector.ready();
    await until(() => collector.stats().restarts >= 3);
    expect(collector.stats().lost).toBe(0);
    expect(['degraded', 'running']).toContain(health().state);
    // the replayed scenario folds into the rows already written
    expect(ctx.archiveEvents.size).toBe(2);
  });

  it('counts malformed lines (a truncated last line) in dropped', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'eslogger.jsonl');
    const lines = keychainDittoScenario(Date.now() - 10_000);
    writeFileSync(file, lines.join('\n') + '\n' + lines[5]!.slice(0, 700));
    const { collector, health } = start({ env: { OUTFLOW_FAKE_ESLOGGER: file, OUTFLOW_FAKE_ESLOGGER_EXIT: '0' }, config: { eslogger: { restart_backoff_max: 30 } } });
    await collector.ready();
    await until(() => collector.stats().malformed >= 1);
    await collector.stop();
    expect(health().dropped).toBeGreaterThanOrEqual(1);
    expect(health().detail).toMatch(/malformed/);
  });
});

