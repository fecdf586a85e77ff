import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { parseConfig, type OutflowConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { HealthRegistry } from '../../extension/runtime/health.js';
import { createIntervalCollector } from '../../extension/runtime/interval-collector.js';
import { RestartBackoff } from '../../extension/runtime/restart-backoff.js';
import { createFlowStore, type FlowObservation } from '../../extension/tables/process_network_flows/flow-store.js';

const T0 = 1_772_531_000;

/** The config the extension would run on, or the validation error's text when it refuses it. */
function tryConfig(raw: unknown): OutflowConfig | string {
  try {
    return parseConfig(raw);
  } catch (err) {
    const e = err as Error & { issues?: unknown };
    return `${e.message} ${JSON.stringify(e.issues ?? (e as { details?: unknown }).details ?? '')}`;
  }
}

const flow: FlowObservation = {
  pid: 100,
  processName: 'curl',
  process: { processStart: T0 - 60, ppid: 1, uid: 501, path: '/usr/bin/curl', name: 'curl' },
  protocol: 'tcp',
  family: 4,
  localAddress: '10.0.0.5',
  localPort: 50000,
  remoteAddress: '198.51.100.23',
  remotePort: 443,
  state: 'ESTAB',
  interface: '',
  bytesIn: 10,
  bytesOut: 5_000_000,
};

/** Ticks an interval collector on `intervalMs` runs in one second of (fake) time, each tick resolving at once. */
async function ticksInOneSecond(intervalMs: number): Promise<number> {
  vi.useFakeTimers();
  const health = new HealthRegistry('linux', 'test', () => T0).component('probe');
  let ticks = 0;
  const c = createIntervalCollector({ name: 'probe', intervalMs, health, log: silentLogger(), tick: async () => void ticks++ });
  c.start();
  await vi.advanceTimersByTimeAsync(1000);
  await c.stop();
  return ticks;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('extension timing keys', () => {
  it('a closed flow is shown for at least one sample interval under every accepted flows.retention', () => {
    for (const flows of [{ sample_interval: 5, retention: 1 }, { sample_interval: 30, retention: 30 }, { sample_interval: 5, retention: 10 }, {}]) {
      const config = tryConfig({ flows });
      if (typeof config === 'string') {
        // refused: the message names both keys and what to do
        expect(config, JSON.stringify(flows)).toMatch(/flows\.retention.*flows\.sample_interval/);
        continue;
      }
      const interval = config.flows.sample_interval;
      const clock = fixedClock(T0);
      const health = new HealthRegistry('linux', 'test', () => clock.unix());
      const store = createFlowStore({ config, clock, health });
      store.applySample([flow], { at: T0, counters: 'cumulative' });
      // the socket is gone at the next sample: the flow is closed then, and a query during the next interval sees it
      clock.advance(interval);
      store.applySample([], { at: T0 + interval, counters: 'cumulative' });
      clock.advance(interval - 1);
      expect(store.rows().filter((r) => r.closed === 1), JSON.stringify(flows)).toHaveLength(1);
    }
  });

  it('refuses a retention the flow table would drop closed flows under, naming both keys', () => {
    expect(tryConfig({ flows: { sample_interval: 5, retention: 1 } })).toMatch(/flows\.retention.*flows\.sample_interval/);
    expect(tryConfig({ flows: { retention: 60 } })).not.toBeTypeOf('string');
  });

  it('no accepted sample interval runs its collector more than ten times a second', async () => {
    for (const key of ['flows', 'processes'] as const) {
      for (const sample_interval of [0.001, 0.05, 0.1, 5]) {
        const config = tryConfig({ [key]: { sample_interval } });
        if (typeof config === 'string') {
          expect(config).toMatch(new RegExp(`${key}\\.sample_interval`));
          continue;
        }
        expect(await ticksInOneSecond(config[key].sample_interval * 1000), `${key}.sample_interval ${sample_interval}`).toBeLessThanOrEqual(11);
      }
    }
    expect(tryConfig({ flows: { sample_interval: 0.001 } })).toBeTypeOf('string');
  });

  it('no accepted restart_backoff_max restarts a tool that fails at once more than ten times a second', () => {
    for (const key of ['eslogger', 'dns_names'] as const) {
      for (const restart_backoff_max of [0.0001, 0.05, 0.1, 60]) {
        const config = tryConfig({ [key]: { restart_backoff_max } });
        if (typeof config === 'string') {
          expect(config).toMatch(new RegExp(`${key}\\.restart_backoff_max`));
          continue;
        }
        // the collectors' own first delay is 1 s; their tests start lower, as any caller may
        const backoff = new RestartBackoff(20, config[key].restart_backoff_max * 1000);
        const delays = Array.from({ length: 30 }, () => backoff.next());
        expect(Math.min(...delays.slice(10)), `${key}.restart_backoff_max ${restart_backoff_max}`).toBeGreaterThanOrEqual(100);
      }
    }
    expect(tryConfig({ eslogger: { restart_backoff_max: 0.0001 } })).toBeTypeOf('string');
  });

  it('refuses a resolver_refresh under a second', () => {
    expect(tryConfig({ dns_names: { resolver_refresh: 0.001 } })).toMatch(/dns_names\.resolver_refresh/);
    expect(tryConfig({ dns_names: { resolver_refresh: 1 } })).not.toBeTypeOf('string');
  });
});
