import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/errors.js';
import { parseNettop, parseNettopEndpoint } from './parse-nettop.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const brief = (r: ReturnType<typeof parseNettop>['rows'][number]) =>
  `${r.sample} ${r.processName}.${r.pid} ${r.protocol}${r.quic ? '/quic' : ''} v${r.family} ${r.local.address}:${r.local.port} > ${r.remote.address}:${r.remote.port} ${r.interface} ${r.state} ${r.bytesIn}/${r.bytesOut}`;

describe('parseNettop', () => {
  it('parses a default-column sample: process rows own the following flow rows', () => {
    const r = parseNettop(fixture('nettop-basic.txt'));
    expect(r.samples).toBe(1);
    expect(r.skipped).toBe(0);
    expect(r.rows.map(brief)).toEqual([
      '0 mDNSResponder.412 udp v4 *:5353 > *:0   18223/9120',
      '0 rclone.60311 tcp v4 10.20.30.41:50712 > 198.51.100.23:443 en0 Established 3311/8126464',
      '0 Backup Agent He.4471 udp v6 2001:db8:7::15:62011 > 2001:db8:ff::9:443 en0  512/1536',
      '0 sshd.802 tcp v4 10.20.30.41:22 > 10.20.30.7:61022 en0 Established 90210/4410',
      '0 sshd.802 tcp v6 *:22 > *:0  Listen 0/0',
    ]);
    expect(r.rows[0]!.remote.wildcard).toBe(true);
    expect(r.processes.map((p) => `${p.processName}.${p.pid}`)).toEqual(['launchd.1', 'mDNSResponder.412', 'rclone.60311', 'Backup Agent He.4471', 'sshd.802']);
  });

  it('numbers samples: each header starts a new one; empty counters read as 0', () => {
    const r = parseNettop(fixture('nettop-two-samples.txt'));
    expect(r.samples).toBe(2);
    expect(r.rows.map(brief)).toEqual([
      '0 rclone.60311 tcp v4 10.20.30.41:50712 > 198.51.100.23:443 en0 Established 3311/8126464',
      '0 curl.70001 tcp v4 10.20.30.41:50900 > 203.0.113.10:80 en0 Established 100/200',
      '1 rclone.60311 tcp v4 10.20.30.41:50712 > 198.51.100.23:443 en0 Established 1200/4194304',
      '1 curl.70001 tcp v4 10.20.30.41:50900 > 203.0.113.10:80 en0 FinWait2 0/0',
    ]);
  });

  it('finds columns by name when -J drops time (header starts with a comma)', () => {
    const r = parseNettop(fixture('nettop-select-columns.txt'));
    expect(r.skipped).toBe(0);
    expect(r.rows.map(brief)).toEqual([
      '0 rclone.60311 tcp v4 10.20.30.41:50712 > 198.51.100.23:443 en0 Established 3311/8126464',
      '0 Backup Agent He.4471 udp v6 2001:db8:7::15:62011 > 2001:db8:ff::9:443 en0  512/1536',
    ]);
  });

  it('handles odd names, IPv6 scopes, quic, v4-mapped, unknown columns and skips what it cannot read', () => {
    const r = parseNettop(fixture('nettop-tricky.txt'));
    expect(r.rows.map(brief)).toEqual([
      '0 com.apple.Web.8812 tcp v6 2001:db8::1:51515 > 2001:db8:ab::cd:443 en0 Established 700/900',
      '0 Google Chrome H.19001 udp/quic v6 2001:db8::1:60001 > 2606:4700::6810:84e5:443 en0  5000/64000',
      '0 node (v20.19.0).23456 tcp v4 10.0.0.5:50001 > 203.0.113.44:8443 en0 Established 30/4000',
      '0 Dropbox Web Hel .3030 udp/quic v4 10.0.0.5:60002 > 142.250.1.1:443 en0  11/333',
      '0 Dropbox Web Hel .3030 tcp v6 fe80::1c2a:3bff:fe4d:5e6f:8770 > fe80::aa:bbff:fecc:ddee:49152 awdl0 Established 44/55',
      '0 a,b (x).4040 tcp v4 10.0.0.5:50003 > 192.0.2.9:21 en0 Established 5/6',
      '0 a,b (x).4040 tcp v4 10.0.0.5:50005 > 192.0.2.9:9998 en0 Established 9/9',
    ]);
    // flow before any process row, icmp4, truncated "1.2 MiB" row, process label without pid, its orphaned
    // flow, and the truncated last line
    expect(r.skipped).toBe(6);
  });

  it('copes with CRLF and a missing trailing newline', () => {
    const text = fixture('nettop-select-columns.txt').replace(/\n/g, '\r\n').trimEnd();
    expect(parseNettop(text).rows).toHaveLength(2);
  });

  it.each([
    ['usage text instead of CSV', fixture('nettop-usage.txt')],
    ['empty output', ''],
    ['rows without any header', fixture('nettop-basic.txt').split('\n').slice(1).join('\n')],
  ])('throws ParseError on %s', (_name, text) => {
    expect(() => parseNettop(text)).toThrow(ParseError);
  });
});

