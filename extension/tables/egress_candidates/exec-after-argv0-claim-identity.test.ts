/**
 * Without a kernel path for an instance (osquery core not answering, a process eslogger did not see start), its path is
 * ps's argv[0], the process's own claim (`exec -a "…/Google Chrome" ./up`), and a flow first seen then keeps that
 * claim. An exec eslogger reports afterwards (`exec cat >&3`) must not turn the claim into the row's code identity:
 * only a path the kernel had given the instance when the flow was first seen names the uploader. eslogger's lines are
 * read some seconds after the events they report, so the exec that started the instance (dated before the flow was
 * first seen) can be read after the flow was sampled: the kernel had then not given the path the flow took.
 */
import { expect, it } from 'vitest';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld } from './testing/world.js';
import type { FlowObservation, MutableFlowStore } from '../process_network_flows/flow-store.js';

const CHROME = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
const UP = '/Users/eve/.cache/up';
const START = NOW - 3600;

/** An instance ps knows only by its argv[0] claim (Chrome) at `psSeenAt`, and a sampler of its one upload flow. */
function claimedChromeWorld(pid: number, psSeenAt: number) {
  const world = buildWorld({
    signing: [
      { path: CHROME, cls: 'developer_id', teamId: 'EQHXZ8M8AV', signingId: 'com.google.Chrome' },
      { path: UP, cls: 'unsigned', cdhash: 'ee77' },
      { path: '/bin/cat', cls: 'apple_platform', signingId: 'com.apple.cat', cdhash: 'ca75' },
    ],
  });
  // ps alone: comm (argv[0]) taken as the path
  world.processes.observe({ pid, processStart: START, ppid: 1, uid: 501, path: CHROME, source: 'ps', seenAt: psSeenAt });
  const sample = (bytesOut: number, at: number) => {
    const rec = world.processes.get(pid, START)!;
    const obs: FlowObservation = {
      pid, processName: rec.name, process: { processStart: START, ppid: rec.ppid, uid: rec.uid, path: rec.path, name: rec.name },
      protocol: 'tcp', family: 4, localAddress: '192.168.1.20', localPort: 50_000 + pid, remoteAddress: '198.51.100.77', remotePort: 443,
      state: 'Established', interface: 'en0', bytesIn: 20_000, bytesOut,
    };
    (world.flows as MutableFlowStore).applySample([obs], { at, counters: 'cumulative' });
  };
  const execCat = (seenAt: number) =>
    world.processes.observe({ pid, processStart: START, path: '/bin/cat', args: ['cat'], signingId: 'com.apple.cat', platformBinary: true, exec: true, source: 'eslogger', seenAt });
  const rows = () => correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((r) => r.pid === pid);
  return { world, sample, execCat, rows };
}

it('argv[0] claimed Chrome, the flow was sampled, then the instance exec\'d /bin/cat: the row is not Chrome\'s (not a browser)', () => {
  const { sample, execCat, rows } = claimedChromeWorld(820, NOW - 700);
  sample(MiB, NOW - 600);
  // the kernel's first word on the instance: an exec of /bin/cat onto the socket
  execCat(NOW - 590);
  sample(60 * MiB, NOW);
  // not a browser: AN1415 (TLS upload ≥ 10 MiB, not browser) is not suppressed by the claim
  expect(rows().map((r) => [r.analytic, r.browser, r.identity]).sort()).toEqual([
    ['AN0032', 0, 'team:APPLE/com.apple.cat'],
    ['AN1415', 0, 'team:APPLE/com.apple.cat'],
  ]);
});

it('argv[0] claimed Chrome, the flow was sampled, then eslogger\'s earlier exec line was read, then the instance exec\'d /bin/cat: the row is not Chrome\'s', () => {
  const { world, sample, execCat, rows } = claimedChromeWorld(821, NOW - 603);
  sample(MiB, NOW - 600);
  // read a few seconds late: the exec (with its argv[0] claim) that started the image, dated before the sample
  world.processes.observe({ pid: 821, processStart: START, path: UP, args: [CHROME], cdhash: 'ee77', exec: true, source: 'eslogger', seenAt: NOW - 605 });
  // then `exec cat >&3`
  execCat(NOW - 590);
  sample(60 * MiB, NOW);
  const found = rows();
  expect(found.length).toBeGreaterThan(0);
  expect(found.filter((r) => r.browser === 1 || r.identity === 'team:EQHXZ8M8AV/com.google.Chrome').map((r) => [r.analytic, r.identity])).toEqual([]);
});
