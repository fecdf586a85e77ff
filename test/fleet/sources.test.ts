/**
 * Ingest sources and the ingest service's error policy: files (checkpointed offsets committed with
 * the state, resume, rotation, truncation, unterminated last line), streams, quarantine file.
 */
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { FINGERPRINT_BYTES, ingestFile, fileSourceId, type FileStart } from '../../fleet/ingest/file-source.js';
import { createIngestService, emptyIngestResult, MAX_IGNORED_QUERY_NAMES, RejectedInput, type IngestService } from '../../fleet/ingest/ingest-service.js';
import { ingestStream } from '../../fleet/ingest/stream-source.js';
import type { Store } from '../../fleet/store/store.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { createDestinationKeyer } from '../../src/classify/destination.js';
import { MiB, T0, appLine, candidateLine, destinationLine, hostsOf, memoryStore } from './fleet-helpers.js';

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'fleet-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hosts = hostsOf(3);
const lineAt = (i: number) => destinationLine(hosts[i % 3]!, T0 + i, `s${i}.example-${i}.com`);

async function hostsSeen(store: Store): Promise<number> {
  return store.hosts.activeCount({ from: 0, to: 4_000_000_000 });
}

/** An in-memory store and an ingest service on it (default analytics, no quarantine file). */
async function storeAndIngest() {
  const store = await memoryStore();
  return { store, ingest: createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null }) };
}

