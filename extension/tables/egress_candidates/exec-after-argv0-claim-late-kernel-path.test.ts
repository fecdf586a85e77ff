/**
 * An instance known only by ps's argv[0] (`exec -a "…/Google Chrome" ./up`) when its flow is first seen keeps that
 * claim as the flow's path. eslogger's lines are read some seconds after the events they report: the exec that
 * started the instance (dated before the flow was first seen) can be read after the flow was sampled. The kernel had
 * then not given the path the flow took: a later `exec cat >&3` must not make the claim the row's code identity.
 */
import { expect, it } from 'vitest';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld } from './testing/world.js';
import type { FlowObservation, MutableFlowStore } from '../process_network_flows/flow-store.js';

const CHROME = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
const UP = '/Users/eve/.cache/up';
const PID = 821;
const START = NOW - 3600;

it('argv[0] claimed Chrome, the flow was sampled, then eslogger\'s earlier exec line was read, then the instance exec\'d /bin/cat: the row is not Chrome\'s', () => {
  const world = buildWorld({
    signing: [
      { path: CHROME, cls: 'developer_id', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' },
      { path: UP, cls: 'unsigned', cdhash: 'ee77' },
      { path: '/bin/cat', cls: 'apple_platform', signingId: 'com.apple.cat', cdhash: 'ca75' },
    ],
  });
  // ps alone so far: comm (argv[0]) taken as the path
  world.processes.observe({ pid: PID, processStart: START, ppid: 1, uid: 501, path: CHROME, source: 'ps', seenAt: NOW - 603 });
  const sample = (bytesOut: number): FlowObservation => {
    const rec = world.processes.get(PID, START)!;
    return {
      pid: PID, processName: rec.name, process: { processStart: START, ppid: rec.ppid, uid: rec.uid, path: rec.path, name: rec.name },
      protocol: 'tcp', family: 4, localAddress: '192.168.1.20', localPort: 50_821, remoteAddress: '198.51.100.77', remotePort: 443,
      state: 'Established', interface: 'en0', bytesIn: 20_000, bytesOut,
    };
  };
  (world.flows as MutableFlowStore).applySample([sample(MiB)], { at: NOW - 600, counters: 'cumulative' });
  // read a few seconds late: the exec (with its argv[0] claim) that started the image, dated before the sample
  world.processes.observe({ pid: PID, processStart: START, path: UP, args: [CHROME], cdhash: 'ee77', exec: true, source: 'eslogger', seenAt: NOW - 605 });
  // then `exec cat >&3`
  world.processes.observe({ pid: PID, processStart: START, path: '/bin/cat', args: ['cat'], signingId: 'com.apple.cat', platformBinary: true, exec: true, source: 'eslogger', seenAt: NOW - 590 });
  (world.flows as MutableFlowStore).applySample([sample(60 * MiB)], { at: NOW, counters: 'cumulative' });
  const rows = correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((r) => r.pid === PID);
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.filter((r) => r.browser === 1 || r.identity === 'team:EQHXZ8M8AV/com.google.Chrome').map((r) => [r.analytic, r.identity])).toEqual([]);
});
