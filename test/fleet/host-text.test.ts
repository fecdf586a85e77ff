/**
 * Text a host sends is cut at ingest (src/schemas/egress-candidate.ts, result-log.ts): what a host can make a
 * detection carry, through candidates or through the outflow_apps rows that fill a chain's empty links, stays
 * bounded, and the cut keeps what keys are made of.
 */
import { describe, expect, it } from 'vitest';
import { simulateFleet } from '../../scripts/simulate-fleet.js';
import { destinationKey } from '../../src/classify/destination.js';
import { randomBytes } from 'node:crypto';
import { EgressCandidateSchema, MAX_KEY_TEXT, MAX_SHORT_TEXT } from '../../src/schemas/egress-candidate.js';
import { cutHostName, cutText } from '../../src/strings.js';
import { createDestinationKeyer } from '../../src/classify/destination.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { APPS, snapshotLine } from '../../scripts/simulate-fleet.js';
import { useTestDatabase } from '../helpers/pg.js';
import { candidateLine, DAY, destinationLine, hostsOf, memoryStore, runPipeline, statusLines, T0 } from './fleet-helpers.js';
import { toOcsf } from '../../fleet/sinks/ocsf.js';

// held shared for the file (test/helpers/pg.ts): the restart test cannot take the server away while it is used
const pgDatabase = useTestDatabase('host_text');

describe('host text reaching a detection through outflow_apps', () => {
  it('a detection stays small when an outflow_apps row carries a huge path', async () => {
    const fleet = simulateFleet({ hosts: 12, days: 9, seed: 11, files: 1, duplicateRate: 0 });
    const pad = 'A'.repeat(3_000_000);
    const extra: string[] = [];
    const files = fleet.files.map((lines) =>
      lines.map((l) => {
        const o = JSON.parse(l) as { name: string; unixTime: number; hostIdentifier: string; columns?: Record<string, string> };
        if (!o.name.endsWith('outflow_candidates') || !o.columns) return l;
        const chain = (JSON.parse(o.columns.process_chain!) as { pid: number; path: string; identity: string; signature_class: string }[]).map((k) => ({ ...k, path: '', signature_class: '' }));
        o.columns.process_chain = JSON.stringify([...chain, ...Array.from({ length: 30 }, (_, i) => ({ ...chain[0]!, pid: 9000 + i }))]);
        o.columns.path = '';
        // the same host reports the identity's attributes with a 3 MB path (within the 4 MiB line limit)
        extra.push(JSON.stringify({ ...o, name: o.name.replace('outflow_candidates', 'outflow_apps'), columns: { path: `/x/${pad}`, identity: o.columns.identity, signature_class: 'developer_id', team_id: 'T', signing_id: 's', cdhash: '' } }));
        return JSON.stringify(o);
      }),
    );
    const store = await memoryStore();
    try {
      const run = await runPipeline(store, [[...extra.slice(0, 40), ...files[0]!]]);
      expect(run.detections.length).toBeGreaterThan(0);
      const biggest = Math.max(...run.detections.map((d) => JSON.stringify(d).length));
      const biggestOcsf = Math.max(...run.detections.map((d) => JSON.stringify(toOcsf(d)).length));
      expect(biggest).toBeLessThan(1024 * 1024);
      expect(biggestOcsf).toBeLessThan(1024 * 1024);
    } finally {
      await store.close();
    }
  }, 180_000);
});

describe('cutting host names', () => {
  it('a candidate with a long SNI keeps the destination key outflow_destinations gives the same flow', () => {
    const sni = `${'a.'.repeat(300)}evil.com`; // 608 characters, a valid-looking TLS server name
    const columns = { analytic: 'AN0990', flow_id: 'f1', pid: 1, process_start: 1, protocol: 'tcp', remote_address: '203.0.113.9', remote_port: 443, server_name: sni, bytes_in: 1, bytes_out: 1, pcr: 0, first_seen: 1, last_seen: 1, duration: 1 };
    const c = EgressCandidateSchema.parse(columns);
    expect(destinationKey(c.server_name, c.remote_address)).toBe(destinationKey(sni, '203.0.113.9'));
  });
});

