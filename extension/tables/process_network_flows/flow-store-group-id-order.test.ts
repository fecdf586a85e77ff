/**
 * A group of one process's sockets on one tuple is one flow; its socketId is its sockets' ids, and it must not
 * depend on the order the tool lists them in. A socket without an id (ss without -e's `ino:… sk:…` for it) listed
 * first left the group with no id, listed later it was ignored: the same sockets in another order decided whether
 * a socket that replaced another on the tuple (a reconnect) made a new flow.
 */
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { HealthRegistry } from '../../runtime/health.js';
import { createFlowStore, groupSample, type FlowObservation } from './flow-store.js';

const T0 = 1_772_531_000;

function obs(over: Partial<FlowObservation> = {}): FlowObservation {
  return {
    pid: 4242,
    processName: 'x',
    protocol: 'tcp',
    family: 4,
    localAddress: '10.0.8.14',
    localPort: 5000,
    remoteAddress: '203.0.113.80',
    remotePort: 443,
    state: 'ESTAB',
    interface: '',
    bytesIn: 0,
    bytesOut: 0,
    ...over,
  };
}

describe('groupSample: a group holding a socket without an id', () => {
  it('has the same socketId whatever the listing order', () => {
    const withId = obs({ socketId: '101/a', bytesOut: 100 });
    const without = obs({ bytesOut: 10 });
    const a = [...groupSample([withId, without]).values()].map((o) => o.socketId);
    const b = [...groupSample([without, withId]).values()].map((o) => o.socketId);
    expect(a).toEqual(b);
  });

  it('a reconnect beside an id-less socket is judged the same whatever the listing order', () => {
    const flows = (order: 'id-first' | 'id-last') => {
      const clock = fixedClock(T0);
      const store = createFlowStore({ config: parseConfig({}), clock, health: new HealthRegistry('linux', 'test', () => clock.unix()) });
      const list = (a: FlowObservation, b: FlowObservation) => (order === 'id-first' ? [a, b] : [b, a]);
      store.applySample(list(obs({ socketId: '101/a', bytesOut: 100 }), obs({ bytesOut: 10 })), { at: T0, counters: 'cumulative' });
      // the socket with id 101/a was replaced by 202/b (its counters already past the old one's)
      const r = store.applySample(list(obs({ socketId: '202/b', bytesOut: 500 }), obs({ bytesOut: 20 })), { at: T0 + 5, counters: 'cumulative' });
      return { created: r.created, closed: r.closed };
    };
    expect(flows('id-first')).toEqual(flows('id-last'));
  });
});
