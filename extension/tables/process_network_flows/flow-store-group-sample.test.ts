/**
 * groupSample: one process's sockets on one tuple are one flow, whose socketId is its sockets' ids.
 * - It must not depend on the order the tool lists them in. A socket without an id (ss without -e's `ino:… sk:…` for
 *   it) listed first left the group with no id, listed later it was ignored: the same sockets in another order decided
 *   whether a socket that replaced another on the tuple (a reconnect) made a new flow.
 * - One unprivileged Linux process can hold thousands of sockets on one tuple: UDP sockets bound to one port with
 *   SO_REUSEPORT, each connect()ed to the same peer. ss lists each (`udp ESTAB … users:(("x",pid=P,fd=N)) ino:I sk:K`),
 *   all with the same pid and tuple. Building the id list must stay linear: it was split, re-sorted and re-joined at
 *   every socket, O(n² log n) — 16 000 sockets (2 MiB of ss output, a fraction of tools.max_output_bytes) cost ~16 s
 *   per sample, every flows.sample_interval, in the root extension's one thread.
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

/** A connected UDP socket as ss lists it (no byte counters). */
const udpObs = (over: Partial<FlowObservation> = {}): FlowObservation => obs({ protocol: 'udp', bytesIn: null, bytesOut: null, ...over });

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

describe('flow store: many sockets of one process on one tuple', () => {
  it('groups 16 000 sockets on one tuple in well under a second', () => {
    const clock = fixedClock(T0);
    const store = createFlowStore({ config: parseConfig({}), clock, health: new HealthRegistry('linux', 'test', () => clock.unix()) });
    const sample = Array.from({ length: 16_000 }, (_, i) => udpObs({ socketId: `${100_000 + i}/${(0x1000 + i).toString(16)}` }));
    const started = performance.now();
    const r = store.applySample(sample, { at: T0, counters: 'cumulative' });
    const elapsed = performance.now() - started;
    expect(r.created).toBe(1);
    expect(elapsed).toBeLessThan(1000);
  }, 120_000);

  it('a group keeps the sorted ids of its sockets, whatever the listing order', () => {
    const g = groupSample([udpObs({ socketId: '3/c' }), udpObs({ socketId: '1/a' }), udpObs({ socketId: '2/b' })]);
    expect([...g.values()].map((o) => o.socketId)).toEqual(['1/a,2/b,3/c']);
  });
});

/** groupSample as it was (re-splitting and re-sorting the joined ids at every socket): the reference for small samples. */
function groupSampleBefore(observations: readonly FlowObservation[]): Map<string, FlowObservation> {
  const byKey = new Map<string, FlowObservation>();
  for (const o of observations) {
    const key = `${o.pid}|${o.protocol}|${o.localAddress}|${o.localPort}|${o.remoteAddress}|${o.remotePort}`;
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, o);
      continue;
    }
    const sum = (x: number | null, y: number | null) => (x === null ? y : y === null ? x : x + y);
    const socketId = seen.socketId === undefined || o.socketId === undefined ? undefined : [...seen.socketId.split(','), o.socketId].sort().join(',');
    // a group holding a socket without an id has none, whatever the order (flow-store-group-id-order.test.ts)
    const { countedBefore: _countedBefore, socketId: _socketId, ...rest } = seen;
    byKey.set(key, { ...rest, bytesIn: sum(seen.bytesIn, o.bytesIn), bytesOut: sum(seen.bytesOut, o.bytesOut), ...(socketId === undefined ? {} : { socketId }) });
  }
  return byKey;
}

describe('groupSample, linear in the sockets of a group', () => {
  it('groups every small sample as the re-sorting version did (counters, ids with and without, countedBefore)', () => {
    // a seeded LCG: deterministic samples of 1-7 observations over 2 pids and 2 ports, ids present or not
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let run = 0; run < 5000; run++) {
      const sample: FlowObservation[] = Array.from({ length: 1 + rand(7) }, () =>
        udpObs({
          pid: 10 + rand(2),
          localPort: 5000 + rand(2),
          bytesIn: rand(3) === 0 ? null : rand(1000),
          bytesOut: rand(3) === 0 ? null : rand(1000),
          ...(rand(4) === 0 ? {} : { socketId: `${rand(5)}/${rand(3).toString(16)}` }),
          ...(rand(4) === 0 ? { countedBefore: { bytesIn: rand(10), bytesOut: null } } : {}),
        }),
      );
      const before = [...groupSampleBefore(sample)];
      const after = [...groupSample(sample)];
      expect(after, JSON.stringify(sample)).toStrictEqual(before);
    }
  });
});
