import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveExtension, serveExtensionManager, type ThriftServer } from './thrift-bridge.js';
import type { ExtensionResponse } from './types.js';
import { encodeCallReply, ExtensionResponseDecoder } from './fast-codec.js';

// The Extension server replies to `call` with the hand-written encoder; the ExtensionManager server
// (same processor plumbing, no fast path) with the generated writer. Same request → same bytes.
const SAMPLES: ExtensionResponse[] = [
  { status: { code: 0, message: 'OK', uuid: 0 }, response: [] },
  { status: { code: 1, message: 'table x: generate failed: ümlaut ✓', uuid: 65535 }, response: [] },
  {
    status: { code: 0, message: 'OK', uuid: 4242 },
    response: [
      { path: '/Applications/Zoom.app/Contents/MacOS/zoom.us', pid: '412', empty: '' },
      {},
      { 'clé': 'välue 🚀', n: '-1' },
      ...Array.from({ length: 300 }, (_, i) => ({ i: String(i), s: 'x'.repeat(i) })),
    ],
  },
];

function exchange(socketPath: string, payload: Buffer, expectBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const s = net.createConnection(socketPath, () => s.write(payload));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout after ${total} bytes`));
    }, 5000);
    s.on('data', (d) => {
      chunks.push(d);
      total += d.length;
      if (total >= expectBytes) {
        clearTimeout(timer);
        s.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('error', reject);
  });
}

function callRequest(seqid: number): Buffer {
  const i32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const str = (s: string) => Buffer.concat([i32(Buffer.byteLength(s)), Buffer.from(s)]);
  return Buffer.concat([i32((0x80010000 | 1) >> 0), str('call'), i32(seqid), Buffer.from([11, 0, 1]), str('table'), Buffer.from([11, 0, 2]), str('t'), Buffer.from([13, 0, 3, 11, 11]), i32(0), Buffer.from([0])]);
}

describe('fast call-reply encoder', () => {
  let dir: string;
  let current: ExtensionResponse;
  let fast: ThriftServer;
  let generated: ThriftServer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'codec-'));
    const call = async () => current;
    fast = await serveExtension(path.join(dir, 'fast'), { ping: async () => current.status, call, shutdown: async () => undefined });
    generated = await serveExtensionManager(path.join(dir, 'gen'), {
      ping: async () => current.status,
      call,
      shutdown: async () => undefined,
      extensions: async () => new Map(),
      options: async () => ({}),
      registerExtension: async () => current.status,
      deregisterExtension: async () => current.status,
      query: async () => current,
      getQueryColumns: async () => current,
    });
  });
  afterAll(async () => {
    await fast.close();
    await generated.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(SAMPLES.map((s, i) => [i, s] as const))('sample %i is byte-identical to the generated writer', async (i, sample) => {
    current = sample;
    const fromFast = await exchange(fast.path, callRequest(100 + i), 1);
    // Wait for the complete reply from both: the generated one defines the expected length.
    const expected = await exchangeAll(generated.path, callRequest(100 + i));
    const got = fromFast.length >= expected.length ? fromFast : await exchange(fast.path, callRequest(100 + i), expected.length);
    expect(got.toString('hex')).toBe(expected.toString('hex'));
  });
});

/** Read until the peer has been quiet for 100 ms (the generated reply arrives in one flush). */
function exchangeAll(socketPath: string, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const s = net.createConnection(socketPath, () => s.write(payload));
    s.on('data', (d) => {
      chunks.push(d);
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        s.destroy();
        resolve(Buffer.concat(chunks));
      }, 100);
    });
    s.on('error', reject);
  });
}

describe('ExtensionResponseDecoder', () => {
  const sample = SAMPLES[2] as ExtensionResponse;

  it('decodes a reply fed one byte at a time (every split point)', () => {
    const bytes = encodeCallReply(7, { status: sample.status, response: sample.response.slice(0, 5) });
    const d = new ExtensionResponseDecoder('call');
    let result;
    for (let i = 0; i < bytes.length; i++) {
      result = d.feed(bytes.subarray(i, i + 1));
      if (i < bytes.length - 1) expect(result.done).toBe(false);
    }
    expect(result).toEqual({ done: true, value: { status: sample.status, response: sample.response.slice(0, 5) } });
  });

  it('decodes a large reply arriving in uneven chunks', () => {
    const big: ExtensionResponse = { status: { code: 0, message: 'OK', uuid: 0 }, response: Array.from({ length: 5000 }, (_, i) => ({ i: String(i), path: `/p/${i}`, e: '' })) };
    const bytes = encodeCallReply(1, big);
    const d = new ExtensionResponseDecoder('call');
    let result;
    for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 7 + 3) % 65_536 || 1) result = d.feed(bytes.subarray(at, at + step));
    expect(result).toEqual({ done: true, value: big });
  });

  it('accepts an old non-strict header', () => {
    const strict = encodeCallReply(3, SAMPLES[0] as ExtensionResponse);
    // strict: i32 version|type, str name, i32 seqid → old: str name, byte type, i32 seqid
    const name = strict.subarray(4, 4 + 4 + 4);
    const old = Buffer.concat([name, Buffer.from([2]), strict.subarray(12)]);
    expect(new ExtensionResponseDecoder('call').feed(old)).toEqual({ done: true, value: SAMPLES[0] });
  });

  it('turns an EXCEPTION message into an error with the message and type', () => {
    const msg = Buffer.concat([
      Buffer.from([0x80, 0x01, 0x00, 0x03, 0, 0, 0, 4]),
      Buffer.from('call'),
      Buffer.from([0, 0, 0, 1, 11, 0, 1, 0, 0, 0, 4]),
      Buffer.from('nope'),
      Buffer.from([8, 0, 2, 0, 0, 0, 1, 0]),
    ]);
    const r = new ExtensionResponseDecoder('call').feed(msg);
    expect(r.done && 'error' in r && r.error.message).toBe('call: nope (TApplicationException type 1)');
  });
});
