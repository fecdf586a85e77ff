/**
 * runServe's shutdown limit: an orderly shutdown that is still running after SHUTDOWN_LIMIT_MS must end the process
 * (exit 1), not only produce the number 1 while a stalled step (a POST /v1/ingest whose body never arrives: server.close()
 * stops enforcing request_timeout_ms) keeps the event loop, and so the process, alive.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, expect, it, vi } from 'vitest';
import { SHUTDOWN_LIMIT_MS, shutdownWithin } from './serve.js';

afterEach(() => {
  vi.useRealTimers();
});

it('the limit is the documented 30 s', () => {
  expect(SHUTDOWN_LIMIT_MS).toBe(30_000);
});

it("systemd's stop timeout in the shipped unit leaves the aggregator its own limit, with time to log and exit 1", () => {
  // equal or shorter, systemd's SIGKILL races (or beats) the limit: no log of what held the shutdown, exit by signal
  const unit = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'deploy', 'outflow-fleet.service'), 'utf8');
  const stop = /^TimeoutStopSec=(\d+)s?$/m.exec(unit);
  expect(stop, 'TimeoutStopSec= in deploy/outflow-fleet.service').not.toBeNull();
  expect(Number(stop![1]) * 1000).toBeGreaterThanOrEqual(SHUTDOWN_LIMIT_MS + 10_000);
});

it('a shutdown that never completes runs onLate (exit 1) once the limit has passed, not before', async () => {
  vi.useFakeTimers();
  const onLate = vi.fn();
  const outcome = shutdownWithin(new Promise<void>(() => undefined), 30_000, onLate);
  await vi.advanceTimersByTimeAsync(29_999);
  expect(onLate).not.toHaveBeenCalled();
  await vi.advanceTimersByTimeAsync(1);
  await expect(outcome).resolves.toBe(1);
  expect(onLate).toHaveBeenCalledTimes(1);
});

it('a shutdown within the limit answers 0 (or 1 when it failed) without onLate', async () => {
  vi.useFakeTimers();
  const onLate = vi.fn();
  await expect(shutdownWithin(Promise.resolve(), 30_000, onLate)).resolves.toBe(0);
  await expect(shutdownWithin(Promise.reject(new Error('sink close failed')), 30_000, onLate)).resolves.toBe(1);
  await vi.advanceTimersByTimeAsync(60_000);
  expect(onLate).not.toHaveBeenCalled();
});

it('a shutdown stalled with nothing left for the event loop to run still ends in onLate (exit 1), not in exit code 0', () => {
  // runServe's caller sets process.exitCode from its answer: a limit timer that does not hold the process lets it end
  // as soon as the stalled step has no pending I/O, before the limit, with the exit code of a clean shutdown
  const serve = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'serve.ts')).href;
  const script = `import(${JSON.stringify(serve)}).then(({ shutdownWithin }) => shutdownWithin(new Promise(() => undefined), 300, () => { process.stderr.write('late\\n'); process.exit(1); })).then((code) => { process.exitCode = code; });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 1, stderr: 'late' });
}, 40_000);
