/**
 * A Fleet subject template whose tag is not the last token (`<p>.{log.decorations.hostname}.results`). Fleet's
 * template router writes the tag's value as it is (fleetdm/fleet server/logging/nats.go, natsTemplateRouter), so a
 * hostname with dots (`studio-14.local`, every Mac's Bonjour name) spans several subject tokens; `*` matches exactly one.
 */
import { expect, it } from 'vitest';
import { startNatsSource, type NatsBatch } from '../../fleet/ingest/nats-source.js';
import { NatsInputConfigSchema } from '../../src/config/fleet-shared.js';
import { silentLogger } from '../../src/log.js';
import { NATS_TEST_URL, natsTestRuns, type TestStream } from '../helpers/nats.js';

const nats = natsTestRuns();
const { sources } = nats;
let ts: TestStream | undefined;

it('consumes the messages of a host whose hostname has dots when the template tag is in the middle of the subject', async () => {
  ts = await nats.stream('nsubj', { create: true }); // stream subjects: <prefix>.>
  const got: NatsBatch['messages'] = [];
  const config = NatsInputConfigSchema.parse({
    servers: NATS_TEST_URL,
    stream: ts.stream,
    subjects: [`${ts.prefix}.{log.decorations.hostname}.results`],
    durable: 'agg',
    batch: 10,
    fetch_wait_ms: 1000,
    ack_wait_s: 2,
  });
  const s = await startNatsSource({ config, log: silentLogger(), handler: async (b) => void got.push(...b.messages) });
  sources.push(s);
  // what Fleet publishes for hosts "build-01" and "studio-14.local"
  await ts.publish(`${ts.prefix}.build-01.results`, ['{"x":1}']);
  await ts.publish(`${ts.prefix}.studio-14.local.results`, ['{"x":2}']);
  const deadline = Date.now() + 6000;
  while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(got.map((m) => m.subject).sort()).toEqual([`${ts.prefix}.build-01.results`, `${ts.prefix}.studio-14.local.results`]);
}, 30_000);

it('acks and skips a subject the filter takes but no template produces (Fleet status logs on a sibling template)', async () => {
  ts = await nats.stream('nsubj2', { create: true });
  const got: NatsBatch['messages'] = [];
  const config = NatsInputConfigSchema.parse({
    servers: NATS_TEST_URL,
    stream: ts.stream,
    subjects: [`${ts.prefix}.{log.decorations.hostname}.results`],
    durable: 'agg2',
    batch: 10,
    fetch_wait_ms: 1000,
    ack_wait_s: 2,
  });
  const s = await startNatsSource({ config, log: silentLogger(), handler: async (b) => void got.push(...b.messages) });
  sources.push(s);
  await ts.publish(`${ts.prefix}.studio-14.local.status`, ['{"status":1}']);
  await ts.publish(`${ts.prefix}.studio-14.local.results`, ['{"x":2}']);
  const deadline = Date.now() + 6000;
  while ((got.length < 1 || s.stats().otherSubjects < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(got.map((m) => m.subject)).toEqual([`${ts.prefix}.studio-14.local.results`]);
  expect(s.stats().otherSubjects).toBe(1);
  // acked: not delivered again after ack_wait
  await new Promise((r) => setTimeout(r, 2500));
  expect(s.stats().otherSubjects).toBe(1);
}, 30_000);

it('subjectMatcher: a tag spans one or more tokens; literal tokens, * and > keep their NATS meaning', async () => {
  const { subjectMatcher } = await import('../../fleet/ingest/nats-source.js');
  const m = subjectMatcher(['fleet.{log.decorations.hostname}.results', 'raw.*.x', 'all.>']);
  expect(['fleet.h1.results', 'fleet.studio-14.local.results', 'raw.a.x', 'all.a.b'].map(m)).toEqual([true, true, true, true]);
  expect(['fleet.h1.status', 'fleet.results', 'raw.a.b.x', 'all', 'fleetXh1.results'].map(m)).toEqual([false, false, false, false, false]);
  expect(subjectMatcher(['osquery.result'])('anything')).toBe(true);
});

it('drops a filter another one covers (nats-server refuses overlapping filter_subjects)', async () => {
  const { subjectFilters } = await import('../../fleet/ingest/nats-source.js');
  expect(subjectFilters(['a.{log.decorations.hostname}.results', 'a.b.c', 'x.y'])).toEqual(['a.>', 'x.y']);
  expect(subjectFilters(['a.*', 'a.b', 'a.*'])).toEqual(['a.*']);
  expect(subjectFilters(['a.b', 'a.c'])).toEqual(['a.b', 'a.c']);
});
