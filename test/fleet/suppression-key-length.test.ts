/**
 * A candidate whose group root has no code identity is suppressed by the root's path (fleet/rules/evidence.ts
 * suppressionKey), which ingest keeps up to MAX_PATH_TEXT: the detection it fires is stored and found again by
 * both stores, PostgreSQL's index entries (2704 bytes at most) included.
 */
import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { Store } from '../../fleet/store/store.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { useTestDatabase } from '../helpers/pg.js';
import { DAY, MiB, T0, candidateLine, hostsOf, memoryStore, runPipeline, statusLines } from './fleet-helpers.js';

const pgDatabase = useTestDatabase('suppression_key');

describe('a group root known by a long path', () => {
  const backends: [string, () => Promise<Store>][] = [
    ['sqlite', () => memoryStore()],
    ['postgres', () => openPostgresStore(pgDatabase().url)],
  ];
  it.each(backends)('%s: finalization stores its detection and folds the next flow into it', async (_, open) => {
    const hosts = hostsOf(12);
    const t = T0 + 10 * DAY;
    // text that does not compress (index entries are compressed first), as a host may send it
    let rootPath = '/Users/Shared/';
    for (let i = 0; rootPath.length < 4000; i++) rootPath += ((i * 2654435761) >>> 0).toString(36);
    const root = { pid: 4000, path: rootPath, identity: '', signature_class: 'unsigned' };
    const flow = (first: number, pid: number) =>
      candidateLine(
        {
          analytic: 'AN1415', host: hosts[0]!, app: APPS.rclone, root, pid, remote_address: '52.217.99.1', server_name: 'old-dump-bucket.s3.amazonaws.com', bytes_out: 90 * MiB, first_seen: first,
          precursor: { kind: 'archive', time: first - 100, path: '/private/tmp/x.zip', category: 'archive:zip', tier: 0, pid: 4900 }, reasons: ['archive_precursor', 'upload_shaped', 'non_browser', 'encrypted'],
        },
        first + 400,
      );
    const store = await open();
    try {
      const first = await runPipeline(store, [[...statusLines(hosts, T0), flow(t - 400, 4901)]]);
      expect(first.detections).toHaveLength(1);
      expect(first.detections[0]!.suppression_key).toContain(rootPath);
      // a second flow of the same group within the suppression window: the same detection, counted twice
      const second = await runPipeline(store, [[flow(t + 600, 4902)]]);
      expect(second.detections.map((d) => d.count)).toEqual([2]);
    } finally {
      await store.close();
    }
  }, 60_000);
});