describe('file source', () => {
  it('reads complete lines, commits the offset with them, and resumes from it', async () => {
    const file = path.join(dir, 'resume.log');
    writeFileSync(file, `${lineAt(0)}\n${lineAt(1)}\n`);
    const { store, ingest } = await storeAndIngest();
    const a = await ingestFile(file, { ingest, store, chunkBytes: 300 });
    expect(a).toMatchObject({ lines: 2, accepted: 2 });
    const cp = await store.checkpoints.get(`file:${fileSourceId(file)}`);
    expect(cp).toMatchObject({ offset: readFileSync(file).length });
    appendFileSync(file, `${lineAt(2)}\n`);
    const b = await ingestFile(file, { ingest, store });
    expect(b).toMatchObject({ lines: 1, accepted: 1, duplicates: 0 });
    // --from-start re-reads everything; destination rows applied again change nothing.
    const c = await ingestFile(file, { ingest, store, fromStart: true });
    expect(c).toMatchObject({ lines: 3, accepted: 3, candidates: 0 });
    const seen = await store.prevalence.destinations(['example-0.com', 'example-2.com'], { from: 0, to: 4_000_000_000 });
    expect([...seen.values()].map((d) => [d.hosts, d.firstSeen, d.lastSeen])).toEqual([
      [1, T0, T0],
      [1, T0 + 2, T0 + 2],
    ]);
    await store.close();
  });

  it('restarts at 0 when the checkpoint points into a rotated or truncated file', async () => {
    const file = path.join(dir, 'rotate.log');
    writeFileSync(file, `${lineAt(0)}\n${lineAt(1)}\n${lineAt(2)}\n`);
    const { store, ingest } = await storeAndIngest();
    await ingestFile(file, { ingest, store });
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(3)}\n`);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ lines: 1, accepted: 1 });
    appendFileSync(file, `${lineAt(5)}\n${lineAt(6)}\n`);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ lines: 2, accepted: 2 });
    // copytruncate while we were down: same inode, now shorter than the stored offset.
    truncateSync(file, 0);
    writeFileSync(file, `${lineAt(4)}\n`);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ lines: 1, accepted: 1 });
    await store.close();
  });

  it('reads a file rewritten in place (same inode, at least as long) from 0, not from the stored offset mid-line', async () => {
    const file = path.join(dir, 'rewrite.log');
    writeFileSync(file, `${lineAt(0)}\n${lineAt(1)}\n`);
    const { store, ingest } = await storeAndIngest();
    const starts: FileStart[] = [];
    const onStart = (s: FileStart) => starts.push(s);
    await ingestFile(file, { ingest, store, onStart });
    const ino = statSync(file).ino;
    // re-simulated into the same path / `cp bigger.log` over it: truncated and rewritten, same inode, longer
    writeFileSync(file, `${lineAt(20)}\n${lineAt(21)}\n${lineAt(22)}\n${lineAt(23)}\n`);
    expect(statSync(file).ino).toBe(ino);
    expect(await ingestFile(file, { ingest, store, onStart })).toMatchObject({ lines: 4, accepted: 4, quarantined: 0 });
    expect(starts.map((s) => s.reason)).toEqual(['no-checkpoint', 'replaced']);
    expect(starts[1]).toMatchObject({ offset: 0, detail: expect.stringMatching(/differ/) });
    // a plain append still resumes at the offset
    appendFileSync(file, `${lineAt(24)}\n`);
    expect(await ingestFile(file, { ingest, store, onStart })).toMatchObject({ lines: 1, accepted: 1 });
    expect(starts[2]).toMatchObject({ reason: 'resumed', offset: readFileSync(file).length - lineAt(24).length - 1 });
    // nothing new: resumed at the end
    expect(await ingestFile(file, { ingest, store, onStart })).toMatchObject({ lines: 0 });
    expect(starts[3]).toMatchObject({ reason: 'resumed', offset: readFileSync(file).length, size: readFileSync(file).length });
    await store.close();
  });

  it('a rewrite whose byte before the offset happens to be a line end is caught by the fingerprint', async () => {
    const file = path.join(dir, 'rewrite-nl.log');
    // lines 1 and 4: same host, same length, other content; the new file has a line end exactly at the old offset
    expect(lineAt(4).length).toBe(lineAt(1).length);
    expect(lineAt(4)).not.toBe(lineAt(1));
    writeFileSync(file, `${lineAt(1)}\n`);
    const { store, ingest } = await storeAndIngest();
    await ingestFile(file, { ingest, store });
    const cp = (await store.checkpoints.get(`file:${fileSourceId(file)}`))!;
    expect(cp).toMatchObject({ offset: lineAt(1).length + 1, headBytes: lineAt(1).length + 1, tailBytes: lineAt(1).length + 1, headHash: expect.any(String), tailHash: expect.any(String) });
    writeFileSync(file, `${lineAt(4)}\n${lineAt(5)}\n`);
    const starts: FileStart[] = [];
    expect(await ingestFile(file, { ingest, store, onStart: (s) => starts.push(s) })).toMatchObject({ lines: 2, accepted: 2, quarantined: 0 });
    expect(starts[0]).toMatchObject({ reason: 'replaced', offset: 0 });
    // past FINGERPRINT_BYTES: the head and the bytes before the offset are digested, at most that many each
    const long = Array.from({ length: 40 }, (_, i) => lineAt(100 + i));
    writeFileSync(file, `${long.join('\n')}\n`);
    await ingestFile(file, { ingest, store, chunkBytes: 3000 });
    expect(await store.checkpoints.get(`file:${fileSourceId(file)}`)).toMatchObject({ offset: readFileSync(file).length, headBytes: FINGERPRINT_BYTES, tailBytes: FINGERPRINT_BYTES });
    // the same bytes up to the offset and more after them is an append, whatever was rewritten
    writeFileSync(file, `${long.join('\n')}\n${lineAt(200)}\n`);
    expect(await ingestFile(file, { ingest, store })).toMatchObject({ lines: 1, accepted: 1 });
    await store.close();
  });

  it('a checkpoint stored before fingerprints resumes only after a line end', async () => {
    const file = path.join(dir, 'old-checkpoint.log');
    writeFileSync(file, `${lineAt(0)}\n${lineAt(1)}\n${lineAt(2)}\n`);
    const { store, ingest } = await storeAndIngest();
    const { ino, dev } = statSync(file);
    const id = `file:${fileSourceId(file)}`;
    const starts: FileStart[] = [];
    const onStart = (s: FileStart) => starts.push(s);
    // at a line boundary: resumed, as before
    await store.checkpoints.put(id, { ino, dev, offset: lineAt(0).length + 1 });
    expect(await ingestFile(file, { ingest, store, onStart })).toMatchObject({ lines: 2, accepted: 2, quarantined: 0 });
    expect(starts[0]).toMatchObject({ reason: 'resumed', offset: lineAt(0).length + 1 });
    // mid-line (a file rewritten in place under it): from 0
    await store.checkpoints.put(id, { ino, dev, offset: lineAt(0).length + 5 });
    expect(await ingestFile(file, { ingest, store, onStart })).toMatchObject({ lines: 3, accepted: 3, quarantined: 0 });
    expect(starts[1]).toMatchObject({ reason: 'replaced', offset: 0, detail: expect.stringMatching(/not a line end/) });
    await store.close();
  });

  it('a followed file rewritten in place between two polls (no truncation seen) is read again from 0', async () => {
    const file = path.join(dir, 'follow-rewrite.log');
    writeFileSync(file, `${lineAt(30)}\n`);
    const { store, ingest } = await storeAndIngest();
    const ac = new AbortController();
    const results: { accepted: number; quarantined: number }[] = [];
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (results.reduce((a, b) => a + b.accepted, 0) < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} rows`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const done = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, signal: ac.signal, onBatch: ({ result }) => results.push(result) });
    await waitFor(1);
    // overwrite from byte 0 without truncating: the size only grows, the inode stays
    const fd = openSync(file, 'r+');
    writeSync(fd, `${lineAt(40)}\n${lineAt(41)}\n${lineAt(42)}\n`, 0);
    closeSync(fd);
    await waitFor(4);
    ac.abort();
    expect(await done).toMatchObject({ accepted: 4, quarantined: 0 });
    await store.close();
  }, 30_000);

  it('follows a file through growth, rotation and truncation until aborted', async () => {
    const file = path.join(dir, 'follow.log');
    writeFileSync(file, `${lineAt(10)}\n`);
    const { store, ingest } = await storeAndIngest();
    const ac = new AbortController();
    const accepted: number[] = [];
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (accepted.reduce((a, b) => a + b, 0) < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} rows, have ${accepted.join('+')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const done = ingestFile(file, { ingest, store, follow: true, pollIntervalMs: 20, signal: ac.signal, onBatch: ({ result }) => accepted.push(result.accepted) });
    await waitFor(1);
    // A line written in two parts is ingested once complete.
    appendFileSync(file, lineAt(11).slice(0, 40));
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(file, `${lineAt(11).slice(40)}\n`);
    await waitFor(2);
    // Rotation: the rest of the old file is drained, then the new file is read from 0.
    appendFileSync(file, `${lineAt(12)}\n`);
    renameSync(file, `${file}.1`);
    writeFileSync(file, `${lineAt(13)}\n`);
    await waitFor(4);
    // copytruncate: same inode, size drops below our offset.
    truncateSync(file, 0);
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(file, `${lineAt(14)}\n`);
    await waitFor(5);
    ac.abort();
    const totals = await done;
    expect(totals).toMatchObject({ accepted: 5, quarantined: 0 });
    expect(await hostsSeen(store)).toBe(3);
    await store.close();
  }, 30_000);

  it('ingests an unterminated last line at EOF and quarantines garbage with its reason', async () => {
    const file = path.join(dir, 'partial.log');
    const quarantineFile = path.join(dir, 'quarantine.ndjson');
    writeFileSync(file, `${lineAt(20)}\nnot json at all\n{"name":"pack/Global/outflow_apps"}\n${lineAt(21)}`);
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile });
    const r = await ingestFile(file, { ingest, store });
    expect(r).toMatchObject({ lines: 4, accepted: 2, quarantined: 2 });
    const q = readFileSync(quarantineFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(q.map((x) => x.reason)).toEqual([expect.stringMatching(/not JSON/), 'missing host identity (decorations.host_uuid or hostIdentifier)']);
    expect(q[0]).toMatchObject({ source: `file:${fileSourceId(file)}`, line: 'not json at all' });
    expect(await store.quarantine.count()).toBe(2);
    await store.close();
  });

  it('reassembles lines split across small chunks (UTF-8 and ASCII chunks alike) and hands an oversize line over', async () => {
    const file = path.join(dir, 'chunks.log');
    // Multibyte names make some chunks non-ASCII (decoded as UTF-8) and split characters across reads.
    const lines = Array.from({ length: 12 }, (_, i) => destinationLine(hosts[i % 3]!, T0 + 100 + i, i % 4 === 0 ? `s${i}.bücher-ü${'é'.repeat(i)}.de` : `s${i}.example.com`));
    const oversize = `{"name":"${'x'.repeat(5000)}"}`;
    // CRLF endings and blank lines on the way, as a Windows-edited or concatenated log has them.
    writeFileSync(file, `${lines.slice(0, 6).join('\r\n')}\n\n${oversize}\n${lines.slice(6).join('\n\r\n')}\n`);
    const quarantineFile = path.join(dir, 'chunks-quarantine.ndjson');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile, maxLineBytes: 4096 });
    const r = await ingestFile(file, { ingest, store, chunkBytes: 97, maxLineBytes: 4096 });
    // The oversize line is quarantined in two pieces: its first chunks (too long), then the rest (not JSON).
    expect(r).toMatchObject({ accepted: 12, quarantined: 2, duplicates: 0 });
    const q = readFileSync(quarantineFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(q.map((x) => x.reason)).toEqual([expect.stringMatching(/longer than 4096 bytes/), expect.stringMatching(/not JSON/)]);
    expect(q[0].line.length + q[1].line.length).toBe(oversize.length);
    // Every multibyte destination arrived intact: its exact key is known to the store.
    const keyOf = createDestinationKeyer();
    const hostsByKey = new Map<string, Set<string>>();
    for (const l of lines) {
      const { columns: c, hostIdentifier } = JSON.parse(l) as { columns: Record<string, string>; hostIdentifier: string };
      const key = keyOf(c.server_name!, c.remote_address!);
      hostsByKey.set(key, (hostsByKey.get(key) ?? new Set()).add(hostIdentifier));
    }
    expect([...hostsByKey.keys()].filter((k) => /ü/.test(k))).toHaveLength(3);
    const stats = await store.prevalence.destinations([...hostsByKey.keys()], { from: 0, to: 4_000_000_000 });
    expect(new Map([...stats].map(([k, v]) => [k, v.hosts]))).toEqual(new Map([...hostsByKey].map(([k, h]) => [k, h.size])));
    expect(await store.checkpoints.get(`file:${fileSourceId(file)}`)).toMatchObject({ offset: readFileSync(file).length });
    await store.close();
  });

  it('refuses lines read after their batch was handed over (the read buffer is reused by then)', async () => {
    const file = path.join(dir, 'late-read.log');
    writeFileSync(file, `${lineAt(30)}\n${lineAt(31)}\n`);
    const store = await memoryStore();
    let kept: Iterable<unknown> | undefined;
    const lazy: IngestService = {
      async ingestLines(lines) {
        kept = lines;
        return emptyIngestResult();
      },
      totals: () => emptyIngestResult(),
    };
    await ingestFile(file, { ingest: lazy, store });
    expect(() => [...kept!]).toThrow(/iterated after their batch was handed over/);
    await store.close();
  });

  it('names an unreadable file as bad input', async () => {
    const { store, ingest } = await storeAndIngest();
    await expect(ingestFile(path.join(dir, 'missing.log'), { ingest, store })).rejects.toMatchObject({ code: 'INPUT_INVALID' });
    await store.close();
  });
});

