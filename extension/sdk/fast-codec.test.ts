import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveExtension, serveExtensionManager, type ThriftServer } from './thrift-bridge.js';
import type { ExtensionResponse } from './types.js';
import thrift from 'thrift';
import { encodeCallReply, encodeCallRequest, encodeSqlRequest, ExtensionResponseDecoder, MessageRejected, MessageScanner } from './fast-codec.js';

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

describe('MessageScanner (request framing)', () => {
  type Writer = {
    writeMessageBegin(name: string, type: number, seqid: number): void;
    writeStructBegin(name: string): void;
    writeFieldBegin(name: string, type: number, id: number): void;
    writeFieldEnd(): void;
    writeFieldStop(): void;
    writeStructEnd(): void;
    writeMapBegin(k: number, v: number, n: number): void;
    writeListBegin(e: number, n: number): void;
    writeSetBegin(e: number, n: number): void;
    writeBool(b: boolean): void;
    writeByte(n: number): void;
    writeI16(n: number): void;
    writeI32(n: number): void;
    writeI64(n: number): void;
    writeDouble(n: number): void;
    writeString(s: string): void;
    flush(): void;
  };
  const rt = thrift as unknown as { TBufferedTransport: new (b: undefined, cb: (buf: Buffer) => void) => unknown; TBinaryProtocol: new (t: unknown) => Writer };
  /** One message written by the thrift runtime's own TBinaryProtocol writer. */
  function written(body: (w: Writer) => void): Buffer {
    let out: Buffer = Buffer.alloc(0);
    const w = new rt.TBinaryProtocol(new rt.TBufferedTransport(undefined, (b) => (out = b)));
    w.writeMessageBegin('everything', 1, 42);
    w.writeStructBegin('args');
    body(w);
    w.writeFieldStop();
    w.writeStructEnd();
    w.flush();
    return out;
  }
  const everyType = written((w) => {
    const field = (type: number, id: number, value: () => void) => {
      w.writeFieldBegin('f', type, id);
      value();
      w.writeFieldEnd();
    };
    field(2, 1, () => w.writeBool(true));
    field(3, 2, () => w.writeByte(-3));
    field(4, 3, () => w.writeDouble(1.5));
    field(6, 4, () => w.writeI16(-2));
    field(8, 5, () => w.writeI32(7));
    field(10, 6, () => w.writeI64(1234567890123));
    field(11, 7, () => w.writeString('ümlaut ✓'));
    field(12, 8, () => {
      w.writeStructBegin('inner');
      field(11, 1, () => w.writeString(''));
      w.writeFieldStop();
      w.writeStructEnd();
    });
    // registerExtension's shape: map<string, map<string, list<map<string,string>>>>
    field(13, 9, () => {
      w.writeMapBegin(11, 13, 1);
      w.writeString('table');
      w.writeMapBegin(11, 15, 2);
      for (const t of ['a', 'b']) {
        w.writeString(t);
        w.writeListBegin(13, 2);
        for (let i = 0; i < 2; i++) {
          w.writeMapBegin(11, 11, 2);
          for (const k of ['id', 'name']) {
            w.writeString(k);
            w.writeString(`${t}${i}`);
          }
        }
      }
    });
    field(14, 10, () => {
      w.writeSetBegin(8, 3);
      for (const n of [1, 2, 3]) w.writeI32(n);
    });
    field(15, 11, () => w.writeListBegin(12, 0));
    field(15, 12, () => {
      w.writeListBegin(12, 2);
      for (let i = 0; i < 2; i++) {
        w.writeStructBegin('s');
        w.writeFieldStop();
        w.writeStructEnd();
      }
    });
  });
  const strictPing = Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, ...Buffer.from('ping'), 0, 0, 0, 9, 0]);
  const oldPing = Buffer.from([0, 0, 0, 4, ...Buffer.from('ping'), 1, 0, 0, 0, 9, 0]);
  const messages: [string, Buffer][] = [
    ['every thrift type', everyType],
    ['call', encodeCallRequest(5, 'table', 'outflow_status', { action: 'generate', context: '{"constraints":[]}' })],
    ['query', encodeSqlRequest('query', 1, 'SELECT 1')],
    ['strict ping', strictPing],
    ['non-strict ping', oldPing],
  ];

  it.each(messages)('finds the end of a %s message at every split point, ignoring the next message', (_name, msg) => {
    const s = new MessageScanner(1 << 20);
    const buf = Buffer.concat([msg, strictPing]);
    for (let end = 0; end < msg.length; end++) expect(s.scan(buf, end)).toBe(0);
    expect(s.scan(buf, buf.length)).toBe(msg.length);
    s.reset();
    expect(s.scan(buf.subarray(msg.length), strictPing.length)).toBe(strictPing.length);
  });

  it('resumes where the previous chunk ended instead of walking the message again', () => {
    const request: Record<string, string> = {};
    for (let i = 0; i < 50_000; i++) request[`k${i}`] = 'v';
    const msg = encodeCallRequest(1, 'table', 't', request);
    const s = new MessageScanner(8 << 20);
    for (let end = 16_384; end < msg.length; end += 16_384) {
      expect(s.scan(msg, end)).toBe(0);
      // Everything but the token cut by the chunk boundary has been walked.
      expect(s.scanned).toBeGreaterThan(end - 16);
    }
    expect(s.scan(msg, msg.length)).toBe(msg.length);
  });

  const header = Buffer.from([0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, ...Buffer.from('call'), 0, 0, 0, 1]);
  const rejects = (cap: number, bytes: Buffer, why: RegExp) => {
    expect(() => new MessageScanner(cap).scan(bytes, bytes.length)).toThrow(MessageRejected);
    expect(() => new MessageScanner(cap).scan(bytes, bytes.length)).toThrow(why);
  };

  it('rejects a declared string length past the cap as soon as the length has arrived', () => {
    rejects(8 << 20, Buffer.concat([header, Buffer.from([11, 0, 1, 0x7f, 0xff, 0xff, 0xff])]), /declared string length 2147483647 exceeds the 8388608-byte message cap/);
    // Exactly what fits is accepted (and waited for).
    const cap = 1024;
    const fits = cap - header.length - 3 - 4 - 1;
    const head = Buffer.concat([header, Buffer.from([11, 0, 1]), Buffer.from([0, 0, fits >> 8, fits & 0xff])]);
    const s = new MessageScanner(cap);
    expect(s.scan(head, head.length)).toBe(0);
    const whole = Buffer.concat([head, Buffer.alloc(fits, 0x41), Buffer.from([0])]);
    expect(s.scan(whole, whole.length)).toBe(cap);
    const over = cap - header.length - 3 - 4 + 1; // its own bytes alone would pass the cap
    rejects(cap, Buffer.concat([header, Buffer.from([11, 0, 1]), Buffer.from([0, 0, over >> 8, over & 0xff])]), /declared string length 1002 exceeds/);
  });

  it('rejects a container whose declared size the cap cannot hold', () => {
    // 200 000 string→string entries need at least 1.6 MB.
    rejects(1 << 20, Buffer.concat([header, Buffer.from([13, 0, 3, 11, 11, 0x00, 0x03, 0x0d, 0x40])]), /declared container size 200000/);
    rejects(1 << 20, Buffer.concat([header, Buffer.from([15, 0, 3, 10, 0x7f, 0xff, 0xff, 0xff])]), /declared container size/);
    rejects(1 << 20, Buffer.concat([header, Buffer.from([13, 0, 3, 11, 11, 0xff, 0xff, 0xff, 0xff])]), /negative container size/);
    // 100 000 entries could fit: wait for them.
    const ok = Buffer.concat([header, Buffer.from([13, 0, 3, 11, 11, 0x00, 0x01, 0x86, 0xa0])]);
    expect(new MessageScanner(1 << 20).scan(ok, ok.length)).toBe(0);
  });

  it('rejects what is not a binary-protocol message on sight', () => {
    rejects(8 << 20, Buffer.from('GET / HTTP/1.1\r\n'), /declared method name length 1195725856/);
    rejects(8 << 20, Buffer.from([0x80, 0x02, 0x00, 0x01, 0, 0, 0, 0]), /bad protocol version/);
    rejects(8 << 20, Buffer.concat([header, Buffer.from([11, 0, 1, 0xff, 0xff, 0xff, 0xfe])]), /negative string length/);
    rejects(8 << 20, Buffer.concat([header, Buffer.from([99, 0, 1])]), /unknown thrift type 99/);
    rejects(8 << 20, Buffer.concat([header, Buffer.from([13, 0, 3, 11, 42, 0, 0, 0, 1])]), /unknown thrift type 42/);
    rejects(8 << 20, Buffer.concat([header, Buffer.alloc(3 * 100, 0).fill(Buffer.from([12, 0, 1]))]), /nesting deeper than 64/);
  });

  it('rejects a message that grows past the cap without declaring any length', () => {
    // Fixed-size fields only: no length to check up front, the running total trips instead.
    const fields = Buffer.alloc(7 * 200).fill(Buffer.from([8, 0, 1, 0, 0, 0, 0]));
    rejects(1024, Buffer.concat([header, fields]), /message exceeds 1024 bytes/);
  });
});
