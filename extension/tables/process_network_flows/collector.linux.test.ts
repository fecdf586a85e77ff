/**
 * Live tests of the Linux backend: real `ss`, real sockets, real child processes (run as root in CI so ss
 * can see every owner). The uploading process is a child, so the row must be attributed to its pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import type { Collector, ExtensionContext, FlowRow } from '../../runtime/context.js';
import { createContext } from '../../runtime/create-context.js';
import { runOutflow } from '../../../test/helpers/cli.js';
import { startSsCollector } from './collector.linux.js';

const UPLOADER = `
const net = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
// any process may rename itself (its task name, which ss prints unescaped)
if (process.env.OUTFLOW_TEST_COMM) require('node:fs').writeFileSync('/proc/self/comm', process.env.OUTFLOW_TEST_COMM);
const s = net.connect(port, '127.0.0.1', () => s.write(Buffer.alloc(n, 120), () => process.stdout.write('sent\\n')));
s.on('error', () => process.exit(2));
process.stdin.on('data', () => s.end());
s.on('close', () => process.exit(0));
setInterval(() => {}, 1000);
`;

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startServer(): Promise<{ port: number; received: () => number }> {
  let received = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('data', (d) => (received += d.length));
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, received: () => received };
}

function startUploader(port: number, bytes: number, comm?: string): { child: ChildProcess; sent: Promise<void> } {
  const env = comm === undefined ? process.env : { ...process.env, OUTFLOW_TEST_COMM: comm };
  const child = spawn(process.execPath, ['-e', UPLOADER, String(port), String(bytes)], { stdio: ['pipe', 'pipe', 'inherit'], env });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const sent = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('sent') && resolve());
    child.on('exit', (code) => reject(new Error(`uploader exited early with ${code}`)));
  });
  return { child, sent };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function linuxContext(config: Record<string, unknown> = {}): ExtensionContext {
  return createContext({ platform: 'linux', config: parseConfig({ flows: { sample_interval: 0.2 }, ...config }), log: silentLogger() });
}

function startCollector(ctx: ExtensionContext): Collector {
  const c = startSsCollector(ctx);
  c.start();
  cleanups.push(() => c.stop());
  return c;
}

describe.skipIf(process.platform !== 'linux')('ss collector (live)', () => {
  it('`outflow query` attributes an upload to the child pid with bytes_out within 5% and the server port', async () => {
    const N = 3 * 1024 * 1024;
    const server = await startServer();
    const { child, sent } = startUploader(server.port, N);
    await sent;
    await waitFor('server to receive every byte', () => (server.received() >= N ? true : undefined));

    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-flows-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, 'flows:\n  sample_interval: 0.2\n');
    const sql = `SELECT pid, ppid, uid, path, process_start, protocol, family, remote_address, remote_port, remote_scope, bytes_out, bytes_in, closed FROM process_network_flows WHERE pid = ${child.pid}`;
    const out = await runOutflow(['query', '--config', config, '--format', 'json', sql], {
      env: { ...process.env, OUTFLOW_PLATFORM: 'linux', OUTFLOW_TOOL_DIR: '' },
      timeoutMs: 100_000,
    });
    expect(out.code, out.stderr).toBe(0);
    const rows = out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as FlowRow);
    const row = rows.find((r) => r.remote_port === server.port);
    expect(row, out.stdout).toBeDefined();
    expect(Math.abs(row!.bytes_out - N) / N).toBeLessThan(0.05);
    expect(row).toMatchObject({
      pid: child.pid,
      ppid: process.pid,
      uid: process.getuid!(),
      path: realpathSync(process.execPath),
      protocol: 'tcp',
      family: 4,
      remote_address: '127.0.0.1',
      remote_scope: 'loopback',
      closed: 0,
    });
    expect(row!.bytes_in).toBe(0);
    expect(row!.process_start).toBeGreaterThan(0);
  }, 120_000);

  it('a connection held across samples grows its duration and is closed once it ends', async () => {
    const server = await startServer();
    const { child, sent } = startUploader(server.port, 64 * 1024);
    await sent;
    const ctx = linuxContext();
    startCollector(ctx);
    const mine = () => ctx.flows.rows().find((r) => r.pid === child.pid && r.remote_port === server.port);

    const first = await waitFor('the flow to appear', mine);
    expect(first.closed).toBe(0);
    const grown = await waitFor('duration to reach 2 s', () => {
      const r = mine();
      return r && r.duration >= 2 ? r : undefined;
    });
    expect(grown.flow_id).toBe(first.flow_id);
    expect(grown.first_seen).toBe(first.first_seen);
    expect(grown.last_seen).toBeGreaterThan(first.first_seen);
    expect(grown.bytes_out).toBeGreaterThanOrEqual(64 * 1024);
    expect(ctx.health.rows().find((h) => h.component === 'ss')).toMatchObject({ state: 'running', detail: expect.stringMatching(/flows in the last sample/) });

    child.stdin!.write('close\n');
    const closed = await waitFor('closed to flip', () => {
      const r = mine();
      return r && r.closed === 1 ? r : undefined;
    });
    expect(closed.flow_id).toBe(first.flow_id);
    expect(closed.duration).toBe(closed.last_seen - closed.first_seen);
    expect(closed.duration).toBeGreaterThanOrEqual(2);
    const frozen = closed.last_seen;
    await new Promise((r) => setTimeout(r, 1200));
    expect(mine()).toMatchObject({ closed: 1, last_seen: frozen });
  }, 60_000);

  it('a process that puts a newline in its own task name is still attributed its upload', async () => {
    const server = await startServer();
    const { child, sent } = startUploader(server.port, 256 * 1024, 'x\n');
    await sent;
    const ctx = linuxContext();
    startCollector(ctx);
    const row = await waitFor('the renamed uploader\'s flow', () => ctx.flows.rows().find((r) => r.remote_port === server.port && r.pid === child.pid));
    expect(row.bytes_out).toBeGreaterThan(0);
  }, 30_000);

  it.skipIf(spawnSync('python3', ['-c', '1']).status !== 0)('…and one holding its socket through 5 fds under 15 newlines (a 75-line users list)', async () => {
    const server = await startServer();
    const py = [
      'import socket, os, sys, time',
      "c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))",
      'fds = [os.dup(c.fileno()) for _ in range(4)]',
      "open('/proc/self/comm', 'w').write('\\n' * 15)",
      "c.sendall(b'x' * 200000)",
      "print('sent', flush=True)",
      'time.sleep(30)',
    ].join('\n');
    const child = spawn('python3', ['-c', py, String(server.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void child.kill('SIGKILL'));
    await new Promise<void>((r) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('sent') && r()));
    const ctx = linuxContext();
    startCollector(ctx);
    const row = await waitFor('the many-fd uploader\'s flow', () => ctx.flows.rows().find((r) => r.remote_port === server.port && r.pid === child.pid));
    expect(row.bytes_out).toBeGreaterThan(0);
  }, 30_000);

  it('a missing ss is an `unavailable` health state, not a crash', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'outflow-notools-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const ctx = linuxContext({ tools: { dir: empty } });
    const c = startCollector(ctx);
    await c.ready();
    const ss = ctx.health.rows().find((h) => h.component === 'ss')!;
    expect(ss.state).toBe('unavailable');
    expect(ss.detail).toMatch(/ss not found/);
    expect(ctx.flows.rows()).toEqual([]);
    // the flows row would otherwise say "running, no sample yet" for ever: `state != 'running'` must catch it
    const flows = ctx.health.rows().find((h) => h.component === 'flows')!;
    expect(flows.state).toBe('unavailable');
    expect(flows.detail).toMatch(/^no data yet: its source ss is unavailable \(.*ss not found/);
  });

  it('an ss we may not execute is `permission_denied`', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-noexec-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'ss'), '#!/bin/sh\necho hi\n');
    chmodSync(path.join(dir, 'ss'), 0o644);
    const ctx = linuxContext({ tools: { dir } });
    const c = startCollector(ctx);
    await c.ready();
    const ss = ctx.health.rows().find((h) => h.component === 'ss')!;
    // root may execute a 0644 file only when some x bit is set: spawn fails with EACCES either way
    expect(ss.state).toBe('permission_denied');
    expect(ctx.health.rows().find((h) => h.component === 'flows')).toMatchObject({ state: 'permission_denied', detail: expect.stringMatching(/source ss is permission denied/) });
  });

  it('unrecognisable ss output degrades health with the parse error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-badss-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'ss'), '#!/bin/sh\necho "ss: invalid option"\n');
    chmodSync(path.join(dir, 'ss'), 0o755);
    const ctx = linuxContext({ tools: { dir } });
    const c = startCollector(ctx);
    await c.ready();
    const ss = ctx.health.rows().find((h) => h.component === 'ss')!;
    expect(ss.state).toBe('degraded');
    expect(ss.detail).toMatch(/no ss socket line recognised/);
  });
});
