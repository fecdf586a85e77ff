import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock, systemClock, type Clock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { FAKE_TOOLS_DIR } from '../../test/helpers/cli.js';
import { createContext } from '../runtime/create-context.js';
import type { ExtensionContext } from '../runtime/context.js';
import type { CoreQuery } from '../sdk/core-query.js';
import { createProcessCollector } from './collector.js';
import { kernelPathSource, psSuspicion, readProcProcess, refreshProcessSnapshot } from './refresh.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const contexts: ExtensionContext[] = [];
afterEach(async () => {
  delete process.env.OUTFLOW_FAKE_PS;
  delete process.env.OUTFLOW_FAKE_PS_ARGS;
  delete process.env.OUTFLOW_FAKE_PS_IDS;
  await Promise.all(contexts.splice(0).map((c) => c.signing.stop()));
});

function ctxFor(platform: 'darwin' | 'linux', clock: Clock = systemClock, core?: CoreQuery): ExtensionContext {
  const config = parseConfig(platform === 'darwin' ? { tools: { dir: FAKE_TOOLS_DIR } } : {});
  const ctx = createContext({ platform, config, log: silentLogger(), clock, ...(core ? { core } : {}) });
  contexts.push(ctx);
  return ctx;
}

/** Run `fn` with the fake ps printing `listing` as its comm listing, in a directory removed afterwards. */
async function withFakePs(listing: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-ps-'));
  try {
    const ps = path.join(dir, 'ps.txt');
    writeFileSync(ps, listing);
    process.env.OUTFLOW_FAKE_PS = ps;
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('refreshProcessSnapshot on darwin (fake ps)', () => {
  it('observes every ps row with path, args and start time', async () => {
    process.env.OUTFLOW_FAKE_PS = path.join(fixtures, 'ps-basic.txt');
    process.env.OUTFLOW_FAKE_PS_ARGS = path.join(fixtures, 'ps-basic-args.txt');
    const ctx = ctxFor('darwin', fixedClock(1_772_540_000));
    await refreshProcessSnapshot(ctx);
    expect(ctx.processes.size).toBe(8);
    expect(ctx.processes.get(60311)).toMatchObject({ ppid: 4421, uid: 502, path: '/opt/homebrew/bin/rclone', processStart: 1772531292, args: ['/opt/homebrew/bin/rclone', 'copy', '/Users/dana/Documents', 'remote:bucket'] });
    // comm that is not a path is a name, never a path handed to codesign.
    expect(ctx.processes.get(777)).toMatchObject({ path: '', name: '(mdworker)' });
    expect(ctx.processes.get(4421)!.args).toEqual(['-zsh']);
  });

  it('concurrent callers share one run, and vanished processes are marked exited', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-ps-'));
    try {
      const file = path.join(dir, 'ps.txt');
      const calls = path.join(dir, 'calls.jsonl');
      process.env.OUTFLOW_FAKE_PS = file;
      process.env.OUTFLOW_FAKE_CALLS = calls;
      writeFileSync(file, '    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd\n  500     1   502 Tue Mar  3 09:00:00 2026 /usr/bin/old\n');
      const clock = fixedClock(1_772_531_000);
      const ctx = ctxFor('darwin', clock);
      await Promise.all([refreshProcessSnapshot(ctx), refreshProcessSnapshot(ctx), refreshProcessSnapshot(ctx)]);
      const { readFileSync } = await import('node:fs');
      const psRuns = readFileSync(calls, 'utf8').trim().split('\n').filter((l) => l.includes('comm='));
      expect(psRuns).toHaveLength(1);
      writeFileSync(file, '    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd\n  500     1   502 Tue Mar  3 09:30:00 2026 /usr/bin/new\n');
      clock.advance(5);
      await refreshProcessSnapshot(ctx);
      const old = ctx.processes.get(500, 1772528400)!;
      expect(old.exitedAt).not.toBeNull();
      expect(ctx.processes.get(500)!.path).toBe('/usr/bin/new');
      expect(ctx.processes.running().map((p) => p.pid).sort()).toEqual([1, 500]);
    } finally {
      delete process.env.OUTFLOW_FAKE_CALLS;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // fixtures/ps-forged*.txt: see parse-ps.test.ts (60400 and 60401 print lines of their own).
  const forged = () => {
    process.env.OUTFLOW_FAKE_PS = path.join(fixtures, 'ps-forged.txt');
    process.env.OUTFLOW_FAKE_PS_IDS = path.join(fixtures, 'ps-forged-ids.txt');
    process.env.OUTFLOW_FAKE_PS_ARGS = path.join(fixtures, 'ps-forged-args.txt');
  };

  it('forged ps lines neither hide, invent nor rename a process; what was known is kept', async () => {
    process.env.OUTFLOW_FAKE_PS = path.join(fixtures, 'ps-basic.txt');
    process.env.OUTFLOW_FAKE_PS_ARGS = path.join(fixtures, 'ps-basic-args.txt');
    const clock = fixedClock(1_772_540_000);
    const ctx = ctxFor('darwin', clock);
    await refreshProcessSnapshot(ctx);
    expect(psSuspicion(ctx)).toEqual({ lastForged: 0, forged: 0, withheld: 0 });
    forged();
    clock.advance(5);
    await refreshProcessSnapshot(ctx);
    expect(ctx.processes.get(60311)).toMatchObject({ path: '/opt/homebrew/bin/rclone', uid: 502, exitedAt: null });
    expect(ctx.processes.get(4421)).toMatchObject({ path: '/bin/zsh', args: ['-zsh'], exitedAt: null });
    expect(ctx.processes.get(31337)).toBeUndefined();
    // the forgers are there, without the paths they were cut to
    expect(ctx.processes.get(60400)).toMatchObject({ path: '', name: '', ppid: 4421, uid: 502 });
    expect(ctx.processes.get(60401)).toMatchObject({ path: '', args: ['y'] });
    expect(ctx.processes.running().map((p) => p.pid).sort((a, b) => a - b)).toEqual([1, 412, 777, 4419, 4420, 4421, 4471, 60311, 60400, 60401]);
    expect(psSuspicion(ctx)).toEqual({ lastForged: 2, forged: 2, withheld: 6 });
    expect(ctx.health.component('processes').dropped).toBe(1);
  });

  it('the collector puts forged-looking ps output in its health detail as a warning', async () => {
    forged();
    const ctx = ctxFor('darwin', fixedClock(1_772_540_000));
    const collector = createProcessCollector(ctx);
    collector.start();
    await collector.ready();
    await collector.stop();
    const row = ctx.health.rows().find((r) => r.component === 'processes')!;
    expect(row).toMatchObject({ state: 'running', dropped: 1 });
    expect(row.detail).toMatch(/^10 running, 10 known .*; warning: ps printed 2 line\(s\) .*newline.*latest snapshot.*withheld 6/);
  });

  // macOS ps prints argv[0] as comm (adv_cmds: just_command skips the kernel's exec path), which each process
  // chooses: `exec -a /Applications/Safari.app/Contents/MacOS/Safari ./rclone` claims Safari's path.
  it('a comm path never replaces the executable path eslogger reported for the same instance', async () => {
    await withFakePs('    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd\n  700     1   502 Tue Mar  3 09:00:00 2026 /Applications/Safari.app/Contents/MacOS/Safari\n', async () => {
      const ctx = ctxFor('darwin', fixedClock(1_772_528_410));
      ctx.processes.observe({ pid: 700, processStart: 1_772_528_400, ppid: 1, uid: 502, path: '/Users/eve/.cache/rclone', cdhash: 'ab'.repeat(20), source: 'eslogger', seenAt: 1_772_528_400 });
      await refreshProcessSnapshot(ctx);
      expect(ctx.processes.get(700)!.path).toBe('/Users/eve/.cache/rclone');
    });
  });

  it('a comm longer than MAXPATHLEN is not taken as a path, and one too long for the output cap costs only the paths', async () => {
    await withFakePs(`    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd\n  701     1   502 Tue Mar  3 09:00:00 2026 /tmp/${'A'.repeat(1024 * 1024)}\n`, async () => {
      const ctx = ctxFor('darwin', fixedClock(1_772_528_410));
      await refreshProcessSnapshot(ctx);
      expect(ctx.processes.get(701)!.path.length).toBeLessThanOrEqual(1024);
    });
    // argv[0] of ~1 MiB each: a few dozen push the comm listing past tools.max_output_bytes (scaled down here)
    await withFakePs(`    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd\n  702     1   502 Tue Mar  3 09:00:00 2026 /tmp/${'A'.repeat(3 * 1024 * 1024)}\n`, async (dir) => {
      const ids = path.join(dir, 'ids.txt');
      writeFileSync(ids, '    1     0     0 Tue Mar  3 07:00:00 2026\n  702     1   502 Tue Mar  3 09:00:00 2026\n');
      process.env.OUTFLOW_FAKE_PS_IDS = ids;
      const ctx = createContext({ platform: 'darwin', config: parseConfig({ tools: { dir: FAKE_TOOLS_DIR, max_output_bytes: 2 * 1024 * 1024 } }), log: silentLogger(), clock: fixedClock(1_772_528_410) });
      contexts.push(ctx);
      await refreshProcessSnapshot(ctx);
      expect(ctx.processes.get(1)).toBeDefined();
      expect(ctx.processes.get(702)).toBeDefined();
    });
  });

  it('a comm that is a bare name (argv[0] again) does not rename an instance whose path eslogger reported', async () => {
    await withFakePs('    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd\n  700     1   502 Tue Mar  3 09:00:00 2026 Safari\n', async () => {
      const ctx = ctxFor('darwin', fixedClock(1_772_528_410));
      ctx.processes.observe({ pid: 700, processStart: 1_772_528_400, ppid: 1, uid: 502, path: '/Users/eve/.cache/rclone', name: 'rclone', source: 'eslogger', seenAt: 1_772_528_400 });
      await refreshProcessSnapshot(ctx);
      expect(ctx.processes.get(700)).toMatchObject({ path: '/Users/eve/.cache/rclone', name: 'rclone' });
    });
  });

  describe("kernel paths from osquery core's processes table", () => {
    const SAFARI = '/Applications/Safari.app/Contents/MacOS/Safari';
    const RCLONE = '/Users/eve/.cache/rclone';
    // pid 700 started 09:00:00 (1772528400) and runs rclone under Safari's name (exec -a).
    const spoofing = `    1     0     0 Tue Mar  3 07:00:00 2026 /sbin/launchd\n  700     1   502 Tue Mar  3 09:00:00 2026 ${SAFARI}\n`;
    /** A core that answers `rows()` and records each SQL it was asked, or fails with `failure`. */
    function stubCore(rows: () => Record<string, string>[], failure?: string): CoreQuery & { asked: string[] } {
      const asked: string[] = [];
      return {
        asked,
        async query(sql) {
          asked.push(sql);
          if (failure) throw new Error(failure);
          return rows();
        },
      };
    }

    it("the kernel's path replaces argv[0]'s claim, and a ps comm never puts the claim back", async () => {
      await withFakePs(spoofing, async () => {
        const core = stubCore(() => [{ pid: '0', path: '' }, { pid: '1', path: '/sbin/launchd' }, { pid: '700', path: RCLONE }]);
        const clock = fixedClock(1_772_528_410);
        const ctx = ctxFor('darwin', clock, core);
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)).toMatchObject({ path: RCLONE, name: 'rclone', processStart: 1_772_528_400 });
        expect(core.asked).toEqual(['SELECT pid, path FROM processes']);
        expect(kernelPathSource(ctx)).toEqual({ kind: 'core', paths: 2, rejected: 0 });
        // core answers without 700 this time (a race, a refused pid): ps's claim still does not come back
        const later = stubCore(() => [{ pid: '1', path: '/sbin/launchd' }]);
        ctx.core = later;
        clock.advance(5);
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)!.path).toBe(RCLONE);
      });
    });

    it('a new image in the same instance (exec) shows at the next snapshot', async () => {
      await withFakePs(spoofing, async () => {
        let image = '/bin/sh';
        const clock = fixedClock(1_772_528_410);
        const ctx = ctxFor('darwin', clock, stubCore(() => [{ pid: '700', path: image }]));
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)!.path).toBe('/bin/sh');
        image = RCLONE; // `exec -a Safari rclone` from the shell: same pid, same start, argv[0] unchanged
        clock.advance(5);
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)).toMatchObject({ path: RCLONE, processStart: 1_772_528_400 });
      });
    });

    it("an instance that may have started after core's answer does not get that answer (pid reuse)", async () => {
      await withFakePs(spoofing, async () => {
        // the query starts in 700's start second: the path core gave for pid 700 may be its predecessor's
        const ctx = ctxFor('darwin', fixedClock(1_772_528_400), stubCore(() => [{ pid: '1', path: '/sbin/launchd' }, { pid: '700', path: '/usr/bin/predecessor' }]));
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)!.path).not.toBe('/usr/bin/predecessor');
        expect(ctx.processes.get(1)!.path).toBe('/sbin/launchd');
      });
    });

    it("while core answers, an instance core's answer does not cover is not named by its argv[0] claim", async () => {
      await withFakePs(spoofing, async () => {
        // 700 (`exec -a <Safari's path> rclone`) starts in the second the query starts in (an attacker sees the
        // extension's ps runs and the fixed delay between them). Its argv[0] path used to stand until the next
        // snapshot; a flow first seen meanwhile keeps it for good (flow-store copies the path once), and so does
        // the record if rclone exits first. Withheld, the path is unknown, never Safari's.
        const clock = fixedClock(1_772_528_400);
        const ctx = ctxFor('darwin', clock, stubCore(() => [{ pid: '1', path: '/sbin/launchd' }, { pid: '700', path: '/usr/bin/predecessor' }]));
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)).toMatchObject({ path: '', name: 'Safari' });
        ctx.core = stubCore(() => [{ pid: '1', path: '/sbin/launchd' }, { pid: '700', path: '' }]);
        clock.advance(5);
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)!.path).toBe('');
        // the next answer that covers it gives the kernel's path
        ctx.core = stubCore(() => [{ pid: '1', path: '/sbin/launchd' }, { pid: '700', path: RCLONE }]);
        clock.advance(5);
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)).toMatchObject({ path: RCLONE, name: 'rclone' });
      });
    });

    it('a process core gives no usable path for (no timing needed) is not named by its argv[0] claim', async () => {
      await withFakePs(spoofing, async () => {
        // 700 started 10 s before the query. Core lists zombies without a path; when proc_pidpath fails (osquery's
        // darwin processes.cpp: a deleted executable) it falls back to the first memory region's name, `[null]`
        // for __PAGEZERO, which the parser rejects. `rm` of its own binary let ps's Safari claim stand, every snapshot.
        for (const row of [{ pid: '700', path: '' }, { pid: '700', path: '[null]' }]) {
          const ctx = ctxFor('darwin', fixedClock(1_772_528_410), stubCore(() => [{ pid: '1', path: '/sbin/launchd' }, row]));
          await refreshProcessSnapshot(ctx);
          expect(ctx.processes.get(700)).toMatchObject({ path: '', name: 'Safari' });
        }
      });
    });

    it("an exec eslogger reports after core answered is not undone by core's older answer", async () => {
      await withFakePs(spoofing, async () => {
        // pid 700 runs /bin/sh when core enumerates; right after, it exec's rclone (eslogger reports the exec with
        // the kernel's path) while the snapshot's ps listings are still running. Core's answer is older than the
        // exec: applied last, it would put /bin/sh back, and a flow first seen before the next snapshot (or every
        // flow, if rclone exits by then) would keep /bin/sh's Apple identity.
        const clock = fixedClock(1_772_528_410);
        let ctx!: ExtensionContext;
        const core: CoreQuery = {
          async query() {
            const rows = [{ pid: '1', path: '/sbin/launchd' }, { pid: '700', path: '/bin/sh' }];
            clock.advance(1);
            ctx.processes.observe({ pid: 700, processStart: 1_772_528_400, ppid: 1, path: RCLONE, source: 'eslogger', seenAt: clock.unix() });
            return rows;
          },
        };
        ctx = ctxFor('darwin', clock, core);
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)).toMatchObject({ path: RCLONE, processStart: 1_772_528_400 });
        // the next snapshot's answer is newer than the exec: believed as usual
        ctx.core = { query: async () => [{ pid: '700', path: '/usr/bin/next' }] };
        clock.advance(5);
        await refreshProcessSnapshot(ctx);
        expect(ctx.processes.get(700)!.path).toBe('/usr/bin/next');
      });
    });

    it('when core does not answer, the snapshot still happens on ps alone and says where its paths came from', async () => {
      await withFakePs(spoofing, async () => {
        const ctx = ctxFor('darwin', fixedClock(1_772_528_410), stubCore(() => [], 'processes: no such table'));
        const collector = createProcessCollector(ctx);
        collector.start();
        await collector.ready();
        await collector.stop();
        expect(ctx.processes.get(700)!.path).toBe(SAFARI);
        const row = ctx.health.rows().find((r) => r.component === 'processes')!;
        expect(row.state).toBe('degraded');
        expect(row.detail).toMatch(/^2 running, 2 known .*; paths: ps's argv\[0\] claims, .*osquery core's processes table did not answer \(processes: no such table\); check that osqueryd does not disable the processes table$/);
      });
    });

    it('under osqueryd the health detail counts kernel paths; without osqueryd it says paths are claims', async () => {
      await withFakePs(spoofing, async () => {
        const withCore = ctxFor('darwin', fixedClock(1_772_528_410), stubCore(() => [{ pid: '1', path: '/sbin/launchd' }, { pid: '700', path: RCLONE }, { pid: '701', path: 'relative' }]));
        const noCore = ctxFor('darwin', fixedClock(1_772_528_410));
        for (const ctx of [withCore, noCore]) {
          const collector = createProcessCollector(ctx);
          collector.start();
          await collector.ready();
          await collector.stop();
        }
        const row = (ctx: ExtensionContext) => ctx.health.rows().find((r) => r.component === 'processes')!;
        expect(row(withCore)).toMatchObject({ state: 'running', dropped: 1 });
        expect(row(withCore).detail).toMatch(/; paths: 2 from osquery core \(kernel\), 1 row\(s\) rejected$/);
        expect(row(noCore)).toMatchObject({ state: 'running' });
        expect(row(noCore).detail).toMatch(/; paths: ps's argv\[0\] claims \(not running under osqueryd\)$/);
      });
    });
  });

  it('a failing ps rejects (the collector reports it) and leaves the model untouched', async () => {
    process.env.OUTFLOW_FAKE_PS = '/nonexistent/ps.txt';
    const ctx = ctxFor('darwin');
    await expect(refreshProcessSnapshot(ctx)).rejects.toThrow(/ps exited with code 1/);
    expect(ctx.processes.size).toBe(0);
  });
});

