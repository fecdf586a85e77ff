import { chmodSync, chownSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolError } from '../../src/errors.js';
import { ToolRunner } from './tools.js';

/** A fake `ps` in a tool dir whose behaviour is the given node program. */
function fakeTool(dir: string, name: string, program: string): void {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/usr/bin/env node\n${program}\n`);
  chmodSync(file, 0o755);
}

describe('ToolRunner.run output capture', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'outflow-tools-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes a UTF-8 character split across two stdout chunks, and stderr', async () => {
    // "é" is C3 A9 and "€" is E2 82 AC: each write ends inside a character; the pause makes them separate reads.
    fakeTool(dir, 'ps', `
      const w = (b) => new Promise((r) => process.stdout.write(Buffer.from(b), r));
      (async () => {
        await w([0x63, 0x61, 0x66, 0xc3]);
        await new Promise((r) => setTimeout(r, 80));
        await w([0xa9, 0x20, 0xe2, 0x82]);
        await new Promise((r) => setTimeout(r, 80));
        await w([0xac, 0x0a]);
        process.stderr.write(Buffer.from([0x6e, 0xc3]));
        setTimeout(() => process.stderr.write(Buffer.from([0xa9])), 80);
      })();`);
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir });
    const res = await runner.run('ps', []);
    expect(res.stdout).toBe('café €\n');
    expect(res.stderr).toBe('né');
    expect(res.exitCode).toBe(0);
  });

  it('returns large output whole', async () => {
    fakeTool(dir, 'ss', `process.stdout.write('x,'.repeat(300_000) + '\\n');`);
    const res = await new ToolRunner({ platform: 'linux', toolDir: dir }).run('ss', []);
    expect(res.stdout.length).toBe(600_001);
    expect(res.stdout.endsWith(',\n')).toBe(true);
  });

  it('rejects output over the cap with TOOL_OUTPUT_LIMIT', async () => {
    fakeTool(dir, 'rpm', `process.stdout.write('y'.repeat(200_000));`);
    const run = new ToolRunner({ platform: 'linux', toolDir: dir }).run('rpm', [], { maxBytes: 10_000 });
    await expect(run).rejects.toMatchObject({ code: 'TOOL_OUTPUT_LIMIT' });
    await expect(run).rejects.toBeInstanceOf(ToolError);
  });

  it('stops a tool flooding stderr past the cap, keeping the head of what it said', async () => {
    fakeTool(dir, 'ps', `process.stderr.write('ps: something is wrong\\n'); setInterval(() => process.stderr.write('e'.repeat(65536)), 1);`);
    const err = (await new ToolRunner({ platform: 'linux', toolDir: dir }).run('ps', [], { maxBytes: 1_000_000, timeoutMs: 20_000 }).catch((e: unknown) => e)) as ToolError;
    expect([err.code, err.message]).toEqual(['TOOL_OUTPUT_LIMIT', 'ps printed more than 1000000 bytes of errors']);
    expect(err.details.stderrHead?.startsWith('ps: something is wrong\n')).toBe(true);
  });

  it('rejects a failing exit with the head of stderr', async () => {
    fakeTool(dir, 'dpkg-query', `process.stderr.write('dpkg-query: no packages found\\n'); process.exitCode = 1;`);
    const run = new ToolRunner({ platform: 'linux', toolDir: dir }).run('dpkg-query', []);
    await expect(run).rejects.toMatchObject({ code: 'TOOL_FAILED' });
    const err = (await run.catch((e: unknown) => e)) as ToolError;
    expect(err.details.stderrHead).toContain('no packages found');
  });
});

describe('ToolRunner: no tool outlives its run or the runner', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'outflow-tools-kill-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** Running, not merely a zombie waiting for its parent (or a container's init) to reap it. */
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const gone = async (pid: number) => {
    for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 25));
    return !alive(pid);
  };
  /** A tool that starts a child of its own (a wrapper), records both pids, and hangs. */
  const wrapper = (name: string, pidFile: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, `#!/bin/sh\nsleep 30 &\necho "$$ $!" > ${pidFile}\ntrap '' TERM\nwait\n`);
    chmodSync(file, 0o755);
  };
  const pidsIn = async (file: string) => {
    for (let i = 0; i < 100; i++) {
      try {
        const pids = readFileSync(file, 'utf8').trim().split(' ').map(Number);
        if (pids.length === 2 && pids.every((p) => p > 0)) return pids;
      } catch {
        // not written yet
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${file} never written`);
  };

  it('a timeout kills the tool with everything it started (its process group)', async () => {
    const pidFile = path.join(dir, 'ss.pids');
    wrapper('ss', pidFile);
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir });
    const run = runner.run('ss', [], { timeoutMs: 400 });
    const pids = await pidsIn(pidFile);
    await expect(run).rejects.toMatchObject({ code: 'TOOL_TIMEOUT' });
    for (const p of pids) expect(await gone(p), `pid ${p}`).toBe(true);
    // the run settles at the timeout; the tool leaves the runner's list when its exit is seen
    await expect.poll(() => runner.running, { timeout: 2000 }).toBe(0);
  });

  it('an abort kills the group at once (SIGKILL: a tool deaf to SIGTERM too) and rejects as TOOL_ABORTED', async () => {
    const pidFile = path.join(dir, 'rpm.pids');
    wrapper('rpm', pidFile);
    const abort = new AbortController();
    const run = new ToolRunner({ platform: 'linux', toolDir: dir }).run('rpm', [], { timeoutMs: 30_000, signal: abort.signal });
    const pids = await pidsIn(pidFile);
    abort.abort();
    const err = (await run.catch((e: unknown) => e)) as ToolError;
    expect([err.code, err.message]).toEqual(['TOOL_ABORTED', 'rpm was stopped before it finished (the extension is stopping)']);
    for (const p of pids) expect(await gone(p), `pid ${p}`).toBe(true);
    await expect(new ToolRunner({ platform: 'linux', toolDir: dir }).run('rpm', [], { signal: abort.signal })).rejects.toMatchObject({ code: 'TOOL_ABORTED' });
  });

  it('killAll kills every run and stream still going, synchronously, and says how many', async () => {
    const pidFile = path.join(dir, 'dpkg.pids');
    wrapper('dpkg-query', pidFile);
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir, defaultTimeoutMs: 30_000 });
    const run = runner.run('dpkg-query', []);
    const pids = await pidsIn(pidFile);
    writeFileSync(path.join(dir, 'ps'), '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const stream = runner.spawnStream('ps', []);
    expect(runner.running).toBe(2);
    expect(runner.killAll()).toBe(2);
    expect(runner.running).toBe(0);
    await expect(run).rejects.toMatchObject({ code: 'TOOL_FAILED', message: 'dpkg-query exited with signal SIGKILL' });
    for (const p of [...pids, stream.pid!]) expect(await gone(p), `pid ${p}`).toBe(true);
  });
});

// Only root can hand a directory to another user; as root is also when the check applies (osqueryd runs us so).
describe.skipIf(process.getuid?.() !== 0)('ToolRunner as root: a tool dir that is not root\'s alone', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'outflow-tools-unsafe-'));
    fakeTool(dir, 'ss', `process.stdout.write('ran\\n');`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs nothing from a directory another user owns or every user can write, and says why (permission_denied in health)', async () => {
    chownSync(dir, 65534, 65534);
    const runner = new ToolRunner({ platform: 'linux', toolDir: dir });
    const err = (await runner.run('ss', []).catch((e: unknown) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.code).toBe('TOOL_PERMISSION');
    expect(err.message).toBe(`refusing to run ss as root from tools.dir ${dir}: ${dir} is owned by uid 65534, not root`);
    expect(runner.available('ss')).toBe(false);
    expect(() => runner.spawnStream('ss', [])).toThrow(/refusing to run ss as root/);

    chownSync(dir, 0, 0);
    chmodSync(dir, 0o777);
    await expect(new ToolRunner({ platform: 'linux', toolDir: dir }).run('ss', [])).rejects.toThrow(`${dir} is writable by every user`);

    chmodSync(dir, 0o755);
    expect((await new ToolRunner({ platform: 'linux', toolDir: dir }).run('ss', [])).stdout).toBe('ran\n');
  });

  it('runs no tool file another user owns or can write, even in a root-owned directory, and keeps the directory it checked', async () => {
    const own = mkdtempSync(path.join(tmpdir(), 'outflow-tools-files-'));
    try {
      fakeTool(own, 'ss', `process.stdout.write('ss ran\\n');`);
      fakeTool(own, 'ps', `process.stdout.write('ps ran\\n');`);
      chownSync(path.join(own, 'ps'), 501, 501);
      const runner = new ToolRunner({ platform: 'linux', toolDir: own });
      expect((await runner.run('ss', [])).stdout).toBe('ss ran\n');
      await expect(runner.run('ps', [])).rejects.toMatchObject({ code: 'TOOL_PERMISSION', message: `refusing to run ps as root from ${path.join(own, 'ps')}: ${path.join(own, 'ps')} is owned by uid 501, not root` });
      // a link to the directory, swapped for another one after the check, changes nothing
      const link = path.join(own, 'via-link');
      symlinkSync(own, link);
      const viaLink = new ToolRunner({ platform: 'linux', toolDir: link });
      expect(viaLink.toolDir).toBe(realpathSync(own));
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});

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
