/**
 * Without a kernel path for an instance (osquery core not answering, a process eslogger did not see start), its path is
 * ps's argv[0], the process's own claim (`exec -a "…/Google Chrome" ./up`), and a flow first seen then keeps that
 * claim. An exec eslogger reports afterwards (`exec cat >&3`) must not turn the claim into the row's code identity:
 * only a path the kernel had given the instance when the flow was first seen names the uploader.
 */
import { expect, it } from 'vitest';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld } from './testing/world.js';
import type { FlowObservation, MutableFlowStore } from '../process_network_flows/flow-store.js';

const CHROME = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
const PID = 820;
const START = NOW - 3600;

it('argv[0] claimed Chrome, the flow was sampled, then the instance exec\'d /bin/cat: the row is not Chrome\'s (not a browser)', () => {
  const world = buildWorld({
    signing: [
      { path: CHROME, cls: 'developer_id', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' },
      { path: '/bin/cat', cls: 'apple_platform', signingId: 'com.apple.cat', cdhash: 'ca75' },
    ],
  });
  // ps alone: comm (argv[0]) taken as the path
  world.processes.observe({ pid: PID, processStart: START, ppid: 1, uid: 501, path: CHROME, source: 'ps', seenAt: NOW - 700 });
  const sample = (bytesOut: number): FlowObservation => {
    const rec = world.processes.get(PID, START)!;
    return {
      pid: PID, processName: rec.name, process: { processStart: START, ppid: rec.ppid, uid: rec.uid, path: rec.path, name: rec.name },
      protocol: 'tcp', family: 4, localAddress: '192.168.1.20', localPort: 50_820, remoteAddress: '198.51.100.77', remotePort: 443,
      state: 'Established', interface: 'en0', bytesIn: 20_000, bytesOut,
    };
  };
  (world.flows as MutableFlowStore).applySample([sample(MiB)], { at: NOW - 600, counters: 'cumulative' });
  // the kernel's first word on the instance: an exec of /bin/cat onto the socket
  world.processes.observe({ pid: PID, processStart: START, path: '/bin/cat', args: ['cat'], signingId: 'com.apple.cat', platformBinary: true, exec: true, source: 'eslogger', seenAt: NOW - 590 });
  (world.flows as MutableFlowStore).applySample([sample(60 * MiB)], { at: NOW, counters: 'cumulative' });
  const rows = correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((r) => r.pid === PID);
  // not a browser: AN1415 (TLS upload ≥ 10 MiB, not browser) is not suppressed by the claim
  expect(rows.map((r) => [r.analytic, r.browser, r.identity]).sort()).toEqual([
    ['AN0032', 0, 'team:APPLE/com.apple.cat'],
    ['AN1415', 0, 'team:APPLE/com.apple.cat'],
  ]);
});