describe('parseNettopEndpoint', () => {
  it.each([
    ['10.0.0.1:443', 4, '10.0.0.1', 443, false],
    ['*:*', 4, '*', 0, true],
    ['*:5353', 4, '*', 5353, true],
    ['*.*', 6, '*', 0, true],
    ['*.5353', 6, '*', 5353, true],
    ['2001:db8::1.443', 6, '2001:db8::1', 443, false],
    ['fe80::1%utun4.5000', 6, 'fe80::1', 5000, false],
    ['::1.631', 6, '::1', 631, false],
    ['10.0.0.1:443', 6, '10.0.0.1', 443, false],
  ] as const)('%s', (text, fam, address, port, wildcard) => {
    expect(parseNettopEndpoint(text, fam)).toMatchObject({ address, port, wildcard });
  });

  it.each(['10.0.0.1', 'host.example.com.https', '10.0.0.1:99999', ''])('rejects %j', (text) => {
    expect(parseNettopEndpoint(text, 4)).toBeUndefined();
  });
});

describe('a process whose file name looks like a flow (p_comm is the executable file name: any user picks it)', () => {
  const HEADER = 'time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,';
  const SAFARI = ['09:51:40.285101,Safari.501,,,10,10,0,0,0,,,,,,,,,,,,', '09:51:40.285109,tcp4 10.0.0.2:50000<->17.1.1.1:443,en0,Established,10,10,0,0,0,1.0 ms,131072,262144,BE,-,cubic,-,-,-,-,so,'];
  const EXFIL = '09:51:40.285209,tcp4 10.0.0.2:50001<->203.0.113.9:443,en0,Established,5,900000000,0,0,0,1.0 ms,131072,262144,BE,-,cubic,-,-,-,-,so,';

  it.each([
    ['x<->y', 'a name with an arrow'],
    ['tcp6 *.*<->::1', 'a 14-character name that parses as a loopback flow'],
    ['tcp4 a<->b.uploader', 'a 19-character name (p_name holds 32)'],
    ['tcp6 ::1.5<->2001:db8::1', 'a 24-character name that parses as a flow of its own'],
  ])('%s (%s) keeps its own flows instead of handing them to the process listed before it', (name) => {
    const out = [HEADER, ...SAFARI, `09:51:40.285201,${name}.4242,,,5,900000000,0,0,0,,,,,,,,,,,,`, EXFIL, ''].join('\n');
    const r = parseNettop(out);
    const exfil = r.rows.find((f) => f.remote.address === '203.0.113.9');
    expect(exfil).toMatchObject({ pid: 4242, processName: name });
    expect(r.rows.find((f) => f.remote.address === '17.1.1.1')?.pid).toBe(501);
  });
});

describe('a row that is neither a flow nor a process row', () => {
  it('ends the previous process\'s rows: the flows after it are not credited to that process', () => {
    const out = [
      'time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,',
      '09:51:40.285101,Safari.501,,,10,10,0,0,0,,,,,,,,,,,,',
      '09:51:40.285201,a name of more than thirty-two chars<->x.4242,,,5,900000000,0,0,0,,,,,,,,,,,,',
      '09:51:40.285209,tcp4 10.0.0.2:50001<->203.0.113.9:443,en0,Established,5,900000000,0,0,0,1.0 ms,131072,262144,BE,-,cubic,-,-,-,-,so,',
      '',
    ].join('\n');
    const r = parseNettop(out);
    expect(r.rows.find((f) => f.remote.address === '203.0.113.9')).toBeUndefined();
    expect(r.skipped).toBe(2);
  });
});