describe('cutting never splits a character', () => {
  it('a surrogate pair at the cut stays whole or goes whole', () => {
    const emoji = '😀'; // two UTF-16 units
    for (let n = 5; n < 12; n++) {
      const s = 'x'.repeat(n) + emoji.repeat(20);
      for (const cut of [cutText(s, 16), cutHostName(emoji.repeat(20) + 'y'.repeat(n), 16)]) {
        expect(cut.length).toBeLessThanOrEqual(16);
        // a lone surrogate does not survive a UTF-8 round trip
        expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut);
      }
    }
  });
});

describe('the same flow through outflow_destinations and outflow_candidates, with key text past the cut', () => {
  const SNI = `${'b'.repeat(600)}.s3.amazonaws.com`; // a tenant under a shared suffix: the whole name is the key
  const APP = { ...APPS.chrome, identity: `team:EQHXZ8M8AV/${'s'.repeat(600)}` };

  it('counts both hosts under one destination key and one (identity, key) pair', async () => {
    const [a, b] = hostsOf(2);
    const t = T0 + 10 * DAY;
    const store = await memoryStore();
    try {
      await runPipeline(store, [
        [
          ...statusLines([a!, b!], T0),
          destinationLine(a!, t, SNI, APP, 5, { out: 50 * 1024 * 1024, in: 1000 }),
          candidateLine({ analytic: 'AN0990', host: b!, app: APP, remote_address: '198.51.100.80', server_name: SNI, bytes_out: 50 * 1024 * 1024, first_seen: t - 200 }, t),
        ],
      ]);
      const key = createDestinationKeyer()(cutHostName(SNI, MAX_KEY_TEXT), '198.51.100.80');
      const window = { from: 0, to: t + DAY };
      expect((await store.prevalence.destinations([key], window)).get(key)?.hosts).toBe(2);
      const pairs = await store.prevalence.pairs([{ identity: cutText(APP.identity, MAX_KEY_TEXT), key }], window);
      expect([...pairs.values()][0]?.hosts).toBe(2);
    } finally {
      await store.close();
    }
  });

  it('on PostgreSQL, key text of 3-byte characters past the cut does not fail the batch (index entries are capped at 2704 bytes)', async () => {
    const db = pgDatabase();
    const store = await openPostgresStore(db.url);
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
      const cjk = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 0x5000))).join('');
      const app = { ...APPS.chrome, identity: `team:X/${cjk(600)}` };
      const [h] = hostsOf(1);
      const sni = `${cjk(600)}.s3.amazonaws.com`;
      const ascii = { ...APPS.chrome, identity: `team:X/${randomBytes(2400).toString('base64')}` };
      const lines = [
        candidateLine({ analytic: 'AN0990', host: h!, app, remote_address: '198.51.100.80', server_name: sni, bytes_out: 50 * 1024 * 1024, first_seen: T0 - 200 }, T0),
        destinationLine(h!, T0, sni, app, 5, { out: 50 * 1024 * 1024, in: 1000 }),
        destinationLine(h!, T0, 'example.com', ascii, 6, { out: 50 * 1024 * 1024, in: 1000 }),
        destinationLine(h!, T0, `${'c'.repeat(3000)}.s3.amazonaws.com`, APPS.chrome, 7),
        // outflow_status: the component is part of the row's key; detail is free text (an error message)
        snapshotLine(h!, 'outflow_status', T0, [{ component: cjk(1000), platform: cjk(1000), state: 'degraded', detail: cjk(100_000), events: 1, dropped: 0, last_event: T0, version: cjk(1000) }]),
      ];
      const r = await ingest.ingestLines(lines, { kind: 'test', id: 'x' });
      expect(r.quarantined).toBe(0);
      const [status] = await store.hosts.listStatus(h!.uuid);
      expect(status).toMatchObject({ component: cutText(cjk(1000), MAX_KEY_TEXT), platform: cutText(cjk(1000), MAX_KEY_TEXT), detail: cutText(cjk(100_000), MAX_SHORT_TEXT), version: cutText(cjk(1000), MAX_KEY_TEXT) });
    } finally {
      await store.close();
    }
  }, 60_000);
});

