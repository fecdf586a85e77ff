import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/errors.js';
import { parseSs, parseSsEndpoint } from './parse-ss.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const brief = (s: ReturnType<typeof parseSs>['rows'][number]) =>
  `${s.protocol} ${s.state} v${s.family} ${s.local.address}:${s.local.port} > ${s.remote.address}:${s.remote.port} [${s.owners.map((o) => `${o.name}/${o.pid}/${o.fd}`).join(' ')}] ${s.bytesIn}/${s.bytesOut}`;

describe('parseSs', () => {
  it('parses sockets, owners, counters and addresses from mixed output', () => {
    const r = parseSs(fixture('ss-mixed.txt'));
    expect(r.rows.map(brief)).toEqual([
      'tcp ESTAB v4 10.0.8.14:41566 > 203.0.113.80:443 [rsync/30117/3] 2210/9437185',
      'udp ESTAB v4 10.0.8.14:50090 > 192.0.2.53:53 [resolvectl/30188/7] null/null',
      'tcp ESTAB v6 2001:db8:1::14:50412 > 2001:db8:ff::9:22 [ssh/30200/3] 77000/5001',
      'tcp ESTAB v4 127.0.0.1:8080 > 127.0.0.1:51000 [Web Content/30300/21 Web Content/30301/21] 420/1',
      'tcp ESTAB v6 fe80::a00:27ff:fe4e:66a1:22 > fe80::1:53100 [sshd: dana [priv]/30400/4] 0/0',
      'tcp TIME-WAIT v4 10.0.8.14:41500 > 203.0.113.80:443 [] 200/100',
      'tcp CLOSE-WAIT v4 10.0.8.14:41510 > 198.51.100.7:80 [curl (old)/30500/5] 1234/81',
      'udp ESTAB v4 127.0.0.53:53 > 127.0.0.1:43210 [systemd-resolve/512/13] null/null',
      'udp UNCONN v4 0.0.0.0:68 > 0.0.0.0:0 [dhclient/600/6] null/null',
      'tcp SYN-SENT v4 10.0.8.14:41700 > 100.64.3.4:8443 [agent/30600/9] 0/0',
      'tcp ESTAB v4 10.0.8.14:41800 > 203.0.113.81:443 [tail/30700/3] null/null',
    ]);
    expect(r.rows[0]!.bytesSent).toBe(9437211);
    expect(r.rows[8]!.remote.wildcard).toBe(true);
    // truncated socket line and the garbage line
    expect(r.skipped).toBe(2);
  });

  it('accepts rows without the Netid column (single socket type selected)', () => {
    const r = parseSs(fixture('ss-no-netid.txt'));
    expect(r.rows.map(brief)).toEqual(['tcp ESTAB v4 127.0.0.1:4369 > 127.0.0.1:45218 [epmd/2883/5] 21/6']);
  });

  it('returns no rows for empty output (no connections is normal)', () => {
    expect(parseSs('')).toEqual({ rows: [], skipped: 0 });
  });

  it('throws ParseError when nothing is recognisable', () => {
    expect(() => parseSs(fixture('ss-usage.txt'))).toThrow(ParseError);
  });
});

describe('parseSsEndpoint', () => {
  it.each([
    ['10.0.8.14:41566', '10.0.8.14', 41566, false, 4],
    ['[::1]:631', '::1', 631, false, 6],
    ['[::ffff:127.0.0.1]:80', '127.0.0.1', 80, false, 4],
    ['[fe80::1]%eth0:22', 'fe80::1', 22, false, 6],
    ['0.0.0.0:*', '0.0.0.0', 0, true, 4],
    ['[::]:*', '::', 0, true, 6],
    ['*:*', '*', 0, true, 4],
  ] as const)('%s', (text, address, port, wildcard, family) => {
    expect(parseSsEndpoint(text)).toEqual({ address, port, wildcard, family });
  });

  it.each(['10.0.0.1', 'x:y', ':80', '10.0.0.1:70000'])('rejects %j', (t) => {
    expect(parseSsEndpoint(t)).toBeUndefined();
  });
});

