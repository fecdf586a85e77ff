/**
 * On PostgreSQL, finalization reads pending candidates outside its transaction and marks them inside it; a row whose
 * version changed in between fails the whole batch (it is rolled back, to be judged again). A flow that stays open is
 * reported again on every run of the candidates pack and is due while it runs: with ingest going on beside the
 * every-minute finalization, its next version lands between a run's read and its commit. That must not keep the
 * other candidates of the batch (a closed upload of another host here) from ever being finalized.
 */
import { expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { Store } from '../../fleet/store/store.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { useTestDatabase } from '../helpers/pg.js';
import { DAY, HOUR, MiB, T0, candidateLine, hostsOf, statusLines } from './fleet-helpers.js';

const testDb = useTestDatabase('open_flow_ingest');
const wall = { now: () => new Date(4_000_000_000_000), unix: () => 4_000_000_000, ms: () => 4_000_000_000_000 };

it('an open flow reported every minute, ingested while each finalization judges it, does not hold back the batch', async () => {
  const analytics = defaultAnalyticsConfig();
  const store = await openPostgresStore(testDb().url, { poolSize: 3 });
  try {
    const hosts = hostsOf(12);
    const at = T0 + 10 * DAY + 9 * HOUR;
    const ingest = createIngestService({ store, analytics, quarantineFile: null, clock: wall });
    const open = (t: number) =>
      candidateLine({ analytic: 'AN0082', host: hosts[0]!, app: APPS.syncAgent, flow_id: 'open-upload', remote_address: '192.0.2.5', server_name: 'relay.fresh-domain.org', bytes_out: (t - at + 3600) * 100_000, bytes_in: MiB / 4, duration: t - at + 3600, first_seen: at - 3600 }, t, Math.floor((t - at) / 60) + 1);
    const closed = candidateLine({ analytic: 'AN1415', host: hosts[1]!, app: APPS.vscode, flow_id: 'closed-upload', remote_address: '192.0.2.77', server_name: 'up.lonely-drop.com', bytes_out: 30 * MiB, first_seen: at - 100, duration: 60 }, at);
    await ingest.ingestLines([...statusLines(hosts, T0), open(at), closed, open(at + 60), ...statusLines(hosts.slice(2), at + 121)], { kind: 'test', id: 'a' });

    // fleet serve: the pack's next report of the open flow is ingested while finalization judges it
    let next = at + 120;
    const racing = new Proxy(store, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (prop !== 'candidates') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        const c = value as Store['candidates'];
        return {
          upsertPending: (rows: Parameters<Store['candidates']['upsertPending']>[0]) => c.upsertPending(rows),
          countPending: () => c.countPending(),
          markFinalized: (o: Parameters<Store['candidates']['markFinalized']>[0]) => c.markFinalized(o),
          expire: (b: number) => c.expire(b),
          pendingUpTo: async (cutoff: number, limit: number) => {
            const rows = await c.pendingUpTo(cutoff, limit);
            await ingest.ingestLines([open(next)], { kind: 'test', id: `pack-${next}` });
            next += 60;
            return rows;
          },
        } satisfies Store['candidates'];
      },
    });
    const errors: string[] = [];
    for (let run = 0; run < 3; run++) await finalizePending(racing, { analytics, clock: wall }).catch((e: Error) => errors.push(e.message));
    expect(errors).toEqual([]);
    const dets = await store.detections.list({ limit: 100 });
    expect(dets.map((d) => d.flow.flow_id).sort()).toEqual(['closed-upload', 'open-upload']);
  } finally {
    await store.close();
  }
}, 120_000);
