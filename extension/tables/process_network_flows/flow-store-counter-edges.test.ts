import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { HealthRegistry } from '../../runtime/health.js';
import { createFlowStore, type FlowObservation } from './flow-store.js';
import { createDnsNameCache } from './dns-names/name-cache.js';

const T0 = 1_772_531_000;

function setup(flows: Record<string, unknown> = {}) {
  const clock = fixedClock(T0);
  const health = new HealthRegistry('linux', 'test', () => clock.unix());
  const store = createFlowStore({ config: parseConfig({ flows }), clock, health });
  return { clock, health, store };
}

function obs(over: Partial<FlowObservation> = {}): FlowObservation {
  return {
    pid: 4242,
    processName: 'rclone',
    process: { processStart: T0 - 60, ppid: 1, uid: 501, path: '/opt/homebrew/bin/rclone', name: 'rclone' },
    protocol: 'tcp',
    family: 4,
    localAddress: '10.0.0.5',
    localPort: 51544,
    remoteAddress: '198.51.100.23',
    remotePort: 443,
    state: 'ESTAB',
    interface: '',
    bytesIn: 0,
    bytesOut: 0,
    ...over,
  };
}

describe('flow store: cumulative counters at the edges', () => {
  it('a TCP socket first listed without counters (ss info line missing) counts its bytes from zero once they appear', () => {
    const { store } = setup();
    store.applySample([obs({ bytesIn: null, bytesOut: null })], { at: T0, counters: 'cumulative' });
    expect(store.rows()[0]).toMatchObject({ bytes_in: -1, bytes_out: -1, pcr: 0 });
    store.applySample([obs({ bytesIn: 2210, bytesOut: 9_437_185 })], { at: T0 + 5, counters: 'cumulative' });
    expect(store.rows()[0]).toMatchObject({ bytes_in: 2210, bytes_out: 9_437_185, closed: 0, duration: 5 });
    store.applySample([obs({ bytesIn: 4000, bytesOut: 52_428_801 })], { at: T0 + 10, counters: 'cumulative' });
    const rows = store.rows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ bytes_in: 4000, bytes_out: 52_428_801, duration: 10 });
  });

  it('a reconnect on the same tuple is told by bytes_in going back too, even when bytes_out has grown past the old socket', () => {
    const { store } = setup();
    // a download on the first socket, then a reconnect from the same port that sends more than the first one did
    store.applySample([obs({ bytesIn: 50_000, bytesOut: 2_000 })], { at: T0, counters: 'cumulative' });
    store.applySample([obs({ bytesIn: 1_200, bytesOut: 2_500 })], { at: T0 + 5, counters: 'cumulative' });
    const rows = store.rows().sort((a, b) => a.first_seen - b.first_seen);
    expect(rows.map((r) => [r.closed, r.first_seen, r.bytes_in, r.bytes_out])).toEqual([
      [1, T0, 50_000, 2_000],
      [0, T0 + 5, 1_200, 2_500],
    ]);
    expect(rows[0]!.flow_id).not.toBe(rows[1]!.flow_id);
  });
});

describe('flow store: a socket handed over to another process', () => {
  it('the new owner counts from what the previous owner already counted, also when nothing moved since', () => {
    const { store } = setup();
    const parent = obs({ pid: 3_999_911, bytesIn: 2_210, bytesOut: 20_001 });
    store.applySample([parent], { at: T0, counters: 'cumulative' });
    // the parent closed its copy: ss lists the child alone, with the socket's totals unchanged since the last sample
    const child = { processStart: T0 - 2, ppid: 3_999_911, uid: 501, path: '/opt/homebrew/bin/rclone', name: 'rclone' };
    const handed = (bytesOut: number) => obs({ pid: 3_999_912, process: child, bytesIn: 2_210, bytesOut, countedBefore: { bytesIn: 2_210, bytesOut: 20_001 } });
    store.applySample([handed(20_001)], { at: T0 + 5, counters: 'cumulative' });
    const byPid = () => new Map(store.rows().map((r) => [r.pid, r]));
    expect(byPid().get(3_999_912)).toMatchObject({ bytes_in: 0, bytes_out: 0, closed: 0 });
    store.applySample([handed(30_001)], { at: T0 + 10, counters: 'cumulative' });
    expect(byPid().get(3_999_912)).toMatchObject({ bytes_in: 0, bytes_out: 10_000 });
    expect(byPid().get(3_999_911)).toMatchObject({ bytes_in: 2_210, bytes_out: 20_001, closed: 1 });
  });
});

