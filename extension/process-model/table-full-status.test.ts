import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { createContext } from '../runtime/create-context.js';
import type { ExtensionContext } from '../runtime/context.js';
import { createProcessCollector } from './collector.js';

const contexts: ExtensionContext[] = [];
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.signing.stop()));
});

async function processesRow(max_processes: number) {
  const ctx = createContext({ platform: 'linux', config: parseConfig({ processes: { max_processes } }), log: silentLogger() });
  contexts.push(ctx);
  const collector = createProcessCollector(ctx);
  collector.start();
  await collector.ready();
  await collector.stop();
  return { row: ctx.health.rows().find((r) => r.component === 'processes')!, running: ctx.processes.running().length };
}

describe.runIf(process.platform === 'linux')('processes.max_processes below the host', () => {
  // this test's own process tree alone (vitest, its worker, init) is more than 2 processes
  it('a table too small for the running processes says so in outflow_status, naming the key', async () => {
    const { row, running } = await processesRow(2);
    expect(running).toBeLessThanOrEqual(2);
    expect(row.state).toBe('degraded');
    expect(row.detail).toMatch(/process table full \(processes\.max_processes = 2\); \d+ running processes dropped since the last sample \(\d+ so far\).*raise processes\.max_processes/);
  });

  it('turns running again once no running process is dropped any more, and says how many were', async () => {
    const ctx = createContext({ platform: 'linux', config: parseConfig({ processes: { sample_interval: 0.2 } }), log: silentLogger() });
    contexts.push(ctx);
    // the model's count of running processes it dropped, as a host over the limit and then back under it makes it
    let evicted = 0;
    Object.defineProperty(ctx.processes, 'evictedRunning', { get: () => evicted });
    const collector = createProcessCollector(ctx);
    const row = () => ctx.health.rows().find((r) => r.component === 'processes')!;
    const ticks = async (n: number) => {
      const target = row().events + n;
      while (row().events < target) await new Promise((r) => setTimeout(r, 20));
    };
    evicted = 7;
    collector.start();
    try {
      await collector.ready();
      await ticks(1);
      // a tick reads the count right after it counts itself (no await between): one set here is seen by the next
      evicted = 9;
      await ticks(1);
      expect(row()).toMatchObject({ state: 'degraded', detail: expect.stringMatching(/2 running processes dropped since the last sample \(9 so far\)/) });
      await ticks(1);
      expect(row()).toMatchObject({ state: 'running', detail: expect.stringContaining('9 running processes dropped earlier while the table was full (processes.max_processes = 50000)') });
    } finally {
      await collector.stop();
    }
  });

  it('the default table holds every running process and stays running', async () => {
    const { row } = await processesRow(50_000);
    expect(row.state).toBe('running');
    expect(row.detail).not.toMatch(/max_processes/);
  });
});
