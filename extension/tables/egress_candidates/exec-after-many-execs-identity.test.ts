/**
 * An instance that exec'd through more images than the process model remembers paths for (an env/nice/nohup chain,
 * each an exec in the same pid) before the uploader ran, then opened an upload and exec'd /bin/cat onto it: the
 * flow's path is the uploader's, given by the kernel (eslogger's exec) before the flow was first seen, so the row
 * keeps the uploader's identity, as it does after a single exec.
 */
import { expect, it } from 'vitest';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const START = NOW - 3600;
const UPLOADER = { pid: 800, processStart: START, ppid: 1, originalPpid: 1, responsiblePid: 800, path: '/bin/sh', tty: false };
const UP = '/Users/eve/.cache/up';

it.each([1, 12])('after %i other images exec\'d in the same pid, an unsigned uploader that exec\'d /bin/cat onto its upload keeps its identity', (hops) => {
  const world = buildWorld({
    processes: [UPLOADER],
    signing: [
      { path: UP, cls: 'unsigned', cdhash: 'ee99' },
      { path: '/bin/cat', cls: 'apple_platform', signingId: 'com.apple.cat', cdhash: 'ca75' },
    ],
  });
  // exec chain in the same pid, through images at distinct paths (copies of env, say), then the uploader
  for (let i = 0; i < hops; i++) {
    world.processes.observe({ pid: 800, processStart: START, path: `/Users/eve/.cache/hop${i}`, args: ['hop'], exec: true, source: 'eslogger', seenAt: START + 1 + i });
  }
  world.processes.observe({ pid: 800, processStart: START, path: UP, args: ['up'], cdhash: 'ee99', exec: true, source: 'eslogger', seenAt: START + 100 });
  const rec = world.processes.get(800, START)!;
  expect(rec.path).toBe(UP);
  (world.flows as import('../process_network_flows/flow-store.js').MutableFlowStore).applySample(
    [{ pid: 800, processName: rec.name, process: { processStart: START, ppid: rec.ppid, uid: rec.uid, path: rec.path, name: rec.name }, protocol: 'tcp', family: 4, localAddress: '192.168.1.20', localPort: 50_800, remoteAddress: '198.51.100.77', remotePort: 443, state: 'Established', interface: 'en0', bytesIn: 20_000, bytesOut: 60 * MiB }],
    { at: NOW - 600, counters: 'cumulative' },
  );
  // `exec cat >&3`, after the flow was first seen
  world.processes.observe({ pid: 800, processStart: START, path: '/bin/cat', args: ['cat'], signingId: 'com.apple.cat', platformBinary: true, exec: true, source: 'eslogger', seenAt: NOW - 590 });
  const rows = correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((r) => r.pid === 800);
  expect(rows.filter((r) => r.analytic === 'AN0082').map((r) => [r.path, r.signature_class, r.identity])).toEqual([[UP, 'unsigned', 'cdhash:ee99']]);
});
