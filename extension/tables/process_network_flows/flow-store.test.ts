import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { HealthRegistry } from '../../runtime/health.js';
import { createFlowStore, type FlowObservation } from './flow-store.js';
import { createDnsNameCache } from './dns-names/name-cache.js';

const T0 = 1_772_531_000;

function setup(flows: Record<string, unknown> = {}, network: Record<string, unknown> = {}) {
  const clock = fixedClock(T0);
  const health = new HealthRegistry('linux', 'test', () => clock.unix());
  const store = createFlowStore({ config: parseConfig({ flows, network }), clock, health });
  return { clock, health, store };
}

function obs(over: Partial<FlowObservation> = {}): FlowObservation {
  return {
    pid: 100,
    processName: 'rclone',
    process: { processStart: T0 - 60, ppid: 1, uid: 501, path: '/opt/homebrew/bin/rclone', name: 'rclone' },
    protocol: 'tcp',
    family: 4,
    localAddress: '10.0.0.5',
    localPort: 50000,
    remoteAddress: '198.51.100.23',
    remotePort: 443,
    state: 'Established',
    interface: 'en0',
    bytesIn: 0,
    bytesOut: 0,
    ...over,
  };
}

describe('flow store', () => {
  it('accumulates cumulative counters, tracks first/last seen and closes vanished flows', () => {
    const { store, clock } = setup();
    store.applySample([obs({ bytesIn: 100, bytesOut: 1000 })], { at: T0, counters: 'cumulative' });
    clock.advance(5);
    store.applySample([obs({ bytesIn: 150, bytesOut: 5000 })], { at: T0 + 5, counters: 'cumulative' });
    let [row] = store.rows();
    expect(row).toMatchObject({
      pid: 100,
      process_start: T0 - 60,
      path: '/opt/homebrew/bin/rclone',
      ppid: 1,
      uid: 501,
      bytes_in: 150,
      bytes_out: 5000,
      first_seen: T0,
      last_seen: T0 + 5,
      duration: 5,
      closed: 0,
      remote_scope: 'public',
      service: 'tls',
      service_evidence: 'port',
      server_name: '',
    });
    expect(row!.pcr).toBeCloseTo((5000 - 150) / 5150);
    const id = row!.flow_id;
    clock.advance(5);
    store.applySample([], { at: T0 + 10, counters: 'cumulative' });
    [row] = store.rows();
    expect(row).toMatchObject({ flow_id: id, closed: 1, last_seen: T0 + 5, duration: 5, bytes_out: 5000 });
  });

  it('takes a counter going backwards for another socket on the tuple: the old flow closes, a new one starts, nothing is lost', () => {
    const { store } = setup();
    store.applySample([obs({ bytesOut: 1000 })], { at: T0, counters: 'cumulative' });
    store.applySample([obs({ bytesOut: 300 })], { at: T0 + 5, counters: 'cumulative' });
    store.applySample([obs({ bytesOut: 500 })], { at: T0 + 10, counters: 'cumulative' });
    const rows = store.rows().sort((a, b) => a.first_seen - b.first_seen);
    expect(rows.map((r) => [r.first_seen, r.last_seen, r.closed, r.bytes_out])).toEqual([
      [T0, T0, 1, 1000],
      [T0 + 5, T0 + 10, 0, 300 + 200],
    ]);
    expect(rows[0]!.flow_id).not.toBe(rows[1]!.flow_id);
  });

  it('keeps the flow a replaced socket closed when the table is full (it takes no room from it)', () => {
    const { store } = setup({ max_flows: 2 });
    store.applySample([obs({ bytesOut: 50 << 20 }), obs({ localPort: 2 })], { at: T0, counters: 'cumulative' });
    const r = store.applySample([obs({ bytesOut: 10 }), obs({ localPort: 2 })], { at: T0 + 5, counters: 'cumulative' });
    expect(r).toMatchObject({ evicted: 0, dropped: 0 });
    const tuple = store.rows().filter((x) => x.local_port === obs().localPort);
    expect(tuple.map((x) => [x.closed, x.bytes_out]).sort()).toEqual([[0, 10], [1, 50 << 20]]);
  });

  it('splits a reconnect from the same port on Linux (ss counters)', () => {
    const { store } = setup();
    store.applySample([obs({ bytesOut: 9_437_185, bytesIn: 2210 })], { at: T0, counters: 'cumulative' });
    store.applySample([obs({ bytesOut: 52_428_801, bytesIn: 4000 })], { at: T0 + 5, counters: 'cumulative' });
    store.applySample([obs({ bytesOut: 1001, bytesIn: 300 })], { at: T0 + 10, counters: 'cumulative' });
    const rows = store.rows().sort((a, b) => a.first_seen - b.first_seen);
    expect(rows.map((r) => [r.closed, r.bytes_out, r.first_seen, r.duration])).toEqual([
      [1, 52_428_801, T0, 5],
      [0, 1001, T0 + 10, 0],
    ]);
  });

  it('sums delta samples and clamps negative deltas', () => {
    const { store } = setup();
    store.applySample([obs({ bytesIn: 10, bytesOut: 100 })], { at: T0, counters: 'delta' });
    store.applySample([obs({ bytesIn: -5, bytesOut: 50 })], { at: T0 + 5, counters: 'delta' });
    expect(store.rows()[0]).toMatchObject({ bytes_in: 10, bytes_out: 150 });
  });

  it('keeps -1 for counters the OS does not have (Linux UDP)', () => {
    const { store } = setup();
    store.applySample([obs({ protocol: 'udp', remotePort: 53, bytesIn: null, bytesOut: null })], { at: T0, counters: 'cumulative' });
    expect(store.rows()[0]).toMatchObject({ bytes_in: -1, bytes_out: -1, pcr: 0, service: 'dns' });
  });

  it('keys by process instance: a reused pid with a new start is a new flow', () => {
    const { store } = setup();
    store.applySample([obs({ bytesOut: 1000 })], { at: T0, counters: 'cumulative' });
    const reused = obs({ bytesOut: 10, process: { processStart: T0 + 3, ppid: 1, uid: 0, path: '/usr/bin/curl', name: 'curl' } });
    store.applySample([reused], { at: T0 + 5, counters: 'cumulative' });
    const rows = store.rows().sort((a, b) => a.first_seen - b.first_seen);
    expect(rows.map((r) => [r.process_start, r.closed, r.bytes_out])).toEqual([
      [T0 - 60, 1, 1000],
      [T0 + 3, 0, 10],
    ]);
    expect(rows[0]!.flow_id).not.toBe(rows[1]!.flow_id);
  });

  it('reports unknown processes with -1 / empty path and adopts the flow once the process is known', () => {
    const { store } = setup();
    store.applySample([obs({ process: undefined, processName: 'Backup Agent He', bytesOut: 10 })], { at: T0, counters: 'cumulative' });
    const first = store.rows()[0]!;
    expect(first).toMatchObject({ process_start: -1, ppid: -1, uid: -1, path: '', process_name: 'Backup Agent He' });
    store.applySample([obs({ bytesOut: 40 })], { at: T0 + 5, counters: 'cumulative' });
    const rows = store.rows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ flow_id: first.flow_id, process_start: T0 - 60, path: '/opt/homebrew/bin/rclone', bytes_out: 40, duration: 5 });
  });

  it('a path the model learns after the flow was first seen fills the empty one; a known path is never replaced', () => {
    const { store } = setup();
    // known instance, path not yet known (macOS: started while core's processes query ran; ps gave a name only)
    const pathless = { processStart: T0 - 1, ppid: 1, uid: 501, path: '', name: 'rclone' };
    store.applySample([obs({ process: pathless, bytesOut: 10 })], { at: T0, counters: 'cumulative' });
    expect(store.rows()[0]).toMatchObject({ path: '', process_start: T0 - 1 });
    const kernel = { ...pathless, path: '/Users/eve/.cache/rclone' };
    store.applySample([obs({ process: kernel, bytesOut: 40 })], { at: T0 + 5, counters: 'cumulative' });
    expect(store.rows()[0]).toMatchObject({ path: '/Users/eve/.cache/rclone', process_name: 'rclone', bytes_out: 40 });
    // the same instance exec'd /bin/cat onto the inherited socket: the flow stays the uploader's
    store.applySample([obs({ process: { ...pathless, path: '/bin/cat', name: 'cat' }, bytesOut: 90 })], { at: T0 + 10, counters: 'cumulative' });
    expect(store.rows()).toHaveLength(1);
    expect(store.rows()[0]).toMatchObject({ path: '/Users/eve/.cache/rclone', process_name: 'rclone', bytes_out: 90 });
  });

  it('keeps one flow when its process drops out of the process model mid-flow (no split, bytes continue)', () => {
    const { store } = setup();
    store.applySample([obs({ bytesOut: 1000 })], { at: T0, counters: 'cumulative' });
    const first = store.rows()[0]!;
    // The model lost the instance (evicted, or a ps run that missed it): the socket is still the same one.
    store.applySample([obs({ process: undefined, bytesOut: 3000 })], { at: T0 + 5, counters: 'cumulative' });
    store.applySample([obs({ bytesOut: 4000 })], { at: T0 + 10, counters: 'cumulative' });
    const rows = store.rows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ flow_id: first.flow_id, closed: 0, process_start: T0 - 60, path: '/opt/homebrew/bin/rclone', bytes_out: 4000, duration: 10 });
  });

  it('flow_id is stable across samples and differs for the same tuple seen again after closing', () => {
    const { store } = setup();
    store.applySample([obs()], { at: T0, counters: 'cumulative' });
    const id = store.rows()[0]!.flow_id;
    store.applySample([obs()], { at: T0 + 5, counters: 'cumulative' });
    expect(store.rows()[0]!.flow_id).toBe(id);
    store.applySample([], { at: T0 + 10, counters: 'cumulative' });
    store.applySample([obs()], { at: T0 + 15, counters: 'cumulative' });
    const ids = store.rows().map((r) => r.flow_id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it('merges a socket listed twice in one sample', () => {
    const { store } = setup();
    store.applySample([obs({ bytesOut: 100 }), obs({ bytesOut: 50 })], { at: T0, counters: 'cumulative' });
    store.applySample([obs({ bytesOut: 120 }), obs({ bytesOut: 60 })], { at: T0 + 5, counters: 'cumulative' });
    expect(store.rows()).toHaveLength(1);
    expect(store.rows()[0]!.bytes_out).toBe(180);
  });

  it('drops closed flows after the retention', () => {
    const { store, clock } = setup({ retention: 60 });
    store.applySample([obs()], { at: T0, counters: 'cumulative' });
    store.applySample([], { at: T0 + 5, counters: 'cumulative' });
    clock.set(T0 + 60);
    expect(store.rows()).toHaveLength(1);
    clock.set(T0 + 66);
    expect(store.rows()).toHaveLength(0);
    expect(store.size).toBe(0);
  });

  it('forEachRow visits the rows rows() copies, in the same order, and drops expired closed flows first', () => {
    const { store, clock } = setup({ retention: 60 });
    const port = (p: number) => obs({ localPort: p, bytesOut: p });
    store.applySample([port(1), port(2), port(3)], { at: T0, counters: 'cumulative' });
    store.applySample([port(2), port(3), port(4)], { at: T0 + 5, counters: 'cumulative' }); // 1 closed
    store.applySample([port(3), port(4)], { at: T0 + 30, counters: 'cumulative' }); // 2 closed
    const seen: unknown[] = [];
    store.forEachRow((r) => seen.push({ ...r }));
    expect(seen).toEqual(store.rows());
    expect(seen.map((r) => (r as { local_port: number }).local_port)).toEqual([3, 4, 1, 2]);
    clock.set(T0 + 62); // flow 1 (last seen T0) is past the 60 s retention, flow 2 (last seen T0 + 5) is not
    const ports: number[] = [];
    store.forEachRow((r) => ports.push(r.local_port));
    expect(ports).toEqual([3, 4, 2]);
  });

  it('caps tracked flows: evicts the oldest closed first, then refuses new flows and counts drops', () => {
    const { store, health } = setup({ max_flows: 3 });
    const port = (p: number) => obs({ localPort: p });
    store.applySample([port(1), port(2)], { at: T0, counters: 'cumulative' });
    store.applySample([port(3)], { at: T0 + 5, counters: 'cumulative' }); // 1, 2 closed; 3 open
    const r = store.applySample([port(3), port(4), port(5)], { at: T0 + 10, counters: 'cumulative' });
    expect(r.evicted).toBe(2);
    expect(store.rows().map((x) => x.local_port).sort()).toEqual([3, 4, 5]);
    const r2 = store.applySample([port(3), port(4), port(5), port(6)], { at: T0 + 15, counters: 'cumulative' });
    expect(r2.dropped).toBe(1);
    expect(store.size).toBe(3);
    const flows = health.rows().find((h) => h.component === 'flows')!;
    expect(flows.dropped).toBe(3);
    expect(flows.state).toBe('degraded');
    expect(flows.detail).toMatch(/flows\.max_flows/);
  });

  it('classifies scope with configured internal ranges and service from the merged port map', () => {
    const { store } = setup({}, { internal_ranges: ['198.51.100.0/24'], port_map: { 'tcp/9000': 'http' } });
    store.applySample(
      [obs(), obs({ localPort: 2, remoteAddress: '203.0.113.9', remotePort: 9000 }), obs({ localPort: 3, protocol: 'udp', remotePort: 443, observedService: 'quic' })],
      { at: T0, counters: 'cumulative' },
    );
    const byPort = new Map(store.rows().map((r) => [r.local_port, r]));
    expect(byPort.get(50000)).toMatchObject({ remote_scope: 'private', service: 'tls' });
    expect(byPort.get(2)).toMatchObject({ remote_scope: 'public', service: 'http', service_evidence: 'port' });
    expect(byPort.get(3)).toMatchObject({ service: 'quic', service_evidence: 'handshake' });
  });
});

describe('flow store: server names from captured DNS answers', () => {
  function named() {
    const clock = fixedClock(T0);
    const health = new HealthRegistry('darwin', 'test', () => clock.unix());
    const config = parseConfig({});
    const names = createDnsNameCache({ maxNames: 100, maxTtl: 86_400, grace: 600, lateSlack: config.flows.sample_interval + 2 });
    return { clock, names, store: createFlowStore({ config, clock, health, names }) };
  }

  it('a new flow to an address a trusted answer named carries that name; others stay empty', () => {
    const { store, names } = named();
    names.learn([{ address: '198.51.100.23', name: 'upload.example.net', ttl: 60 }], T0 - 2);
    store.applySample([obs(), obs({ pid: 101, remoteAddress: '203.0.113.7' })], { at: T0, counters: 'cumulative' });
    const byPid = new Map(store.rows().map((r) => [r.pid, r]));
    expect(byPid.get(100)!.server_name).toBe('upload.example.net');
    expect(byPid.get(101)!.server_name).toBe('');
  });

  it('an answer read just after the sample that first saw the flow names it at the next sample', () => {
    const { store, names } = named();
    store.applySample([obs()], { at: T0, counters: 'cumulative' });
    expect(store.rows()[0]!.server_name).toBe('');
    names.learn([{ address: '198.51.100.23', name: 'upload.example.net', ttl: 60 }], T0 + 1);
    store.applySample([obs()], { at: T0 + 5, counters: 'cumulative' });
    expect(store.rows()[0]!.server_name).toBe('upload.example.net');
  });

  it('an answer long after the flow began never names it, and a name once given is never replaced', () => {
    const { store, names } = named();
    store.applySample([obs(), obs({ pid: 101, remoteAddress: '203.0.113.7' })], { at: T0, counters: 'cumulative' });
    // resolving a name to an address the host already sends to, a minute later, does not rename that flow
    names.learn([{ address: '198.51.100.23', name: 'www.common.example', ttl: 60 }], T0 + 60);
    names.learn([{ address: '203.0.113.7', name: 'first.example', ttl: 60 }], T0 + 1);
    store.applySample([obs(), obs({ pid: 101, remoteAddress: '203.0.113.7' })], { at: T0 + 65, counters: 'cumulative' });
    names.learn([{ address: '203.0.113.7', name: 'second.example', ttl: 60 }], T0 + 66);
    store.applySample([obs(), obs({ pid: 101, remoteAddress: '203.0.113.7' })], { at: T0 + 70, counters: 'cumulative' });
    const byPid = new Map(store.rows().map((r) => [r.pid, r]));
    expect(byPid.get(100)!.server_name).toBe('');
    expect(byPid.get(101)!.server_name).toBe('first.example');
  });
});

describe('flow store cap (flows.max_flows) with sockets replaced on their tuple', () => {
  it('stays bounded when every open flow is replaced at every sample', () => {
    const { store } = setup({ max_flows: 4 });
    const ports = [1, 2, 3, 4];
    // a process that re-creates its 4 sockets on the same tuples between samples: each counter starts lower
    for (let k = 0; k < 50; k++) store.applySample(ports.map((p) => obs({ protocol: 'udp', localPort: p, bytesOut: 10_000 - k })), { at: T0 + 5 * k, counters: 'cumulative' });
    expect(store.openCount).toBe(4);
    // one closed flow over the cap at most (the one just replaced keeps its row)
    expect(store.size).toBeLessThanOrEqual(4 + 1);
  });
});

/** A Linux socket as ss lists it (state ESTAB, no interface), for the counter edge cases below. */
const edgeObs = (over: Partial<FlowObservation> = {}): FlowObservation => obs({ pid: 4242, localPort: 51544, state: 'ESTAB', interface: '', ...over });

describe('flow store: cumulative counters at the edges', () => {
  it('a TCP socket first listed without counters (ss info line missing) counts its bytes from zero once they appear', () => {
    const { store } = setup();
    store.applySample([edgeObs({ bytesIn: null, bytesOut: null })], { at: T0, counters: 'cumulative' });
    expect(store.rows()[0]).toMatchObject({ bytes_in: -1, bytes_out: -1, pcr: 0 });
    store.applySample([edgeObs({ bytesIn: 2210, bytesOut: 9_437_185 })], { at: T0 + 5, counters: 'cumulative' });
    expect(store.rows()[0]).toMatchObject({ bytes_in: 2210, bytes_out: 9_437_185, closed: 0, duration: 5 });
    store.applySample([edgeObs({ bytesIn: 4000, bytesOut: 52_428_801 })], { at: T0 + 10, counters: 'cumulative' });
    const rows = store.rows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ bytes_in: 4000, bytes_out: 52_428_801, duration: 10 });
  });

  it('a reconnect on the same tuple is told by bytes_in going back too, even when bytes_out has grown past the old socket', () => {
    const { store } = setup();
    // a download on the first socket, then a reconnect from the same port that sends more than the first one did
    store.applySample([edgeObs({ bytesIn: 50_000, bytesOut: 2_000 })], { at: T0, counters: 'cumulative' });
    store.applySample([edgeObs({ bytesIn: 1_200, bytesOut: 2_500 })], { at: T0 + 5, counters: 'cumulative' });
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
    const parent = edgeObs({ pid: 3_999_911, bytesIn: 2_210, bytesOut: 20_001 });
    store.applySample([parent], { at: T0, counters: 'cumulative' });
    // the parent closed its copy: ss lists the child alone, with the socket's totals unchanged since the last sample
    const child = { processStart: T0 - 2, ppid: 3_999_911, uid: 501, path: '/opt/homebrew/bin/rclone', name: 'rclone' };
    const handed = (bytesOut: number) => edgeObs({ pid: 3_999_912, process: child, bytesIn: 2_210, bytesOut, countedBefore: { bytesIn: 2_210, bytesOut: 20_001 } });
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
    store.applySample([edgeObs({ bytesOut: 1_000 })], { at: T0, counters: 'cumulative' });
    store.applySample([edgeObs({ bytesOut: 5_000 })], { at: T0 + 5, counters: 'cumulative' });
    // the wall clock was stepped back 30 s (NTP) between two samples
    store.applySample([edgeObs({ bytesOut: 9_000 })], { at: T0 - 25, counters: 'cumulative' });
    const [row] = store.rows();
    expect(row).toMatchObject({ first_seen: T0, last_seen: T0 + 5, duration: 5, bytes_out: 9_000, closed: 0 });
  });
});

