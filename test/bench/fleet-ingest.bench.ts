/**
 * Fleet aggregator throughput (issue 7 point 11): ingest lines/s and peak RSS for 10 000 simulated hosts × 1 day,
 * finalize latency for 10 000 pending candidates. The measurements are in fleet-ingest.driver.ts.
 *
 * The driver runs in a process of its own, built as `npm run package` builds the shipped CLI (an esbuild bundle,
 * shippedBuildOptions) and started through a launcher as the package's `outflow` starts lib/outflow.cjs: the
 * targets are about the code an admin runs. Under tsx (`npm run outflow`, the tests), the sources run through a
 * loader that keeps the TypeScript compiler and source maps in the process (about 45 MB more peak RSS) and wraps
 * every function in a naming call (esbuild's keepNames); ingest speed was within the machine's noise of the
 * bundle's (2026-11-28). OUTFLOW_BENCH_SOURCES=1 runs the driver from the sources under tsx instead, to compare;
 * OUTFLOW_BENCH_NODE_FLAGS adds V8 flags to the driver's node (say '--single-threaded-gc').
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { shippedBuildOptions } from '../../scripts/package.js';
import type { BenchContext } from './run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const driver = path.join(here, 'fleet-ingest.driver.ts');

/** The driver as the package ships code: lib/fleet-ingest.cjs with migrations beside it, and a launcher. */
async function bundleDriver(dir: string): Promise<string> {
  const lib = path.join(dir, 'lib');
  await build({ ...shippedBuildOptions(), entryPoints: [driver], outfile: path.join(lib, 'fleet-ingest.cjs') });
  cpSync(path.join(here, '../../fleet/store/migrations'), path.join(lib, 'migrations'), { recursive: true, filter: (f) => !f.endsWith('.ts') });
  // A launcher of its own, as the package's: a module run directly would take itself for a script's main module.
  const launcher = path.join(dir, 'run.cjs');
  writeFileSync(launcher, `'use strict';\nrequire(require('node:path').join(__dirname, 'lib', 'fleet-ingest.cjs'));\n`);
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'commonjs' })}\n`);
  return launcher;
}

export default async function (b: BenchContext): Promise<void> {
  const fromSources = process.env.OUTFLOW_BENCH_SOURCES === '1';
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-fleet-bench-build-'));
  try {
    const args = fromSources ? ['--import', 'tsx', driver] : [await bundleDriver(dir)];
    // better-sqlite3 stays outside the bundle, as in the package: found from the checkout's node_modules.
    const env = { ...process.env, NODE_PATH: path.join(here, '../../node_modules') };
    // V8 flags to compare (OUTFLOW_BENCH_NODE_FLAGS='--single-threaded-gc', say), reported with the results
    const nodeFlags = (process.env.OUTFLOW_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    const r = spawnSync(process.execPath, ['--expose-gc', ...nodeFlags, ...args], { encoding: 'utf8', env, maxBuffer: 16 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`fleet-ingest driver failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''})`);
    const suffix = `${fromSources ? ' [sources, tsx]' : ''}${nodeFlags.length ? ` [${nodeFlags.join(' ')}]` : ''}`;
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('BENCH_REPORT ')) continue;
      const { name, metrics } = JSON.parse(line.slice('BENCH_REPORT '.length)) as { name: string; metrics: Record<string, number | string> };
      b.report(`${name}${suffix}`, metrics);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
