/**
 * A socket handed to another process: the holder forks, the child keeps the inherited socket and the parent closes
 * its copy (or exits). ss then lists the child alone. The child's flow counts what went through the socket after it
 * took it over, not the socket's whole total again: the parent's flow already counted those bytes.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { createContext } from '../../runtime/create-context.js';
import { startSsCollector } from './collector.linux.js';

const PARENT = 3_999_911;
const CHILD = 3_999_912;
const info = (acked: number) => `\t cubic wscale:7,7 rto:204 rtt:0.03/0.01 mss:32768 cwnd:10 bytes_sent:${acked - 1} bytes_acked:${acked} segs_out:3 segs_in:2`;
const line = (users: string) => `ESTAB 0      0      10.0.8.14:46830 203.0.113.80:443 users:(${users}) ino:81234 sk:1a2b cgroup:/user.slice <->`;
const SAMPLES = [
  `tcp   ${line(`("uploader",pid=${PARENT},fd=4)`)}\n${info(10_001)}\n`,
  `tcp   ${line(`("uploader",pid=${CHILD},fd=4),("uploader",pid=${PARENT},fd=4)`)}\n${info(20_001)}\n`,
  `tcp   ${line(`("uploader",pid=${CHILD},fd=4)`)}\n${info(30_001)}\n`,
];

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe.skipIf(process.platform !== 'linux')('ss collector: a socket handed over to a child', () => {
  it('counts every byte once across the parent\'s and the child\'s flows', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'outflow-ss-handover-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    SAMPLES.forEach((s, i) => writeFileSync(path.join(dir, `sample${i}`), s));
    const calls = path.join(dir, 'calls');
    // sample 0, then 1, then 2 for ever
    writeFileSync(path.join(dir, 'ss'), `#!/bin/sh\necho x >> "${calls}"\nn=$(wc -l < "${calls}")\nif [ "$n" -le 1 ]; then cat "${dir}/sample0"; elif [ "$n" -le 2 ]; then cat "${dir}/sample1"; else cat "${dir}/sample2"; fi\n`);
    chmodSync(path.join(dir, 'ss'), 0o755);
    const ctx = createContext({ platform: 'linux', config: parseConfig({ flows: { sample_interval: 0.1 }, tools: { dir } }), log: silentLogger() });
    const c = startSsCollector(ctx);
    c.start();
    cleanups.push(() => c.stop());
    const deadline = Date.now() + 10_000;
    while (!(existsSync(calls) && readFileSync(calls, 'utf8').split('\n').length > 5) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await c.stop();
    const rows = ctx.flows.rows().filter((r) => r.remote_port === 443);
    expect(rows.map((r) => [r.pid, r.closed, r.bytes_out]).sort()).toEqual([[CHILD, 0, 10_000], [PARENT, 1, 20_001]].sort());
  }, 20_000);
});
