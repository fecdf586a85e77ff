/**
 * Hand-written TBinaryProtocol encoding of the one large message we send: the reply to
 * `Extension.call` (ExtensionResponse with up to tens of thousands of rows). The generated writer
 * allocates a Buffer per field and deep-copies the rows first; for 5 000 rows that is hundreds of
 * milliseconds of GC on a busy Mac, and SPEC §1 gives a generate 2 s in total. The bytes are identical
 * to the generated writer's (pinned by fast-codec.test.ts).
 */
import type { ExtensionResponse, PluginRow } from './types.js';

const T_STOP = 0;
const T_I32 = 8;
const T_I64 = 10;
const T_STRING = 11;
const T_STRUCT = 12;
const T_MAP = 13;
const T_LIST = 15;
const MESSAGE_REPLY = 2;
const VERSION_1 = 0x80010000;

function statusSize(message: string): number {
  // code (1+2+4) + message (1+2+4+len) + uuid (1+2+8) + STOP
  return 7 + 7 + Buffer.byteLength(message) + 11 + 1;
}

/** Encode the full reply message for `call` (header + call_result{0: ExtensionResponse}). */
export function encodeCallReply(seqid: number, res: ExtensionResponse): Buffer {
  const rows = res.response;
  const name = 'call';
  let size = 4 + 4 + name.length + 4; // strict header
  size += 3; // result field 0: STRUCT
  size += 3 + statusSize(res.status.message); // ExtensionResponse field 1: status
  size += 3 + 1 + 4; // field 2: LIST<MAP>
  for (const row of rows) {
    size += 1 + 1 + 4;
    for (const k in row) {
      if (!Object.prototype.hasOwnProperty.call(row, k)) continue;
      size += 8 + Buffer.byteLength(k) + Buffer.byteLength(row[k] ?? '');
    }
  }
  size += 1; // ExtensionResponse STOP
  size += 1; // result STOP

  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  const i32 = (n: number) => {
    o = buf.writeInt32BE(n | 0, o);
  };
  const i16 = (n: number) => {
    o = buf.writeInt16BE(n, o);
  };
  const byte = (n: number) => {
    buf[o++] = n;
  };
  const str = (s: string) => {
    const n = s.length;
    // Short ASCII strings (nearly every cell) are cheaper to copy by hand than through buf.write().
    if (n < 64) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        buf[o] = n >>> 24;
        buf[o + 1] = (n >>> 16) & 0xff;
        buf[o + 2] = (n >>> 8) & 0xff;
        buf[o + 3] = n & 0xff;
        o += 4;
        for (let i = 0; i < n; i++) buf[o + i] = s.charCodeAt(i);
        o += n;
        return;
      }
    }
    const at = o;
    o += 4;
    const len = buf.write(s, o, 'utf8');
    buf.writeInt32BE(len, at);
    o += len;
  };
  const field = (type: number, id: number) => {
    byte(type);
    i16(id);
  };

  i32(VERSION_1 | MESSAGE_REPLY);
  str(name);
  i32(seqid);
  field(T_STRUCT, 0);
  field(T_STRUCT, 1);
  field(T_I32, 1);
  i32(res.status.code);
  field(T_STRING, 2);
  str(res.status.message);
  field(T_I64, 3);
  o = buf.writeBigInt64BE(BigInt(res.status.uuid), o);
  byte(T_STOP);
  field(T_LIST, 2);
  byte(T_MAP);
  i32(rows.length);
  for (const row of rows) {
    byte(T_STRING);
    byte(T_STRING);
    const countAt = o;
    o += 4;
    let count = 0;
    for (const k in row) {
      if (!Object.prototype.hasOwnProperty.call(row, k)) continue;
      str(k);
      str((row as PluginRow)[k] ?? '');
      count++;
    }
    buf.writeInt32BE(count, countAt);
  }
  byte(T_STOP);
  byte(T_STOP);
  if (o !== size) throw new Error(`encodeCallReply: size mismatch (${o} != ${size})`);
  return buf;
}

