/**
 * Tools never outlive the extension. osqueryd stops it with SIGTERM (or shutdown()) and expects it gone within
 * 2 s; a tool still running then (a ps in flight, an eslogger that ignores SIGTERM) used to be left behind,
 * reparented to launchd, and pile up with every restart. Darwin backend with fake tools that hang.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { startExtension, tempDir, within, type ExtensionChild } from './harness.js';

/** Running, not merely a zombie waiting for its parent (or a container's init) to reap it. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('outflow extension reaps its tools when it stops', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** Fake darwin tools that record their pid and hang; eslogger also ignores SIGTERM. */
  async function launch(): Promise<{ ext: ExtensionChild; manager: FakeManager; uuid: number; pids: () => number[] }> {
    const dir = tempDir('reap');
    const tools = path.join(dir, 'tools');
    const pidLog = path.join(dir, 'pids');
    mkdirSync(tools);
    const tool = (name: string, body: string) => {
      writeFileSync(path.join(tools, name), body);
      chmodSync(path.join(tools, name), 0o755);
    };
    const hang = `#!/bin/sh\necho $$ >> ${pidLog}\nexec sleep 60\n`;
    for (const name of ['ps', 'nettop', 'codesign', 'spctl']) tool(name, hang);
    tool(
      'eslogger',
      `#!${process.execPath}\nconst fs = require('fs');\nif (process.argv.includes('--list-events')) { console.log('exec fork exit open create write rename close'); process.exit(0); }\n` +
        `fs.appendFileSync(${JSON.stringify(pidLog)}, process.pid + '\\n');\nprocess.on('SIGTERM', () => {});\nsetInterval(() => {}, 1000);\n`,
    );
    const config = path.join(dir, 'outflow.yaml');
    writeFileSync(config, `generate_timeout_ms: 5000\ntools:\n  dir: ${tools}\nflows:\n  sample_interval: 0.2\nprocesses:\n  sample_interval: 0.2\n`);
    const manager = await FakeManager.start(path.join(dir, 'osquery.em'));
    const ext = startExtension({ socket: manager.socketPath, config, timeout: '30', interval: '0.5', extraEnv: { OUTFLOW_PLATFORM: 'darwin' } });
    const pids = () => (existsSync(pidLog) ? readFileSync(pidLog, 'utf8').trim().split('\n').filter(Boolean).map(Number) : []);
    cleanup.push(async () => {
      ext.kill();
      for (const p of pids()) if (alive(p)) process.kill(p, 'SIGKILL');
      await manager.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const reg = await within(manager.waitForExtension(40_000), 40_000, `registration (stderr: ${ext.stderr().slice(-800)})`);
    return { ext, manager, uuid: reg.uuid, pids };
  }

  /** Stop with `signal` once ps, nettop and eslogger are all running; every tool is gone right after the exit. */
  async function stopAndCheck(signal: NodeJS.Signals): Promise<void> {
    const { ext, manager, uuid, pids } = await launch();
    await within((async () => {
      while (pids().length < 3) await sleep(50);
    })(), 15_000, `ps, nettop and eslogger running (pids so far: ${pids().join(' ')})`);
    const sent = Date.now();
    ext.child.kill(signal);
    const exit = await within(ext.exited, 10_000, 'exit');
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.at - sent).toBeLessThan(2000);
    // killed synchronously before the exit: allow only for the kernel to finish reaping them
    for (let i = 0; i < 20 && pids().some(alive); i++) await sleep(50);
    expect(pids().filter(alive)).toEqual([]);
    expect(existsSync(manager.extensionSocket(uuid))).toBe(false);
    expect(ext.logs().some((l) => l.msg === 'tools still running at stop were killed')).toBe(true);
  }

  it('on SIGTERM: the hung ps and nettop runs and an eslogger that ignores SIGTERM are killed, within osqueryd\'s 2 s', async () => {
    await stopAndCheck('SIGTERM');
  }, 90_000);

  it('on SIGHUP and SIGQUIT too: an orderly stop (exit 0, socket removed, tools killed), no longer death by signal', async () => {
    await stopAndCheck('SIGHUP');
    await stopAndCheck('SIGQUIT');
  }, 120_000);
});
