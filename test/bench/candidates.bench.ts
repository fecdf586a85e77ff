/**
 * egress_candidates generate latency (issue 6 target: p95 ≤ 50 ms with 5 000 flows and 50 000 buffered
 * events). The host is built with the real process model, flow store and ring buffers; the generates
 * run in candidates.driver.ts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from './run.js';
import { EXTENSION_NODE_FLAG } from '../../extension/runtime/node-flags.js';
import { MiB, NOW, type WorldSpec } from '../../extension/tables/egress_candidates/testing/world.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function host(flowCount: number, eventCount: number): WorldSpec {
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const processes: NonNullable<WorldSpec['processes']> = [];
  const signing: NonNullable<WorldSpec['signing']> = [];
  // 100 app roots (GUI apps / launchd jobs), each with 4 children: 500 processes.
  for (let a = 0; a < 100; a++) {
    const rootPid = 1000 + a * 10;
    const rootPath = a % 2 ? `/Applications/App${a}.app/Contents/MacOS/App${a}` : `/Library/Agents/agent${a}`;
    processes.push({ pid: rootPid, processStart: NOW - 50_000, ppid: 1, path: rootPath });
    signing.push({ path: rootPath, cls: pick(['developer_id', 'app_store', 'adhoc', 'unsigned', 'apple_platform'] as const), teamId: `TEAM${a}`, signingId: `com.example.app${a}` });
    for (let c = 1; c <= 4; c++) {
      const path = c === 4 ? '/usr/bin/curl' : `/Applications/App${a}.app/Contents/Helpers/h${c}`;
      processes.push({ pid: rootPid + c, processStart: NOW - 20_000 + c, ppid: rootPid, path });
    }
  }
  signing.push({ path: '/usr/bin/curl', cls: 'apple_platform', signingId: 'com.apple.curl' });
  const pids = processes.map((p) => ({ pid: p.pid, start: p.processStart, ppid: p.ppid ?? 1, path: p.path ?? '' }));
  const times = Array.from({ length: 12 }, (_, i) => NOW - 840 + i * 60);
  const flows: NonNullable<WorldSpec['flows']> = [];
  for (let i = 0; i < flowCount; i++) {
    const p = pick(pids);
    const first = pick(times);
    const out = Math.floor(rand() * (rand() < 0.1 ? 80 * MiB : 200_000));
    flows.push({
      pid: p.pid,
      processStart: p.start,
      remote: rand() < 0.8 ? `203.0.${Math.floor(rand() * 250)}.${i % 250}` : `10.0.${Math.floor(rand() * 250)}.${i % 250}`,
      remotePort: pick([443, 443, 443, 80, 22, 5223]),
      bytesOut: out,
      bytesIn: Math.floor(rand() * 400_000),
      firstSeen: first,
      lastSeen: Math.min(NOW, first + Math.floor(rand() * 120)),
      open: rand() < 0.3,
    });
  }
  const sensitive: NonNullable<WorldSpec['sensitive']> = [];
  const archive: NonNullable<WorldSpec['archive']> = [];
  for (let i = 0; i < eventCount; i++) {
    const p = pick(pids);
    const time = NOW - 1800 + Math.floor((i / eventCount) * 1800);
    if (i % 10 === 0) archive.push({ pid: p.pid, ppid: p.ppid, process_start: p.start, time, staging: rand() < 0.5 ? 1 : 0 });
    else sensitive.push({ pid: p.pid, ppid: p.ppid, process_start: p.start, time, tier: rand() < 0.3 ? 1 : 2, category: rand() < 0.3 ? 'keychain' : 'documents', file_path: `/Users/u/Documents/f${i}.txt` });
  }
  return { processes, signing, flows, sensitive, archive };
}

/**
 * Each case runs in a process of its own, started the way outflow.ext runs (the semi-space flag and the
 * runtime heap flags of extension/runtime/node-flags.ts; `node default heap` leaves both out, for
 * comparison): a generate's garbage is collected by the extension's young generation, not a 16 MB one.
 */
export default async function (b: BenchContext): Promise<void> {
  // A busy workstation, then the target size (5 000 flows, 50 000 buffered events).
  const cases: [number, number, 'extension' | 'default'][] = b.quick
    ? [[1000, 10_000, 'extension']]
    : [
        [1000, 10_000, 'extension'],
        [5000, 50_000, 'extension'],
        [5000, 50_000, 'default'],
      ];
  const driver = fileURLToPath(new URL('./candidates.driver.ts', import.meta.url));
  for (const [flowCount, eventCount, heap] of cases) {
    const flags = heap === 'extension' ? [EXTENSION_NODE_FLAG] : [];
    const args = [...flags, '--import', 'tsx', driver, String(flowCount), String(eventCount), String(b.quick ? 10 : 100), heap];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`candidates driver failed: ${r.stderr.slice(-2000)}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; metrics: Record<string, number> };
    b.report(m.name, m.metrics);
  }
}
