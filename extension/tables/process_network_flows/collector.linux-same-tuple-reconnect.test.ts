/**
 * A TCP client that reconnects from the same local port to the same server (the server closed first, so this
 * side has no TIME-WAIT and may bind the port again) opens a second socket on the same 4-tuple. ss prints it
 * exactly like the first one, only with its own counters: samples are taken with the real `ss` and the
 * collector's own arguments, before and after the reconnect.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { HealthRegistry } from '../../runtime/health.js';
import { SS_ARGS, toObservation } from './collector.linux.js';
import { createFlowStore, type FlowObservation } from './flow-store.js';
import { parseSs } from './parse-ss.js';

const CLIENT = String.raw`
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(('127.0.0.1', 0)); srv.listen()
sport = srv.getsockname()[1]
def conn(cport, n):
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); c.bind(('127.0.0.1', cport)); c.connect(('127.0.0.1', sport))
    a, _ = srv.accept(); c.sendall(b'x' * n)
    got = 0
    while got < n: got += len(a.recv(65536))
    return c, a
c, a = conn(0, 100000)
cport = c.getsockname()[1]
print('first', cport, sport, flush=True)
sys.stdin.readline()
a.close(); sys.stdin.readline(); c.close()
c, a = conn(cport, 150000)
print('second', flush=True)
sys.stdin.readline()
`;

const T0 = 1_772_531_000;

describe.skipIf(process.platform !== 'linux' || spawnSync('ss', ['-V']).status !== 0 || spawnSync('python3', ['-c', '1']).status !== 0)('ss samples of a reconnect on the same 4-tuple', () => {
  it('count both sockets\' bytes', async () => {
    const child = spawn('python3', ['-c', CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      let text = '';
      let waiters: (() => void)[] = [];
      const lines = () => text.split('\n').slice(0, -1); // complete lines only
      child.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        for (const w of waiters) w();
        waiters = [];
      });
      const waitLine = async (prefix: string) => {
        while (!lines().some((l) => l.startsWith(prefix))) await new Promise<void>((r) => waiters.push(r));
        return lines().find((l) => l.startsWith(prefix))!;
      };
      const cport = Number((await waitLine('first')).split(' ')[1]);
      const sample = (): FlowObservation[] => {
        const out = spawnSync('ss', [...SS_ARGS], { encoding: 'utf8' }).stdout;
        return parseSs(out).rows.map((s) => toObservation(s)).filter((o): o is FlowObservation => o !== undefined && o.localPort === cport && o.pid === child.pid);
      };
      const clock = fixedClock(T0);
      const store = createFlowStore({ config: parseConfig({}), clock, health: new HealthRegistry('linux', 'test', () => clock.unix()) });
      const first = sample();
      expect(first).toHaveLength(1);
      store.applySample(first, { at: T0, counters: 'cumulative' });
      child.stdin!.write('\n'); // the server closes
      await new Promise((r) => setTimeout(r, 100));
      child.stdin!.write('\n'); // the client closes and reconnects from the same port
      await waitLine('second');
      store.applySample(sample(), { at: T0 + 5, counters: 'cumulative' });
      const rows = store.rows().filter((r) => r.local_port === cport);
      const total = rows.reduce((n, r) => n + r.bytes_out, 0);
      // 100 000 bytes on the first socket, 150 000 on the second (bytes_acked: +1 for each SYN)
      expect(total).toBeGreaterThanOrEqual(250_000);
      child.stdin!.write('\n');
    } finally {
      child.kill('SIGKILL');
    }
  }, 20_000);
});

describe('parseSs with -e (socket identity)', () => {
  it('reads ino/sk after the users list, and owners only from the list (not from the cgroup path)', () => {
    const out = [
      'tcp ESTAB 0      0      127.0.0.1:50854 127.0.0.1:50015 users:(("python3",pid=26937,fd=4)) ino:91608 sk:19 cgroup:/user.slice/("x",pid=1,fd=1)) <->',
      '\t ts sack bbr wscale:10,10 rto:204 bytes_sent:100 bytes_acked:101 segs_out:3',
      'tcp ESTAB 0      0      127.0.0.1:50856 127.0.0.1:50015 users:(("a',
      'b",pid=26938,fd=5)) uid:1000 ino:91610 sk:1a cgroup:/ <->',
      '\t cubic rto:204 bytes_acked:7 bytes_received:9',
      'tcp TIME-WAIT 0      0      127.0.0.1:50858 127.0.0.1:50015 ino:0 sk:1b -->',
    ].join('\n');
    const r = parseSs(out);
    expect(r.skipped).toBe(0);
    expect(r.rows.map((s) => [s.owners.map((o) => `${o.name}/${o.pid}`), s.socketId, s.bytesOut])).toEqual([
      [['python3/26937'], '91608/19', 101],
      [['a\nb/26938'], '91610/1a', 7],
      [[], '0/1b', null],
    ]);
  });
});