// ---------------------------------------------------------------------------------------------------
// Requests and streaming reply decoding for the calls that return an ExtensionResponse (call, query,
// getQueryColumns). The thrift runtime re-parses an unframed reply from its first byte on every socket
// chunk (quadratic in the reply size); this decoder resumes at the last complete row.

const T_BOOL = 2;
const T_BYTE = 3;
const T_DOUBLE = 4;
const T_I16 = 6;
const T_SET = 14;
const MESSAGE_CALL = 1;
const MESSAGE_EXCEPTION = 3;

class RequestWriter {
  private parts: Buffer[] = [];
  i32(n: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(n | 0);
    this.parts.push(b);
    return this;
  }
  byte(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }
  field(type: number, id: number): this {
    const b = Buffer.allocUnsafe(3);
    b[0] = type;
    b.writeInt16BE(id, 1);
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    const body = Buffer.from(s, 'utf8');
    return this.i32(body.length).push(body);
  }
  private push(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function requestHeader(method: string, seqid: number): RequestWriter {
  return new RequestWriter().i32(VERSION_1 | MESSAGE_CALL).str(method).i32(seqid);
}

/** `Extension.call(registry, item, request)` as a complete message. */
export function encodeCallRequest(seqid: number, registry: string, item: string, request: PluginRow): Buffer {
  const w = requestHeader('call', seqid).field(T_STRING, 1).str(registry).field(T_STRING, 2).str(item).field(T_MAP, 3).byte(T_STRING).byte(T_STRING);
  const keys = Object.keys(request);
  w.i32(keys.length);
  for (const k of keys) w.str(k).str(request[k] ?? '');
  return w.byte(T_STOP).done();
}

/** `ExtensionManager.query(sql)` / `getQueryColumns(sql)` as a complete message. */
export function encodeSqlRequest(method: 'query' | 'getQueryColumns', seqid: number, sql: string): Buffer {
  return requestHeader(method, seqid).field(T_STRING, 1).str(sql).byte(T_STOP).done();
}

const UNDERRUN = Symbol('underrun');

class Cursor {
  pos = 0;
  end = 0;
  buf = Buffer.allocUnsafe(64 * 1024);

  append(chunk: Buffer): void {
    if (this.end + chunk.length > this.buf.length) {
      let size = this.buf.length;
      while (size < this.end + chunk.length) size *= 2;
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, this.end);
      this.buf = next;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }
  private need(n: number): void {
    if (this.pos + n > this.end) throw UNDERRUN;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  i64(): number {
    this.need(8);
    const v = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.i32();
    if (n < 0) throw new Error(`negative string length ${n}`);
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  skip(type: number): void {
    switch (type) {
      case T_BOOL:
      case T_BYTE:
        this.need(1);
        this.pos += 1;
        return;
      case T_I16:
        this.need(2);
        this.pos += 2;
        return;
      case T_I32:
        this.need(4);
        this.pos += 4;
        return;
      case T_I64:
      case T_DOUBLE:
        this.need(8);
        this.pos += 8;
        return;
      case T_STRING: {
        const n = this.i32();
        // a negative length would move the cursor back and loop over the same bytes for ever
        if (n < 0) throw new Error(`negative string length ${n}`);
        this.need(n);
        this.pos += n;
        return;
      }
      case T_STRUCT:
        for (;;) {
          const t = this.u8();
          if (t === T_STOP) return;
          this.i16();
          this.skip(t);
        }
      case T_MAP: {
        const k = this.u8();
        const v = this.u8();
        const n = this.i32();
        if (n < 0) throw new Error(`negative map size ${n}`);
        for (let i = 0; i < n; i++) {
          this.skip(k);
          this.skip(v);
        }
        return;
      }
      case T_SET:
      case T_LIST: {
        const e = this.u8();
        const n = this.i32();
        if (n < 0) throw new Error(`negative list size ${n}`);
        for (let i = 0; i < n; i++) this.skip(e);
        return;
      }
      default:
        throw new Error(`unknown thrift type ${type}`);
    }
  }
}

export type DecodeResult = { done: false } | { done: true; value: ExtensionResponse } | { done: true; error: Error };

/**
 * Incremental decoder for a reply whose result is an ExtensionResponse. feed() every chunk; it returns
 * done once the whole message has arrived. Accepts strict and old non-strict message headers.
 */
export class ExtensionResponseDecoder {
  private readonly c = new Cursor();
  private phase: 'head' | 'rows' | 'tail' | 'result-tail' = 'head';
  private checkpoint = 0;
  private status = { code: 0, message: '', uuid: 0 };
  private rows: PluginRow[] = [];
  private remaining = 0;
  private sawSuccess = false;

  constructor(private readonly method: string) {}

  feed(chunk: Buffer): DecodeResult {
    this.c.append(chunk);
    try {
      return this.run();
    } catch (err) {
      if (err === UNDERRUN) {
        this.c.pos = this.checkpoint;
        return { done: false };
      }
      return { done: true, error: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  private commit(): void {
    this.checkpoint = this.c.pos;
  }

  private readStatus(): void {
    const s = { code: 0, message: '', uuid: 0 };
    for (;;) {
      const t = this.c.u8();
      if (t === T_STOP) break;
      const id = this.c.i16();
      if (id === 1 && t === T_I32) s.code = this.c.i32();
      else if (id === 2 && t === T_STRING) s.message = this.c.str();
      else if (id === 3 && t === T_I64) s.uuid = this.c.i64();
      else this.c.skip(t);
    }
    this.status = s;
  }

  /** Fields of ExtensionResponse until the rows list (→ true) or its STOP (→ false). */
  private responseFields(): boolean {
    for (;;) {
      const t = this.c.u8();
      if (t === T_STOP) return false;
      const id = this.c.i16();
      if (id === 1 && t === T_STRUCT) this.readStatus();
      else if (id === 2 && t === T_LIST) {
        const elem = this.c.u8();
        const n = this.c.i32();
        if (elem !== T_MAP) {
          for (let i = 0; i < n; i++) this.c.skip(elem);
          continue;
        }
        this.remaining = n;
        return true;
      } else this.c.skip(t);
    }
  }

  private run(): DecodeResult {
    const c = this.c;
    if (this.phase === 'head') {
      const first = c.i32();
      let type: number;
      if (first < 0) {
        type = first & 0xff;
        c.str();
        c.i32();
      } else {
        // Old non-strict header: name (its length already read), type byte, seqid.
        if (c.pos + first > c.end) throw UNDERRUN;
        c.pos += first;
        type = c.u8();
        c.i32();
      }
      if (type === MESSAGE_EXCEPTION) {
        let message = 'application exception';
        let kind = 0;
        for (;;) {
          const t = c.u8();
          if (t === T_STOP) break;
          const id = c.i16();
          if (id === 1 && t === T_STRING) message = c.str();
          else if (id === 2 && t === T_I32) kind = c.i32();
          else c.skip(t);
        }
        return { done: true, error: new Error(`${this.method}: ${message} (TApplicationException type ${kind})`) };
      }
      // call_result: field 0 = success (ExtensionResponse)
      for (;;) {
        const t = c.u8();
        if (t === T_STOP) return this.finish();
        const id = c.i16();
        if (id === 0 && t === T_STRUCT) {
          this.sawSuccess = true;
          if (this.responseFields()) {
            this.phase = 'rows';
            this.commit();
            break;
          }
          this.phase = 'result-tail';
          this.commit();
          break;
        }
        c.skip(t);
      }
    }
    if (this.phase === 'rows') {
      while (this.remaining > 0) {
        const kt = c.u8();
        const vt = c.u8();
        const n = c.i32();
        const row: PluginRow = {};
        if (kt === T_STRING && vt === T_STRING) {
          for (let i = 0; i < n; i++) {
            const k = c.str();
            row[k] = c.str();
          }
        } else {
          for (let i = 0; i < n; i++) {
            c.skip(kt);
            c.skip(vt);
          }
        }
        this.rows.push(row);
        this.remaining--;
        this.commit();
      }
      this.phase = 'tail';
    }
    if (this.phase === 'tail') {
      // Remaining ExtensionResponse fields (a status written after the rows, in theory).
      while (this.responseFields()) {
        // A second rows list: skip it whole.
        for (let i = 0; i < this.remaining; i++) c.skip(T_MAP);
        this.remaining = 0;
      }
      this.phase = 'result-tail';
      this.commit();
    }
    for (;;) {
      const t = c.u8();
      if (t === T_STOP) return this.finish();
      c.i16();
      c.skip(t);
    }
  }

  private finish(): DecodeResult {
    if (!this.sawSuccess) return { done: true, error: new Error(`${this.method} failed: unknown result`) };
    return { done: true, value: { status: this.status, response: this.rows } };
  }
}

// ---------------------------------------------------------------------------------------------------
// Request framing for the servers. An unframed binary-protocol message carries no length, so its end is
// only found by walking it. The thrift runtime's server walks it by decoding from the first byte again on
// every socket chunk (quadratic: 2.4 MB of small map entries blocked the event loop for 3 s), and trusts
// any declared length until its 100 MB buffer cap. MessageScanner walks each byte once, resuming where
// the previous chunk ended, and rejects a declared length the message cap could not hold as soon as the
// length itself has arrived, so a peer cannot make us buffer for a string that will never fit.

const T_UUID = 16;
const MAX_NESTING = 64;

/** Encoded size of each fixed-size type. */
const FIXED_VALUE_BYTES: Partial<Record<number, number>> = {
  [T_BOOL]: 1,
  [T_BYTE]: 1,
  [T_I16]: 2,
  [T_I32]: 4,
  [T_I64]: 8,
  [T_DOUBLE]: 8,
  [T_UUID]: 16,
};

/** Smallest encoding of a value of each type; a container of n elements needs at least n times this. */
const MIN_VALUE_BYTES: Partial<Record<number, number>> = {
  ...FIXED_VALUE_BYTES,
  // length prefix; stop byte; key and value types + count; element type + count
  [T_STRING]: 4,
  [T_STRUCT]: 1,
  [T_MAP]: 6,
  [T_SET]: 5,
  [T_LIST]: 5,
};

/** The bytes on a connection are not a message we could accept; the connection should be closed. */
export class MessageRejected extends Error {
  override name = 'MessageRejected';
}

// A pending value, a struct's field list, or a container's remaining elements (a map counts keys and
// values separately: even `left` → key next).
type ScanFrame = { kind: 'value'; type: number } | { kind: 'struct' } | { kind: 'map'; k: number; v: number; left: number } | { kind: 'list'; e: number; left: number };

const NEED_MORE = Symbol('need-more');

export class MessageScanner {
  private pos = 0;
  private inHeader = true;
  private readonly stack: ScanFrame[] = [];

  /** @param maxBytes largest message accepted, header included */
  constructor(readonly maxBytes: number) {}

  /** Bytes of the current message walked so far (0 right after a complete one). */
  get scanned(): number {
    return this.pos;
  }

  /**
   * `buf[0, end)` holds the current message's bytes received so far (the same prefix as on the previous
   * call, plus more). Returns the message's length once it is complete (later bytes belong to the next
   * message; call reset() before scanning it), or 0 while more bytes are needed. Throws MessageRejected.
   */
  scan(buf: Buffer, end: number): number {
    try {
      if (this.inHeader) this.header(buf, end);
      this.body(buf, end);
      return this.pos;
    } catch (err) {
      if (err === NEED_MORE) {
        if (end > this.maxBytes) throw new MessageRejected(`message exceeds ${this.maxBytes} bytes`);
        return 0;
      }
      throw err;
    }
  }

  reset(): void {
    this.pos = 0;
    this.inHeader = true;
    this.stack.length = 0;
  }

  private need(end: number, n: number): void {
    if (this.pos + n > end) throw NEED_MORE;
  }

  private checkLength(what: string, n: number, after: number): void {
    if (n < 0) throw new MessageRejected(`negative ${what} length ${n}`);
    if (after + n > this.maxBytes) throw new MessageRejected(`declared ${what} length ${n} exceeds the ${this.maxBytes}-byte message cap`);
  }

  private header(buf: Buffer, end: number): void {
    this.need(end, 4);
    const first = buf.readInt32BE(this.pos);
    let size: number;
    if (first < 0) {
      if (first >>> 16 !== 0x8001) throw new MessageRejected(`bad protocol version 0x${(first >>> 0).toString(16)}`);
      this.need(end, 8);
      const nameLen = buf.readInt32BE(this.pos + 4);
      this.checkLength('method name', nameLen, this.pos + 8 + 4);
      size = 8 + nameLen + 4;
    } else {
      // Old non-strict header: name length, name, type byte, seqid.
      this.checkLength('method name', first, this.pos + 4 + 5);
      size = 4 + first + 5;
    }
    this.need(end, size);
    this.pos += size;
    this.inHeader = false;
    this.stack.push({ kind: 'struct' });
  }

  /** Consume one string or fixed-size value if it has fully arrived; false for other types. */
  private flat(buf: Buffer, end: number, type: number): boolean {
    if (type === T_STRING) {
      this.need(end, 4);
      const n = buf.readInt32BE(this.pos);
      this.checkLength('string', n, this.pos + 4);
      this.need(end, 4 + n);
      this.pos += 4 + n;
      return true;
    }
    const fixed = FIXED_VALUE_BYTES[type];
    if (fixed === undefined) return false;
    this.need(end, fixed);
    this.pos += fixed;
    return true;
  }

  private push(frame: ScanFrame): void {
    if (this.stack.length >= MAX_NESTING) throw new MessageRejected(`nesting deeper than ${MAX_NESTING}`);
    this.stack.push(frame);
  }

  private checkContainer(n: number, elementBytes: number, after: number): void {
    if (n < 0) throw new MessageRejected(`negative container size ${n}`);
    if (n > 0 && after + n * elementBytes > this.maxBytes) {
      throw new MessageRejected(`declared container size ${n} exceeds the ${this.maxBytes}-byte message cap`);
    }
  }

  private elementBytes(type: number): number {
    const n = MIN_VALUE_BYTES[type];
    if (n === undefined) throw new MessageRejected(`unknown thrift type ${type}`);
    return n;
  }

  private body(buf: Buffer, end: number): void {
    const stack = this.stack;
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as ScanFrame;
      if (top.kind === 'struct') {
        this.need(end, 1);
        const t = buf[this.pos] as number;
        if (t === T_STOP) {
          this.pos += 1;
          stack.pop();
        } else {
          this.elementBytes(t);
          this.need(end, 3);
          this.pos += 3;
          this.push({ kind: 'value', type: t });
        }
      } else if (top.kind === 'value') {
        const t = top.type;
        if (this.flat(buf, end, t)) stack.pop();
        else if (t === T_STRUCT) stack[stack.length - 1] = { kind: 'struct' };
        else if (t === T_MAP) {
          this.need(end, 6);
          const k = buf[this.pos] as number;
          const v = buf[this.pos + 1] as number;
          const n = buf.readInt32BE(this.pos + 2);
          if (n !== 0) this.checkContainer(n, this.elementBytes(k) + this.elementBytes(v), this.pos + 6);
          this.pos += 6;
          stack[stack.length - 1] = { kind: 'map', k, v, left: 2 * n };
        } else if (t === T_LIST || t === T_SET) {
          this.need(end, 5);
          const e = buf[this.pos] as number;
          const n = buf.readInt32BE(this.pos + 1);
          if (n !== 0) this.checkContainer(n, this.elementBytes(e), this.pos + 5);
          this.pos += 5;
          stack[stack.length - 1] = { kind: 'list', e, left: n };
        } else throw new MessageRejected(`unknown thrift type ${t}`);
      } else if (top.left === 0) {
        stack.pop();
      } else {
        const t = top.kind === 'list' ? top.e : top.left % 2 === 0 ? top.k : top.v;
        // Strings and scalars (nearly every element) are consumed in place, without a frame each.
        if (!this.flat(buf, end, t)) this.push({ kind: 'value', type: t });
        top.left--;
      }
      if (this.pos > this.maxBytes) throw new MessageRejected(`message exceeds ${this.maxBytes} bytes`);
    }
  }
}