describe('flow store: the sampler clock stepping back', () => {
  it('never moves last_seen back nor makes a duration negative', () => {
    const { store } = setup();
    store.applySample([obs({ bytesOut: 1_000 })], { at: T0, counters: 'cumulative' });
    store.applySample([obs({ bytesOut: 5_000 })], { at: T0 + 5, counters: 'cumulative' });
    // the wall clock was stepped back 30 s (NTP) between two samples
    store.applySample([obs({ bytesOut: 9_000 })], { at: T0 - 25, counters: 'cumulative' });
    const [row] = store.rows();
    expect(row).toMatchObject({ first_seen: T0, last_seen: T0 + 5, duration: 5, bytes_out: 9_000, closed: 0 });
  });
});

describe('flow store: socket identity', () => {
  it('an identity first seen after the flow began still tells a later reconnect whose counters passed the old socket', () => {
    const { store } = setup();
    // the first listing of the socket lacked its ino:/sk: part; later ones carry it
    store.applySample([obs({ bytesIn: 300, bytesOut: 1_000 })], { at: T0, counters: 'cumulative' });
    store.applySample([obs({ bytesIn: 400, bytesOut: 2_000, socketId: '81234/1a2b' })], { at: T0 + 5, counters: 'cumulative' });
    // the peer closed and this host reconnected from the same port within a sample; the new socket already sent more
    store.applySample([obs({ bytesIn: 900, bytesOut: 7_000, socketId: '81299/1a77' })], { at: T0 + 10, counters: 'cumulative' });
    const rows = store.rows().sort((a, b) => a.first_seen - b.first_seen);
    expect(rows.map((r) => [r.closed, r.first_seen, r.bytes_in, r.bytes_out])).toEqual([
      [1, T0, 400, 2_000],
      [0, T0 + 10, 900, 7_000],
    ]);
  });
});

describe('flow store: the flows health row', () => {
  it('is running with the open and closed counts, and recovers from "table full" at the first sample that fits', () => {
    const { store, health } = setup({ max_flows: 2 });
    const flows = () => health.rows().find((h) => h.component === 'flows')!;
    store.applySample([obs({ localPort: 1 }), obs({ localPort: 2 })], { at: T0, counters: 'cumulative' });
    expect(flows()).toMatchObject({ state: 'running', detail: '2 open, 0 closed flows', dropped: 0 });
    store.applySample([obs({ localPort: 1 }), obs({ localPort: 2 }), obs({ localPort: 3 })], { at: T0 + 5, counters: 'cumulative' });
    expect(flows()).toMatchObject({ state: 'degraded', dropped: 1 });
    store.applySample([obs({ localPort: 1 })], { at: T0 + 10, counters: 'cumulative' });
    expect(flows()).toMatchObject({ state: 'running', detail: '1 open, 1 closed flows', dropped: 1 });
  });
});

describe('flow store: a DNS answer read at the end of the late slack', () => {
  it('names the flow at the next sample when read in the second of a sample that came late', () => {
    const clock = fixedClock(T0);
    const health = new HealthRegistry('darwin', 'test', () => clock.unix());
    const config = parseConfig({});
    const lateSlack = config.flows.sample_interval + 2;
    const names = createDnsNameCache({ maxNames: 100, maxTtl: 86_400, grace: 600, lateSlack });
    const store = createFlowStore({ config, clock, health, names });
    store.applySample([obs()], { at: T0, counters: 'cumulative' });
    // the next sample ran late, at the end of the slack; the answer was read just after it, in the same second
    store.applySample([obs()], { at: T0 + lateSlack, counters: 'cumulative' });
    names.learn([{ address: '198.51.100.23', name: 'upload.example.net', ttl: 60 }], T0 + lateSlack);
    expect(store.rows()[0]!.server_name).toBe('');
    store.applySample([obs()], { at: T0 + lateSlack + 5, counters: 'cumulative' });
    expect(store.rows()[0]!.server_name).toBe('upload.example.net');
  });
});
