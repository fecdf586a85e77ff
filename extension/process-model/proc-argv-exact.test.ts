/** /proc's cmdline is the exact argv (split on NUL), not a whitespace-split listing. */
/**
 * review9: Linux /proc/PID/cmdline is argv split on NUL (refresh.ts readProcProcess), exact, yet setArgs flags every
 * 'proc' observation argsFromListing, so the whitespace heuristic swallows a script operand on every Linux process.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { isInteractiveShell } from './lineage.js';
import { createProcessModel } from './model.js';
import { readProcProcess } from './refresh.js';

it('/proc argv is exact: `bash -o vi /tmp/up.sh` read from /proc runs a script', async () => {
  // /proc keeps an argument with a space whole
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)', 'my file.sh']);
  try {
    await new Promise((r) => setTimeout(r, 200));
    expect((await readProcProcess(child.pid!))!.args).toContain('my file.sh');
  } finally {
    child.kill();
  }
  const processes = createProcessModel({ config: parseConfig({}), clock: fixedClock(1000), log: silentLogger() });
  const r = processes.observe({ pid: 950, processStart: 990, ppid: 900, uid: 1000, path: '/usr/bin/bash', name: 'bash', args: ['bash', '-o', 'vi', '/tmp/up.sh'], source: 'proc', seenAt: 1000 });
  expect({ argsFromListing: r.argsFromListing, interactive: isInteractiveShell(r) }).toEqual({ argsFromListing: undefined, interactive: false });
});
