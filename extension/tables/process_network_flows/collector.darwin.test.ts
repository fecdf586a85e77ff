/**
 * The darwin backend end to end on Linux: `outflow query` with OUTFLOW_PLATFORM=darwin runs the fake
 * nettop and ps from test/fake-tools/bin (scripted real-format samples), through the real collectors,
 * process model and SQLite query shell.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_TOOLS_DIR, fakeDarwinEnv, runOutflow } from '../../../test/helpers/cli.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import type { ExtensionContext, FlowRow } from '../../runtime/context.js';
import { createContext } from '../../runtime/create-context.js';
import { startNettopCollector } from './collector.darwin.js';

const SCENARIO = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/scenario-darwin');
const temps: string[] = [];
afterEach(() => {
  while (temps.length) rmSync(temps.pop()!, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'outflow-darwin-flows-'));
  temps.push(d);
  return d;
}

async function darwinQuery(sql: string, extraArgs: string[], env: Record<string, string>) {
  const state = tempDir();
  const config = path.join(state, 'config.yaml');
  // ps runs on demand when nettop shows an unknown pid; a slow periodic refresh keeps the shared box calm.
  writeFileSync(config, 'flows:\n  sample_interval: 0.5\nprocesses:\n  sample_interval: 5\n');
  const out = await runOutflow(['query', '--config', config, '--format', 'json', ...extraArgs, sql], {
    env: fakeDarwinEnv(SCENARIO, state, { OUTFLOW_FAKE_CALLS: path.join(state, 'calls.jsonl'), ...env }),
    timeoutMs: 100_000,
  });
  const callsFile = path.join(state, 'calls.jsonl');
  const calls = (existsSync(callsFile) ? readFileSync(callsFile, 'utf8') : '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { tool: string; args: string[] });
  return { ...out, calls, rows: out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('process_network_flows on darwin (fake nettop + ps)', () => {
  it('shows the scripted flows with process facts, cumulative bytes, durations and closed flags', async () => {
    const out = await darwinQuery('SELECT * FROM process_network_flows ORDER BY pid', ['--collect', '4'], {});
    expect(out.code, out.stderr).toBe(0);
    const rows = out.rows as unknown as FlowRow[];
    const byPid = new Map(rows.map((r) => [r.pid, r]));
    // listeners and the unconnected mDNS socket have no remote end and are not flows
    expect([...byPid.keys()]).toEqual([4471, 60311, 70001, 99999]);

    const rclone = byPid.get(60311)!;
    expect(rclone).toMatchObject({
      process_name: 'rclone',
      path: '/opt/homebrew/bin/rclone',
      ppid: 4419,
      uid: 502,
      process_start: Date.UTC(2026, 2, 3, 9, 48, 12) / 1000,
      protocol: 'tcp',
      family: 4,
      local_address: '10.20.30.41',
      local_port: 50712,
      remote_address: '198.51.100.23',
      remote_port: 443,
      remote_scope: 'public',
      service: 'tls',
      service_evidence: 'port',
      state: 'Established',
      interface: 'en0',
      bytes_in: 1200,
      bytes_out: 6_000_000,
      closed: 0,
    });
    expect(rclone.pcr).toBeCloseTo((6_000_000 - 1200) / 6_001_200, 6);
    expect(rclone.duration).toBe(rclone.last_seen - rclone.first_seen);
    expect(rclone.duration).toBeGreaterThanOrEqual(2);

    // gone from the third sample on: closed, with the bytes it had and a frozen last_seen
    const curl = byPid.get(70001)!;
    expect(curl).toMatchObject({ path: '/usr/bin/curl', remote_address: '203.0.113.10', remote_port: 80, service: 'http', bytes_in: 150, bytes_out: 300, closed: 1 });
    expect(curl.last_seen).toBeLessThan(rclone.last_seen);
    expect(curl.duration).toBe(curl.last_seen - curl.first_seen);

    // quic6 → udp + quic; its counters went backwards in sample 3: another socket on the tuple, so the first flow
    // closes with 600 in / 3000 out and a new one counts its own 100 / 200
    const quic = rows.filter((r) => r.pid === 4471).sort((a, b) => a.first_seen - b.first_seen);
    const quicFacts = {
      process_name: 'Backup Agent Helper',
      path: '/Library/Application Support/Backup Agent/Backup Agent Helper',
      protocol: 'udp',
      family: 6,
      remote_address: '2001:db8:ff::9',
      remote_port: 443,
      service: 'quic',
    };
    expect(quic).toMatchObject([
      { ...quicFacts, bytes_in: 600, bytes_out: 3000, closed: 1 },
      { ...quicFacts, bytes_in: 100, bytes_out: 200, closed: 0 },
    ]);

    // a pid ps never reported: still a row, with the unknown conventions
    expect(byPid.get(99999)).toMatchObject({ process_name: 'ghost', path: '', ppid: -1, uid: -1, process_start: -1, remote_scope: 'private', service: 'ssh', closed: 1 });

    const flowIds = rows.map((r) => r.flow_id);
    expect(new Set(flowIds).size).toBe(5);
    const nettopCalls = out.calls.filter((c) => c.tool === 'nettop');
    expect(nettopCalls.length).toBeGreaterThanOrEqual(3);
    for (const c of nettopCalls) expect(c.args).toEqual(['-x', '-n', '-L', '1']);
  }, 120_000);

  it('flow_id stays the same across repeated scheduled runs while duration grows', async () => {
    const out = await darwinQuery("SELECT flow_id, duration, closed FROM process_network_flows WHERE pid = 60311", ['--every', '3', '--count', '2'], {});
    expect(out.code, out.stderr).toBe(0);
    expect(out.rows).toHaveLength(2);
    const [a, b] = out.rows as { flow_id: string; duration: number; closed: number }[];
    expect(b!.flow_id).toBe(a!.flow_id);
    expect(b!.duration).toBeGreaterThan(a!.duration);
    expect(b!.closed).toBe(0);
  }, 120_000);

  it('a nettop that fails is `degraded` with its exit in the detail; rows stay empty, nothing crashes', async () => {
    const broken = tempDir();
    writeFileSync(path.join(broken, '001.txt'), '#exit 1\nnettop: sysctl net.statistics failed: Operation not permitted\n');
    const ctx = darwinContext(FAKE_TOOLS_DIR);
    const c = await withEnv({ OUTFLOW_FAKE_NETTOP: broken, OUTFLOW_FAKE_STATE_DIR: broken }, async () => {
      const col = startNettopCollector(ctx, { refresh: async () => undefined });
      col.start();
      await col.ready();
      return col;
    });
    await c.stop();
    const nettop = ctx.health.rows().find((r) => r.component === 'nettop')!;
    expect(nettop.state).toBe('degraded');
    expect(nettop.detail).toMatch(/nettop exited with code 1/);
    expect(ctx.flows.rows()).toEqual([]);
    expect(ctx.health.rows().find((r) => r.component === 'flows')).toMatchObject({ state: 'degraded', detail: expect.stringMatching(/^no data yet: its source nettop is degraded \(nettop exited with code 1/) });
  });

  it('a missing nettop is `unavailable`', async () => {
    const ctx = darwinContext(tempDir());
    const c = startNettopCollector(ctx, { refresh: async () => undefined });
    c.start();
    await c.ready();
    await c.stop();
    expect(ctx.health.rows().find((r) => r.component === 'nettop')).toMatchObject({ state: 'unavailable' });
    expect(ctx.health.rows().find((r) => r.component === 'flows')).toMatchObject({ state: 'unavailable' });
  });

  it('usage text instead of CSV (bad flags on another macOS) is a parse error in health', async () => {
    const usage = tempDir();
    writeFileSync(path.join(usage, '001.txt'), readFileSync(path.join(SCENARIO, '../nettop-usage.txt'), 'utf8'));
    const ctx = darwinContext(FAKE_TOOLS_DIR);
    await withEnv({ OUTFLOW_FAKE_NETTOP: usage, OUTFLOW_FAKE_STATE_DIR: usage }, async () => {
      const c = startNettopCollector(ctx, { refresh: async () => undefined });
      c.start();
      await c.ready();
      await c.stop();
    });
    const nettop = ctx.health.rows().find((r) => r.component === 'nettop')!;
    expect(nettop.state).toBe('degraded');
    expect(nettop.detail).toMatch(/no nettop header line seen/);
  });
});

function darwinContext(toolDir: string): ExtensionContext {
  return createContext({ platform: 'darwin', config: parseConfig({ flows: { sample_interval: 0.2 }, tools: { dir: toolDir } }), log: silentLogger() });
}

/** ToolRunner passes OUTFLOW_FAKE_* from process.env to fake tools; set them only around one call. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
