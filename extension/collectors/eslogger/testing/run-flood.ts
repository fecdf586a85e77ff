import { spawn } from 'node:child_process';
import { EXTENSION_NODE_FLAG } from '../../../runtime/node-flags.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface FloodResult {
  lines: number;
  wall_s: number;
  cpu_s: number;
  lines_per_cpu_s: number;
  cpu_ms_per_1000_events: number;
  /** CPU after the first 10% of lines (start-up and JIT warm-up excluded). */
  steady_cpu_ms_per_1000_events: number;
  peak_rss_mb: number;
  heap_used_mb: number;
  sensitive_rows: number;
  archive_rows: number;
  evicted: number;
  rejected: number;
  parsed: number;
  malformed: number;
  lost: number;
  /** Instances in the process model at the end. */
  processes: number;
}

/** Bundle flood-harness.ts into one plain-node ESM file (what a packaged extension runs). */
export async function bundleFloodHarness(outDir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'flood-'))): Promise<string> {
  const outfile = path.join(outDir, 'flood-harness.mjs');
  await build({
    entryPoints: [path.join(here, 'flood-harness.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'error',
    // pino's CommonJS internals call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}

/** Run the bundled harness: `lines` generated lines through the fake eslogger into one collector process. */
export function runFlood(bundle: string, toolDir: string, lines: number, opts: { relevantPct?: number; maxEvents?: number; timeoutMs?: number } = {}): Promise<FloodResult> {
  const args = [bundle, toolDir, String(lines), String(opts.relevantPct ?? 5), String(opts.maxEvents ?? 50_000)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXTENSION_NODE_FLAG, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLOOD_TIMEOUT_MS: String(opts.timeoutMs ?? 600_000) } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as FloodResult);
      } catch {
        reject(new Error(`flood harness exited ${code}: ${err.slice(-2000)} ${out.slice(-500)}`));
      }
    });
  });
}
