/**
 * NATS JetStream input against the local nats-server: decoding, stream/consumer set-up, ack only after the
 * handler committed, retries when the handler (the store) fails, work shared by two pullers on one durable.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePayload, fleetSubjectToFilter, startNatsSource, zstdSupported, type NatsBatch, type NatsSource } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, natsTestRuns, testStream, type TestStream } from '../helpers/nats.js';
import type { Store } from '../../fleet/store/store.js';
import { StoreError } from '../../src/errors.js';
import { generateFleetLines } from '../helpers/fleet-lines.js';

const log = silentLogger();

function line(i: number): string {
  return JSON.stringify({ name: 'pack/Global/outflow_destinations', hostIdentifier: `h${i % 7}`, unixTime: 1772531580 + i, counter: 1, action: 'added', columns: { i: String(i) } });
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('fleetSubjectToFilter', () => {
  it.each([
    ['osquery.result', 'osquery.result'],
    ['results.{log.decorations.hostname}', 'results.>'],
    // a tag's value may span several tokens (a hostname with dots): the filter ends at the first tag
    ['results.{log.decorations.hostname}.x', 'results.>'],
    ['fleet.{log.name}.results', 'fleet.>'],
  ])('%s → %s', (input, want) => expect(fleetSubjectToFilter(input)).toBe(want));
});

describe('decodePayload', () => {
  it('passes plain lines through and tolerates NDJSON', () => {
    expect(decodePayload(Buffer.from(line(1)))).toEqual({ lines: [line(1)] });
    expect(decodePayload(Buffer.from(`${line(1)}\r\n\n${line(2)}\n`))).toEqual({ lines: [line(1), line(2)] });
  });
  it('gunzips by magic bytes and by Content-Encoding', () => {
    expect(decodePayload(gzipSync(line(3)))).toEqual({ lines: [line(3)] });
    expect(decodePayload(gzipSync(line(3)), 'gzip')).toEqual({ lines: [line(3)] });
  });
  it('rejects, with a reason, what it cannot decode', () => {
    const corrupt = Buffer.concat([gzipSync(line(4)).subarray(0, 12)]);
    expect(decodePayload(corrupt)).toMatchObject({ reject: expect.stringMatching(/cannot decompress/) });
    expect(decodePayload(Buffer.from(''))).toEqual({ reject: 'empty payload' });
    expect(decodePayload(Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59, 1, 2]))).toMatchObject({
      reject: expect.stringMatching(/snappy.*not supported/),
    });
    expect(decodePayload(Buffer.from('x'), 'br')).toMatchObject({ reject: expect.stringMatching(/unknown Content-Encoding/) });
  });
  it('rejects a decompression bomb and a flood of lines instead of inflating them', () => {
    // 64 MiB of zeros gzip to ~64 KB: inflating stops at the 16 MiB limit
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(128 * 1024);
    expect(decodePayload(bomb)).toMatchObject({ reject: expect.stringMatching(/cannot decompress payload/) });
    expect(decodePayload(gzipSync(Buffer.alloc(2048, 0x61)), undefined, { maxBytes: 1024, maxLines: 10 })).toMatchObject({ reject: expect.stringMatching(/cannot decompress/) });
    expect(decodePayload(Buffer.alloc(2048, 0x61), undefined, { maxBytes: 1024, maxLines: 10 })).toEqual({ reject: 'payload of 2048 bytes is larger than 1024' });
    // 10 000 newlines (Fleet sends one line per message)
    expect(decodePayload(gzipSync('a\n'.repeat(10_000)))).toEqual({ reject: 'payload holds more than 10000 lines' });
    expect((decodePayload(Buffer.from(`${line(1)}\n`.repeat(9_999))) as { lines: string[] }).lines).toHaveLength(9_999);
  });
  it('zstd: decoded where node:zlib has it, otherwise rejected naming the Node version', () => {
    const zstdFrame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00]);
    const out = decodePayload(zstdFrame);
    if (zstdSupported()) expect(out).toMatchObject({ reject: expect.stringMatching(/cannot decompress/) });
    else expect(out).toMatchObject({ reject: expect.stringMatching(/no zstd/) });
  });
});

describe('JetStream pull source', () => {
  const nats = natsTestRuns();
  const { sources } = nats;
  let ts: TestStream | undefined;

  function config(extra: Record<string, unknown> = {}) {
    return NatsInputConfigSchema.parse({
      servers: NATS_TEST_URL,
      stream: ts!.stream,
      subjects: [`${ts!.prefix}.results.{log.decorations.hostname}`],
      durable: 'agg',
      batch: 50,
      fetch_wait_ms: 1000,
      ack_wait_s: 2,
      ...extra,
    });
  }

  it('refuses a missing stream unless asked to create it', async () => {
    ts = await nats.stream('nsrc');
    await expect(startNatsSource({ config: config(), handler: async () => undefined, log })).rejects.toMatchObject({
      message: expect.stringMatching(/does not exist/),
      hint: expect.stringMatching(/--nats-create-stream/),
    });
    const src = await startNatsSource({ config: config(), createStream: true, handler: async () => undefined, log });
    sources.push(src);
    const info = await ts.jsm.streams.info(ts.stream);
    expect(info.config.subjects).toEqual([`${ts.prefix}.results.>`]);
  });

  it('delivers every line once (plain and gzip), acks only after the handler resolved', async () => {
    ts = await nats.stream('nsrc');
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const src = await startNatsSource({
      config: config(),
      createStream: true,
      log,
      handler: async (b: NatsBatch) => {
        if (first) {
          first = false;
          await gate; // hold the first batch: its messages must stay unacked meanwhile
        }
        for (const m of b.messages) seen.push(...m.lines);
      },
    });
    sources.push(src);
    const lines = Array.from({ length: 120 }, (_, i) => line(i));
    await ts.publish(`${ts.prefix}.results.host-a.local`, lines.slice(0, 60));
    await ts.publish(`${ts.prefix}.results.host-b.local`, lines.slice(60), { gzip: true });
    await waitFor(async () => (await ts!.pending('agg')).ackPending > 0);
    expect(seen).toHaveLength(0);
    release();
    await waitFor(() => seen.length >= 120);
    await waitFor(async () => {
      const p = await ts!.pending('agg');
      return p.pending === 0 && p.ackPending === 0;
    });
    expect([...seen].sort()).toEqual([...lines].sort());
    expect(src.stats()).toMatchObject({ lines: 120, messages: 120, rejected: 0 });
  });

  it('retries a batch the handler failed to commit, without acking it', async () => {
    ts = await nats.stream('nsrc');
    let calls = 0;
    const committed: number[] = [];
    const src = await startNatsSource({
      config: config(),
      createStream: true,
      log,
      handler: async (b) => {
        calls++;
        if (calls <= 2) throw new Error('store down');
        committed.push(...b.messages.map((m) => m.seq));
      },
    });
    sources.push(src);
    await ts.publish(`${ts.prefix}.results.h`, [line(1), line(2), line(3)]);
    await waitFor(() => committed.length >= 3);
    expect(new Set(committed).size).toBe(3);
    expect(src.stats().failedBatches).toBe(2);
  });

  it('stop() does not wait past its grace for a commit that hangs (a store that never answers); the batch is redelivered', async () => {
    ts = await nats.stream('nsrc');
    let entered!: () => void;
    const inCommit = new Promise<void>((r) => (entered = r));
    const src = await startNatsSource({
      config: config(),
      createStream: true,
      log,
      handler: () => {
        entered();
        return new Promise<void>(() => undefined);
      },
    });
    await ts.publish(`${ts.prefix}.results.h`, [line(1)]);
    await inCommit;
    const t0 = Date.now();
    await src.stop(500);
    expect(Date.now() - t0).toBeLessThan(3000);
    // not acked: another puller on the durable gets it once ack_wait has passed
    const got: number[] = [];
    const again = await startNatsSource({ config: config(), log, handler: async (b) => void got.push(...b.messages.map((m) => m.seq)) });
    sources.push(again);
    await waitFor(() => got.length >= 1);
    expect(got).toEqual([1]);
  });

  it('passes undecodable messages on as rejects (for quarantine) and still acks them', async () => {
    ts = await nats.stream('nsrc');
    const rejects: string[] = [];
    const src = await startNatsSource({
      config: config(),
      createStream: true,
      log,
      handler: async (b) => {
        for (const m of b.messages) if (m.reject) rejects.push(m.reject);
      },
    });
    sources.push(src);
    await ts.publish(`${ts.prefix}.results.h`, ['\n'], {});
    await ts.publish(`${ts.prefix}.results.h`, [line(5)], { header: { 'Content-Encoding': 'snappy' } });
    await waitFor(() => rejects.length >= 2);
    await waitFor(async () => (await ts!.pending('agg')).ackPending === 0);
    expect(rejects).toEqual(expect.arrayContaining(['empty payload', expect.stringMatching(/snappy/)]));
  });

  it('decodes and commits a fetch in parts, so a fetch of gzip bombs never holds more than 64 MiB of lines, and the parts add up to the stream', async () => {
    ts = await nats.stream('nbomb', { create: true });
    // each message 16 KB on the wire, 16 MiB inflated (the per-message cap): a default fetch of 1000 is 16 GiB.
    // Each payload is told apart by its head and tail, so a message handed to two parts, to none, or with
    // another's lines shows in the digests below.
    const payloadOf = (i: number) => {
      const body = Buffer.alloc(16 * 1024 * 1024 - 64, 'a');
      body.write(`head-${i}:`, 0);
      body.write(`:tail-${i}`, body.length - 16);
      return body;
    };
    const digest = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
    const published: { subject: string; digest: string }[] = [];
    const js = ts.nc.jetstream();
    for (let i = 0; i < 24; i++) {
      const body = payloadOf(i);
      published.push({ subject: `${ts.prefix}.results.h${i}`, digest: digest(body) });
      await js.publish(`${ts.prefix}.results.h${i}`, gzipSync(body, { level: 9 }));
    }
    // per part (handler call): each message's seq, subject and line digests (holding the lines would take 384 MiB)
    const parts: { bytes: number; messages: { seq: number; subject: string; lines: string[]; reject?: string }[] }[] = [];
    const src = await startNatsSource({
      config: config({ subjects: [`${ts.prefix}.results.>`] }),
      log,
      async handler(batch) {
        let bytes = 0;
        for (const m of batch.messages) for (const l of m.lines) bytes += l.length;
        parts.push({ bytes, messages: batch.messages.map((m) => ({ seq: m.seq, subject: m.subject, lines: m.lines.map(digest), reject: m.reject })) });
      },
    });
    sources.push(src);
    const deadline = Date.now() + 60_000;
    while (parts.reduce((n, p) => n + p.messages.length, 0) < 24 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await waitFor(async () => (await ts!.pending('agg')).ackPending === 0);
    // every part within the bound, and the fetch was split (24 × 16 MiB is six parts' worth at least)
    for (const p of parts) expect(p.bytes).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(parts.length).toBeGreaterThanOrEqual(6);
    expect(parts.every((p) => p.messages.length > 0)).toBe(true);
    // put back together, the parts are the stream: each message once, in stream order, whole and with its own lines
    const reassembled = parts.flatMap((p) => p.messages);
    expect(reassembled.map((m) => m.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(reassembled.map((m) => ({ subject: m.subject, lines: m.lines, reject: m.reject }))).toEqual(published.map((p) => ({ subject: p.subject, lines: [p.digest], reject: undefined })));
    expect(src.stats()).toMatchObject({ messages: 24, lines: 24, rejected: 0, batches: parts.length });
  }, 120_000);

  it('two pullers on one durable share the work without overlap', async () => {
    ts = await nats.stream('nsrc');
    const byA: number[] = [];
    const byB: number[] = [];
    const slow = (out: number[]) => async (b: NatsBatch) => {
      await new Promise((r) => setTimeout(r, 30));
      out.push(...b.messages.map((m) => m.seq));
    };
    const a = await startNatsSource({ config: config({ batch: 10 }), createStream: true, log, name: 'a', handler: slow(byA) });
    const b = await startNatsSource({ config: config({ batch: 10 }), log, name: 'b', handler: slow(byB) });
    sources.push(a, b);
    await ts.publish(`${ts.prefix}.results.h`, Array.from({ length: 200 }, (_, i) => line(i)));
    await waitFor(() => byA.length + byB.length >= 200, 20_000);
    expect(new Set([...byA, ...byB]).size).toBe(200);
    expect(byA.filter((s) => byB.includes(s))).toEqual([]);
    expect(byA.length).toBeGreaterThan(0);
    expect(byB.length).toBeGreaterThan(0);
  });
});

describe('startNatsIngest (JetStream → ingest service → store)', () => {
  it('stores good lines once, drops re-published duplicates, quarantines what it cannot decode or parse', async () => {
    const { openSqliteStore } = await import('../../fleet/store/sqlite/sqlite-store.js');
    const { createIngestService } = await import('../../fleet/ingest/ingest-service.js');
    const { startNatsIngest } = await import('../../fleet/ingest/nats-source.js');
    const { defaultAnalyticsConfig } = await import('../../src/config/analytics.js');
    const ts = await testStream('ningest', { create: true });
    const store = await openSqliteStore(':memory:');
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig() });
    const src = await startNatsIngest({
      config: NatsInputConfigSchema.parse({ servers: NATS_TEST_URL, stream: ts.stream, subjects: [`${ts.prefix}.>`], durable: 'agg', batch: 10, ack_wait_s: 2 }),
      ingest,
      log,
    });
    try {
      // Line a (re-sent) is a candidate row: the rows a dedupe key tracks.
      const generated = generateFleetLines({ lines: 60, hosts: 2, days: 1 });
      const a = generated.find((l) => l.includes('outflow_candidates'));
      const [b, c, d] = generated.filter((l) => l !== a);
      expect(a).toBeDefined();
      await ts.publish(`${ts.prefix}.r`, [a!, b!], { gzip: true });
      await ts.publish(`${ts.prefix}.r`, [a!, '{"name": truncated', c!]); // Fleet re-sent line a
      await ts.publish(`${ts.prefix}.r`, [d!], { header: { 'Content-Encoding': 'snappy' } });
      await waitFor(async () => (await store.quarantine.count()) >= 2 && ingest.totals().lines >= 6);
      await waitFor(async () => (await ts.pending('agg')).ackPending === 0);
      // the undecodable payload counts as a line, quarantined in the batch's transaction
      expect(ingest.totals()).toMatchObject({ lines: 6, accepted: 3, duplicates: 1, quarantined: 2 });
      expect(await store.quarantine.count()).toBe(2);
      const q = await store.quarantine.list(10);
      expect(q.map((r) => r.source)).toEqual(expect.arrayContaining([`nats:${ts.stream}/agg`]));
      expect(q.some((r) => /snappy/.test(r.reason))).toBe(true);
    } finally {
      await src.stop();
      await store.close();
      await ts.cleanup();
    }
  });
});

/**
 * A store whose first write that stores a quarantine row commits, then reports failure: a COMMIT whose answer was
 * lost (PostgreSQL's connection cut just then). The NATS input cannot tell it from a failed commit; it retries the
 * batch, or, when the instance stops meanwhile (or dies before its ack), JetStream redelivers it.
 */