describe('a task name holding a newline (any process may rename itself via /proc/self/comm)', () => {
  it('keeps the owner of a socket whose users:(…) list spans lines, as iproute2 6.1 prints it', () => {
    const out =
      'tcp ESTAB 0      0      127.0.0.1:58612 203.0.113.9:443 users:(("x\n",pid=15562,fd=4))\n' +
      '\t bbr wscale:10,10 rto:208 bytes_sent:134518 bytes_acked:100001 segs_out:6\n';
    const r = parseSs(out);
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]!.owners).toEqual([{ name: 'x\n', pid: 15562, fd: 4 }]);
    expect(r.rows[0]!.bytesOut).toBe(100001);
    expect(r.skipped).toBe(0);
  });

  it('a list that never closes is not joined past its own line', () => {
    const out = 'tcp ESTAB 0 0 127.0.0.1:58612 203.0.113.9:443 users:(("x\ntcp ESTAB 0 0 127.0.0.1:58613 203.0.113.9:443 users:(("curl",pid=7,fd=3))\n';
    const r = parseSs(out);
    expect(r.rows.map((x) => x.owners.map((o) => o.pid))).toEqual([[], [7]]);
  });
});

describe('a users list of any length (a process holds its socket through many fds, each named with newlines)', () => {
  const ssLine = (fds: number[], name: string, pid: number) =>
    `tcp ESTAB 0      72027  127.0.0.1:46464 203.0.113.9:443 users:(${fds.map((fd) => `("${name}",pid=${pid},fd=${fd})`).join(',')})\n\t cubic wscale:7,7 rto:204 bytes_sent:200000 bytes_acked:127973 segs_out:40\n`;

  it('keeps the owner and counters of a socket held through 5 fds by a process named with 15 newlines (75 lines)', () => {
    const out = ssLine([3, 4, 5, 6, 7], '\n'.repeat(15), 12032) + 'tcp ESTAB 0 0 127.0.0.1:5 198.51.100.1:443 users:(("curl",pid=7,fd=3))\n\t cubic bytes_acked:10 bytes_received:5\n';
    const r = parseSs(out);
    const upload = r.rows.find((x) => x.remote.address === '203.0.113.9')!;
    expect(upload.owners.map((o) => o.pid)).toEqual([12032, 12032, 12032, 12032, 12032]);
    expect(upload.bytesOut).toBe(127973);
    // the next socket is its own
    expect(r.rows.find((x) => x.remote.address === '198.51.100.1')!.owners).toEqual([{ name: 'curl', pid: 7, fd: 3 }]);
  });
});


describe('socket lines and info lines as iproute2 prints them', () => {
  it('only the line right after a TCP socket is its info line: a second tab line is skipped and changes nothing', () => {
    const out =
      'tcp   ESTAB      0      0              10.0.8.14:41566        203.0.113.80:443   users:(("rsync",pid=30117,fd=3))\n' +
      '\t cubic wscale:7,7 rto:216 bytes_sent:9437211 bytes_acked:9437185 bytes_received:2210 segs_out:6600\n' +
      '\t cubic bytes_acked:1 bytes_received:1\n';
    const r = parseSs(out);
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({ bytesIn: 2210, bytesOut: 9437185, bytesSent: 9437211 });
    expect(r.skipped).toBe(1);
  });

  it('keeps the owner of a socket whose task name holds a double quote (ss prints it unescaped)', () => {
    const out = 'tcp   ESTAB 0      0      10.0.8.14:41570 203.0.113.80:443 users:(("up"load",pid=30118,fd=5))\n\t cubic bytes_acked:4097 bytes_received:120\n';
    const r = parseSs(out);
    expect(r.rows[0]!.owners).toEqual([{ name: 'up"load', pid: 30118, fd: 5 }]);
  });
});
