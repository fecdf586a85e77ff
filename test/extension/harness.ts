/**
 * Drives the real `outflow extension` child process against the fake manager (extension/sdk/testing).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOutflow, spawnOutflow } from '../helpers/cli.js';

export const TEST_TABLES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/test-tables.ts');

/** A short temp dir (Unix socket paths are limited to ~104 bytes). */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), `${prefix}-`));
}

/**
 * Config for tests: fast samples, and tools resolved from an empty directory so no real system tool runs
 * (collectors report `unavailable` instead).
 */
export function writeTestConfig(dir: string, extra = ''): string {
  const toolDir = mkdtempSync(path.join(dir, 'tools-'));
  const file = path.join(dir, 'outflow.yaml');
  writeFileSync(
    file,
    [`generate_timeout_ms: 5000`, `tools:`, `  dir: ${toolDir}`, `flows:`, `  sample_interval: 0.2`, `processes:`, `  sample_interval: 0.2`, extra].join('\n') + '\n',
  );
  return file;
}

export interface ExtensionChild {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed pino lines from stderr. */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(): void;
}

export function startExtension(opts: { socket: string; config: string; timeout?: string; interval?: string; extraEnv?: Record<string, string>; verbose?: boolean }): ExtensionChild {
  const env: NodeJS.ProcessEnv = { ...process.env, OUTFLOW_PLATFORM: 'linux', OUTFLOW_TEST_TABLES: TEST_TABLES, ...opts.extraEnv };
  delete env.OUTFLOW_TOOL_DIR;
  const args = ['extension', '--socket', opts.socket, '--timeout', opts.timeout ?? '3.5', '--interval', opts.interval ?? '0.3', '--config', opts.config];
  if (opts.verbose) args.push('--verbose');
  const child = spawnOutflow(args, { env });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      err
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Reject when `p` does not settle in time (keeps a hung child from stalling the suite). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

/** semver-ish compare: a >= b. */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** `outflow query ARGS…` over the test tables of `tables` (the linux backend, no tool directory), with `config`. */
export function runQueryShell(config: string, args: string[], tables: string = TEST_TABLES): ReturnType<typeof runOutflow> {
  const env: NodeJS.ProcessEnv = { ...process.env, OUTFLOW_PLATFORM: 'linux', OUTFLOW_TEST_TABLES: tables };
  delete env.OUTFLOW_TOOL_DIR;
  return runOutflow(['query', '--config', config, ...args], { env, timeoutMs: 60_000 });
}
