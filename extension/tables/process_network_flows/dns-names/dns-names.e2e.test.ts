/**
 * Server names end to end, through real processes:
 * - Linux: the real `outflow query` runs the real tcpdump on `any`; a DNS server on loopback answers the test's
 *   queries, the test then connects to the answered addresses, and `process_network_flows` shows the names.
 * - darwin on Linux: the fake tcpdump prints an Apple-like pcapng (en0 Ethernet, a utun tunnel; queries out and
 *   answers in, as epb_flags says), the fake scutil lists the resolvers, and the fake nettop shows flows to the
 *   answered addresses.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeDarwinEnv, runOutflow } from '../../../../test/helpers/cli.js';
import { buildAnswer, buildDnsMessage, buildQuery, RESPONSE_FLAGS, TYPE } from './testing/dns-wire.js';
import { appleEpbOptions, EPB_INBOUND, EPB_OUTBOUND, ethernet, ETHERTYPE, ipv4, ipv6, nullHeader, PcapngWriter, udp } from './testing/frames.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const SCENARIO = path.join(HERE, '../fixtures/scenario-darwin');
const SCUTIL_VPN = path.join(HERE, 'fixtures/scutil-dns-vpn.txt');

const temps: string[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
  while (temps.length) rmSync(temps.pop()!, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'outflow-dns-names-'));
  temps.push(d);
  return d;
}

function rowsOf(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('dns_names on Linux (real tcpdump, real ss)', () => {
  const TRUSTED = '127.0.54.54';
  const OTHER = '127.0.54.55';
  const NAMED = '127.0.54.80';
  const FORGED = '127.0.54.81';
  const INJECTED = '127.0.54.82';
  const PORT = 8443;

  /** A DNS server on loopback that answers every A query for `name` with `address`. */
  async function dnsServer(bind: string, name: string, address: string): Promise<dgram.Socket> {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, peer) => {
      const id = msg.readUInt16BE(0);
      const answer = buildAnswer(id, name, address, 120);
      sock.send(answer, peer.port, peer.address);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(53, bind, () => resolve());
    });
    cleanups.push(() => sock.close());
    return sock;
  }

  async function tcpSink(bind: string): Promise<void> {
    const server = net.createServer((s) => s.on('data', () => {}).on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(PORT, bind, resolve));
    cleanups.push(() => server.close());
  }

  it('names a flow after the trusted resolver\'s answer to a query, and ignores another server and an unsolicited answer', async () => {
    const trusted = await dnsServer(TRUSTED, 'upload.outflow-e2e.example', NAMED);
    await dnsServer(OTHER, 'www.apple.com', FORGED);
    await tcpSink(NAMED);
    await tcpSink(FORGED);
    await tcpSink(INJECTED);
    const dir = tempDir();
    writeFileSync(path.join(dir, 'resolv.conf'), `# test resolver\nnameserver ${TRUSTED}\n`);
    writeFileSync(path.join(dir, 'config.yaml'), `flows:\n  sample_interval: 0.5\ndns_names:\n  resolv_conf: ${path.join(dir, 'resolv.conf')}\n`);

    // Ask both servers again and again while the query shell runs: whichever answers tcpdump captured once it
    // listened are the ones that count. Connect once the capture has had time to start.
    const client = dgram.createSocket('udp4');
    cleanups.push(() => client.close());
    let id = 1;
    // The trusted resolver's own address and port also sends the client an answer it never asked for: what a spoofer
    // who can write the resolver's address would send. It matches no query (id, question), so it names nothing.
    const unsolicited = buildAnswer(0xdead, 'www.example-bank.com', INJECTED, 120);
    const ask = setInterval(() => {
      for (const [server, name] of [[TRUSTED, 'upload.outflow-e2e.example'], [OTHER, 'www.apple.com']] as const) {
        client.send(buildDnsMessage({ id: id++ & 0xffff, flags: 0x0100, questions: [{ name, type: TYPE.A }] }), 53, server);
      }
      try {
        trusted.send(unsolicited, client.address().port, '127.0.0.1');
      } catch {
        // not bound yet: the first send binds it, asynchronously
      }
    }, 200);
    cleanups.push(() => clearInterval(ask));
    const sockets: net.Socket[] = [];
    const connect = setTimeout(() => {
      for (const host of [NAMED, FORGED, INJECTED]) {
        const s = net.connect(PORT, host);
        s.on('error', () => {});
        const feed = setInterval(() => s.write(Buffer.alloc(4096)), 200);
        cleanups.push(() => clearInterval(feed));
        sockets.push(s);
      }
    }, 3000);
    cleanups.push(() => {
      clearTimeout(connect);
      for (const s of sockets) s.destroy();
    });

    const sql = `SELECT remote_address, server_name FROM process_network_flows WHERE remote_port = ${PORT}; SELECT state, detail, events FROM outflow_status WHERE component = 'dns_names'`;
    const out = await runOutflow(['query', '--config', path.join(dir, 'config.yaml'), '--format', 'json', '--collect', '8', sql], { timeoutMs: 90_000 });
    expect(out.code, out.stderr).toBe(0);
    const rows = rowsOf(out.stdout);
    const flows = rows.filter((r) => 'remote_address' in r);
    expect(flows.find((r) => r.remote_address === NAMED)?.server_name, JSON.stringify(rows)).toBe('upload.outflow-e2e.example');
    expect(flows.find((r) => r.remote_address === FORGED)?.server_name, JSON.stringify(rows)).toBe('');
    expect(flows.find((r) => r.remote_address === INJECTED)?.server_name, JSON.stringify(rows)).toBe('');
    const status = rows.find((r) => 'detail' in r)!;
    expect(status.state, JSON.stringify(status)).toBe('running');
    expect(status.detail).toContain(`trusted resolvers ${TRUSTED}`);
    // other tests' DNS servers may be captured too (tcpdump -i any): OTHER is among the few listed, not always first
    expect(status.detail).toMatch(new RegExp(`answers from other servers ignored \\([^)]*${OTHER.replaceAll('.', '\\.')}`));
    expect(status.detail).toMatch(/\d+ answers that match no query this host sent ignored/);
    expect(Number(status.events)).toBeGreaterThan(0);
  }, 120_000);
});

