/**
 * A peer that pipelines requests and never reads the replies must not make the server buffer
 * reply after reply (thrift-bridge.ts serveConnection: "gets backpressure instead of our memory").
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveExtension, type ThriftServer } from './thrift-bridge.js';

const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const i16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
const str = (s: string) => Buffer.concat([i32(Buffer.byteLength(s)), Buffer.from(s)]);
const byte = (n: number) => Buffer.from([n]);
const header = (name: string, seqid: number) => Buffer.concat([i32((0x80010000 | 1) >> 0), str(name), i32(seqid)]);
const callRequest = (seqid: number) =>
  Buffer.concat([header('call', seqid), byte(11), i16(1), str('table'), byte(11), i16(2), str('t'), byte(13), i16(3), byte(11), byte(11), i32(1), str('action'), str('generate'), byte(0)]);

let dir: string;
let server: ThriftServer;
let calls = 0;
// ~1 MB per reply: what a generate of a few thousand flows answers
const bigRows = Array.from({ length: 1000 }, (_, i) => ({ a: String(i).padEnd(1000, 'x') }));

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'outflow-bp-'));
  server = await serveExtension(path.join(dir, 'bp.em.1'), {
    ping: async () => ({ code: 0, message: 'OK', uuid: 1 }),
    call: async () => {
      calls++;
      return { status: { code: 0, message: 'OK', uuid: 1 }, response: bigRows };
    },
    shutdown: async () => undefined,
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

it('stops answering (and buffering replies) for a peer that pipelines calls and never reads', async () => {
  const s = net.createConnection(server.path);
  s.on('error', () => undefined);
  s.pause(); // never read a reply
  await new Promise((r) => s.once('connect', r));
  // 200 small requests (~12 KB in all) that each ask for a ~1 MB reply
  s.write(Buffer.concat(Array.from({ length: 200 }, (_, i) => callRequest(i + 1))));
  await new Promise((r) => setTimeout(r, 1500));
  s.destroy();
  // Backpressure: once the kernel buffer and the stream's high-water mark are full, no more requests are
  // read or answered. Without it every reply is produced and queued in the server's memory (~200 MB).
  expect(calls).toBeLessThanOrEqual(8);
}, 20_000);
