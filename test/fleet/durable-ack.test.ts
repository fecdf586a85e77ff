/**
 * Lines a sender forgets once we answer (an HTTP 200, a JetStream ack) are committed durably: on SQLite, with
 * `synchronous = FULL` for that transaction (the store runs NORMAL under WAL, where a power cut can take back the
 * last commits).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildApi } from '../../fleet/api/server.js';
import { createIngestService, type IngestSource } from '../../fleet/ingest/ingest-service.js';
import { startNatsIngest } from '../../fleet/ingest/nats-source.js';
import { createFleetMetrics } from '../../fleet/metrics.js';
import type { Store } from '../../fleet/store/store.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { HttpConfigSchema } from '../../src/config/fleet-serve.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, testStream } from '../helpers/nats.js';
import { T0, destinationLine, hostsOf } from './fleet-helpers.js';

const line = destinationLine(hostsOf(1)[0]!, T0, 'uploads.example.com');
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function sqlite(): Promise<Store> {
  const s = await openSqliteStore(':memory:');
  stores.push(s);
  return s;
}

/** The store's connection's safety level (1 NORMAL, 2 FULL). */
const synchronous = (store: Store) => (store as unknown as { db: { pragma(p: string, o: { simple: true }): number } }).db.pragma('synchronous', { simple: true });

/** An ingest service that records the sources it is handed. */
function recordingIngest(store: Store) {
  const real = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
  const sources: IngestSource[] = [];
  return {
    sources,
    ingest: { ...real, ingestLines: (lines: Iterable<unknown>, source: IngestSource) => (sources.push(source), real.ingestLines(lines, source)) },
  };
}

describe('durable commits', () => {
  it('SQLite: a durable transaction commits with synchronous = FULL, then the store is back to NORMAL', async () => {
    const store = await sqlite();
    expect(synchronous(store)).toBe(1);
    let inside = -1;
    await store.transaction(async () => void (inside = synchronous(store)), { durable: true });
    expect(inside).toBe(2);
    expect(synchronous(store)).toBe(1);
    await store.transaction(async () => void (inside = synchronous(store)));
    expect(inside).toBe(1);
    await expect(store.transaction(async () => Promise.reject(new Error('boom')), { durable: true })).rejects.toThrow('boom');
    expect(synchronous(store)).toBe(1);
  });

  it('the ingest service asks for one when its source says the sender forgets the lines', async () => {
    const store = await sqlite();
    const spy = vi.spyOn(store, 'transaction');
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
    await ingest.ingestLines([line], { kind: 'http', id: 'a', durable: true });
    await ingest.ingestLines([line], { kind: 'file', id: 'b' });
    expect(spy.mock.calls.map((c) => c[1])).toEqual([{ durable: true }, undefined]);
  });

  it('POST /v1/ingest hands its lines over as durable', async () => {
    const store = await sqlite();
    const { ingest, sources } = recordingIngest(store);
    const token = 'durable-test-token-0123456789';
    const app = await buildApi({
      store,
      ingest,
      analytics: defaultAnalyticsConfig(),
      http: HttpConfigSchema.parse({ token }),
      token,
      metrics: createFleetMetrics(),
      log: silentLogger(),
      tls: null,
    });
    try {
      const r = await app.inject({ method: 'POST', url: '/v1/ingest', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' }, payload: `${line}\n` });
      expect(r.statusCode).toBe(200);
      expect(sources).toMatchObject([{ kind: 'http', durable: true }]);
    } finally {
      await app.close();
    }
  });

  it('the NATS input hands its batches over as durable', async () => {
    const store = await sqlite();
    const { ingest, sources } = recordingIngest(store);
    const ts = await testStream('ndurable', { create: true });
    const src = await startNatsIngest({
      config: NatsInputConfigSchema.parse({ servers: NATS_TEST_URL, stream: ts.stream, subjects: [`${ts.prefix}.>`], durable: 'agg', batch: 10, ack_wait_s: 2 }),
      ingest,
      log: silentLogger(),
    });
    try {
      await ts.publish(`${ts.prefix}.r`, [line]);
      const deadline = Date.now() + 10_000;
      while (!sources.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(sources).toMatchObject([{ kind: 'nats', durable: true }]);
    } finally {
      await src.stop();
      await ts.cleanup();
    }
  }, 20_000);
});
