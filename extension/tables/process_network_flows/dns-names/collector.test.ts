/**
 * The dns_names collector against the fake macOS tcpdump and scutil (real child processes): restarts,
 * refusals, an unreadable stream, resolvers that cannot be read, and stop.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_TOOLS_DIR } from '../../../../test/helpers/cli.js';
import { parseConfig } from '../../../../src/config/index.js';
import { silentLogger } from '../../../../src/log.js';
import { createContext } from '../../../runtime/create-context.js';
import { createDnsNamesCollector, tcpdumpArgs, type DnsNamesCollector } from './collector.js';
import { buildAnswer, buildQuery, TYPE } from './testing/dns-wire.js';
import { appleEpbOptions, EPB_INBOUND, EPB_OUTBOUND, ethernet, ETHERTYPE, ipv4, PcapngWriter, udp } from './testing/frames.js';

const SCUTIL_VPN = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/scutil-dns-vpn.txt');
const FAKE_ENV = ['OUTFLOW_FAKE_TCPDUMP', 'OUTFLOW_FAKE_TCPDUMP_DENY', 'OUTFLOW_FAKE_SCUTIL_DNS', 'OUTFLOW_FAKE_CALLS'];
const running: DnsNamesCollector[] = [];
const temps: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  for (const k of FAKE_ENV) delete process.env[k];
  while (temps.length) rmSync(temps.pop()!, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'outflow-dns-collector-'));
  temps.push(d);
  return d;
}

function start(env: Record<string, string>, config: Record<string, unknown> = {}) {
  // ToolRunner hands OUTFLOW_FAKE_* from this process's environment to the fake tools
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const ctx = createContext({ platform: 'darwin', config: parseConfig({ tools: { dir: FAKE_TOOLS_DIR }, ...config }), log: silentLogger() });
  const collector = createDnsNamesCollector(ctx, { initialBackoffMs: 50, readyMaxMs: 5000 });
  running.push(collector);
  collector.start();
  return { ctx, collector, health: () => ctx.health.rows().find((r) => r.component === 'dns_names')! };
}

async function until(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function callsOf(file: string, tool: string): string[][] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { tool: string; args: string[] })
    .filter((c) => c.tool === tool)
    .map((c) => c.args);
}

/** One UDP over IPv4 packet on interface `iface` (its IDB index) of an Apple pcapng, from process 0, `direction` in epb_flags if given. */
function udpPacket(w: PcapngWriter, iface: number, ts: bigint, p: { src: string; dst: string; srcPort: number; dstPort: number; payload: Buffer; direction?: number }): void {
  w.epb(iface, ts, ethernet(ETHERTYPE.IPV4, ipv4({ src: p.src, dst: p.dst, payload: udp({ srcPort: p.srcPort, dstPort: p.dstPort, payload: p.payload }) })), { opts: appleEpbOptions(w, { pib: 0, direction: p.direction }) });
}

/** en0 capture as Apple's tcpdump writes it: mDNSResponder asks the router for `name`, which answers `address`. */
function answerCapture(name: string, address: string, tail?: Buffer): Buffer {
  const w = new PcapngWriter();
  const ts = BigInt(Date.now()) * 1000n;
  const query = buildQuery(7, name, TYPE.A);
  const dns = buildAnswer(7, name, address, 300);
  w.shb().pib(412, 'mDNSResponder').idb(1, { opts: [w.option(2, 'en0')] });
  udpPacket(w, 0, ts, { src: '192.168.1.20', dst: '192.168.1.1', srcPort: 50000, dstPort: 53, payload: query, direction: EPB_OUTBOUND });
  udpPacket(w, 0, ts, { src: '192.168.1.1', dst: '192.168.1.20', srcPort: 53, dstPort: 50000, payload: dns, direction: EPB_INBOUND });
  return tail ? Buffer.concat([w.done(), tail]) : w.done();
}

