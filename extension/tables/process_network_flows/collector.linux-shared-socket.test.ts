/**
 * A socket held by several processes (a child that inherited it across fork) is listed by ss with every holder,
 * newest process first (ss prepends each /proc entry it finds to the inode's list; seen with iproute2 6.1.0:
 * `users:(("python3",pid=14649,fd=4),("python3",pid=14606,fd=4))` after pid 14606 forked 14649).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { createContext } from '../../runtime/create-context.js';
import { startSsCollector } from './collector.linux.js';

const PARENT = 3_999_901;
const CHILD = 3_999_902;
const INFO = '\t cubic wscale:7,7 rto:204 rtt:0.03/0.01 mss:32768 cwnd:10 bytes_sent:10000 bytes_acked:10001 segs_out:3 segs_in:2';
const line = (users: string) => `ESTAB 0      0      10.0.8.14:46820 203.0.113.80:443 users:(${users})`;
const SAMPLES = [
  `tcp   ${line(`("uploader",pid=${PARENT},fd=4)`)}\n${INFO}\n`,
  `tcp   ${line(`("uploader",pid=${CHILD},fd=4),("uploader",pid=${PARENT},fd=4)`)}\n${INFO}\n`,
];

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe.skipIf(process.platform !== 'linux')('ss collector: a socket shared after fork', () => {
  it('stays one flow of the process that had it, with its bytes counted once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-ss-shared-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    SAMPLES.forEach((s, i) => writeFileSync(path.join(dir, `sample${i}`), s));
    const calls = path.join(dir, 'calls');
    // sample 0 once, then sample 1 for ever (the child keeps the inherited socket open)
    writeFileSync(path.join(dir, 'ss'), `#!/bin/sh\necho x >> "${calls}"\nn=$(wc -l < "${calls}")\nif [ "$n" -le 1 ]; then cat "${dir}/sample0"; else cat "${dir}/sample1"; fi\n`);
    chmodSync(path.join(dir, 'ss'), 0o755);
    const ctx = createContext({ platform: 'linux', config: parseConfig({ flows: { sample_interval: 0.1 }, tools: { dir } }), log: silentLogger() });
    const c = startSsCollector(ctx);
    c.start();
    cleanups.push(() => c.stop());
    const deadline = Date.now() + 10_000;
    while (!(existsSync(calls) && readFileSync(calls, 'utf8').split('\n').length > 4) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await c.stop();
    const rows = ctx.flows.rows().filter((r) => r.remote_port === 443);
    expect(rows.map((r) => [r.pid, r.closed, r.bytes_out])).toEqual([[PARENT, 0, 10001]]);
  }, 20_000);
});
