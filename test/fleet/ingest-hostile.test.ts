/**
 * Lines a compromised host (or anyone who can write to a result-log transport) can send: each must be
 * quarantined or ignored on its own, and the good lines of the same batch applied, on both stores. One
 * line that made ingestLines throw would stop a file source at its checkpoint, redeliver a NATS batch
 * forever, and lose every line of an HTTP request.
 */
import { describe, expect, it } from 'vitest';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import type { Store } from '../../fleet/store/store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { useTestDatabase } from '../helpers/pg.js';
import { memoryStore } from './fleet-helpers.js';

const T = 1_772_409_600;
const clock = { now: () => new Date((T + 3600) * 1000), unix: () => T + 3600, ms: () => (T + 3600) * 1000 };

function line(host: string, i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({ name: 'pack/Global/some_query', hostIdentifier: host, unixTime: T + i, counter: 1, columns: { i: String(i) }, action: 'added', ...over });
}

const destination = (host: string, columns: Record<string, unknown>) =>
  line(host, 7, {
    name: 'pack/Global/outflow_destinations',
    columns: { bytes_in: '1', bytes_out: '2', identity: 'team:X/app', path: '/x', protocol: 'tcp', remote_address: '203.0.113.9', remote_port: '443', server_name: '', service: 'tls', ...columns },
  });

const HOSTILE: [string, string][] = [
  ['a column whose own toString is not a function', line('evil', 1, { columns: { x: { toString: 0 } } })],
  ['an array nested 100 000 deep', `{"name":"q","hostIdentifier":"evil","unixTime":${T + 2},"counter":1,"columns":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}},"action":"added"}`],
  ['an object as an Outflow column', destination('evil', { remote_address: { toString: 0 } })],
  ['a NUL in the hostname', line('evil', 3, { decorations: { host_uuid: 'evil', hostname: 'a\u0000b' } })],
  ['a NUL in an Outflow column', destination('evil', { server_name: 'x\u0000.example.com' })],
  // JSON.stringify spells them "\ud800": two host ids PostgreSQL would store as one, in one statement
  ['a lone surrogate in the host id', line('evil-\ud800', 4, { name: 'pack/Global/outflow_status', snapshot: [], columns: undefined, action: 'snapshot' })],
  ['another lone surrogate in the host id', line('evil-\udbff', 5, { name: 'pack/Global/outflow_status', snapshot: [], columns: undefined, action: 'snapshot' })],
  ['a lone surrogate in an Outflow column', destination('evil', { server_name: 'x\udc00.example.com' })],
];

const db = useTestDatabase('hostile');

const backends: [string, () => Promise<Store>][] = [
  ['sqlite', memoryStore],
  ['postgres', () => openPostgresStore(db().url)],
];

