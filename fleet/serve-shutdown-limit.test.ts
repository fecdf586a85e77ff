/**
 * runServe's shutdown limit: an orderly shutdown that is still running after SHUTDOWN_LIMIT_MS must end the process
 * (exit 1), not only produce the number 1 while a stalled step (a POST /v1/ingest whose body never arrives: server.close()
 * stops enforcing request_timeout_ms) keeps the event loop, and so the process, alive.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { SHUTDOWN_LIMIT_MS, shutdownWithin } from './serve.js';

afterEach(() => {
  vi.useRealTimers();
});

it('the limit is the documented 30 s', () => {
  expect(SHUTDOWN_LIMIT_MS).toBe(30_000);
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
