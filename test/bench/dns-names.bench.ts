/**
 * dns_names: what one captured DNS exchange costs the extension (capture parse → UDP → DNS → query matching →
 * labels → name cache), on an Apple-like pcapng stream in 64 KiB pipe chunks, and what a full name cache (dns_names.max_names,
 * 50 000 addresses) holds in memory. No target in an issue: the numbers say whether a DNS-heavy Mac could notice.
 */
import { createDnsNameCache } from '../../extension/tables/process_network_flows/dns-names/name-cache.js';
import { emptyStats, learnFromPacket } from '../../extension/tables/process_network_flows/dns-names/learn.js';
import { PendingQueries } from '../../extension/tables/process_network_flows/dns-names/match-queries.js';
import { CaptureStreamParser } from '../../extension/tables/process_network_flows/dns-names/parse-capture.js';
import { buildDnsMessage, buildQuery, RESPONSE_FLAGS, TYPE } from '../../extension/tables/process_network_flows/dns-names/testing/dns-wire.js';
import { appleEpbOptions, EPB_INBOUND, EPB_OUTBOUND, ethernet, ETHERTYPE, ipv4, PcapngWriter, udp } from '../../extension/tables/process_network_flows/dns-names/testing/frames.js';
import type { BenchContext } from './run.js';

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const CHUNK = 64 * 1024;

/**
 * n exchanges as Apple's tcpdump writes them: mDNSResponder's query out on en0, then its answer in, 9 in 10 from the
 * router (trusted), a CNAME to a CDN name and 1–4 addresses each.
 */
function capture(n: number): Buffer {
  const w = new PcapngWriter();
  w.shb().pib(412, 'mDNSResponder').idb(1, { opts: [w.option(2, 'en0')] });
  const ts = BigInt(Date.now()) * 1000n;
  const out = appleEpbOptions(w, { pib: 0, direction: EPB_OUTBOUND });
  const inbound = appleEpbOptions(w, { pib: 0, direction: EPB_INBOUND });
  for (let i = 0; i < n; i++) {
    const name = `api${i % 977}.service${i % 4001}.example.com`;
    const edge = `e${i % 7919}.dscx.cdn-edge.example.net`;
    const answers: { name: string; type: number; ttl: number; data: string }[] = [{ name, type: TYPE.CNAME, ttl: 300, data: edge }];
    for (let k = 0; k <= i % 4; k++) answers.push({ name: edge, type: TYPE.A, ttl: 20, data: `${10 + (i % 200)}.${(i >> 8) & 255}.${i & 255}.${k + 1}` });
    const dns = buildDnsMessage({ id: i & 0xffff, flags: RESPONSE_FLAGS, questions: [{ name, type: TYPE.A }], answers });
    const server = i % 10 === 9 ? '203.0.113.53' : '192.168.1.1';
    const port = 49152 + (i % 16000);
    w.epb(0, ts, ethernet(ETHERTYPE.IPV4, ipv4({ src: '192.168.1.20', dst: server, payload: udp({ srcPort: port, dstPort: 53, payload: buildQuery(i & 0xffff, name, TYPE.A) }) })), { opts: out });
    w.epb(0, ts, ethernet(ETHERTYPE.IPV4, ipv4({ src: server, dst: '192.168.1.20', payload: udp({ srcPort: 53, dstPort: port, payload: dns }) })), { opts: inbound });
  }
  return w.done();
}

export default async function (b: BenchContext): Promise<void> {
  const n = b.quick ? 20_000 : 200_000;
  const stream = capture(n);
  const trusted = new Map([["192.168.1.1", new Set(["en0"])]]);

  const run = () => {
    const names = createDnsNameCache({ maxNames: 50_000, maxTtl: 86_400, grace: 600, lateSlack: 7 });
    const stats = emptyStats();
    const untrustedSeen = new Set<string>();
    const parser = new CaptureStreamParser();
    // dns_names' defaults
    const pending = new PendingQueries({ maxPending: 4096, timeoutMs: 10_000 }, stats);
    const at = Math.floor(Date.now() / 1000);
    const nowMs = Date.now();
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let off = 0, chunk = 0; off < stream.length; off += CHUNK, chunk++) {
      // A chunk (a few hundred exchanges) per query_timeout: more than the cap of 4 096 within one timeout would be a flood,
      // whose answered queries the cap pushes out and takes back (a Mac resolves tens of names a second).
      const chunkMs = nowMs + chunk * 10_000;
      // a pipe hands over a fresh Buffer per read: copy, as the parser may keep subarrays of a chunk
      for (const p of parser.push(Buffer.from(stream.subarray(off, off + CHUNK)))) learnFromPacket(p, { trusted, names, pending, at, nowMs: chunkMs, stats, untrustedSeen });
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    return { names, stats, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };

  run(); // warm the JIT
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const r = run();
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  b.report(`capture → names, ${n} queries and their responses (pcapng, 64 KiB chunks)`, {
    packets: r.stats.packets,
    queries: r.stats.queries,
    answers: r.stats.answers,
    untrusted: r.stats.untrusted,
    unmatched: r.stats.unmatched,
    malformed: r.stats.malformed,
    revoked_at_cap: r.stats.revokedAtCap,
    // a response's cost here includes reading its query
    responses_per_cpu_s: Math.round(n / r.cpuSeconds),
    packets_per_cpu_s: Math.round(r.stats.packets / r.cpuSeconds),
    mb_per_cpu_s: Math.round((stream.length / 1e6 / r.cpuSeconds) * 10) / 10,
    cpu_seconds: r.cpuSeconds,
  });
  b.report('name cache full (dns_names.max_names = 50 000)', {
    addresses: r.names.size,
    heap_mb: Math.round(((heapAfter - heapBefore) / 1e6) * 10) / 10,
    bytes_per_address: Math.round((heapAfter - heapBefore) / r.names.size),
  });
  // the flow store asks once per new flow (and per sample while a flow is unnamed)
  const lookups = 1_000_000;
  const c0 = process.cpuUsage();
  let hits = 0;
  for (let i = 0; i < lookups; i++) if (r.names.nameFor(`${10 + (i % 200)}.${(i >> 8) & 255}.${i & 255}.1`, Math.floor(Date.now() / 1000))) hits++;
  const c = process.cpuUsage(c0);
  b.report('nameFor (flow store lookup)', { lookups, hits, lookups_per_cpu_s: Math.round(lookups / ((c.user + c.system) / 1e6)) });
}