describe.each(backends)('hostile result lines (%s)', (_name, open) => {
  it('are quarantined or ignored one by one, and the good lines of the batch are applied', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock });
      const batch = [line('victim-1', 1), ...HOSTILE.map(([, l]) => l), line('victim-2', 2)];
      const r = await ingest.ingestLines(batch, { kind: 'test', id: 'hostile' });
      expect(r.lines).toBe(batch.length);
      expect([...(await store.hosts.get(['victim-1', 'victim-2'])).keys()].sort()).toEqual(['victim-1', 'victim-2']);
      const reasons = (await store.quarantine.list(10)).map((q) => q.reason).sort();
      expect(reasons).toEqual([
        'a string holds a NUL character (\\u0000), which the stores cannot keep',
        'a string holds a NUL character (\\u0000), which the stores cannot keep',
        'a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which the stores cannot keep',
        'a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which the stores cannot keep',
        'a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which the stores cannot keep',
        // nothing osquery writes nests deeper than a few levels, and parsing it would cost seconds (json-depth.ts)
        'not a result line: JSON nested deeper than 64 levels',
        'outflow_destinations row invalid: remote_address: not a string or number',
      ]);
      // the odd value of another query is that query's business: accepted as host activity only
      expect(r).toMatchObject({ quarantined: 7, ignored: 3 });
      // the same batch again: the rejected row is recognized and not quarantined twice; the NUL, surrogate and
      // nested lines are rejected before any row is read, so again
      const again = await ingest.ingestLines(batch, { kind: 'test', id: 'hostile' });
      expect(again).toMatchObject({ quarantined: 6, duplicates: 1 });
      const reasonsAfter = (await store.quarantine.list(20)).map((q) => q.reason);
      expect(reasonsAfter.filter((q) => q.startsWith('outflow_destinations row invalid'))).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('fill at most max_quarantine_per_batch quarantine rows per batch, and sum up the rest in one more', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock, maxQuarantinePerBatch: 10 });
      const before = await store.quarantine.count();
      const junk = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? `{"not":"a result line ${i}"}` : `garbage ${i}`));
      const r = await ingest.ingestLines([line('good', 1), ...junk], { kind: 'test', id: 'flood' });
      expect(r).toMatchObject({ lines: 31, quarantined: 30, accepted: 1 });
      expect((await store.quarantine.count()) - before).toBe(11);
      const [summary] = await store.quarantine.list(1);
      expect(summary!.reason).toMatch(/^20 more lines or rows of this batch were rejected and not stored \(fleet\.ingest\.max_quarantine_per_batch = 10, max_quarantine_bytes_per_batch = 16777216\); most common reason \(6\): missing name$/);
    } finally {
      await store.close();
    }
  });

  it('cannot turn one line into gigabytes: a long host id is refused, and quarantine bytes per batch are capped', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock, maxQuarantineBytesPerBatch: 200_000 });
      // a 60 KB host id that every rejected row's quarantine text would copy
      const longId = line('h'.repeat(60_000), 1);
      // one snapshot line of 2 000 distinct invalid status rows (no component), each carrying 1 KB
      const rows = Array.from({ length: 2000 }, (_, i) => ({ detail: `${i}`.padEnd(1000, 'x') }));
      const snapshot = JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'evil', unixTime: T + 5, counter: 0, snapshot: rows });
      const r = await ingest.ingestLines([longId, snapshot, line('good', 2)], { kind: 'test', id: 'amplify' });
      expect(r).toMatchObject({ lines: 3, quarantined: 2001, accepted: 1 });
      // this batch's rows (on PostgreSQL the store also holds the earlier tests' quarantine)
      const stored = (await store.quarantine.list(1000)).filter((q) => q.source === 'test:amplify');
      expect(stored.find((q) => q.reason === 'host identity longer than 512 characters')).toBeTruthy();
      // ~190 rows of ~1 KB fit in 200 000 bytes; the rest are summed up in one row
      const bytes = stored.reduce((n, q) => n + q.line.length + q.reason.length, 0);
      expect(bytes).toBeLessThan(200_000 + 70_000);
      expect(stored.length).toBeLessThan(250);
      expect(stored.some((q) => /^\d+ more lines or rows of this batch were rejected and not stored/.test(q.reason))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a line dated ahead of its receipt cannot outrank later reports for hostname, health and app attributes', async () => {
    const store = await open();
    try {
      let wall = T + 3600;
      const moving = { now: () => new Date(wall * 1000), unix: () => wall, ms: () => wall * 1000 };
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock: moving });
      const status = (state: string, hostname: string, t: number) =>
        JSON.stringify({
          name: 'pack/Global/outflow_status',
          hostIdentifier: 'VICTIM',
          unixTime: t,
          counter: 0,
          decorations: { host_uuid: 'VICTIM', hostname },
          snapshot: [{ component: 'flows', detail: '', dropped: '0', events: '0', last_event: '0', platform: 'darwin', state, version: '0.1.0' }],
        });
      await ingest.ingestLines([status('permission_denied', 'victim.local', wall - 60)], { kind: 'test', id: 'victim' });
      // forged: the victim's id, dated a day ahead (still inside max_clock_skew, so accepted)
      await ingest.ingestLines([status('running', 'attacker-chosen', wall + 86_399)], { kind: 'test', id: 'forger' });
      wall += 600;
      await ingest.ingestLines([status('permission_denied', 'victim.local', wall - 5)], { kind: 'test', id: 'victim' });
      expect((await store.hosts.get(['VICTIM'])).get('VICTIM')!.hostname).toBe('victim.local');
      expect((await store.hosts.listStatus('VICTIM')).map((r) => [r.component, r.state])).toEqual([['flows', 'permission_denied']]);
      // app attributes (the evidence of every host's detections falls back to them) likewise
      const app = (host: string, p: string, t: number) =>
        JSON.stringify({
          name: 'pack/Global/outflow_apps',
          hostIdentifier: host,
          unixTime: t,
          counter: 1,
          columns: { cdhash: '', identity: 'team:ABC/com.example.app', notarized: '1', path: p, signature_class: 'developer_id', signing_id: 'com.example.app', team_id: 'ABC' },
          action: 'added',
        });
      await ingest.ingestLines([app('VICTIM', '/Applications/Example.app/Contents/MacOS/Example', wall - 30)], { kind: 'test', id: 'victim' });
      await ingest.ingestLines([app('FORGER', '/Users/Shared/evil', wall + 86_399)], { kind: 'test', id: 'forger' });
      wall += 600;
      await ingest.ingestLines([app('VICTIM', '/Applications/Example.app/Contents/MacOS/Example', wall - 5)], { kind: 'test', id: 'victim' });
      const attrs = (await store.prevalence.apps(['team:ABC/com.example.app'], { from: 0, to: wall + 86_400 })).get('team:ABC/com.example.app')!;
      expect(attrs.path).toBe('/Applications/Example.app/Contents/MacOS/Example');
    } finally {
      await store.close();
    }
  });

  it('a host clock a few minutes ahead keeps its event times: its lines are ordered by them, and a re-delivered one changes nothing', async () => {
    const store = await open();
    try {
      let wall = T + 3600;
      const moving = { now: () => new Date(wall * 1000), unix: () => wall, ms: () => wall * 1000 };
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock: moving });
      const status = (hostname: string, t: number, state: string) =>
        JSON.stringify({
          name: 'pack/Global/outflow_status',
          hostIdentifier: 'AHEAD',
          unixTime: t,
          counter: 0,
          decorations: { host_uuid: 'AHEAD', hostname },
          snapshot: [{ component: 'flows', detail: '', dropped: '0', events: '0', last_event: '0', platform: 'darwin', state, version: '0.1.0' }],
        });
      const older = status('zz-old-name', wall + 30, 'permission_denied');
      // one batch, both ahead of the aggregator's clock: the newer wins, not the greater name
      await ingest.ingestLines([older, status('aa-new-name', wall + 60, 'running')], { kind: 'test', id: 'a' });
      expect((await store.hosts.get(['AHEAD'])).get('AHEAD')!.hostname).toBe('aa-new-name');
      expect((await store.hosts.listStatus('AHEAD')).map((r) => r.state)).toEqual(['running']);
      // the older line again, received later
      wall += 600;
      await ingest.ingestLines([older], { kind: 'test', id: 'a' });
      expect((await store.hosts.get(['AHEAD'])).get('AHEAD')!.hostname).toBe('aa-new-name');
      expect((await store.hosts.listStatus('AHEAD')).map((r) => r.state)).toEqual(['running']);
    } finally {
      await store.close();
    }
  });

  it('keep an escaped backslash before "u0000", which is text, not a NUL', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock });
      const r = await ingest.ingestLines([line('h', 1, { decorations: { host_uuid: 'h', hostname: 'odd\\u0000name' } })], { kind: 'test', id: 'x' });
      expect(r).toMatchObject({ quarantined: 0, accepted: 1 });
      expect((await store.hosts.get(['h'])).get('h')!.hostname).toBe('odd\\u0000name');
    } finally {
      await store.close();
    }
  });

  it('skip blank lines of any JS whitespace, and quarantine a line that only starts or ends with it', async () => {
    const store = await open();
    try {
      const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), clock });
      const blank = ['', ' ', '\t\r', '\u00a0', '\u2028\u3000', '\ufeff', ' \ufeff\t'];
      const r = await ingest.ingestLines([...blank, ' x', 'x\u00a0', `\ufeff${line('h', 1)}`, line('h', 2)], { kind: 'test', id: 'blank' });
      expect(r).toMatchObject({ lines: 4, quarantined: 3, accepted: 1 });
    } finally {
      await store.close();
    }
  });
});