function commitThenFailOnce(store: Store, onFail: () => void): Store {
  let armed = true;
  const afterWrite = async (before: number) => {
    if (!armed || (await store.quarantine.count()) === before) return;
    armed = false;
    onFail();
    throw new StoreError('STORE_WRITE', 'connection lost while committing', 'retry');
  };
  const quarantine = {
    ...store.quarantine,
    add: async (rows: Parameters<Store['quarantine']['add']>[0]) => {
      const before = await store.quarantine.count();
      await store.quarantine.add(rows);
      await afterWrite(before);
    },
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'quarantine') return quarantine;
      if (prop === 'transaction') {
        return async (fn: Parameters<Store['transaction']>[0], o?: Parameters<Store['transaction']>[1]) => {
          const before = await target.quarantine.count();
          const r = await target.transaction(fn, o);
          await afterWrite(before);
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('startNatsIngest: a rejected payload or line is quarantined once per message, whatever its deliveries', () => {
  const cases = [
    { what: 'an undecodable payload', publish: (ts: TestStream) => ts.publish(`${ts.prefix}.r`, [line(5)], { header: { 'Content-Encoding': 'snappy' } }), reason: /snappy/ },
    { what: 'an unparseable line', publish: (ts: TestStream) => ts.publish(`${ts.prefix}.r`, ['{"name": truncated']), reason: /JSON|parse|line/i },
  ];
  for (const c of cases) {
    for (const after of ['retried', 'redelivered'] as const) {
      it(`${c.what}, its commit reported failed and the batch ${after}`, async () => {
        const { openSqliteStore } = await import('../../fleet/store/sqlite/sqlite-store.js');
        const { createIngestService } = await import('../../fleet/ingest/ingest-service.js');
        const { startNatsIngest } = await import('../../fleet/ingest/nats-source.js');
        const { defaultAnalyticsConfig } = await import('../../src/config/analytics.js');
        const ts = await testStream('nquar', { create: true });
        const store = await openSqliteStore(':memory:');
        const config = NatsInputConfigSchema.parse({ servers: NATS_TEST_URL, stream: ts.stream, subjects: [`${ts.prefix}.>`], durable: 'agg', batch: 10, ack_wait_s: 2 });
        const started: NatsSource[] = [];
        // redelivered: the instance stops while the commit "fails", so it hands the batch back (nak) instead of
        // retrying, and another instance on the same durable gets it again
        const flaky = commitThenFailOnce(store, () => {
          if (after === 'redelivered') void started[0]!.stop();
        });
        const ingest = createIngestService({ store: flaky, analytics: defaultAnalyticsConfig() });
        try {
          started.push(await startNatsIngest({ config, ingest, log }));
          await c.publish(ts);
          if (after === 'redelivered') {
            await started[0]!.done;
            started.push(await startNatsIngest({ config, ingest, log, name: 'second' }));
          }
          const last = started[started.length - 1]!;
          await waitFor(() => last.stats().messages >= 1);
          await waitFor(async () => {
            const p = await ts.pending('agg');
            return p.pending === 0 && p.ackPending === 0;
          });
          if (after === 'redelivered') expect(last.stats().redelivered).toBe(1);
          else expect(last.stats().failedBatches).toBe(1);
          const q = await store.quarantine.list(10);
          expect(q).toHaveLength(1);
          expect(q[0]!.reason).toMatch(c.reason);
          expect(q[0]!.source).toBe(`nats:${ts.stream}/agg`);
        } finally {
          await Promise.all(started.map((s) => s.stop()));
          await store.close();
          await ts.cleanup();
        }
      }, 30_000);
    }
  }
});
