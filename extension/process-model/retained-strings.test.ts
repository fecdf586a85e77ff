/**
 * Records of the process model (kept 30 min after exit) and the signing cache (4096 paths, for the
 * extension's life) must not pin the ps listing their strings were cut from: a V8 substring of 13+
 * characters is a slice that keeps its whole parent string alive.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { HealthRegistry } from '../runtime/health.js';
import { createSigningService } from '../tables/code_signing/signing-service.js';
import { runningExecutables } from '../tables/code_signing/table.js';
import { createProcessModel } from './model.js';
import { refreshProcessSnapshot } from './refresh.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const LSTART = 'Tue Mar  3 09:48:12 2026';
const START = Date.UTC(2026, 2, 3, 9, 48, 12) / 1000;

/** A Mac whose ps listings are ~1 MB each (padding processes), and one short-lived new process per snapshot. */
function fakeMac() {
  let now = START + 10;
  const clock = { now: () => new Date(now * 1000), unix: () => now, ms: () => now * 1000 };
  const stable = Array.from({ length: 2000 }, (_, i) => ({ pid: 100 + i, path: `/System/Library/CoreServices/Padding${i}.app/Contents/MacOS/${'P'.repeat(400)}` }));
  let extra: { pid: number; path: string }[] = [];
  const row = (pid: number) => `${String(pid).padStart(5)}     1   501 ${LSTART}`;
  const tools = {
    run: async (tool: string, args: string[]) => {
      if (tool === 'codesign') return { stdout: '', stderr: `${args.at(-1)}: code object is not signed at all\n`, exitCode: 1, durationMs: 1 };
      const all = [...stable, ...extra];
      const fmt = args[2]!;
      // built afresh each call, as a child's stdout is
      const out = fmt === 'pid=,ppid=,uid=,lstart=' ? all.map((p) => `${row(p.pid)}\n`) : fmt.endsWith('comm=') ? all.map((p) => `${row(p.pid)} ${p.path}\n`) : all.map((p) => `${String(p.pid).padStart(5)} ${p.path} --flag-${'a'.repeat(300)}\n`);
      return { stdout: Buffer.from(out.join('')).toString('utf8'), stderr: '', exitCode: 0, durationMs: 1 };
    },
    unavailable: () => null,
  };
  const config = defaultConfig();
  const log = silentLogger();
  const health = new HealthRegistry('darwin', 'test', () => now);
  const signing = createSigningService({ platform: 'darwin', tools: tools as never, config, clock, health, log });
  const ctx = { platform: 'darwin', config, log, clock, tools, health, processes: createProcessModel({ config, clock, log }), signing } as never;
  return {
    ctx,
    signing,
    async snapshot(i: number) {
      now += 5;
      // one new executable per snapshot (a translocated app, a build output), gone by the next one
      extra = [{ pid: 50_000 + i, path: `/private/var/folders/x7/T/AppTranslocation/${i.toString(16).padStart(8, '0')}/d/Updater.app/Contents/MacOS/Updater` }];
      await refreshProcessSnapshot(ctx);
      signing.request(runningExecutables(ctx));
      await signing.idle();
    },
  };
}

describe('strings kept from ps listings', () => {
  it('40 snapshots of ~1.5 MB listings leave well under 20 MB behind in exited records and the signing cache', async () => {
    const mac = fakeMac();
    await mac.snapshot(0);
    const before = heap();
    for (let i = 1; i <= 40; i++) await mac.snapshot(i);
    const grownMb = (heap() - before) / 1e6;
    // unfixed: each exited process (and each signing-cache path) pins its snapshot's comm and args listings
    expect(grownMb).toBeLessThan(20);
  });
});

describe('argv kept per process', () => {
  it('a build-like exec (clang, 90 arguments of ~90 characters) costs the table under 3 KB per instance', () => {
    let now = START;
    const clock = { now: () => new Date(now * 1000), unix: () => now, ms: () => now * 1000 };
    const model = createProcessModel({ config: defaultConfig(), clock, log: silentLogger() });
    // flat strings of their own, as eslogger's reader hands them over
    const argv = (i: number) => ['/usr/bin/clang', '-cc1', ...Array.from({ length: 88 }, (_, k) => Buffer.from(`-I/Users/dev/src/project/third_party/module${k}/include/generated/${i}`).toString('latin1'))];
    const N = 5000;
    const before = heap();
    for (let i = 0; i < N; i++) {
      if (i % 30 === 0) now++;
      model.observe({ pid: 10_000 + i, processStart: now, ppid: 500, uid: 501, path: '/usr/bin/clang', args: argv(i), source: 'eslogger', seenAt: now });
      model.exited(10_000 + i, now, now + 1);
    }
    const perInstance = (heap() - before) / N;
    expect(model.size).toBe(N);
    // unfixed: 64 arguments of up to 256 characters each, ~8 KB an instance (~400 MB at max_processes = 50 000)
    expect(perInstance).toBeLessThan(3000);
  });
});
