import { afterEach, describe, expect, it, vi } from 'vitest';
import { TableRouter, type TablePlugin } from './table-plugin.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('TableRouter default generate timeout (SPEC §1: every generate answers within 2 s)', () => {
  it('answers status 1 after 2 s when no timeout is configured, and aborts the stuck generate', async () => {
    vi.useFakeTimers();
    let aborted = false;
    const stuck: TablePlugin = {
      name: 'process_network_flows',
      columns: [{ name: 'pid', type: 'INTEGER' }],
      generate: (_query, signal) =>
        new Promise(() => {
          signal.addEventListener('abort', () => (aborted = true));
        }),
    };
    const router = new TableRouter([stuck]);
    let answer: Awaited<ReturnType<TableRouter['call']>> | undefined;
    void router.call('table', 'process_network_flows', { action: 'generate', context: '{"constraints":[]}' }).then((r) => (answer = r));
    await vi.advanceTimersByTimeAsync(1999);
    expect(answer).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(answer?.status.code).toBe(1);
    expect(answer?.status.message).toMatch(/within 2000 ms/);
    expect(answer?.response).toEqual([]);
    expect(aborted).toBe(true);
  });
});
