/**
 * The other way round from `exec cat >&3`: an Apple shell opens the connection (bash's /dev/tcp), waits until the flow
 * is sampled, then execs unsigned code that writes the upload into the inherited socket. The bytes are the unsigned
 * code's: its identity must still be judged (AN0082: unsigned, long-lived/high-throughput; AN0032: its identity in
 * the chain), as it was before exec-onto-socket identities, not laundered into /bin/bash's.
 */
import { expect, it } from 'vitest';
import { parseQueryContext } from '../../sdk/query-context.js';
import { correlate } from './correlate.js';
import { correlationOptions } from './table.js';
import { MiB, NOW, buildWorld } from './testing/world.js';

const SHELL = { pid: 810, processStart: NOW - 3600, ppid: 1, originalPpid: 1, responsiblePid: 810, path: '/bin/bash', tty: false };
const EVIL = '/Users/eve/.cache/up';

it('bash opened the socket, then exec\'d unsigned code that sent 60 MiB: AN0082 names the unsigned code', () => {
  const world = buildWorld({
    processes: [SHELL],
    signing: [
      { path: SHELL.path, cls: 'apple_platform', signingId: 'com.apple.bash', cdhash: 'ba5h' },
      { path: EVIL, cls: 'unsigned', cdhash: 'ee99' },
    ],
    flows: [{ pid: 810, processStart: SHELL.processStart, remote: '198.51.100.77', bytesOut: 60 * MiB, bytesIn: 20_000, firstSeen: NOW - 600, open: true }],
  });
  // eslogger: the instance exec'd the unsigned uploader after the flow was first seen
  world.processes.observe({ pid: 810, processStart: SHELL.processStart, path: EVIL, args: [EVIL], cdhash: 'ee99', exec: true, source: 'eslogger', seenAt: NOW - 590 });
  const rows = correlate(world, correlationOptions(parseQueryContext(''))).rows;
  expect(rows.filter((r) => r.analytic === 'AN0082').map((r) => [r.signature_class, r.identity])).toEqual([['unsigned', 'cdhash:ee99']]);
  const an0032 = rows.find((r) => r.analytic === 'AN0032')!;
  expect(JSON.parse(an0032.process_chain).map((l: { identity: string }) => l.identity)).toContain('cdhash:ee99');
});
