/**
 * At-least-once delivery (Fleet re-sends a batch its destination refused; a file is re-read from the start)
 * must change nothing, on both stores. Only candidate and rejected rows are recognized by a dedupe key;
 * every other row is applied again, so this checks that each of those merges is idempotent: the whole state
 * (hosts, status, prevalence keys and host rows, apps and their attributes, candidates, detections, the event
 * clock, the change feed counter) is compared table by table before and after the fleet is delivered again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../fleet/store/postgres/index.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import type { Store } from '../../fleet/store/store.js';
import { simulateFleet } from '../../scripts/simulate-fleet.js';
import { createTestDatabase, pgStateDump, useTestDatabase } from '../helpers/pg.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { APPS, snapshotLine } from '../../scripts/simulate-fleet.js';
import { DAY, MiB, T0, appLine, candidateLine, canonical, hostsOf, runPipeline, sqliteStateDump } from './fleet-helpers.js';

const fleet = simulateFleet({ hosts: 30, days: 9, seed: 23, files: 3, duplicateRate: 0.02 });
const allLines = fleet.files.flat();
const candidateRows = allLines.filter((l) => l.includes('outflow_candidates')).length;

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'redelivery-'));
const db = useTestDatabase('redelivery');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Backend {
  open(): Promise<Store>;
  dump(): Promise<Record<string, string[]>>;
}

const backends: [string, () => Backend][] = [
  [
    'sqlite',
    () => {
      const file = path.join(dir, 'state.db');
      return { open: () => openSqliteStore(file), dump: async () => sqliteStateDump(file) };
    },
  ],
  ['postgres', () => ({ open: () => openPostgresStore(db().url), dump: () => pgStateDump(db().url) })],
];

describe.each(backends)('re-delivery of a whole fleet (%s)', (_name, backend) => {
  it('leaves every state table as it was: the same files again, in reverse order, and candidates re-dumped with counter 0', async () => {
    const b = backend();
    const store = await b.open();
    try {
      const first = await runPipeline(store, fleet.files);
      expect(first.detections.length).toBeGreaterThan(3);
      const before = await b.dump();
      expect(before.destination_hosts!.length).toBeGreaterThan(100);
      expect(before.host_status!.length).toBeGreaterThan(30);
      expect(before.apps!.length).toBeGreaterThan(5);

      // Another order and batch size than the first delivery, so no merge can lean on arrival order.
      const redump = allLines.filter((l) => l.includes('outflow_candidates')).map((l) => l.replace(/"counter":\d+/, '"counter":0'));
      const replay = await runPipeline(store, [...[...fleet.files].reverse(), redump], { batch: 333 });
      // Every re-delivered candidate row is recognized; nothing becomes pending or is finalized again.
      expect(replay.ingested.reduce((n, r) => n + r.duplicates, 0)).toBeGreaterThanOrEqual(candidateRows);
      expect(replay.ingested.reduce((n, r) => n + r.candidates, 0)).toBe(0);
      expect(replay.finalized.examined).toBe(0);
      expect(canonical(replay.detections)).toEqual(canonical(first.detections));
      expect(await b.dump()).toEqual(before);
    } finally {
      await store.close();
    }
  }, 180_000);
});

const freshStores: [string, (label: string) => Promise<{ store: Store; drop: () => Promise<void> }>][] = [
  ['sqlite', async (label) => ({ store: await openSqliteStore(path.join(dir, `${label}.db`)), drop: async () => undefined })],
  [
    'postgres',
    async (label) => {
      const fresh = await createTestDatabase(label);
      return { store: await openPostgresStore(fresh.url), drop: () => fresh.drop() };
    },
  ],
];

describe.each(freshStores)('app attributes (%s)', (_name, fresh) => {
  it('are dated by their outflow_apps row, not by candidate rows that widen the sighting: any batching gives the newest row\'s values', async () => {
    const [h1, h2] = hostsOf(2, 'ATTR');
    const older = { ...APPS.vscode, path: '/Applications/Old Code.app/Contents/MacOS/Electron', cdhash: 'aa'.repeat(20) };
    const newer = { ...APPS.vscode, cdhash: 'bb'.repeat(20) };
    const at = T0 + 3 * DAY;
    const a = appLine(h1!, at + 1000, older);
    const b = appLine(h2!, at + 2000, newer);
    // The same app on h1 later, through a candidate row (it carries no attributes).
    const c = candidateLine({ analytic: 'AN1415', host: h1!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.example.org', bytes_out: 30 * MiB, first_seen: at }, at + 3000);
    const deliveries: string[][][] = [
      [[a], [b], [c]],
      [[a, c], [b]],
      [[b], [a, c]],
      [[a], [b], [c], [a, c]], // the last batch re-delivers a and c together
    ];
    for (const [i, batches] of deliveries.entries()) {
      const { store, drop } = await fresh(`appattrs${i}`);
      try {
        const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
        for (const batch of batches) await ingest.ingestLines(batch, { kind: 'test', id: 'attrs' });
        const stats = (await store.prevalence.apps([APPS.vscode.identity], { from: 0, to: 4_000_000_000 })).get(APPS.vscode.identity)!;
        expect([i, stats.path, stats.cdhash]).toEqual([i, newer.path, newer.cdhash]);
      } finally {
        await store.close();
        await drop();
      }
    }
  }, 120_000);
});

describe.each(freshStores)('host status (%s)', (_name, fresh) => {
  it('two snapshots of one component at the same time: the same one is kept whatever the order and batching', async () => {
    const [h] = hostsOf(1, 'STAT');
    const at = T0 + DAY;
    const row = (state: string, detail: string) => ({ component: 'eslogger', platform: 'darwin', state, detail, events: 5, dropped: 0, last_event: at, version: '0.1.0' });
    const degraded = snapshotLine(h!, 'outflow_status', at, [row('degraded', 'eslogger restarted')]);
    const running = snapshotLine(h!, 'outflow_status', at, [row('running', '')]);
    const deliveries: string[][][] = [[[degraded], [running]], [[running], [degraded]], [[degraded, running]], [[running, degraded]], [[running], [degraded], [running, degraded]]];
    for (const [i, batches] of deliveries.entries()) {
      const { store, drop } = await fresh(`status${i}`);
      try {
        const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
        for (const batch of batches) await ingest.ingestLines(batch, { kind: 'test', id: 'status' });
        const status = await store.hosts.listStatus(h!.uuid);
        // the worse state wins the tie (in byte order 'running' > 'degraded'): not the arrival, nor the spelling
        expect([i, status.map((s) => [s.component, s.state, s.time])]).toEqual([i, [['eslogger', 'degraded', at]]]);
      } finally {
        await store.close();
        await drop();
      }
    }
  }, 120_000);
});

describe.each(freshStores)('hostname (%s)', (_name, fresh) => {
  const line = (t: number, hostname?: string) =>
    JSON.stringify({ name: 'pack/Global/osquery_info', hostIdentifier: 'NAMED-1', unixTime: t, counter: 1, decorations: { host_uuid: 'NAMED-1', ...(hostname ? { hostname } : {}) }, columns: { version: '5.19.0' }, action: 'added' });

  it('is the newest named line\'s, whatever lines without a name come later in a batch, and the greater one at equal time', async () => {
    const at = T0 + DAY;
    const old = line(at + 50, 'old.local');
    const renamed = line(at + 80, 'new.local');
    const unnamed = line(at + 100);
    const alpha = line(at + 200, 'alpha.local');
    const beta = line(at + 200, 'beta.local');
    const cases: [string[][], string][] = [
      [[[old], [renamed], [unnamed]], 'new.local'],
      [[[old], [renamed], [unnamed], [old, unnamed]], 'new.local'], // re-delivered old name beside a newer unnamed line
      [[[unnamed, old], [renamed]], 'new.local'],
      [[[alpha], [beta]], 'beta.local'],
      [[[beta], [alpha]], 'beta.local'],
      [[[alpha, beta]], 'beta.local'],
      [[[beta], [alpha], [old, renamed]], 'beta.local'],
      // the stores order text by UTF-8 bytes: U+1F600 sorts after U+FFFD there, though not as JS UTF-16 units
      [[[line(at + 300, 'h\uFFFD.local'), line(at + 300, 'h😀.local')]], 'h😀.local'],
      [[[line(at + 300, 'h😀.local')], [line(at + 300, 'h\uFFFD.local')]], 'h😀.local'],
    ];
    for (const [i, [batches, expected]] of cases.entries()) {
      const { store, drop } = await fresh(`hostname${i}`);
      try {
        const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
        for (const batch of batches) await ingest.ingestLines(batch, { kind: 'test', id: 'names' });
        expect([i, (await store.hosts.get(['NAMED-1'])).get('NAMED-1')?.hostname]).toEqual([i, expected]);
      } finally {
        await store.close();
        await drop();
      }
    }
  }, 120_000);
});
