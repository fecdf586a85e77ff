/**
 * A socket that changes hands between processes, through the ss collector (a fake ss on the tool dir playing samples):
 * - held by several processes (a child that inherited it across fork), ss lists every holder, newest process first (ss
 *   prepends each /proc entry it finds to the inode's list; seen with iproute2 6.1.0:
 *   `users:(("python3",pid=14649,fd=4),("python3",pid=14606,fd=4))` after pid 14606 forked 14649): it stays one flow of
 *   the process that had it;
 * - handed over (the parent closes its copy or exits, ss lists the child alone): the child's flow counts what went
 *   through the socket after it took it over, not the socket's whole total again.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { createContext } from '../../runtime/create-context.js';
import type { FlowRow } from '../../runtime/context.js';
import { startSsCollector } from './collector.linux.js';

const info = (acked: number) => `\t cubic wscale:7,7 rto:204 rtt:0.03/0.01 mss:32768 cwnd:10 bytes_sent:${acked - 1} bytes_acked:${acked} segs_out:3 segs_in:2`;
const users = (...pids: number[]) => pids.map((pid) => `("uploader",pid=${pid},fd=4)`).join(',');

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Run the collector over `samples` (one ss call each, the last repeated) until `calls` calls were made; its flows to :443. */
async function flowsOver(samples: readonly string[], calls: number): Promise<FlowRow[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-ss-owners-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  samples.forEach((s, i) => writeFileSync(path.join(dir, `sample${i}`), s));
  const log = path.join(dir, 'calls');
  writeFileSync(path.join(dir, 'ss'), `#!/bin/sh\necho x >> "${log}"\nn=$(wc -l < "${log}")\nif [ "$n" -gt ${samples.length} ]; then n=${samples.length}; fi\ncat "${dir}/sample$((n - 1))"\n`);
  chmodSync(path.join(dir, 'ss'), 0o755);
  const ctx = createContext({ platform: 'linux', config: parseConfig({ flows: { sample_interval: 0.1 }, tools: { dir } }), log: silentLogger() });
  const c = startSsCollector(ctx);
  c.start();
  cleanups.push(() => c.stop());
  const deadline = Date.now() + 10_000;
  while (!(existsSync(log) && readFileSync(log, 'utf8').split('\n').length > calls) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await c.stop();
  return ctx.flows.rows().filter((r) => r.remote_port === 443);
}

describe.skipIf(process.platform !== 'linux')('ss collector: a socket that changes hands', () => {
  it('shared after fork: stays one flow of the process that had it, with its bytes counted once', async () => {
    const [parent, child] = [3_999_901, 3_999_902];
    const line = (pids: number[]) => `tcp   ESTAB 0      0      10.0.8.14:46820 203.0.113.80:443 users:(${users(...pids)})\n${info(10_001)}\n`;
    const rows = await flowsOver([line([parent]), line([child, parent])], 4);
    expect(rows.map((r) => [r.pid, r.closed, r.bytes_out])).toEqual([[parent, 0, 10001]]);
  }, 20_000);

  it('handed over to the child: counts every byte once across the parent\'s and the child\'s flows', async () => {
    const [parent, child] = [3_999_911, 3_999_912];
    const line = (pids: number[], acked: number) => `tcp   ESTAB 0      0      10.0.8.14:46830 203.0.113.80:443 users:(${users(...pids)}) ino:81234 sk:1a2b cgroup:/user.slice <->\n${info(acked)}\n`;
    const rows = await flowsOver([line([parent], 10_001), line([child, parent], 20_001), line([child], 30_001)], 5);
    expect(rows.map((r) => [r.pid, r.closed, r.bytes_out]).sort()).toEqual([[child, 0, 10_000], [parent, 1, 20_001]].sort());
  }, 20_000);
});
