import { teamVouched } from '../../../src/classify/signing-class.js';
import { refreshProcessSnapshot } from '../../process-model/refresh.js';
import type { Collector, CollectorFactory, ExtensionContext, SigningRow } from '../../runtime/context.js';
import { createIntervalCollector } from '../../runtime/interval-collector.js';
import { runningExecutables } from './table.js';

const SIGNED = new Set<SigningRow['signature_class']>(['apple_platform', 'apple', 'app_store', 'developer_id', 'development', 'adhoc']);

/**
 * How long the first sample waits for the signing queue before `outflow query` may answer (ms). Every
 * check is bounded by signing.timeout_ms, so the queue always drains; this only caps a host with hundreds
 * of running executables. Generates never wait on it.
 */
export function firstSampleWaitMs(timeoutMs: number): number {
  return Math.min(15_000, Math.max(5_000, timeoutMs * 3));
}

/**
 * Copy code identity from the signing cache into process records that have none (no eslogger): lineage
 * needs it to recognise terminal apps, and egress candidates report it per chain link.
 */
export function enrichProcessIdentity(ctx: ExtensionContext): number {
  let n = 0;
  const seenAt = ctx.clock.unix();
  for (const p of ctx.processes.running()) {
    if (!p.path || p.signingId !== null || p.cdhash !== null) continue;
    const row = ctx.signing.lookup(p.path);
    if (!row || !SIGNED.has(row.signature_class)) continue;
    ctx.processes.observe({
      pid: p.pid,
      processStart: p.processStart,
      signingId: row.signing_id || null,
      teamId: (teamVouched(row.signature_class) && row.team_id) || null,
      cdhash: row.cdhash || null,
      platformBinary: row.signature_class === 'apple_platform',
      source: p.path ? 'ps' : 'proc',
      seenAt,
    });
    n++;
  }
  return n;
}

/**
 * Warms the signing cache in the background: every interval, requests checks for every running
 * executable (cached ones are only re-stat'ed) and copies identities into the process model.
 */
export function createSigningCollector(ctx: ExtensionContext): Collector {
  let first = true;
  const waitMs = firstSampleWaitMs(ctx.config.signing.timeout_ms);
  const health = ctx.health.component('code_signing');
  return createIntervalCollector({
    name: 'code_signing',
    intervalMs: ctx.config.processes.sample_interval * 1000,
    health,
    log: ctx.log.child({ collector: 'code_signing' }),
    async tick(signal) {
      if (ctx.processes.size === 0) await refreshProcessSnapshot(ctx);
      const paths = runningExecutables(ctx);
      ctx.signing.request(paths);
      if (first) {
        first = false;
        // The first sample should carry real classes, but a hung codesign must not hold `outflow query`.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          ctx.signing.idle(),
          new Promise<void>((r) => {
            timer = setTimeout(r, waitMs);
            signal.addEventListener('abort', () => r(), { once: true });
          }),
        ]);
        clearTimeout(timer);
      }
      enrichProcessIdentity(ctx);
      const checked = paths.filter((p) => (ctx.signing.lookup(p)?.checked_at ?? 0) > 0).length;
      health.event(1);
      health.running(`${checked} of ${paths.length} running executables checked`);
    },
  });
}

export const signingCollector: CollectorFactory = {
  name: 'code_signing',
  platforms: ['darwin', 'linux'],
  create: createSigningCollector,
};
