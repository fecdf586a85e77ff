import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeUdp, LINK, linkMeta } from './decode-udp.js';
import { emptyStats, learnFromPacket } from './learn.js';
import { PendingQueries } from './match-queries.js';
import { createDnsNameCache } from './name-cache.js';
import { CaptureStreamParser, type CapturedPacket } from './parse-capture.js';
import { buildAnswer, buildQuery, TYPE } from './testing/dns-wire.js';
import { captureFixtures, type Capture } from './testing/live-capture.js';
import { createVethLab, HOST, RESOLVER, type VethLab } from './testing/veth-lab.js';

/**
 * Off loopback, with the real tcpdump on `any`: this host asks a resolver in a network namespace over a veth (Linux
 * records the queries as PACKET_OUTGOING, the answers as received), while the resolver answers one query twice and
 * sends one answer nobody asked for, and a guest namespace on another veth writes the resolver's address with the
 * ports, id and question of a pending query. `OUTFLOW_UPDATE_DNS_FIXTURES=1` rewrites fixtures/dns-veth-*.pcap
 * (only the lab's 198.18.53.0/30 traffic).
 */

const PORT = 45353;
const FILTER = `udp and port 53 and host ${RESOLVER}`;
const VARIANTS = [
  { fixture: 'dns-veth-sll2.pcap', args: ['-i', 'any'], linkType: LINK.LINUX_SLL2 },
  { fixture: 'dns-veth-sll.pcap', args: ['-i', 'any', '-y', 'LINUX_SLL'], linkType: LINK.LINUX_SLL },
] as const;
/** query, answer; query, answer, second answer; query, guest's forgery, answer; query, answer, unsolicited answer */
const PACKETS = 11;

const answer = (id: number, name: string, address: string) =>
  buildAnswer(id, name, address, 300);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exchange(lab: VethLab): Promise<void> {
  await lab.serve({
    0x0a01: [[0, answer(0x0a01, 'good.example.com', '198.51.100.1')]],
    0x0a02: [
      [0, answer(0x0a02, 'twice.example.com', '203.0.113.66')],
      [50, answer(0x0a02, 'twice.example.com', '198.51.100.2')],
    ],
    // late, so that the guest's forgery is captured first
    0x0a03: [[1500, answer(0x0a03, 'other-if.example.com', '198.51.100.3')]],
    0x0a04: [
      [0, answer(0x0a04, 'trigger.example.com', '198.51.100.4')],
      [50, answer(0x0bad, 'www.apple.com', '203.0.113.77')],
    ],
  });
  const client = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    client.once('error', reject);
    client.bind(PORT, HOST, resolve);
  });
  try {
    const ask = (id: number, name: string) => new Promise<void>((resolve, reject) => client.send(buildQuery(id, name, TYPE.A), 53, RESOLVER, (err) => (err ? reject(err) : resolve())));
    await ask(0x0a01, 'good.example.com');
    await sleep(200);
    await ask(0x0a02, 'twice.example.com');
    await sleep(300);
    await ask(0x0a03, 'other-if.example.com');
    await lab.forge(answer(0x0a03, 'other-if.example.com', '203.0.113.66'), PORT);
    await sleep(1800);
    await ask(0x0a04, 'trigger.example.com');
  } finally {
    // tcpdump exits once it has seen every packet; the socket may close before the last answers land
    setTimeout(() => client.close(), 1000);
  }
}

function learnAll(packets: readonly CapturedPacket[]) {
  const names = createDnsNameCache({ maxNames: 100, maxTtl: 86_400, grace: 0, lateSlack: 0 });
  const stats = emptyStats();
  const pending = new PendingQueries({ maxPending: 64, timeoutMs: 10_000 }, stats);
  // one reading time for the whole capture: the 10 s timeout is not what this tests
  for (const p of packets) learnFromPacket(p, { trusted: new Map([[RESOLVER, null]]), names, pending, at: 1000, nowMs: 0, stats, untrustedSeen: new Set() });
  const named = Object.fromEntries(['198.51.100.1', '203.0.113.66', '198.51.100.2', '198.51.100.3', '198.51.100.4', '203.0.113.77'].map((a) => [a, names.nameFor(a, 1000)]));
  return { stats, named };
}

/** What tcpdump wrote, in order: direction and interface of each packet as the link header has them. */
function expectShape(packets: readonly CapturedPacket[], linkType: number): void {
  expect(packets).toHaveLength(PACKETS);
  const shape = packets.map((p) => {
    expect(p.linkType).toBe(linkType);
    const d = decodeUdp(p.linkType, p.data);
    if (!d.ok) throw new Error(d.reason);
    return { query: d.datagram.dstPort === 53, ...linkMeta(p.linkType, p.data) };
  });
  expect(shape.map((s) => [s.query, s.direction])).toEqual([
    [true, 'out'], [false, 'in'],
    [true, 'out'], [false, 'in'], [false, 'in'],
    [true, 'out'], [false, 'in'], [false, 'in'],
    [true, 'out'], [false, 'in'], [false, 'in'],
  ]);
  if (linkType === LINK.LINUX_SLL2) {
    // the guest's forgery (7th) came in on another interface than everything else
    const resolverLink = shape[0]!.ifindex;
    expect(shape.flatMap((s, i) => (s.ifindex !== resolverLink ? [i] : []))).toEqual([6]);
  }
}

function expectOutcome(packets: readonly CapturedPacket[], linkType: number): void {
  const { stats, named } = learnAll(packets);
  // Linux cooked v1 records no interface: the guest's forgery answers the query, and the resolver's own answer
  // after it makes a second one, so neither names anything (the forgery's name is taken back). With v2's
  // interfaces the forgery matches nothing and the resolver's answer names.
  const noInterface = linkType !== LINK.LINUX_SLL2;
  // four answers named something (the first of the pair too, until the second took it back)
  expect(stats).toMatchObject({ packets: PACKETS, queries: 4, foreignQueries: 0, answers: 4, duplicates: noInterface ? 2 : 1, unmatched: noInterface ? 1 : 2, misplaced: 0, malformed: 0 });
  expect(named).toEqual({
    '198.51.100.1': 'good.example.com',
    // answered twice: neither counts
    '203.0.113.66': '',
    '198.51.100.2': '',
    '198.51.100.3': noInterface ? '' : 'other-if.example.com',
    '198.51.100.4': 'trigger.example.com',
    '203.0.113.77': '',
  });
}

const parse = (bytes: Buffer) => new CaptureStreamParser().push(bytes);

describe('DNS over a veth, captured live (netns, real tcpdump)', () => {
  let lab: VethLab | undefined;
  let captures = new Map<string, Capture>();
  let setupError: unknown;

  beforeAll(async () => {
    try {
      lab = createVethLab();
      const veths = lab;
      captures = await captureFixtures(VARIANTS, FILTER, PACKETS, () => exchange(veths), 20_000);
    } catch (err) {
      setupError = err;
    }
  }, 60_000);
  afterAll(() => lab?.close());

  it.each(VARIANTS)('$args: queries recorded outgoing, answers received; only the answers to them name', (v) => {
    if (setupError) throw setupError;
    const packets = parse(Buffer.concat(captures.get(v.fixture)!.chunks));
    expectShape(packets, v.linkType);
    expectOutcome(packets, v.linkType);
  });
});

describe('DNS over a veth (fixtures from that live capture)', () => {
  it.each(VARIANTS)('$fixture', (v) => {
    const packets = parse(readFileSync(join(import.meta.dirname, 'fixtures', v.fixture)));
    expectShape(packets, v.linkType);
    expectOutcome(packets, v.linkType);
  });
});