describe('refreshProcessSnapshot on linux (real /proc)', () => {
  it('sees a child we started, with its exe, argv and start time, and marks it exited after it ends', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-proc-'));
    const sleeper = path.join(dir, 'sleepy');
    copyFileSync('/usr/bin/sleep', sleeper);
    const child = spawn(sleeper, ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const ctx = ctxFor('linux');
      await refreshProcessSnapshot(ctx);
      const rec = ctx.processes.get(child.pid!)!;
      expect(rec).toMatchObject({ path: sleeper, ppid: process.pid, args: [sleeper, '30'], uid: process.getuid!() });
      expect(Math.abs(rec.processStart - Math.floor(Date.now() / 1000))).toBeLessThanOrEqual(3);
      expect(ctx.processes.get(process.pid)).toBeDefined();
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      // The next snapshot must start after the (tick-derived, ±1 s) start second to call the process vanished.
      await new Promise((r) => setTimeout(r, Math.max(0, (rec.processStart + 2) * 1000 - Date.now())));
      await refreshProcessSnapshot(ctx);
      expect(ctx.processes.get(child.pid!, rec.processStart)!.exitedAt).not.toBeNull();
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('readProcProcess bounds argv as it reads it (a snapshot holds every process at once; any process pads its argv)', async () => {
    const args = Array.from({ length: 16 }, () => 'B'.repeat(100 * 1024));
    const child = spawn('/bin/sh', ['-c', 'sleep 30; :', 'sh', ...args], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const obs = await readProcProcess(child.pid!);
      expect(obs?.args?.length).toBeGreaterThan(0);
      // the model keeps 64 arguments of 256 characters: reading 1.6 MB per process first was the cost
      expect((obs?.args ?? []).reduce((n, a) => n + a.length, 0)).toBeLessThanOrEqual(64 * 256);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('readProcProcess returns undefined for a pid that does not exist', async () => {
    expect(await readProcProcess(2 ** 22 + 17)).toBeUndefined();
  });
});
