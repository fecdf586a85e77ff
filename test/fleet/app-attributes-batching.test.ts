/**
 * A batch's app attributes (folded per identity onto one carrier sighting) must be what the store would make of
 * the same rows delivered one line per batch, whatever the row order: equal times, repeated values, empty values,
 * candidate rows without attributes, re-delivered lines.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { MiB, T0, appLine, candidateLine, hostsOf, memoryStore } from './fleet-helpers.js';

const ID = APPS.slack.identity;
const hosts = hostsOf(4, 'ATTRB');
const app = (over: Partial<typeof APPS.slack>) => ({ ...APPS.slack, ...over });

async function attrsAfter(batches: string[][]) {
  const store = await memoryStore();
  try {
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    for (const b of batches) await ingest.ingestLines(b, { kind: 'test', id: 'attrs' });
    const s = (await store.prevalence.apps([ID], { from: 0, to: 4_000_000_000 })).get(ID)!;
    return { path: s.path, signatureClass: s.signatureClass, teamId: s.teamId, signingId: s.signingId, cdhash: s.cdhash };
  } finally {
    await store.close();
  }
}

describe('app attributes folded per batch', () => {
  it('a value repeated by a newer row keeps the newer time: an in-between row with another value loses', async () => {
    const lines = [appLine(hosts[0]!, T0 + 100, app({ path: '/P' })), appLine(hosts[1]!, T0 + 300, app({ path: '/P' })), appLine(hosts[2]!, T0 + 200, app({ path: '/Q' }))];
    expect((await attrsAfter(lines.map((l) => [l]))).path).toBe('/P');
    expect((await attrsAfter([lines])).path).toBe('/P');
  });

  it("an identity's first row without attributes does not lose the batch's later ones", async () => {
    const empty = app({ path: '', signature_class: '', team_id: '', signing_id: '', cdhash: '' });
    const lines = [appLine(hosts[0]!, T0 + 100, empty), appLine(hosts[1]!, T0 + 50, app({}))];
    const expected = await attrsAfter(lines.map((l) => [l]));
    expect(expected.path).toBe(APPS.slack.path);
    expect(await attrsAfter([lines])).toEqual(expected);
  });

  it('one batch, any order, gives what one line per batch gives', async () => {
    const cand = (h: number, t: number) =>
      candidateLine({ analytic: 'AN1415', host: hosts[h]!, app: APPS.slack, remote_address: '192.0.2.9', server_name: 'up.example.org', bytes_out: 30 * MiB, first_seen: t - 60 }, t);
    const lines = [
      cand(0, T0 + 500),
      appLine(hosts[0]!, T0 + 100, app({ path: '/A', cdhash: 'c1' })),
      appLine(hosts[1]!, T0 + 300, app({ path: '/A', cdhash: '' })),
      appLine(hosts[2]!, T0 + 200, app({ path: '/B', cdhash: 'c2' })),
      appLine(hosts[3]!, T0 + 300, app({ path: '', cdhash: 'c0', team_id: '' })),
      appLine(hosts[0]!, T0 + 300, app({ path: '', signing_id: '', cdhash: '', signature_class: '', team_id: '' })),
      appLine(hosts[1]!, T0 + 100, app({ path: '/Z', team_id: 'ZZ' })),
      cand(2, T0 + 900),
    ];
    const expected = await attrsAfter(lines.map((l) => [l]));
    let seed = 7;
    const rnd = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 12; i++) {
      const order = [...lines, lines[1 + Math.floor(rnd() * 6)]!].sort(() => rnd() - 0.5);
      expect([i, await attrsAfter([order])]).toEqual([i, expected]);
    }
  });
});