const FLOW_SHAPED_HEADER = 'time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,';

describe('a flow row without an interface shaped like NAME.PID (its arch column says flow)', () => {
  it.each([
    ['udp6 2001:db8:7::15.62011<->::5.1', 'connected UDP6, nothing sent yet: 31 characters before ".1"'],
    ['udp6 ::1.62011<->::1.4471', 'loopback UDP6 connected to port 4471 (the pid of a sanctioned backup agent)'],
  ])('%s (%s) does not take over the uploader\'s next flows', (decoy) => {
    const out = [
      FLOW_SHAPED_HEADER,
      '09:51:40.285101,uploader.666,,,10,900000000,0,0,0,,,,,,,,,,,,',
      `09:51:40.285105,${decoy},,,0,0,0,0,0,,,,,,,,,,,so,`,
      '09:51:40.285109,tcp4 10.20.30.41:50712<->198.51.100.23:443,en0,Established,3311,900000000,0,0,1448,21.03 ms,131072,262144,BE,-,cubic,-,-,-,-,so,',
      '',
    ].join('\n');
    const r = parseNettop(out);
    const upload = r.rows.find((f) => f.remote.address === '198.51.100.23');
    expect(upload?.pid).toBe(666);
  });
});

describe('an unreadable flow row without an interface (its arch column says flow)', () => {
  it('does not hide the flows its own process lists after it', () => {
    const out = [
      FLOW_SHAPED_HEADER,
      '09:51:40.285101,uploader.666,,,10,900000000,0,0,0,,,,,,,,,,,,',
      // an ICMP socket (unprivileged SOCK_DGRAM on macOS) that has sent nothing: no interface yet (unverified)
      '09:51:40.285105,icmp4 *:*<->203.0.113.1:*,,,0,0,0,0,0,,,,,,,,,,,so,',
      '09:51:40.285109,tcp4 10.20.30.41:50712<->198.51.100.23:443,en0,Established,3311,900000000,0,0,1448,21.03 ms,131072,262144,BE,-,cubic,-,-,-,-,so,',
      '',
    ].join('\n');
    const upload = parseNettop(out).rows.find((f) => f.remote.address === '198.51.100.23');
    expect(upload?.pid).toBe(666);
  });
});

const HEADER_LINE = 'time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,';
const SAFARI_ROWS = ['09:51:40.285101,Safari.501,,,10,10,0,0,0,,,,,,,,,,,,', '09:51:40.285109,tcp4 10.0.0.2:50000<->17.1.1.1:443,en0,Established,10,10,0,0,0,1.0 ms,131072,262144,BE,-,cubic,-,-,-,-,so,'];
const EXFIL_ROW = '09:51:40.285209,tcp4 10.0.0.2:50001<->203.0.113.9:443,en0,Established,5,900000000,0,0,0,1.0 ms,131072,262144,BE,-,cubic,-,-,-,-,so,';
const LATER = ['09:51:40.285301,Mail.777,,,1,1,0,0,0,,,,,,,,,,,,', '09:51:40.285309,tcp4 10.0.0.2:50002<->17.2.2.2:993,en0,Established,1,1,0,0,0,1.0 ms,131072,262144,BE,-,cubic,-,-,-,-,so,'];

describe('a process name that reads as a header line', () => {
  it('a 19-character name "bytes_in,bytes_out," does not hide its own flows (and every row after it)', () => {
    const name = 'bytes_in,bytes_out,'; // a valid file name; 19 characters, within the parser's 32-character assumption
    const out = [HEADER_LINE, ...SAFARI_ROWS, `09:51:40.285201,${name}.4242,,,5,900000000,0,0,0,,,,,,,,,,,,`, EXFIL_ROW, ...LATER, ''].join('\n');
    const r = parseNettop(out);
    expect(r.samples).toBe(1);
    expect(r.rows.find((f) => f.remote.address === '203.0.113.9')?.pid).toBe(4242);
    expect(r.rows.find((f) => f.remote.address === '17.2.2.2')?.pid).toBe(777);
  });
});

