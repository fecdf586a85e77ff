/**
 * Lines holding a lone UTF-16 surrogate where a store would keep it are quarantined (ingest-hostile.test.ts has the
 * plain cases): nested in a candidate's process_chain, and raw in a JSON string line of an HTTP wrapper body. Valid
 * text (pairs, escaped or raw, non-ASCII, a `\\u` literal) is not.
 */
import { describe, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { decodeIngestBody } from '../../fleet/api/ingest-body.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { Store } from '../../fleet/store/store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { escapeLoneSurrogates } from '../../src/strings.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { useTestDatabase } from '../helpers/pg.js';
import { candidateLine, destinationLine, memoryStore, statusLines, T0 } from './fleet-helpers.js';

const SURROGATE = 'a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which the stores cannot keep';
const clock = { now: () => new Date((T0 + 3600) * 1000), unix: () => T0 + 3600, ms: () => (T0 + 3600) * 1000 };

const db = useTestDatabase('lone_surrogates');
const backends: [string, () => Promise<Store>][] = [
  ['sqlite', memoryStore],
  ['postgres', () => openPostgresStore(db().url)],
];

describe.each(backends)('lone surrogates in nested or wrapped text (%s)', (_name, open) => {
  it('a candidate whose process_chain (a JSON string column, as osquery logs it) names an identity with a lone surrogate is quarantined', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock, quarantineFile: null });
      const host = { uuid: 'H-EVIL', hostname: 'evil.local' };
      const link = (pid: number, identity: string) => ({ pid, path: '/tmp/x', identity, signature_class: 'unsigned' });
      const evil = candidateLine(
        { analytic: 'AN1415', host, app: APPS.vscode, remote_address: '192.0.2.9', server_name: 'up.example.org', bytes_out: 30_000_000, first_seen: T0 - 60, chain: [link(4242, 'team:X/\ud800'), link(1, 'team:X/\udbff')] },
        T0,
      );
      const good = statusLines([{ uuid: 'H-GOOD', hostname: 'good.local' }], T0);
      const r = await ingest.ingestLines([...good, evil], { kind: 'test', id: 'surrogate-chain' });
      expect((await store.quarantine.list(10)).map((q) => q.reason)).toEqual([`outflow_candidates row invalid: process_chain: ${SURROGATE}`]);
      expect(r).toMatchObject({ quarantined: 1 });
      expect([...(await store.hosts.get(['H-GOOD'])).keys()]).toEqual(['H-GOOD']);
    } finally {
      await store.close();
    }
  });

  it('a lone surrogate in any text of a process_chain link (signature_class here) is quarantined', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock, quarantineFile: null });
      const host = { uuid: 'H-C', hostname: 'c.local' };
      const link = { pid: 7, path: '/tmp/x', identity: 'team:X/ok', signature_class: 'uns\ud800' } as unknown as { pid: number; path: string; identity: string; signature_class: 'unsigned' };
      const line = candidateLine({ analytic: 'AN1415', host, app: APPS.vscode, remote_address: '192.0.2.9', server_name: 'up.example.org', bytes_out: 30_000_000, first_seen: T0 - 60, chain: [link] }, T0);
      const r = await ingest.ingestLines([line], { kind: 'test', id: 'chain-signature-class' });
      expect(r.quarantined).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('a Fleet webhook body whose details are JSON strings with an escaped lone surrogate in the host id: quarantined', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock, quarantineFile: null });
      const [good] = statusLines([{ uuid: 'H-GOOD', hostname: 'good.local' }], T0);
      // Each detail is a line as a JSON string holding the surrogate itself; only the body's own JSON escapes it
      // ("EVIL-\ud800" in the body), so the decoded detail holds no "\u"
      const evil1 = good!.replaceAll('H-GOOD', 'EVIL-\ud800');
      const evil2 = good!.replaceAll('H-GOOD', 'EVIL-\udbff');
      expect(evil1.includes('\\u')).toBe(false);
      const body = JSON.stringify({ timestamp: '2026-03-02T00:00:00Z', details: [good, evil1, evil2] });
      const decoded = decodeIngestBody(body);
      expect(decoded.shape).toBe('webhook');
      const r = await ingest.ingestLines(decoded.lines, { kind: 'http', id: 'webhook@test', durable: true });
      expect(r).toMatchObject({ quarantined: 2 });
      // (the PostgreSQL database is shared by this file's tests: the chain test's row is there too)
      expect((await store.quarantine.list(10)).map((q) => q.reason).filter((r) => r === SURROGATE)).toEqual([SURROGATE, SURROGATE]);
      expect((await store.hosts.listStatus()).map((s) => s.hostId)).toEqual(['H-GOOD']);
    } finally {
      await store.close();
    }
  });
});

describe('valid text around surrogates', () => {
  it('is not quarantined: escaped pairs, raw non-ASCII, a \\\\u literal', async () => {
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    const h = { uuid: 'H-1', hostname: 'caf\u00e9-\ud83d\ude00.local' };
    const lines = [
      ...statusLines([h], T0),
      destinationLine(h, T0, 'x\ud83d\ude00.example.com', APPS.chrome),
      destinationLine({ uuid: 'H-2', hostname: 'a\\ud800b' }, T0, 'back\\u005cslash.example.com', APPS.chrome),
    ];
    // escaped, as JSON.stringify would not escape pairs
    lines.push(lines[1]!.replace('\ud83d\ude00', '\\ud83d\\ude00'));
    lines.push(lines[0]!.replace(/caf\u00e9-\ud83d\ude00/g, 'caf\\u00e9-\\ud83d\\ude00'));
    const r = await ingest.ingestLines(lines, { kind: 'test', id: 'fp' });
    expect(r.quarantined).toBe(0);
    expect((await store.hosts.get(['H-1', 'H-2'])).get('H-1')?.hostname).toBe('caf\u00e9-\ud83d\ude00.local');
    expect((await store.hosts.get(['H-2'])).get('H-2')?.hostname).toBe('a\\ud800b');
    await store.close();
  });
});

describe('lone surrogates in lines that are not JSON', () => {
  it('a backslash before a raw lone surrogate stays invalid JSON after the body is decoded: quarantined, not ingested', async () => {
    const invalid = '{"h":"bad\\\ud800x"}'; // "bad\<U+D800>x": a backslash escapes no surrogate
    expect(() => JSON.parse(invalid)).toThrow();
    expect(() => JSON.parse(escapeLoneSurrogates(invalid))).toThrow();
    // an even run of backslashes is an escaped backslash: the surrogate after it is escaped as usual
    expect(JSON.parse(escapeLoneSurrogates('{"h":"ok\\\\\ud800"}'))).toEqual({ h: 'ok\\\ud800' });

    const store = await memoryStore();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock, quarantineFile: null });
      const [good] = statusLines([{ uuid: 'H-GOOD', hostname: 'good.local' }], T0);
      const bad = good!.replaceAll('H-GOOD', 'H-BAD').replaceAll('good.local', 'bad\\\ud800.local');
      expect(() => JSON.parse(bad)).toThrow();
      const decoded = decodeIngestBody(JSON.stringify({ timestamp: '2026-03-02T00:00:00Z', details: [good, bad] }));
      const r = await ingest.ingestLines(decoded.lines, { kind: 'http', id: 'webhook@test', durable: true });
      expect(r.quarantined).toBe(1);
      expect([...(await store.hosts.get(['H-GOOD', 'H-BAD'])).keys()]).toEqual(['H-GOOD']);
    } finally {
      await store.close();
    }
  });
});