describe('stream source and ingest service', () => {
  it('reads NDJSON from a stream in batches, CRLF tolerated', async () => {
    const { store, ingest } = await storeAndIngest();
    const text = [0, 1, 2, 3, 4].map((i) => lineAt(30 + i)).join('\r\n');
    const batches: number[] = [];
    const r = await ingestStream(Readable.from([text.slice(0, 100), text.slice(100)]), { ingest, batchLines: 2, onBatch: (b) => batches.push(b.lines) });
    expect(r).toMatchObject({ lines: 5, accepted: 5, quarantined: 0 });
    expect(batches).toEqual([2, 2, 1]);
    await store.close();
  });

  it('a stream line past max_line_bytes is cut, quarantined once, and its rest up to the newline dropped (memory stays bounded)', async () => {
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null, maxLineBytes: 1024 });
    const huge = 'x'.repeat(200_000);
    // chunks of 256 characters: the over-long line spans hundreds of them, and so does one without any newline at the end
    const text = `${lineAt(40)}\n${huge}\n${lineAt(41)}\n${huge}`;
    const chunks = Array.from({ length: Math.ceil(text.length / 256) }, (_, i) => text.slice(i * 256, (i + 1) * 256));
    const sizes: number[] = [];
    const spy = { ...ingest, ingestLines: (lines: Iterable<unknown>, src: Parameters<typeof ingest.ingestLines>[1]) => {
      for (const l of lines) sizes.push(String(l).length);
      return ingest.ingestLines(lines, src);
    } };
    const r = await ingestStream(Readable.from(chunks), { ingest: spy, maxLineBytes: 1024 });
    expect(r).toMatchObject({ lines: 4, accepted: 2, quarantined: 2 });
    // what reached the ingest service of each over-long line: 1 025 characters, not 200 000
    expect(Math.max(...sizes)).toBe(1025);
    expect((await store.quarantine.list(5)).map((q) => q.reason)).toEqual(['line longer than 1024 bytes', 'line longer than 1024 bytes']);
    await store.close();
  });

  it('counts ignored rows by reason, and rows of other queries by name (at most MAX_IGNORED_QUERY_NAMES names); baseline excludes them', async () => {
    const { store, ingest } = await storeAndIngest();
    const renamed = (l: string, name: string) => l.replace('"pack/Global/outflow_destinations"', JSON.stringify(name));
    const lines = [
      lineAt(0),
      renamed(lineAt(1), 'pack/Global/Outflow destinations'),
      renamed(lineAt(2), 'pack/Global/Outflow destinations'),
      // counter 0 (a baseline line) of another query: ignored, not baseline
      renamed(destinationLine(hosts[0]!, T0 + 3, 'b.example.com', APPS.chrome, 0), 'osquery_info'),
      // an Outflow query's removed row: ignored for another reason, and named nowhere
      JSON.stringify({ ...JSON.parse(lineAt(4)), action: 'removed' }),
      ...Array.from({ length: MAX_IGNORED_QUERY_NAMES + 5 }, (_, i) => renamed(lineAt(10 + i), `other_${i}`)),
    ];
    const r = await ingest.ingestLines(lines, { kind: 'test', id: 'x' });
    const others = 3 + MAX_IGNORED_QUERY_NAMES + 5;
    expect(r).toMatchObject({ lines: lines.length, accepted: lines.length, ignored: others + 1, baseline: 0, ignoredByReason: { other_query: others, removed: 1, no_rows: 0, no_identity: 0 } });
    expect(r.ignoredQueries).toHaveLength(MAX_IGNORED_QUERY_NAMES);
    expect(r.ignoredQueries.slice(0, 3)).toEqual([
      { name: 'pack/Global/Outflow destinations', rows: 2 },
      { name: 'osquery_info', rows: 1 },
      { name: 'other_0', rows: 1 },
    ]);
    // totals merge across calls within the same bound, and are a copy
    await ingest.ingestLines([renamed(lineAt(50), 'pack/Global/Outflow destinations'), renamed(lineAt(51), 'never_kept')], { kind: 'test', id: 'x' });
    const totals = ingest.totals();
    expect(totals.ignoredQueries).toHaveLength(MAX_IGNORED_QUERY_NAMES);
    expect(totals.ignoredQueries[0]).toEqual({ name: 'pack/Global/Outflow destinations', rows: 3 });
    expect(totals.ignoredByReason.other_query).toBe(others + 2);
    totals.ignoredQueries[0]!.rows = 0;
    expect(ingest.totals().ignoredQueries[0]!.rows).toBe(3);
    await store.close();
  });

  it('accepts decoded line objects (webhook details, Kafka-REST values) and row-level garbage', async () => {
    const { store, ingest } = await storeAndIngest();
    const good = JSON.parse(appLine(hosts[0]!, T0, APPS.slack));
    const badCandidate = { name: 'pack/Global/outflow_candidates', hostIdentifier: 'H', unixTime: T0, counter: 4, columns: { analytic: 'AN9999', flow_id: '' }, action: 'added' };
    const badDestination = { name: 'pack/Global/outflow_destinations', hostIdentifier: 'H', unixTime: T0, counter: 4, columns: { server_name: 'x.com' }, action: 'added' };
    const r = await ingestLines();
    async function ingestLines() {
      return ingest.ingestLines([good, badCandidate, badDestination, 'x'.repeat(10), ''], { kind: 'http', id: '127.0.0.1' });
    }
    // the two garbage rows are quarantined, not applied: rows = accepted + duplicates + quarantined rows
    expect(r).toMatchObject({ lines: 4, rows: 3, accepted: 1, duplicates: 0, quarantined: 3 });
    const reasons = (await store.quarantine.list(10)).map((q) => q.reason);
    expect(reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^outflow_candidates row invalid: analytic/), 'outflow_destinations row invalid: remote_address: missing', expect.stringMatching(/not JSON/)]));
    expect(ingest.totals()).toMatchObject({ lines: 4, quarantined: 3 });
    expect((await store.prevalence.apps([APPS.slack.identity], { from: 0, to: 4_000_000_000 })).get(APPS.slack.identity)!.hosts).toBe(1);
    await store.close();
  });

  it('quarantines each line exactly as received: a malformed line, and a rejected row with its whole line and which row it was', async () => {
    const quarantineFile = path.join(dir, 'verbatim-quarantine.ndjson');
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile });
    // odd whitespace and key order throughout: a re-serialized copy of any of them would differ
    const badLine = ` { "unixTime" :${T0},\t"name":"pack/Global/outflow_apps" ,"columns":{}, "action":"added"}  `;
    const eventLine = `{"columns" : {"server_name":"x.com",  "bytes_out":"1"},"action":"added",\t"unixTime": ${T0}, "hostIdentifier":"H", "name":"pack/Global/outflow_destinations" , "counter":4 }`;
    const batchLine = `{"name":"pack/Global/outflow_status","hostIdentifier":"H","unixTime":"${T0}","counter":5,"diffResults":{"removed":[{"component":"old"}],"added":[{"state":"running", "component":"flows"}, {"state":"x" } ]}}`;
    const snapLine = `{"snapshot":[{"component":"a"},{"state":"x"},{"component":"b"},{ "detail":"y"}],"name":"pack/Global/outflow_status","hostIdentifier":"H","unixTime":${T0}, "counter":0}`;
    const r = await ingest.ingestLines([badLine, eventLine, batchLine, snapLine], { kind: 'test', id: 'x' });
    expect(r).toMatchObject({ lines: 4, quarantined: 5 });
    const written = readFileSync(quarantineFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; line: string });
    expect(written.map((q) => [q.line, q.reason])).toEqual([
      [badLine, 'missing host identity (decorations.host_uuid or hostIdentifier)'],
      [eventLine, 'outflow_destinations row invalid: remote_address: missing'],
      [batchLine, 'outflow_status row invalid: component: missing (row diffResults.added[1])'],
      [snapLine, 'outflow_status row invalid: component: missing (row snapshot[1])'],
      // the line once: a later rejected row of it holds the row with its envelope
      [JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'H', unixTime: T0, columns: { detail: 'y' } }), 'outflow_status row invalid: component: missing (row snapshot[3])'],
    ]);
    // the store keeps the same text
    expect((await store.quarantine.list(10)).map((q) => q.line).reverse()).toEqual(written.map((q) => q.line));
    await store.close();
    // past max_quarantine_per_batch, rows of one line count as the one reason they share
    const capped = await memoryStore();
    const few = createIngestService({ store: capped, analytics: defaultAnalyticsConfig(), quarantineFile: null, maxQuarantinePerBatch: 1 });
    const bad = JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'H', unixTime: T0, counter: 0, snapshot: [{ state: 'a' }, { state: 'b' }, { state: 'c' }] });
    expect(await few.ingestLines([bad], { kind: 'test', id: 'x' })).toMatchObject({ quarantined: 3 });
    expect((await capped.quarantine.list(1))[0]!.reason).toMatch(/; most common reason \(2\): outflow_status row invalid: component: missing$/);
    await capped.close();
  });

  it('a line of many rows is quarantined once: every rejected row is in the kept text, and the batch caps hold distinct lines', async () => {
    const { store, ingest } = await storeAndIngest();
    // 400 status rows of ~230 bytes (a 90 KiB line, past the 64 KiB line cap); the last one has no component
    const rows: Record<string, string>[] = Array.from({ length: 399 }, (_, i) => ({ component: `c${i}`, state: 'running', detail: 'x'.repeat(200) }));
    rows.push({ state: 'the-bad-one' });
    const big = JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'H', unixTime: T0, counter: 0, snapshot: rows });
    expect(big.length).toBeGreaterThan(64 * 1024);
    expect(await ingest.ingestLines([big], { kind: 'test', id: 'big' })).toMatchObject({ quarantined: 1 });
    const [q] = await store.quarantine.list(10);
    expect(q!.reason).toBe('outflow_status row invalid: component: missing (row snapshot[399])');
    expect(q!.line).toContain('the-bad-one');

    // 300 rejected rows in one 30 KiB line: the line once, not 300 copies eating max_quarantine_bytes_per_batch
    const allBad = JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'H', unixTime: T0 + 1, counter: 0, snapshot: Array.from({ length: 300 }, (_, i) => ({ state: `s${i}`, detail: 'y'.repeat(80) })) });
    const other = ` {"name":"pack/Global/outflow_status","hostIdentifier":"H2","unixTime":${T0 + 1},"counter":0,"columns":{"state":"z"},"action":"added"}`;
    const capped = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null, maxQuarantineBytesPerBatch: 1024 * 1024 });
    expect(await capped.ingestLines([allBad, other], { kind: 'test', id: 'many' })).toMatchObject({ quarantined: 301 });
    const kept = (await store.quarantine.list(1000)).filter((x) => x.source === 'test:many').reverse();
    expect(kept).toHaveLength(301); // all fit: no summary row standing for dropped ones
    expect(kept.filter((x) => x.line === allBad)).toHaveLength(1);
    expect(kept.reduce((n, x) => n + x.line.length, 0)).toBeLessThan(3 * allBad.length);
    expect(kept[1]!.reason).toBe('outflow_status row invalid: component: missing (row snapshot[1])');
    expect(JSON.parse(kept[1]!.line)).toMatchObject({ name: 'pack/Global/outflow_status', hostIdentifier: 'H', columns: { state: 's1' } });
    expect(kept[300]!.line).toBe(other);
    await store.close();
  });

  it('dedupes on content: column key order and string/number encoding do not matter', async () => {
    const { store, ingest } = await storeAndIngest();
    // A candidate row: the rows a dedupe key tracks (other rows are idempotent merges, applied again).
    const line = JSON.parse(candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.example.org', bytes_out: 30 * MiB, first_seen: T0 }, T0 + 50));
    const reordered = { ...line, unixTime: String(line.unixTime), columns: Object.fromEntries(Object.entries(line.columns as Record<string, string>).reverse().map(([k, v]) => [k, /^\d+$/.test(v) ? Number(v) : v])) };
    expect(await ingest.ingestLines([line, reordered], { kind: 'test', id: 'x' })).toMatchObject({ accepted: 1, duplicates: 1, duplicateRejects: 0, candidates: 1 });
    await store.close();
  });

  it('a re-delivered invalid row is counted as a duplicate reject, not quarantined again', async () => {
    const { store, ingest } = await storeAndIngest();
    const bad = JSON.stringify({ name: 'pack/Global/outflow_destinations', hostIdentifier: 'H', unixTime: T0, counter: 4, columns: { server_name: 'x.com' }, action: 'added' });
    expect(await ingest.ingestLines([bad, bad], { kind: 'test', id: 'x' })).toMatchObject({ accepted: 0, duplicates: 1, duplicateRejects: 1, quarantined: 1 });
    expect(await ingest.ingestLines([bad], { kind: 'test', id: 'x' })).toMatchObject({ accepted: 0, duplicates: 1, duplicateRejects: 1, quarantined: 0 });
    // an invalid candidate row is keyed as a candidate before it is rejected: still a reject when re-delivered
    const badCandidate = JSON.stringify({ name: 'pack/Global/outflow_candidates', hostIdentifier: 'H', unixTime: T0, counter: 4, columns: { analytic: 'AN1415' }, action: 'added' });
    expect(await ingest.ingestLines([badCandidate], { kind: 'test', id: 'x' })).toMatchObject({ duplicates: 0, quarantined: 1 });
    expect(await ingest.ingestLines([badCandidate], { kind: 'test', id: 'x' })).toMatchObject({ duplicates: 1, duplicateRejects: 1, quarantined: 0 });
    expect(await store.quarantine.list(10)).toHaveLength(2);
    await store.close();
  });

  it('a source that keys its inputs gets a re-delivered unreadable line or rejected input counted as a duplicate, not quarantined again', async () => {
    const store = await memoryStore();
    const file = path.join(dir, 'keyed-quarantine.jsonl');
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: file });
    const good = lineAt(1);
    const inputs = [good, '{"name": truncated', new RejectedInput('payload in a compression Node.js lacks', 'base64:AAEC'), ''];
    // keyed by position and delivery identity, as the NATS input keys by message
    const keyed = (delivery: string) => ({ kind: 'test', id: 'x', inputKey: (i: number) => ({ digest: `${delivery}:${i}`, unixTime: T0 }) });
    expect(await ingest.ingestLines(inputs, keyed('m1'))).toMatchObject({ lines: 3, rows: 1, accepted: 1, duplicates: 0, quarantined: 2 });
    expect(await ingest.ingestLines(inputs, keyed('m1'))).toMatchObject({ lines: 3, rows: 1, accepted: 1, duplicates: 2, duplicateRejects: 2, quarantined: 0 });
    expect((await store.quarantine.list(10)).map((q) => [q.reason.slice(0, 8), q.line])).toEqual([
      ['payload ', 'base64:AAEC'],
      ['not JSON', '{"name": truncated'],
    ]);
    // another delivery's inputs (other keys) are new; unkeyed, the unreadable line is quarantined again as before
    expect(await ingest.ingestLines(inputs, keyed('m2'))).toMatchObject({ duplicates: 0, quarantined: 2 });
    expect(await ingest.ingestLines(['{"name": truncated'], { kind: 'test', id: 'x' })).toMatchObject({ duplicates: 0, quarantined: 1 });
    expect(await store.quarantine.count()).toBe(5);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(5);
    await store.close();
  });

  it('a re-delivered snapshot line with an invalid row quarantines that row once; its valid rows apply again', async () => {
    const { store, ingest } = await storeAndIngest();
    const status = (component: string) => ({ component, detail: '', dropped: '0', events: '1', last_event: String(T0), platform: 'darwin', state: 'running', version: '0.1.0' });
    const snap = JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'H', unixTime: T0, counter: 0, snapshot: [status('flows'), status(''), status('eslogger')], action: 'snapshot' });
    expect(await ingest.ingestLines([snap], { kind: 'test', id: 'x' })).toMatchObject({ rows: 3, accepted: 2, baseline: 2, duplicates: 0, quarantined: 1 });
    expect(await ingest.ingestLines([snap, snap], { kind: 'test', id: 'x' })).toMatchObject({ rows: 6, accepted: 4, duplicates: 2, duplicateRejects: 2, quarantined: 0 });
    expect(await store.quarantine.list(10)).toHaveLength(1);
    expect((await store.hosts.listStatus('H')).map((r) => r.component)).toEqual(['eslogger', 'flows']);
    await store.close();
  });

  it('app attributes of one batch do not depend on row order (newest wins, equal times: greater value)', async () => {
    // The older row carries the greater values: it must lose on time, not win a tie by arrival order.
    const older = { ...APPS.slack, path: '/Applications/Slack.app/Contents/MacOS/Slack~old', cdhash: 'zz' };
    const newer = { ...APPS.slack, path: '/Applications/Slack.app/Contents/MacOS/Slack', cdhash: 'aa' };
    const tie = { ...APPS.slack, path: '/Applications/Slack.app/Contents/MacOS/Slack', cdhash: 'bb' };
    const lines = [appLine(hosts[0]!, T0, older), appLine(hosts[1]!, T0 + 60, newer), appLine(hosts[2]!, T0 + 60, tie), appLine(hosts[0]!, T0 + 60, newer, 4)];
    const results = [];
    for (const order of [lines, [...lines].reverse(), [lines[2]!, lines[0]!, lines[3]!, lines[1]!]]) {
      const { store, ingest } = await storeAndIngest();
      await ingest.ingestLines(order, { kind: 'test', id: 'x' });
      const app = (await store.prevalence.apps([APPS.slack.identity], { from: 0, to: 4_000_000_000 })).get(APPS.slack.identity)!;
      results.push({ path: app.path, cdhash: app.cdhash, hosts: app.hosts });
      await store.close();
    }
    expect(results[0]).toEqual({ path: newer.path, cdhash: 'bb', hosts: 3 });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('rejects with StoreError when the store cannot commit, applying nothing', async () => {
    const { store, ingest } = await storeAndIngest();
    await store.close();
    await expect(ingest.ingestLines([lineAt(40)], { kind: 'test', id: 'x' })).rejects.toMatchObject({ name: 'StoreError' });
  });
});