describe('a row with no interface and an empty arch is no flow, whatever its name length', () => {
  it('a 40-character flow-shaped name does not become a flow of the process above and keep the owner', () => {
    const name = 'tcp6 2001:db8::1:2:3.50001<->::ffff:1.2.3.4'; // > 32: only if nettop prints more than p_name (unverified)
    const out = [HEADER_LINE, ...SAFARI_ROWS, `09:51:40.285201,${name}.4242,,,5,900000000,0,0,0,,,,,,,,,,,,`, EXFIL_ROW, ''].join('\n');
    const r = parseNettop(out);
    expect(r.rows.find((f) => f.remote.address === '203.0.113.9')?.pid).not.toBe(501);
  });
});

describe('counters, headers and rows the parser must not guess at', () => {
  it('a counter longer than 15 digits (uint64 max, beyond 2^53) skips its row instead of reading an inexact byte count', () => {
    const out = [HEADER_LINE, '09:51:40.285101,rclone.60311,,,10,10,0,0,0,,,,,,,,,,,,', '09:51:40.285109,tcp4 10.20.30.41:50712<->198.51.100.23:443,en0,Established,3311,18446744073709551615,0,0,0,21.03 ms,131072,262144,BE,-,cubic,-,-,-,-,so,', ''].join('\n');
    const r = parseNettop(out);
    expect(r.rows).toEqual([]);
    expect(r.skipped).toBe(1);
  });

  it('a CSV header without the empty label column is no nettop header: ParseError, not an empty sample', () => {
    const out = ['interface,state,bytes_in,bytes_out,', 'en0,Established,3311,8126464,', ''].join('\n');
    expect(() => parseNettop(out)).toThrow(ParseError);
  });

  it('with -J columns, a last row cut short after bytes_in is skipped, not read as 0 bytes out', () => {
    const out = [',interface,state,bytes_in,bytes_out,', 'rclone.60311,,,3311,8126464,', 'tcp4 10.20.30.41:50712<->198.51.100.23:443,en0,Established,3311'].join('\n');
    const r = parseNettop(out);
    expect(r.rows).toEqual([]);
    expect(r.skipped).toBe(1);
  });

  it('a flow row right after a later sample\'s header belongs to no process, not to the last process of the sample before', () => {
    const out = [HEADER_LINE, ...SAFARI_ROWS, HEADER_LINE, EXFIL_ROW, ...LATER, ''].join('\n');
    const r = parseNettop(out);
    expect(r.samples).toBe(2);
    expect(r.rows.filter((f) => f.sample === 1).map((f) => [f.pid, f.remote.address])).toEqual([[777, '17.2.2.2']]);
    expect(r.skipped).toBe(1);
  });

  it('with -J columns that leave out arch, a row with no interface that is neither flow nor process row ends the previous process\'s rows', () => {
    const out = [
      ',interface,state,bytes_in,bytes_out,',
      'Safari.501,,,10,10,',
      'a name of more than thirty-two chars<->x.4242,,,5,900000000,',
      'tcp4 10.0.0.2:50001<->203.0.113.9:443,en0,Established,5,900000000,',
      '',
    ].join('\n');
    const r = parseNettop(out);
    expect(r.rows.find((f) => f.remote.address === '203.0.113.9')).toBeUndefined();
    expect(r.skipped).toBe(2);
  });
});

describe('output cut short (nettop killed at its hard timeout mid-row)', () => {
  it('with -J columns ending in bytes_out, a last row cut inside bytes_out (no trailing comma, no newline) is skipped, not read with a cut counter', () => {
    const out = [',interface,state,bytes_in,bytes_out,', 'rclone.60311,,,3311,8126464,', 'tcp4 10.20.30.41:50712<->198.51.100.23:443,en0,Established,3311,81'].join('\n');
    const r = parseNettop(out);
    expect(r.rows).toEqual([]);
    expect(r.skipped).toBe(1);
  });
});

describe('output cut short right after a comma', () => {
  it('with -J columns ending in bytes_out, a last row cut just after bytes_in\'s comma (it ends in a comma, one field short) is skipped, not read as 0 bytes out', () => {
    const out = [',interface,state,bytes_in,bytes_out,', 'rclone.60311,,,3311,8126464,', 'tcp4 10.20.30.41:50712<->198.51.100.23:443,en0,Established,3311,'].join('\n');
    const r = parseNettop(out);
    expect(r.rows).toEqual([]);
    expect(r.skipped).toBe(1);
  });
});
