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
import { buildDnsMessage, RESPONSE_FLAGS, TYPE } from './testing/dns-wire.js';
import { ethernet, ETHERTYPE, ipv4, PcapngWriter, udp } from './testing/frames.js';

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

/** en0 capture: the router answers `name` with `address`. */
function answerCapture(name: string, address: string, tail?: Buffer): Buffer {
  const w = new PcapngWriter();
  const dns = buildDnsMessage({ id: 7, flags: RESPONSE_FLAGS, questions: [{ name, type: TYPE.A }], answers: [{ name, type: TYPE.A, ttl: 300, data: address }] });
  w.shb().idb(1, { opts: [w.option(2, 'en0')] }).epb(0, BigInt(Date.now()) * 1000n, ethernet(ETHERTYPE.IPV4, ipv4({ src: '192.168.1.1', dst: '192.168.1.20', payload: udp({ srcPort: 53, dstPort: 50000, payload: dns }) })));
  return tail ? Buffer.concat([w.done(), tail]) : w.done();
}

describe('dns_names collector (fake tcpdump and scutil)', () => {
  it('runs tcpdump for DNS responses only, as binary capture on every interface, and learns trusted answers', async () => {
    const dir = tempDir();
    const capture = path.join(dir, 'c.pcapng');
    writeFileSync(capture, answerCapture('files.example-storage.net', '198.51.100.23'));
    const calls = path.join(dir, 'calls.jsonl');
    const { ctx, collector, health } = start({ OUTFLOW_FAKE_TCPDUMP: capture, OUTFLOW_FAKE_SCUTIL_DNS: SCUTIL_VPN, OUTFLOW_FAKE_CALLS: calls });
    await collector.ready();
    await until(() => collector.stats().answers === 1);
    expect(callsOf(calls, 'tcpdump')).toEqual([tcpdumpArgs('darwin')]);
    expect(tcpdumpArgs('darwin')).toEqual(['-i', 'pktap,all', '-n', '-p', '-U', '-s', '0', '-w', '-', 'udp and src port 53']);
    expect(tcpdumpArgs('linux').slice(0, 2)).toEqual(['-i', 'any']);
    expect(callsOf(calls, 'scutil')).toEqual([['--dns']]);
    expect(collector.trustedResolvers()).toEqual(['10.8.0.1', '192.168.1.1', 'fe80::1']);
    expect(ctx.dnsNames.nameFor('198.51.100.23', ctx.clock.unix())).toBe('files.example-storage.net');
    await until(() => health().detail.startsWith('1 addresses named from 1 answers'));
    expect(health()).toMatchObject({ state: 'running', events: 1, dropped: 0 });
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
    expect(collector.stats()).toMatchObject({ packets: 1, answers: 0 });
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