describe('dns_names on darwin (fake tcpdump pcapng, fake scutil, fake nettop)', () => {
  const MAC = '10.20.30.41';
  const APPLE_AF_INET6 = 30;

  function answer(id: number, name: string, type: number, records: { name: string; type: number; ttl: number; data: string }[]): Buffer {
    return buildDnsMessage({ id, flags: RESPONSE_FLAGS, questions: [{ name, type }], answers: records });
  }

  /**
   * What Apple's tcpdump -i pktap,all writes (libpcap's pcap_ng_dump_pktap): a section, a process information
   * block per process, one IDB per interface, EPBs whose options name the process block and carry epb_flags with
   * the direction pktap recorded (in or out).
   */
  function capture(): Buffer {
    const w = new PcapngWriter();
    const mac = Buffer.from('a483e7000001', 'hex');
    const ether = (payload: Buffer, type: number = ETHERTYPE.IPV4) => Buffer.concat([mac, Buffer.from('3c22fb000002', 'hex'), ethernet(type, payload).subarray(12)]);
    const ts = BigInt(Date.now()) * 1000n;
    const out = appleEpbOptions(w, { pib: 0, direction: EPB_OUTBOUND });
    const inbound = appleEpbOptions(w, { pib: 0, direction: EPB_INBOUND });
    w.shb().pib(412, 'mDNSResponder').idb(1, { opts: [w.option(2, 'en0')] }).idb(0, { opts: [w.option(2, 'utun4')] }).idb(1, { opts: [w.option(2, 'bridge100')] });
    // mDNSResponder asks the home router (scutil's resolver #2), which answers a CDN chain for rclone's destination
    w.epb(0, ts, ether(ipv4({ src: MAC, dst: '192.168.1.1', payload: udp({ srcPort: 61001, dstPort: 53, payload: buildQuery(0x2b01, 'files.example-storage.net', TYPE.A) }) })), { opts: out });
    const storage = answer(0x2b01, 'files.example-storage.net', TYPE.A, [
      { name: 'files.example-storage.net', type: TYPE.CNAME, ttl: 300, data: 'edge.storage-cdn.example' },
      { name: 'edge.storage-cdn.example', type: TYPE.A, ttl: 120, data: '198.51.100.23' },
    ]);
    w.epb(0, ts, ether(ipv4({ src: '192.168.1.1', dst: MAC, payload: udp({ srcPort: 53, dstPort: 61001, payload: storage }) })), { opts: inbound });
    // the VPN's resolver, asked and answering over the tunnel (BSD loopback header, IPv6 inside), for the backup agent's QUIC peer
    w.epb(1, ts, nullHeader(APPLE_AF_INET6, 'le', ipv6({ src: 'fd00:8::2', dst: 'fd00:8::1', payload: udp({ srcPort: 61002, dstPort: 53, payload: buildQuery(0x2b02, 'backup.corp.example.com', TYPE.AAAA) }) })), { opts: out });
    const backup = answer(0x2b02, 'backup.corp.example.com', TYPE.AAAA, [{ name: 'backup.corp.example.com', type: TYPE.AAAA, ttl: 600, data: '2001:db8:ff::9' }]);
    w.epb(1, ts, nullHeader(APPLE_AF_INET6, 'le', ipv6({ src: 'fd00:8::1', dst: 'fd00:8::2', payload: udp({ srcPort: 53, dstPort: 61002, payload: backup }) })), { opts: inbound });
    // a server the Mac was never configured with claims curl's destination is www.apple.com
    const forged = answer(0x2b03, 'www.apple.com', TYPE.A, [{ name: 'www.apple.com', type: TYPE.A, ttl: 60, data: '203.0.113.10' }]);
    w.epb(0, ts, ether(ipv4({ src: '203.0.113.53', dst: MAC, payload: udp({ srcPort: 53, dstPort: 61003, payload: forged }) })), { opts: inbound });
    // a VM guest on the host's bridge writes the router's address as its source: not where the router answers from
    const bridged = answer(0x2b04, 'www.apple.com', TYPE.A, [{ name: 'www.apple.com', type: TYPE.A, ttl: 60, data: '203.0.113.10' }]);
    w.epb(2, ts, ether(ipv4({ src: '192.168.1.1', dst: '192.168.64.1', payload: udp({ srcPort: 53, dstPort: 61004, payload: bridged }) })), { opts: inbound });
    // a sender that can write the router's address towards the Mac, on en0, answers a question nobody asked
    const spoofed = answer(0x2b05, 'www.apple.com', TYPE.A, [{ name: 'www.apple.com', type: TYPE.A, ttl: 60, data: '203.0.113.10' }]);
    w.epb(0, ts, ether(ipv4({ src: '192.168.1.1', dst: MAC, payload: udp({ srcPort: 53, dstPort: 61005, payload: spoofed }) })), { opts: inbound });
    return w.done();
  }

  it('names the flows the system resolvers answered for, over Ethernet and a tunnel, and only those', async () => {
    const dir = tempDir();
    const pcapng = path.join(dir, 'capture.pcapng');
    writeFileSync(pcapng, capture());
    // the VPN resolver is fd00:8::1 in this capture: trust it as an admin would for a resolver scutil does not list
    writeFileSync(path.join(dir, 'config.yaml'), 'flows:\n  sample_interval: 0.5\nprocesses:\n  sample_interval: 5\ndns_names:\n  resolvers: ["fd00:8::1"]\n');
    const env = fakeDarwinEnv(SCENARIO, dir, { OUTFLOW_FAKE_TCPDUMP: pcapng, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN, OUTFLOW_FAKE_CALLS: path.join(dir, 'calls.jsonl') });
    const sql = "SELECT pid, remote_address, server_name FROM process_network_flows ORDER BY pid; SELECT state, detail, events, dropped FROM outflow_status WHERE component = 'dns_names'";
    const out = await runOutflow(['query', '--config', path.join(dir, 'config.yaml'), '--format', 'json', '--collect', '3', sql], { env, timeoutMs: 100_000 });
    expect(out.code, out.stderr).toBe(0);
    const rows = rowsOf(out.stdout);
    const names = Object.fromEntries(rows.filter((r) => 'pid' in r).map((r) => [String(r.pid), r.server_name]));
    expect(names).toEqual({ '4471': 'backup.corp.example.com', '60311': 'files.example-storage.net', '70001': '', '99999': '' });
    const status = rows.find((r) => 'detail' in r)!;
    expect(status).toMatchObject({ state: 'running', events: 2, dropped: 0 });
    expect(status.detail).toContain('2 addresses named from 2 answers; trusted resolvers 10.8.0.1 (utun4), 192.168.1.1 (en0), fe80::1 (en0), fd00:8::1');
    expect(status.detail).toContain('1 answers from other servers ignored (203.0.113.53');
    expect(status.detail).toContain("1 answers from a resolver's address captured where it cannot have sent them ignored");
    expect(status.detail).toContain('1 answers that match no query this host sent ignored');
  }, 120_000);

  it('a Mac where tcpdump may not capture shows permission_denied, and flows still come, unnamed', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'config.yaml'), 'flows:\n  sample_interval: 0.5\nprocesses:\n  sample_interval: 5\n');
    const env = fakeDarwinEnv(SCENARIO, dir, { OUTFLOW_FAKE_TCPDUMP_DENY: '1', OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN });
    const sql = "SELECT count(*) AS flows, sum(server_name != '') AS named FROM process_network_flows; SELECT state, detail FROM outflow_status WHERE component = 'dns_names'";
    const out = await runOutflow(['query', '--config', path.join(dir, 'config.yaml'), '--format', 'json', '--collect', '1', sql], { env, timeoutMs: 100_000 });
    expect(out.code, out.stderr).toBe(0);
    const [counts, status] = rowsOf(out.stdout);
    // 4 flows, 5 once the scripted third nettop sample (a socket replaced on one tuple) has run
    expect(counts!.named).toBe(0);
    expect(counts!.flows).toBeGreaterThanOrEqual(4);
    expect(status!.state).toBe('permission_denied');
    expect(status!.detail).toMatch(/You don't have permission to capture on that device.*must run as root/);
  }, 120_000);
});
