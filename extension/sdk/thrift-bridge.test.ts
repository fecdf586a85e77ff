import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExtensionManagerClient, MAX_SERVER_CONNECTIONS, serveExtension, type ThriftServer } from './thrift-bridge.js';
import { FakeManager } from './testing/fake-manager.js';
import type { PluginRow } from './types.js';

// Hand-encoded TBinaryProtocol (formats.md §1.1), to pin the wire format independently of the thrift runtime.
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};
const str = (s: string) => Buffer.concat([i32(Buffer.byteLength(s)), Buffer.from(s)]);
const byte = (n: number) => Buffer.from([n]);
const STOP = byte(0);
const strictHeader = (name: string, type: number, seqid: number) => Buffer.concat([i32((0x80010000 | type) >> 0), str(name), i32(seqid)]);
const oldHeader = (name: string, type: number, seqid: number) => Buffer.concat([str(name), byte(type), i32(seqid)]);

/** ExtensionStatus{code, message, uuid} as the generated writer emits it. */
const statusStruct = (code: number, message: string, uuid: number) =>
  Buffer.concat([byte(8), i16(1), i32(code), byte(11), i16(2), str(message), byte(10), i16(3), i64(uuid), STOP]);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'sdk-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Send raw bytes on a fresh connection; resolve with what came back once `expectBytes` arrived (or the peer closed). */
function exchange(socketPath: string, payload: Buffer, expectBytes: number, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const s = net.createConnection(socketPath, () => s.write(payload));
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`only ${total}/${expectBytes} bytes within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('hex')}`));
    }, timeoutMs);
    s.on('data', (d) => {
      chunks.push(d);
      total += d.length;
      if (total >= expectBytes) done();
    });
    s.on('error', reject);
    s.on('end', done);
  });
}

describe('Extension service on the wire (binary protocol, unframed)', () => {
  let server: ThriftServer;
  const calls: [string, string, PluginRow][] = [];
  const sock = () => path.join(dir, 'ext.em.7');

  beforeAll(async () => {
    server = await serveExtension(sock(), {
      ping: async () => ({ code: 0, message: 'OK', uuid: 7 }),
      call: async (registry, item, request) => {
        calls.push([registry, item, request]);
        return { status: { code: 0, message: 'OK', uuid: 0 }, response: [{ a: '1' }] };
      },
      shutdown: async () => undefined,
    });
  });
  afterAll(() => server.close());

  const pingReply = (seqid: number) => Buffer.concat([strictHeader('ping', 2, seqid), byte(12), i16(0), statusStruct(0, 'OK', 7), STOP]);

  it('answers a strict-header ping byte for byte', async () => {
    const expected = pingReply(9);
    const got = await exchange(sock(), Buffer.concat([strictHeader('ping', 1, 9), STOP]), expected.length);
    expect(got.toString('hex')).toBe(expected.toString('hex'));
  });

  it('accepts the old non-strict header and still replies strict', async () => {
    const expected = pingReply(3);
    const got = await exchange(sock(), Buffer.concat([oldHeader('ping', 1, 3), STOP]), expected.length);
    expect(got.toString('hex')).toBe(expected.toString('hex'));
  });

  it('serves several calls on one connection until EOF', async () => {
    const expected = Buffer.concat([pingReply(1), pingReply(2)]);
    const got = await exchange(sock(), Buffer.concat([strictHeader('ping', 1, 1), STOP, strictHeader('ping', 1, 2), STOP]), expected.length);
    expect(got.toString('hex')).toBe(expected.toString('hex'));
  });

  it('decodes call(registry, item, map) and encodes the ExtensionResponse', async () => {
    const args = Buffer.concat([
      byte(11), i16(1), str('table'),
      byte(11), i16(2), str('things'),
      byte(13), i16(3), byte(11), byte(11), i32(1), str('action'), str('columns'),
      STOP,
    ]);
    const response = Buffer.concat([
      byte(12), i16(1), statusStruct(0, 'OK', 0),
      byte(15), i16(2), byte(13), i32(1), byte(11), byte(11), i32(1), str('a'), str('1'),
      STOP,
    ]);
    const expected = Buffer.concat([strictHeader('call', 2, 5), byte(12), i16(0), response, STOP]);
    const got = await exchange(sock(), Buffer.concat([strictHeader('call', 1, 5), args]), expected.length);
    expect(got.toString('hex')).toBe(expected.toString('hex'));
    expect(calls.at(-1)).toEqual(['table', 'things', { action: 'columns' }]);
  });

  it('replies to an unknown method with a TApplicationException (type 1 = UNKNOWN_METHOD)', async () => {
    const expected = Buffer.concat([strictHeader('explode', 3, 4), byte(11), i16(1), str('Unknown function explode'), byte(8), i16(2), i32(1), STOP]);
    const got = await exchange(sock(), Buffer.concat([strictHeader('explode', 1, 4), STOP]), expected.length);
    expect(got.toString('hex')).toBe(expected.toString('hex'));
  });

  it('creates its socket 0600 whatever the umask, and refuses connections past MAX_SERVER_CONNECTIONS', async () => {
    const p = path.join(dir, 'ext.em.9');
    const old = process.umask(0o000);
    let s: Awaited<ReturnType<typeof serveExtension>>;
    try {
      s = await serveExtension(p, { ping: async () => ({ code: 0, message: '', uuid: 0 }), call: async () => ({ status: { code: 0, message: '', uuid: 0 }, response: [] }), shutdown: async () => undefined });
    } finally {
      process.umask(old);
    }
    try {
      const { statSync } = await import('node:fs');
      expect(statSync(p).mode & 0o777).toBe(0o600);
      const net = await import('node:net');
      const clients = Array.from({ length: MAX_SERVER_CONNECTIONS + 4 }, () => net.createConnection(p));
      await new Promise((r) => setTimeout(r, 300));
      expect(s.connections).toBe(MAX_SERVER_CONNECTIONS);
      for (const c of clients) c.destroy();
    } finally {
      await s.close();
    }
  });

  it('removes its socket file on close', async () => {
    const p = path.join(dir, 'ext.em.8');
    const s = await serveExtension(p, { ping: async () => ({ code: 0, message: '', uuid: 0 }), call: async () => ({ status: { code: 0, message: '', uuid: 0 }, response: [] }), shutdown: async () => undefined });
    const { existsSync } = await import('node:fs');
    expect(existsSync(p)).toBe(true);
    await s.close();
    expect(existsSync(p)).toBe(false);
  });
});

