/**
 * A host identity is bounded in UTF-8 bytes, not only in characters: PostgreSQL index entries hold 2704 bytes at
 * most, and a candidate's primary key (host id, candidate id) holds the host id twice, the prevalence host rows
 * next to two key texts. A line whose host id would not fit is refused whole by both stores alike, never fails the
 * batch (docs/fleet.md: never allowed to stop its source).
 */
import { describe, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { Store } from '../../fleet/store/store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { useTestDatabase } from '../helpers/pg.js';
import { DAY, MiB, T0, candidateLine, destinationLine, hostsOf } from './fleet-helpers.js';

// one database for the file: each test looks only at its own hosts' rows
const pgDatabase = useTestDatabase('host_id_bytes');

/** n 3-byte characters, spread so that they do not compress. */
const cjk = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String.fromCharCode(0x4e00 + (((i + from) * 7919) % 0x5000))).join('');

describe('a host identity of 512 characters of 3 bytes each', () => {
  const backends: [string, () => Promise<Store>][] = [
    ['sqlite', () => import('../../fleet/store/sqlite/sqlite-store.js').then((m) => m.openSqliteStore(':memory:'))],
    ['postgres', () => openPostgresStore(pgDatabase().url)],
  ];
  it.each(backends)('%s: its lines are refused, the other lines of the batch applied', async (_, open) => {
    const [good] = hostsOf(1);
    const long = { uuid: cjk(512), hostname: 'long.local' };
    const t = T0 + 10 * DAY;
    const app = { ...APPS.rclone, identity: `team:X/${cjk(240, 3)}` };
    const sni = `${cjk(240, 7)}.example.com`;
    const spec = (host: typeof good) => ({ analytic: 'AN1415' as const, host: host!, app, remote_address: '52.217.99.1', server_name: sni, bytes_out: 90 * MiB, first_seen: t - 400, flow_id: cjk(500, 11) });
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
      const r = await ingest.ingestLines([candidateLine(spec(long), t), destinationLine(long, t, sni, app), candidateLine(spec(good), t), destinationLine(good!, t, sni, app)], { kind: 'test', id: 'x' });
      expect(r.quarantined).toBe(2);
      expect((await store.candidates.pendingUpTo(4e9, 100)).map((c) => c.hostId)).toEqual([good!.uuid]);
      expect((await store.quarantine.list(2)).map((q) => q.reason)).toEqual(['host identity longer than 512 bytes (UTF-8)', 'host identity longer than 512 bytes (UTF-8)']);
    } finally {
      await store.close();
    }
  }, 60_000);

  it.each(backends)('%s: a host identity of 512 bytes is kept, with the longest key texts and flow id', async (_, open) => {
    const host = { uuid: `${cjk(170)}ab`, hostname: 'h.local' };
    expect(Buffer.byteLength(host.uuid)).toBe(512);
    const t = T0 + 10 * DAY;
    const app = { ...APPS.rclone, identity: cjk(256, 3) };
    const sni = cjk(256, 7);
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
      const lines = [
        candidateLine({ analytic: 'AN1415', host, app, remote_address: '52.217.99.1', server_name: sni, bytes_out: 90 * MiB, first_seen: t - 400, flow_id: cjk(512, 11) }, t),
        destinationLine(host, t, sni, app),
      ];
      const r = await ingest.ingestLines(lines, { kind: 'test', id: 'x' });
      expect(r.quarantined).toBe(0);
      expect((await store.candidates.pendingUpTo(4e9, 100)).filter((c) => c.hostId === host.uuid)).toHaveLength(1);
    } finally {
      await store.close();
    }
  }, 60_000);
});