describe('dns_names collector (fake tcpdump and scutil)', () => {
  it('runs tcpdump for DNS both ways, as binary capture on every interface, and learns trusted answers to its queries', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'c.pcapng');
    writeFileSync(capture, answerCapture('files.example-storage.net', '198.51.100.23'));
    const calls = path.join(dir, 'calls.jsonl');
    const { ctx, collector, health } = start({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN, OUTFLOW_FAKE_CALLS: calls });
    await collector.ready();
    await until(() => collector.stats().answers === 1);
    expect(callsOf(calls, 'tcpdump')).toEqual([tcpdumpArgs('darwin')]);
    expect(tcpdumpArgs('darwin')).toEqual(['-i', 'pktap,all', '-n', '-p', '-U', '-s', '0', '-w', '-', 'udp and port 53']);
    expect(tcpdumpArgs('linux').slice(0, 2)).toEqual(['-i', 'any']);
    expect(callsOf(calls, 'scutil')).toEqual([['--dns']]);
    expect(collector.trustedResolvers()).toEqual(['10.8.0.1', '192.168.1.1', 'fe80::1']);
    expect(ctx.dnsNames.nameFor('198.51.100.23', ctx.clock.unix())).toBe('files.example-storage.net');
    await until(() => health().detail.startsWith('1 addresses named from 1 answers'));
    expect(health()).toMatchObject({ state: 'running', events: 1, dropped: 0 });
    expect(collector.stats()).toMatchObject({ packets: 2, queries: 1, answers: 1, unmatched: 0 });
  });

  it('unsolicited and second answers name nothing, the pending cap comes from the config, and the row counts each', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'c.pcapng');
    const w = new PcapngWriter();
    const ts = BigInt(Date.now()) * 1000n;
    const frame = (src: string, dst: string, srcPort: number, dstPort: number, dns: Buffer, direction: number) =>
      udpPacket(w, 0, ts, { src, dst, srcPort, dstPort, payload: dns, direction });
    const ask = (id: number, name: string) => frame('192.168.1.20', '192.168.1.1', 50000 + id, 53, buildQuery(id, name, TYPE.A), EPB_OUTBOUND);
    const tell = (id: number, name: string, address: string) =>
      frame('192.168.1.1', '192.168.1.20', 53, 50000 + id, buildAnswer(id, name, address, 300), EPB_INBOUND);
    w.shb().pib(412, 'mDNSResponder').idb(1, { opts: [w.option(2, 'en0')] });
    tell(1, 'www.apple.com', '203.0.113.66'); // nobody asked
    ask(2, 'a.example.com');
    tell(2, 'a.example.com', '203.0.113.67'); // a forger first…
    tell(2, 'a.example.com', '198.51.100.2'); // …then the resolver
    ask(3, 'b.example.com');
    ask(4, 'c.example.com'); // the cap of 1 pushes b out
    tell(3, 'b.example.com', '198.51.100.3');
    tell(4, 'c.example.com', '198.51.100.4');
    ask(5, 'd.example.com');
    tell(5, 'd.example.com', '198.51.100.5');
    ask(6, 'e.example.com'); // the cap pushes d out before a second answer to it could be seen: d's name is taken back
    tell(6, 'e.example.com', '198.51.100.6');
    writeFileSync(capture, w.done());
    const { ctx, collector, health } = start({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN }, { dns_names: { max_pending_queries: 1 } });
    await until(() => collector.stats().packets === 12);
    expect(collector.stats()).toMatchObject({ queries: 5, answers: 4, unmatched: 2, duplicates: 1, evicted: 1, revokedAtCap: 2 });
    const now = ctx.clock.unix();
    expect(['203.0.113.66', '203.0.113.67', '198.51.100.2', '198.51.100.3'].map((a) => ctx.dnsNames.nameFor(a, now))).toEqual(['', '', '', '']);
    expect(['198.51.100.4', '198.51.100.5'].map((a) => ctx.dnsNames.nameFor(a, now))).toEqual(['', '']);
    expect(ctx.dnsNames.nameFor('198.51.100.6', now)).toBe('e.example.com');
    await until(() => health().detail.includes('2 answers that match no query this host sent ignored'));
    expect(health().detail).toContain('1 second answers to one query: neither names anything');
    expect(health().detail).toContain('1 queries dropped unanswered at dns_names.max_pending_queries');
    expect(health().detail).toContain('2 answers taken back: dns_names.max_pending_queries pushed their query out within dns_names.query_timeout');
    expect(health()).toMatchObject({ state: 'running', dropped: 3 });
  });

  it('a capture that records no direction names nothing, and the row says why (degraded)', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'c.pcapng');
    const w = new PcapngWriter();
    const ts = BigInt(Date.now()) * 1000n;
    // as Apple's pcapng would look if its epb_flags were missing: the same exchange, no direction on either packet
    const dns = buildAnswer(7, 'a.example.com', '198.51.100.9', 300);
    w.shb().pib(412, 'mDNSResponder').idb(1, { opts: [w.option(2, 'en0')] }).idb(1, { opts: [w.option(2, 'lo0')] });
    // a loopback resolver's query (a DNS filter agent on 127.0.0.1) is this host's, but says nothing of en0's direction
    udpPacket(w, 1, ts, { src: '127.0.0.1', dst: '127.0.0.1', srcPort: 50001, dstPort: 53, payload: buildQuery(8, 'b.example.com', TYPE.A) });
    udpPacket(w, 0, ts, { src: '192.168.1.20', dst: '192.168.1.1', srcPort: 50000, dstPort: 53, payload: buildQuery(7, 'a.example.com', TYPE.A) });
    udpPacket(w, 0, ts, { src: '192.168.1.1', dst: '192.168.1.20', srcPort: 53, dstPort: 50000, payload: dns });
    writeFileSync(capture, w.done());
    const { ctx, collector, health } = start({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN }, { dns_names: { resolvers: ['127.0.0.1'] } });
    await until(() => collector.stats().packets === 3);
    expect(collector.stats()).toMatchObject({ queries: 1, sentOffLoopback: 0, foreignQueries: 1, undirectedQueries: 1, unmatched: 1, answers: 0 });
    expect(ctx.dnsNames.nameFor('198.51.100.9', ctx.clock.unix())).toBe('');
    await until(() => health().state === 'degraded' && health().detail.includes('the capture records no direction for the 1 queries'));
  });

  /**
   * A Mac NATing a VM guest's lookup: in from the guest on bridge100 to `guestResolver`, out on en0 from the Mac's
   * address with the guest's port to the trusted router, the router's answer back on en0. `then` adds packets.
   */
  function guestLookupCapture(guestResolver: string, then: (w: PcapngWriter, ts: bigint) => void = () => {}): string {
    const capture = path.join(tempDir(), 'c.pcapng');
    const w = new PcapngWriter();
    const ts = BigInt(Date.now()) * 1000n;
    w.shb().pib(412, 'mDNSResponder').idb(1, { opts: [w.option(2, 'en0')] }).idb(1, { opts: [w.option(2, 'bridge100')] });
    udpPacket(w, 1, ts, { src: '192.168.64.2', dst: guestResolver, srcPort: 50000, dstPort: 53, payload: buildQuery(7, 'a.example.com', TYPE.A), direction: EPB_INBOUND });
    udpPacket(w, 0, ts, { src: '192.168.1.20', dst: '192.168.1.1', srcPort: 50000, dstPort: 53, payload: buildQuery(7, 'a.example.com', TYPE.A), direction: EPB_OUTBOUND });
    udpPacket(w, 0, ts, { src: '192.168.1.1', dst: '192.168.1.20', srcPort: 53, dstPort: 50000, payload: buildAnswer(7, 'a.example.com', '198.51.100.9', 300), direction: EPB_INBOUND });
    then(w, ts);
    writeFileSync(capture, w.done());
    return capture;
  }

  it('a VM guest\'s lookup this Mac NATs names nothing for it, and the row counts it as forwarded', async () => {
    const capture = guestLookupCapture('192.168.1.1');
    const { ctx, collector, health } = start({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN });
    await until(() => collector.stats().packets === 3);
    expect(collector.stats()).toMatchObject({ queries: 0, foreignQueries: 1, forwarded: 1, unmatched: 1, answers: 0 });
    expect(ctx.dnsNames.nameFor('198.51.100.9', ctx.clock.unix())).toBe('');
    await until(() => health().detail.includes("1 queries forwarded for guests (a container or VM this host NATs or bridges) not counted as this host's"));
  });

  it('a guest\'s lookup sent to a resolver the NAT rewrites (DNAT) is forwarded too; inbound queries the cap forgets are said in the row\'s detail, not dropped', async () => {
    // the guest asks the resolver it was given (bridge100's address), which the NAT rewrites to the trusted router;
    // then a LAN host asks this Mac: with dns_names.max_pending_queries 1 one inbound query is forgotten (the LAN
    // host's own, as en0 then holds as many as bridge100)
    const capture = guestLookupCapture('192.168.64.1', (w, ts) =>
      udpPacket(w, 0, ts, { src: '192.168.1.30', dst: '192.168.1.20', srcPort: 40000, dstPort: 53, payload: buildQuery(8, 'b.example.com', TYPE.A), direction: EPB_INBOUND }),
    );
    const { ctx, collector, health } = start({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN }, { dns_names: { max_pending_queries: 1 } });
    await until(() => collector.stats().packets === 4);
    expect(collector.stats()).toMatchObject({ queries: 0, otherQueries: 2, forwarded: 1, unmatched: 1, answers: 0, inboundEvicted: 1 });
    expect(ctx.dnsNames.nameFor('198.51.100.9', ctx.clock.unix())).toBe('');
    await until(() => health().detail.includes('1 inbound queries forgotten at dns_names.max_pending_queries within dns_names.query_timeout'));
    // in the detail only: anyone can push inbound queries out, and dropped is for what this host lost
    expect(health()).toMatchObject({ state: 'running', dropped: 0 });
  });

  it('an unexpected error while reading a packet is counted, not thrown out of the stream handler', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'c.pcapng');
    writeFileSync(capture, answerCapture('files.example-storage.net', '198.51.100.23'));
    for (const [k, v] of Object.entries({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN })) process.env[k] = v;
    const ctx = createContext({ platform: 'darwin', config: parseConfig({ tools: { dir: FAKE_TOOLS_DIR } }), log: silentLogger() });
    // a bug anywhere below the stream handler (here: the cache) must not reach the process's uncaught handler
    ctx.dnsNames = { ...ctx.dnsNames, size: 0, nameFor: () => '', learn: () => { throw new TypeError('bug'); } };
    const collector = createDnsNamesCollector(ctx, { initialBackoffMs: 50, readyMaxMs: 5000 });
    running.push(collector);
    collector.start();
    await until(() => collector.stats().malformed === 1);
    expect(collector.stats()).toMatchObject({ packets: 2, queries: 1, answers: 0 });
  });

  it('restarts tcpdump when its capture stream stops making sense, and says so', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'c.pcapng');
    // a block whose length is not a multiple of 4: no pcapng writer produces it, and nothing after it can be trusted
    const corrupt = Buffer.alloc(16);
    corrupt.writeUInt32LE(6, 0);
    corrupt.writeUInt32LE(15, 4);
    writeFileSync(capture, Buffer.concat([answerCapture('a.example', '198.51.100.1'), corrupt]));
    const calls = path.join(dir, 'calls.jsonl');
    const { collector, health } = start({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN, OUTFLOW_FAKE_CALLS: calls });
    await until(() => collector.stats().formatErrors >= 2 && callsOf(calls, 'tcpdump').length >= 2);
    await until(() => health().state === 'degraded' && /capture stream was unreadable/.test(health().detail));
  });

  it('a refused capture is permission_denied and retried with back-off', async () => {
    const dir = tempDir();
    const calls = path.join(dir, 'calls.jsonl');
    const { collector, health } = start({ OUTFLOW_FAKE_TCPDUMP_DENY: '1', OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN, OUTFLOW_FAKE_CALLS: calls });
    await collector.ready();
    await until(() => health().state === 'permission_denied');
    expect(health().detail).toMatch(/^tcpdump exited \(code 1\): tcpdump: pktap,all: You don't have permission to capture on that device .*restarting in .* s; it must run as root/);
    await until(() => callsOf(calls, 'tcpdump').length >= 3);
    expect(collector.stats().restarts).toBeGreaterThanOrEqual(2);
  });

  it('without a readable resolver list no answer counts, and the row says why', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'c.pcapng');
    writeFileSync(capture, answerCapture('a.example', '198.51.100.1'));
    const noResolvers = path.join(dir, 'scutil.txt');
    writeFileSync(noResolvers, 'DNS configuration\n\nNo DNS configuration available\n');
    const { ctx, collector, health } = start(
      { OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: noResolvers },
      { dns_names: { resolv_conf: path.join(dir, 'missing-resolv.conf') } },
    );
    await collector.ready();
    await until(() => collector.stats().untrusted === 1);
    expect(ctx.dnsNames.size).toBe(0);
    await until(() => health().state === 'degraded');
    expect(health().detail).toMatch(/^scutil --dns listed no nameserver; cannot read .*missing-resolv\.conf: .*no answer from the system's resolvers can name an address/);
  });

  it('falls back to resolv.conf when scutil lists nothing, and config resolvers add to the system ones', async () => {
    const dir = tempDir();
    const resolvConf = path.join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 192.168.1.1\n');
    const noResolvers = path.join(dir, 'scutil.txt');
    writeFileSync(noResolvers, 'DNS configuration\n');
    const { collector } = start({ OUTFLOW_FAKE_SCUTIL_DNS: noResolvers }, { dns_names: { resolv_conf: resolvConf, resolvers: ['10.0.0.53'] } });
    await collector.ready();
    expect(collector.trustedResolvers()).toEqual(['192.168.1.1', '10.0.0.53']);
  });

  it('disabled in the config: no tcpdump, and the row says how flows are keyed', async () => {
    const dir = tempDir();
    const calls = path.join(dir, 'calls.jsonl');
    const { collector, health } = start({ OUTFLOW_FAKE_CALLS: calls }, { dns_names: { enabled: false } });
    await collector.ready();
    expect(health()).toMatchObject({ state: 'disabled' });
    expect(health().detail).toContain('destinations are keyed by IP');
    expect(callsOf(calls, 'tcpdump')).toEqual([]);
  });

  it('stop ends tcpdump', async () => {
    const { ctx, collector } = start({ OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN });
    await collector.ready();
    await until(() => ctx.tools.running === 1);
    await collector.stop();
    expect(ctx.tools.running).toBe(0);
  });
});
