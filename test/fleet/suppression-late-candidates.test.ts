/**
 * SPEC §4 suppression: one detection per (host, analytic, group root identity, destination key) per 24 h; later
 * flows update it. A candidate delivered late (its host's logs arrive after a newer detection of the same key was
 * made) must fold into the detection whose 24 h it falls in, not open another one.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { finalizePending } from '../../fleet/rules/finalize.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, MiB, T0, candidateLine, hostsOf, memoryStore, statusLines } from './fleet-helpers.js';

const analytics = defaultAnalyticsConfig();
const hosts = hostsOf(12);
const at = T0 + 10 * DAY;
const src = { kind: 'test', id: 'a' };
const upload = (flow_id: string, t: number, mib = 30, first = t - 200) =>
  candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'u.lonely.com', bytes_out: mib * MiB, first_seen: first, flow_id }, t);
const baseline = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];

/**
 * Each delivery ingested and then finalized, as a running aggregator sees lines that arrive apart, into a store of
 * its own; the detections, oldest first.
 */
async function deliver(deliveries: readonly string[][]): Promise<{ created_at: number; count: number; mib: number; flows: string[] }[]> {
  const store = await memoryStore();
  try {
    const ingest = createIngestService({ store, analytics, quarantineFile: null });
    for (const lines of deliveries) {
      await ingest.ingestLines(lines, src);
      await finalizePending(store, { analytics, flush: true });
    }
    const all = await store.detections.list({ limit: 100 });
    return all.map((d) => ({ created_at: d.created_at, count: d.count, mib: d.bytes_out_total / MiB, flows: [...d.flow_ids].sort() })).sort((a, b) => a.created_at - b.created_at);
  } finally {
    await store.close();
  }
}

/** Two windows: f1 (+f3 at 1 h) at `at`, f2 (+f4 at 31 h) at 30 h. */
const twoWindows = [
  { created_at: at, count: 2, mib: 60, flows: ['f1', 'f3'] },
  { created_at: at + 30 * HOUR, count: 2, mib: 60, flows: ['f2', 'f4'] },
];

describe('suppression windows and late candidates', () => {
  it('a late flow inside the first detection\'s 24 h folds into it, though a newer detection of the key exists', async () => {
    expect(await deliver([[...baseline, upload('f1', at), upload('f2', at + 30 * HOUR)], [upload('f3', at + HOUR)]])).toEqual([
      { created_at: at, count: 2, mib: 60, flows: ['f1', 'f3'] },
      { created_at: at + 30 * HOUR, count: 1, mib: 30, flows: ['f2'] },
    ]);
  }, 60_000);

  it('late flows of one batch each go to their own window (the first one does not take the newer window\'s place)', async () => {
    expect(await deliver([[...baseline, upload('f1', at), upload('f2', at + 30 * HOUR)], [upload('f3', at + HOUR), upload('f4', at + 31 * HOUR)]])).toEqual(twoWindows);
  }, 60_000);

  it('the same flows in time order give the same detections (replay equals live)', async () => {
    expect(await deliver([[...baseline, upload('f1', at), upload('f3', at + HOUR), upload('f2', at + 30 * HOUR), upload('f4', at + 31 * HOUR)]])).toEqual(twoWindows);
  }, 60_000);

  it('a window lasts 24 h from its creation: a flow 1 s before its end folds in, one at 24 h opens a new detection', async () => {
    expect(await deliver([[...baseline, upload('f1', at), upload('f2', at + 24 * HOUR - 1)]])).toEqual([{ created_at: at, count: 2, mib: 60, flows: ['f1', 'f2'] }]);
    expect(await deliver([[...baseline, upload('f1', at), upload('f2', at + 24 * HOUR)]])).toEqual([
      { created_at: at, count: 1, mib: 30, flows: ['f1'] },
      { created_at: at + 24 * HOUR, count: 1, mib: 30, flows: ['f2'] },
    ]);
  }, 60_000);

  it('a late flow folds into a detection created less than 24 h after it, not one created 24 h after it', async () => {
    expect(await deliver([[...baseline, upload('f2', at + 24 * HOUR - 1)], [upload('f1', at)]])).toEqual([{ created_at: at + 24 * HOUR - 1, count: 2, mib: 60, flows: ['f1', 'f2'] }]);
    expect(await deliver([[...baseline, upload('f2', at + 24 * HOUR)], [upload('f1', at)]])).toEqual([
      { created_at: at, count: 1, mib: 30, flows: ['f1'] },
      { created_at: at + 24 * HOUR, count: 1, mib: 30, flows: ['f2'] },
    ]);
  }, 60_000);

  it('a newer version of a flow already counted in a detection updates it there, not in a nearer window', async () => {
    const got = await deliver([
      [...baseline, upload('n', at + 30 * HOUR)],
      [upload('x', at + 8 * HOUR, 30, at + 8 * HOUR - 200)], // 22 h before n: folds into n's detection
      [upload('y', at + 5 * HOUR)], // 25 h before n: a detection of its own, the nearest window before x's next version
      [upload('x', at + 9 * HOUR, 40, at + 8 * HOUR - 200)], // the same flow x, more bytes
    ]);
    expect(got).toEqual([
      { created_at: at + 5 * HOUR, count: 1, mib: 30, flows: ['y'] },
      { created_at: at + 30 * HOUR, count: 2, mib: 30 + 40, flows: ['n', 'x'] },
    ]);
  }, 60_000);
});
