import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Two network namespaces on veth pairs, for live captures off loopback (where Linux records the direction of a
 * packet, PACKET_OUTGOING, and each interface's index):
 * - `resolver`: a DNS server at RESOLVER (198.18.53.1, RFC 2544's benchmarking range: nothing real), reached from
 *   this host's HOST (198.18.53.2) through the veth `of-a…`;
 * - `guest`: owns RESOLVER too, and reaches HOST through another veth `of-b…`, as a container or VM guest that
 *   writes the resolver's address as its source.
 * The namespaces hold nothing but these addresses; every packet stays on this machine. Needs root and iproute2.
 */

export const RESOLVER = '198.18.53.1';
export const HOST = '198.18.53.2';
const GUEST_LINK = '198.18.54.2';

export interface VethLab {
  /** host-side interface names */
  resolverLink: string;
  guestLink: string;
  /** Serve at RESOLVER:53: for a query with id N, send plan[N]'s payloads back to the asker, each after its delay (ms). */
  serve(plan: Record<number, [delayMs: number, payload: Buffer][]>): Promise<void>;
  /** From inside the guest: send `payload` from RESOLVER:53 to HOST:port through the guest's veth. */
  forge(payload: Buffer, port: number): Promise<void>;
  close(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs `code` (CommonJS) with node inside namespace `ns`. */
function nodeIn(ns: string, code: string, env: Record<string, string>): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

const SERVER = `
const dgram = require('node:dgram');
const plan = JSON.parse(process.env.PLAN);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  for (const [delay, hex] of plan[m.readUInt16BE(0)] || []) setTimeout(() => s.send(Buffer.from(hex, 'hex'), r.port, r.address), delay);
});
s.bind(53, process.env.BIND, () => process.stdout.write('ready\\n'));
`;

const FORGER = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.bind(53, process.env.BIND, () => s.send(Buffer.from(process.env.PAYLOAD, 'hex'), Number(process.env.PORT), process.env.TO, (err) => { if (err) { console.error(err.message); process.exitCode = 1; } s.close(); }));
`;

function untilLine(child: ChildProcess, line: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes(line)) resolve();
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${err.trim()}`)));
  });
}

export function createVethLab(): VethLab {
  const tag = (process.pid % 100_000).toString(36);
  const nsA = `outflow-res-${tag}`;
  const nsB = `outflow-gst-${tag}`;
  // IFNAMSIZ is 16: "of-a-" plus the tag, and the peers' names only live inside their namespaces
  const resolverLink = `of-a-${tag}`;
  const guestLink = `of-b-${tag}`;
  const children: ChildProcess[] = [];
  const close = () => {
    for (const c of children) c.kill('SIGKILL');
    for (const ns of [nsA, nsB]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not created
      }
    }
  };
  try {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', resolverLink, 'type', 'veth', 'peer', 'name', 'peer-a', 'netns', nsA);
    ip('link', 'add', guestLink, 'type', 'veth', 'peer', 'name', 'peer-b', 'netns', nsB);
    ip('addr', 'add', `${HOST}/30`, 'dev', resolverLink);
    ip('addr', 'add', `${GUEST_LINK}/30`, 'dev', guestLink);
    ip('link', 'set', resolverLink, 'up');
    ip('link', 'set', guestLink, 'up');
    ip('-n', nsA, 'addr', 'add', `${RESOLVER}/30`, 'dev', 'peer-a');
    ip('-n', nsA, 'link', 'set', 'peer-a', 'up');
    ip('-n', nsA, 'link', 'set', 'lo', 'up');
    ip('-n', nsB, 'addr', 'add', `${RESOLVER}/32`, 'dev', 'peer-b');
    ip('-n', nsB, 'link', 'set', 'peer-b', 'up');
    ip('-n', nsB, 'route', 'add', `${HOST}/32`, 'dev', 'peer-b');
    // no ARP for HOST through the guest's link (this host may not answer it there): its MAC, written in
    const mac = readFileSync(`/sys/class/net/${guestLink}/address`, 'utf8').trim();
    ip('-n', nsB, 'neigh', 'add', HOST, 'lladdr', mac, 'dev', 'peer-b');
  } catch (err) {
    close();
    throw new Error(`cannot build the veth lab (root and iproute2 are needed): ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`);
  }
  return {
    resolverLink,
    guestLink,
    async serve(plan) {
      const hexPlan = Object.fromEntries(Object.entries(plan).map(([id, sends]) => [id, sends.map(([d, p]) => [d, p.toString('hex')])]));
      const child = nodeIn(nsA, SERVER, { PLAN: JSON.stringify(hexPlan), BIND: RESOLVER });
      children.push(child);
      await untilLine(child, 'ready', 'the resolver in its namespace');
    },
    forge(payload, port) {
      const child = nodeIn(nsB, FORGER, { PAYLOAD: payload.toString('hex'), PORT: String(port), TO: HOST, BIND: RESOLVER });
      children.push(child);
      return new Promise((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the guest's forged answer was not sent (${code}): ${err.trim()}`))));
      });
    },
    close,
  };
}