describe('ExtensionManagerClient against the fake manager', () => {
  let manager: FakeManager;
  afterEach(() => manager?.close());

  it('round-trips extensions() uuids above 9 (hex-keyed map writer) and registration checks', async () => {
    manager = await FakeManager.start(path.join(dir, 'm1.em'));
    const client = new ExtensionManagerClient(manager.socketPath, { timeoutMs: 2000 });
    const routes = { table: { t: [{ id: 'column', name: 'a', type: 'TEXT', op: '0' }] } };
    const old = await client.registerExtension({ name: 'x', version: '1', sdk_version: '1.7.6', min_sdk_version: '' }, routes);
    expect(old).toMatchObject({ code: 1, message: 'Incompatible extension SDK version' });
    const ok = await client.registerExtension({ name: 'x', version: '1', sdk_version: '1.8.2', min_sdk_version: '1.7.7' }, routes);
    expect(ok.code).toBe(0);
    expect(ok.uuid).toBeGreaterThan(0);
    const dup = await client.registerExtension({ name: 'x', version: '1', sdk_version: '1.8.2', min_sdk_version: '' }, routes);
    expect(dup).toMatchObject({ code: 1, message: 'Duplicate extension registered' });
    const listed = await client.extensions();
    expect([...listed.keys()]).toEqual([ok.uuid]);
    expect(listed.get(ok.uuid)).toEqual({ name: 'x', version: '1', sdk_version: '1.8.2', min_sdk_version: '1.7.7' });
    expect(await client.deregisterExtension(ok.uuid)).toMatchObject({ code: 0 });
    expect((await client.extensions()).size).toBe(0);
    expect(manager.calls.map((c) => c.method)).toEqual(['registerExtension', 'registerExtension', 'registerExtension', 'extensions', 'deregisterExtension', 'extensions']);
  });

  it('runs query(), getQueryColumns() and options() through the manager', async () => {
    manager = await FakeManager.start(path.join(dir, 'm2.em'));
    manager.queryHandler = (sql) => ({ status: { code: 0, message: 'OK', uuid: 0 }, response: [{ sql, version: '5.12.1' }] });
    const client = new ExtensionManagerClient(manager.socketPath, { timeoutMs: 2000 });
    expect(await client.query('SELECT version FROM osquery_info')).toEqual({
      status: { code: 0, message: 'OK', uuid: 0 },
      response: [{ sql: 'SELECT version FROM osquery_info', version: '5.12.1' }],
    });
    expect((await client.getQueryColumns('SELECT 1')).response[0]?.sql).toBe('SELECT 1');
    expect((await client.options()).extensions_interval).toEqual({ value: '3', default_value: '3', type: 'string' });
  });

  it('fails fast and clearly when nothing listens, and times out on a silent peer', async () => {
    const missing = new ExtensionManagerClient(path.join(dir, 'nothing.em'), { timeoutMs: 2000 });
    await expect(missing.ping()).rejects.toMatchObject({ code: 'RPC_FAILED', message: expect.stringMatching(/ENOENT/) });
    const silentPath = path.join(dir, 'silent.em');
    // Reads requests (so it sees our close) but never answers.
    const silent = net.createServer((s) => s.resume());
    await new Promise<void>((r) => silent.listen(silentPath, r));
    try {
      await expect(new ExtensionManagerClient(silentPath, { timeoutMs: 200 }).ping()).rejects.toMatchObject({ code: 'RPC_TIMEOUT' });
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe('hostile peers on the server socket', () => {
  let server: ThriftServer;
  const errors: Error[] = [];
  const calls: PluginRow[] = [];
  let hold: Promise<void> | undefined;
  const sock = () => path.join(dir, 'hostile.em');
  const pingReply = Buffer.concat([strictHeader('ping', 2, 1), byte(12), i16(0), statusStruct(0, 'OK', 3), STOP]);
  const ping = () => exchange(sock(), Buffer.concat([strictHeader('ping', 1, 1), STOP]), pingReply.length);
  const rejections = () => errors.filter((e) => (e as { code?: string }).code === 'PEER_REJECTED');

  beforeAll(async () => {
    server = await serveExtension(
      sock(),
      {
        ping: async () => ({ code: 0, message: 'OK', uuid: 3 }),
        call: async (_registry, _item, request) => {
          calls.push(request);
          await hold;
          return { status: { code: 0, message: 'OK', uuid: 3 }, response: [{ n: String(Object.keys(request).length) }] };
        },
        shutdown: async () => undefined,
      },
      { onError: (err) => errors.push(err), limits: { maxRequestBytes: 64 * 1024 } },
    );
  });
  afterAll(() => server.close());

  /** Connect, write `head`, then keep writing `filler` until the server closes or `maxBytes` are written. */
  function flood(head: Buffer, filler: Buffer, maxBytes: number): Promise<{ closed: boolean; written: number; ms: number }> {
    return new Promise((resolve) => {
      const t0 = Date.now();
      let written = 0;
      let closed = false;
      const s = net.createConnection(sock(), async () => {
        s.write(head);
        while (!closed && written < maxBytes) {
          written += filler.length;
          if (!s.write(filler)) await Promise.race([new Promise((r) => s.once('drain', r)), new Promise((r) => s.once('close', r))]);
        }
        await new Promise((r) => setTimeout(r, 200));
        s.destroy();
        resolve({ closed, written, ms: Date.now() - t0 });
      });
      s.on('error', () => undefined);
      s.on('close', () => (closed = true));
    });
  }

  it('closes a connection declaring a string longer than the cap as soon as the length arrives, and logs it once', async () => {
    errors.length = 0;
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      const s = net.createConnection(sock(), () => s.write(Buffer.concat([strictHeader('call', 1, 1), byte(11), i16(1), i32(0x7fffffff)])));
      s.on('error', () => undefined);
      s.on('close', () => resolve(Date.now() - t0));
    });
    expect(await closed).toBeLessThan(1000);
    expect(rejections()).toHaveLength(1);
    expect(rejections()[0]?.message).toMatch(/declared string length 2147483647 exceeds the 65536-byte message cap/);
    expect((await ping()).toString('hex')).toBe(pingReply.toString('hex'));
  });

  it('closes a connection whose request grows past the cap, without buffering the rest', async () => {
    errors.length = 0;
    // 8 000 string→string entries could fit in 64 KiB; these are longer than the minimum, so they cannot.
    const head = Buffer.concat([strictHeader('call', 1, 1), byte(13), i16(3), byte(11), byte(11), i32(8000)]);
    const entry = Buffer.concat([str('key'), str('value')]);
    const r = await flood(head, Buffer.concat(Array(100).fill(entry)), 64 * 1024 * 1024);
    expect(r.closed).toBe(true);
    // What the kernel's socket buffers absorb, not the 64 MB offered.
    expect(r.written).toBeLessThan(8 * 1024 * 1024);
    expect(rejections()).toHaveLength(1);
    expect(rejections()[0]?.message).toMatch(/exceeds (the )?65536/);
    expect(calls).toHaveLength(0);
  });

  it('closes a connection that sends something other than a binary-protocol message', async () => {
    errors.length = 0;
    const r = await flood(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(64 * 1024, 0xff), 64 * 1024 * 1024);
    expect(r.closed).toBe(true);
    expect(r.written).toBeLessThan(8 * 1024 * 1024);
    expect(rejections()[0]?.message).toMatch(/declared method name length 1195725856/);
    expect((await ping()).toString('hex')).toBe(pingReply.toString('hex'));
  });

  it('decodes a request of many small map entries arriving in small chunks without re-reading it per chunk', async () => {
    const big = await serveExtension(path.join(dir, 'big.em'), {
      ping: async () => ({ code: 0, message: 'OK', uuid: 0 }),
      call: async (_r, _i, request) => ({ status: { code: 0, message: 'OK', uuid: 0 }, response: [{ n: String(Object.keys(request).length) }] }),
      shutdown: async () => undefined,
    });
    try {
      const n = 320_000;
      const entries: Buffer[] = [strictHeader('call', 1, 1), byte(11), i16(1), str('table'), byte(11), i16(2), str('t'), byte(13), i16(3), byte(11), byte(11), i32(n)];
      for (let i = 0; i < n; i++) entries.push(str(`k${i}`), str('v'));
      entries.push(STOP);
      const all = Buffer.concat(entries); // ~4.8 MB in ~300 chunks
      // CPU time of this process (server and client both run here), not wall time: a loaded machine stretches the
      // latter several times over (7.5 s seen), while the quadratic re-decoding this guards against costs CPU
      const cpu0 = process.cpuUsage();
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const got: Buffer[] = [];
        const s = net.createConnection(big.path, async () => {
          for (let o = 0; o < all.length; o += 16_384) {
            s.write(all.subarray(o, o + 16_384));
            await new Promise((r) => setImmediate(r));
          }
        });
        s.on('data', (d) => {
          got.push(d);
          if (Buffer.concat(got).includes(Buffer.from(String(n)))) {
            s.destroy();
            resolve(Buffer.concat(got));
          }
        });
        s.on('error', reject);
      });
      expect(reply.includes(Buffer.from(String(n)))).toBe(true);
      // Re-decoding from the first byte per chunk took ~12 s here; one pass takes well under a second.
      const cpu = process.cpuUsage(cpu0);
      expect((cpu.user + cpu.system) / 1000).toBeLessThan(3000);
    } finally {
      await big.close();
    }
  }, 60_000);

  it('answers requests pipelined on one connection one at a time, in order', async () => {
    calls.length = 0;
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const request = (seqid: number, k: string) =>
      Buffer.concat([strictHeader('call', 1, seqid), byte(11), i16(1), str('table'), byte(11), i16(2), str('t'), byte(13), i16(3), byte(11), byte(11), i32(1), str(k), str('v'), STOP]);
    const got: Buffer[] = [];
    const s = net.createConnection(sock(), () => s.write(Buffer.concat([request(1, 'a'), request(2, 'b')])));
    s.on('data', (d) => got.push(d));
    await new Promise((r) => setTimeout(r, 200));
    // The second request waits, unread, until the first is answered.
    expect(calls).toEqual([{ a: 'v' }]);
    release();
    hold = undefined;
    await new Promise((r) => setTimeout(r, 200));
    s.destroy();
    expect(calls).toEqual([{ a: 'v' }, { b: 'v' }]);
    const replies = Buffer.concat(got);
    const second = replies.indexOf(strictHeader('call', 2, 2));
    expect(replies.indexOf(strictHeader('call', 2, 1))).toBe(0);
    expect(second).toBeGreaterThan(0);
  });
});

describe('connection timeouts', () => {
  let server: ThriftServer;
  const errors: Error[] = [];
  let hold: Promise<void> | undefined;
  const sock = () => path.join(dir, 'timeouts.em');
  const pingRequest = (seqid: number) => Buffer.concat([strictHeader('ping', 1, seqid), STOP]);
  const pingReply = (seqid: number) => Buffer.concat([strictHeader('ping', 2, seqid), byte(12), i16(0), statusStruct(0, 'OK', 4), STOP]);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const rejections = () => errors.filter((e) => (e as { code?: string }).code === 'PEER_REJECTED');

  beforeAll(async () => {
    server = await serveExtension(
      sock(),
      {
        ping: async () => {
          await hold;
          return { code: 0, message: 'OK', uuid: 4 };
        },
        call: async () => ({ status: { code: 0, message: 'OK', uuid: 4 }, response: [] }),
        shutdown: async () => undefined,
      },
      { onError: (err) => errors.push(err), limits: { partialRequestTimeoutMs: 300, idleTimeoutMs: 600 } },
    );
  });
  afterAll(() => server.close());

  /** A connection that records what it receives and when it is closed. */
  function connect() {
    const c = { got: Buffer.alloc(0), closedAfter: undefined as number | undefined, s: undefined as unknown as net.Socket };
    const t0 = Date.now();
    c.s = net.createConnection(sock());
    c.s.on('data', (d) => (c.got = Buffer.concat([c.got, d])));
    c.s.on('error', () => undefined);
    c.s.on('close', () => (c.closedAfter = Date.now() - t0));
    return c;
  }

  it('closes a connection left idle, quietly', async () => {
    errors.length = 0;
    const c = connect();
    await sleep(1200);
    expect(c.closedAfter).toBeGreaterThanOrEqual(500);
    expect(c.closedAfter).toBeLessThan(1200);
    expect(errors).toEqual([]);
  });

  it('keeps a long-lived connection that pings more often than the idle timeout', async () => {
    errors.length = 0;
    const c = connect();
    const expected: Buffer[] = [];
    for (let i = 1; i <= 8; i++) {
      c.s.write(pingRequest(i));
      expected.push(pingReply(i));
      await sleep(250);
    }
    // 2 s open, more than three idle timeouts.
    expect(c.closedAfter).toBeUndefined();
    expect(c.got.toString('hex')).toBe(Buffer.concat(expected).toString('hex'));
    c.s.destroy();
    expect(errors).toEqual([]);
  });

  it('closes a connection whose request is still incomplete after the partial timeout, even while bytes trickle in', async () => {
    errors.length = 0;
    const c = connect();
    const request = Buffer.concat([strictHeader('call', 1, 1), byte(11), i16(1), str('x'.repeat(40))]);
    for (let i = 0; i < request.length && c.closedAfter === undefined; i++) {
      c.s.write(request.subarray(i, i + 1));
      await sleep(50);
    }
    expect(c.closedAfter).toBeGreaterThanOrEqual(250);
    expect(c.closedAfter).toBeLessThan(1000);
    expect(rejections().map((e) => e.message)).toEqual([expect.stringMatching(/request incomplete after 300 ms/)]);
  });

  it('does not time out while a request is being answered', async () => {
    errors.length = 0;
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const c = connect();
    c.s.write(pingRequest(1));
    await sleep(1000);
    release();
    hold = undefined;
    await sleep(100);
    expect(c.got.toString('hex')).toBe(pingReply(1).toString('hex'));
    expect(c.closedAfter).toBeUndefined();
    c.s.destroy();
    expect(errors).toEqual([]);
  });
});
