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
    expect(row.detail).toMatch(/process table full \(processes\.max_processes = 2\); \d+ running processes dropped .*raise processes\.max_processes/);
  });

  it('the default table holds every running process and stays running', async () => {
    const { row } = await processesRow(50_000);
    expect(row.state).toBe('running');
    expect(row.detail).not.toMatch(/max_processes/);
  });
});
