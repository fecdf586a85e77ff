/**
/**
 * The dns_names collector when tcpdump cannot be spawned (Linux without tcpdump: ENOENT arrives
 * as an 'error' event, then Node emits 'close' too).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/log.js';
import { createContext } from '../../../runtime/create-context.js';
import { createDnsNamesCollector, type DnsNamesCollector } from './collector.js';

const running: DnsNamesCollector[] = [];
const temps: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  while (temps.length) rmSync(temps.pop()!, { recursive: true, force: true });
});

function setup(makeTool?: (dir: string) => void) {
  const dir = mkdtempSync(path.join(tmpdir(), 'outflow-dns-review-'));
  temps.push(dir);
  makeTool?.(dir);
  const resolv = path.join(dir, 'resolv.conf');
  writeFileSync(resolv, 'nameserver 127.0.0.53\n');
  const ctx = createContext({ platform: 'linux', config: parseConfig({ tools: { dir }, dns_names: { resolv_conf: resolv, restart_backoff_max: 0.1 } }), log: silentLogger() });
  const collector = createDnsNamesCollector(ctx, { initialBackoffMs: 20 });
  running.push(collector);
  collector.start();
  return { ctx, collector };
}

describe('dns_names collector: tcpdump that cannot be spawned', () => {
  // back-off capped at 100 ms (dns_names.restart_backoff_max: 0.1): 20, 40, 80, then every 100 ms: ~16 restarts in 1.5 s.
  // Each failure scheduling two restarts doubles the spawns every cap period instead (2^n).
  for (const [what, makeTool] of [
    ['missing (ENOENT)', undefined],
    ['not executable (EACCES)', (dir: string) => { writeFileSync(path.join(dir, 'tcpdump'), '#!/bin/sh\n'); chmodSync(path.join(dir, 'tcpdump'), 0o644); }],
  ] as const) {
    it(`tcpdump ${what}: one restart per failure, back-off doubling`, async () => {
      const { ctx, collector } = setup(makeTool);
      await collector.ready();
      await new Promise((r) => setTimeout(r, 1500));
      const restarts = collector.stats().restarts;
      expect(ctx.health.rows().find((r) => r.component === 'dns_names')!.state).toMatch(/unavailable|permission_denied/);
      expect(restarts).toBeLessThanOrEqual(20);
    });
  }
});
