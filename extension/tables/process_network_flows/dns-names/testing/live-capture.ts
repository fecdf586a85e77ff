import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER_V4, SERVER_V6, type Exchange } from './scenario.js';

/**
 * Runs the real tcpdump on loopback while a local DNS server answers scripted queries, so the parsers meet the
 * bytes tcpdump really writes to stdout (as the collector reads them), chunked as the pipe delivers them.
 * Needs root (as tests run here) and /usr/bin/tcpdump: a missing tcpdump fails the test, it never skips.
 */

export const TCPDUMP = '/usr/bin/tcpdump';

export interface Capture {
  /** stdout chunks in arrival order */
  chunks: Buffer[];
  stderr: string;
}

export interface RunningCapture {
  /** resolves once tcpdump says it is listening */
  ready: Promise<void>;
  /** resolves when tcpdump exits after `count` packets */
  done: Promise<Capture>;
  kill(): void;
}

/** `tcpdump <args> -c count -w -`; `args` names interface, link type, precision and the filter. */
export function startTcpdump(args: string[], count: number, timeoutMs = 15_000): RunningCapture {
  const child = spawn(TCPDUMP, ['-n', '-U', '-s', '0', '-c', String(count), '-w', '-', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  let onReady: () => void = () => {};
  let onReadyFail: (e: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onReadyFail = reject;
  });
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    if (stderr.includes('listening on')) onReady();
  });
  const done = new Promise<Capture>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tcpdump ${args.join(' ')} saw fewer than ${count} packets within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const e = new Error(
        err.code === 'ENOENT' ? `${TCPDUMP} is missing: install tcpdump (scripts/services.sh does) to run the live capture test` : `tcpdump failed to start: ${err.message}`,
      );
      onReadyFail(e);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ chunks, stderr });
      else {
        const e = new Error(`tcpdump ${args.join(' ')} exited with ${code ?? signal}; stderr: ${stderr}`);
        onReadyFail(e);
        reject(e);
      }
    });
  });
  return { ready, done, kill: () => child.kill('SIGKILL') };
}

/**
 * One tcpdump per entry of `argsList` (each until `count` packets), all listening before `drive` makes the traffic;
 * their captures in that order. Any failure kills every tcpdump still running.
 */
async function captureDuring(argsList: readonly string[][], count: number, drive: () => Promise<void>, timeoutMs?: number): Promise<Capture[]> {
  const running = argsList.map((args) => startTcpdump(args, count, timeoutMs));
  try {
    await Promise.all(running.map((r) => r.ready));
    await drive();
    return await Promise.all(running.map((r) => r.done));
  } catch (err) {
    for (const r of running) r.kill();
    throw err;
  }
}

/** A tcpdump invocation whose capture backs fixtures/`fixture`. */
export interface CaptureVariant {
  fixture: string;
  /** interface, link type, precision; the filter is added */
  args: readonly string[];
}

/**
 * `captureDuring` with one tcpdump per variant, all with `filter`: their captures by fixture name. With
 * `OUTFLOW_UPDATE_DNS_FIXTURES=1`, once every capture succeeded, each is written over its fixture.
 */
export async function captureFixtures(variants: readonly CaptureVariant[], filter: string, count: number, drive: () => Promise<void>, timeoutMs?: number): Promise<Map<string, Capture>> {
  const done = await captureDuring(variants.map((v) => [...v.args, filter]), count, drive, timeoutMs);
  const captures = new Map(variants.map((v, i) => [v.fixture, done[i]!]));
  if (process.env.OUTFLOW_UPDATE_DNS_FIXTURES === '1') {
    for (const [fixture, c] of captures) writeFileSync(join(import.meta.dirname, '..', 'fixtures', fixture), Buffer.concat(c.chunks));
  }
  return captures;
}

/**
 * Serve the scenario on SERVER_V4/SERVER_V6 port 53 and send each query from an ephemeral client socket;
 * the server answers by the query id (first two bytes) alone, so serving does not lean on the parser under test.
 */
export async function serveScenario(exchanges: readonly Exchange[]): Promise<void> {
  const byId = new Map(exchanges.map((e) => [e.id, e]));
  const servers = await Promise.all(
    ([4, 6] as const).map(
      (family) =>
        new Promise<dgram.Socket>((resolve, reject) => {
          const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
          s.once('error', reject);
          s.on('message', (msg, rinfo) => {
            const e = byId.get(msg.readUInt16BE(0));
            if (e) s.send(e.response, rinfo.port, rinfo.address);
          });
          s.bind(53, family === 4 ? SERVER_V4 : SERVER_V6, () => resolve(s));
        }),
    ),
  );
  try {
    // One at a time, so the capture holds the answers in scenario order.
    for (const e of exchanges) {
      await new Promise<void>((resolve, reject) => {
        const c = dgram.createSocket(e.family === 4 ? 'udp4' : 'udp6');
        const timer = setTimeout(() => {
          c.close();
          reject(new Error(`no answer to query ${e.id.toString(16)}`));
        }, 5_000);
        c.on('message', () => {
          clearTimeout(timer);
          c.close();
          resolve();
        });
        c.send(e.query, 53, e.family === 4 ? SERVER_V4 : SERVER_V6);
      });
    }
  } finally {
    for (const s of servers) s.close();
  }
}

/**
 * The narrowed filter keeps fixtures free of any other DNS traffic the host has: only the queries to our server and
 * its answers (::1 is both ends of the IPv6 exchanges).
 */
export const SCENARIO_FILTER = `udp and port 53 and (host ${SERVER_V4} or host ${SERVER_V6})`;
