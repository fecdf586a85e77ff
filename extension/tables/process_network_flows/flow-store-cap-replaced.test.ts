import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { HealthRegistry } from '../../runtime/health.js';
import { createFlowStore, type FlowObservation } from './flow-store.js';

const T0 = 1_772_531_000;

function obs(localPort: number, bytesOut: number): FlowObservation {
  return {
    pid: 100,
    processName: 'agent',
    process: { processStart: T0 - 60, ppid: 1, uid: 501, path: '/usr/local/bin/agent', name: 'agent' },
    protocol: 'udp',
    family: 4,
    localAddress: '10.0.0.5',
    localPort,
    remoteAddress: '198.51.100.23',
    remotePort: 443,
    state: '',
    interface: 'en0',
    bytesIn: 0,
    bytesOut,
  };
}

describe('flow store cap (flows.max_flows) with sockets replaced on their tuple', () => {
  it('stays bounded when every open flow is replaced at every sample', () => {
    const clock = fixedClock(T0);
    const health = new HealthRegistry('darwin', 'test', () => clock.unix());
    const store = createFlowStore({ config: parseConfig({ flows: { max_flows: 4 } }), clock, health });
    const ports = [1, 2, 3, 4];
    // a process that re-creates its 4 sockets on the same tuples between samples: each counter starts lower
    for (let k = 0; k < 50; k++) store.applySample(ports.map((p) => obs(p, 10_000 - k)), { at: T0 + 5 * k, counters: 'cumulative' });
    expect(store.openCount).toBe(4);
    // one closed flow over the cap at most (the one just replaced keeps its row)
    expect(store.size).toBeLessThanOrEqual(4 + 1);
  });
});
