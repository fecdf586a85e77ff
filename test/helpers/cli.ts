/**
 * Run the real `outflow` CLI as a child process from the sources (tsx), the way users run it.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_ENTRY = path.join(REPO_ROOT, 'cli/main.ts');
export const FAKE_TOOLS_DIR = path.join(REPO_ROOT, 'test/fake-tools/bin');

/**
 * Environment of a child `outflow` forced onto the darwin backend with the fake macOS tools, playing the
 * scenario in `scenarioDir` (test/fake-tools/README.md) and keeping the fakes' state in `stateDir`.
 */
export function fakeDarwinEnv(scenarioDir: string, stateDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, OUTFLOW_PLATFORM: 'darwin', OUTFLOW_TOOL_DIR: FAKE_TOOLS_DIR, OUTFLOW_FAKE_SCENARIO: scenarioDir, OUTFLOW_FAKE_STATE_DIR: stateDir, ...extra };
}

/** tsx's loader by path: `--import tsx` is resolved from the child's cwd, which a test may set elsewhere. */
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export function cliArgs(args: string[]): string[] {
  return ['--import', TSX_LOADER, CLI_ENTRY, ...args];
}

/** Start `outflow …` without waiting. */
export function spawnOutflow(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, cliArgs(args), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `outflow …` to completion (with a hard timeout so a hung child fails the test, not the suite). */
export function runOutflow(args: string[], opts: SpawnOptions & { timeoutMs?: number; input?: string } = {}): Promise<RunOutcome> {
  const { timeoutMs = 60_000, input, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(args), { cwd: REPO_ROOT, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...spawnOpts });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin?.end(input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`outflow ${args.join(' ')} timed out after ${timeoutMs} ms\nstderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The rows `outflow query --format json` printed: one JSON object a line (other lines, if any, are not rows). */
export function jsonRows(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The rows of `outflow query --format json SQL` on the darwin backend, with the fake tools playing `scenarioDir` (their
 * state kept there too) for `collectSeconds` first. Flows and processes are sampled every 30 s, so what the fake
 * eslogger prints decides the event tables. Rejects with stderr's tail when the query fails.
 */
export async function queryFakeDarwin(scenarioDir: string, sql: string, collectSeconds = 4): Promise<Record<string, unknown>[]> {
  const config = path.join(scenarioDir, 'config.yaml');
  writeFileSync(config, 'flows:\n  sample_interval: 30\nprocesses:\n  sample_interval: 30\n');
  const r = await runOutflow(['query', '--config', config, '--format', 'json', '--collect', String(collectSeconds), sql], { env: fakeDarwinEnv(scenarioDir, scenarioDir), timeoutMs: 80_000 });
  if (r.code !== 0) throw new Error(`outflow query exited ${r.code}\nstderr: ${r.stderr.slice(-3000)}`);
  return jsonRows(r.stdout);
}
