/**
 * A closed flow stays in process_network_flows for flows.retention after its process exited, and the candidates
 * query reports it on every run meanwhile: its group root must not change between those runs when an exited
 * ancestor lineage walks through reaches processes.exited_retention (the fleet suppresses per group root identity).
 */
import { expect, it } from 'vitest';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld, type WorldSpec } from './testing/world.js';

// A LaunchAgent's script started the uploader (`nohup up &`) and exited; the uploader ran 40 minutes, then exited too.
const launcher = { pid: 300, processStart: NOW - 2500, ppid: 1, originalPpid: 1, responsiblePid: 300, path: '/bin/bash', args: ['/bin/bash', '/Users/eve/Library/agent.sh'], exitedAt: NOW - 1750 };
const uploader = { pid: 310, processStart: NOW - 2400, ppid: 1, originalPpid: 300, responsiblePid: 300, path: '/Users/eve/Library/.up/up', exitedAt: NOW - 20 };
const signing: WorldSpec['signing'] = [
  { path: launcher.path, cls: 'apple_platform', signingId: 'com.apple.bash' },
  { path: uploader.path, cls: 'unsigned', cdhash: 'ee11' },
];

it('a closed 60 MiB upload keeps its AN0082 group root across two pack runs a minute apart after its process exited', () => {
  const world = buildWorld({ processes: [launcher, uploader], signing, flows: [{ pid: 310, processStart: uploader.processStart, remote: '198.51.100.7', bytesOut: 60 * MiB, bytesIn: MiB, firstSeen: NOW - 600, lastSeen: NOW - 30 }] });
  const run = () => correlate(world, correlationOptions(parseQueryContext(''))).rows.filter((x) => x.analytic === 'AN0082').map((x) => [x.group_root_pid, x.group_root_kind, x.group_root_identity]);
  world.processes.sweep(NOW);
  const first = run();
  expect(first).toEqual([[300, 'launchd_job', 'team:APPLE/com.apple.bash']]);
  world.processes.sweep(NOW + 60); // the launcher exited NOW − 1750: past exited_retention at NOW + 50
  expect(run()).toEqual(first);
});