describe('flow store: socket identity', () => {
  it('an identity first seen after the flow began still tells a later reconnect whose counters passed the old socket', () => {
    const { store } = setup();
    // the first listing of the socket lacked its ino:/sk: part; later ones carry it
    store.applySample([edgeObs({ bytesIn: 300, bytesOut: 1_000 })], { at: T0, counters: 'cumulative' });
    store.applySample([edgeObs({ bytesIn: 400, bytesOut: 2_000, socketId: '81234/1a2b' })], { at: T0 + 5, counters: 'cumulative' });
    // the peer closed and this host reconnected from the same port within a sample; the new socket already sent more
    store.applySample([edgeObs({ bytesIn: 900, bytesOut: 7_000, socketId: '81299/1a77' })], { at: T0 + 10, counters: 'cumulative' });
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
    store.applySample([edgeObs({ localPort: 1 }), edgeObs({ localPort: 2 })], { at: T0, counters: 'cumulative' });
    expect(flows()).toMatchObject({ state: 'running', detail: '2 open, 0 closed flows', dropped: 0 });
    store.applySample([edgeObs({ localPort: 1 }), edgeObs({ localPort: 2 }), edgeObs({ localPort: 3 })], { at: T0 + 5, counters: 'cumulative' });
    expect(flows()).toMatchObject({ state: 'degraded', dropped: 1 });
    store.applySample([edgeObs({ localPort: 1 })], { at: T0 + 10, counters: 'cumulative' });
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
    store.applySample([edgeObs()], { at: T0, counters: 'cumulative' });
    // the next sample ran late, at the end of the slack; the answer was read just after it, in the same second
    store.applySample([edgeObs()], { at: T0 + lateSlack, counters: 'cumulative' });
    names.learn([{ address: '198.51.100.23', name: 'upload.example.net', ttl: 60 }], T0 + lateSlack);
    expect(store.rows()[0]!.server_name).toBe('');
    store.applySample([edgeObs()], { at: T0 + lateSlack + 5, counters: 'cumulative' });
    expect(store.rows()[0]!.server_name).toBe('upload.example.net');
  });
});
