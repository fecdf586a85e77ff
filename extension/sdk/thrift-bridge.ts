/**
 * The one place that touches the `thrift` runtime and the generated code (gen/, CommonJS). Everything
 * else in the SDK works with the plain shapes in types.ts.
 *
 * Wire format (formats.md §1.1): TBinaryProtocol over an unframed TBufferedTransport on a Unix socket.
 */
import net from 'node:net';
import thrift from 'thrift';
// CommonJS (.cjs): the default import is module.exports, in Node, in tsc's dist/ and in the esbuild bundle.
import ExtensionGen from './gen/Extension.cjs';
import ExtensionManagerGen from './gen/ExtensionManager.cjs';
import { encodeCallReply, encodeCallRequest, encodeSqlRequest, ExtensionResponseDecoder, MessageRejected, MessageScanner } from './fast-codec.js';
import { SdkError, type ExtensionHandler, type ExtensionInfo, type ExtensionManagerHandler, type ExtensionResponse, type ExtensionStatus, type OptionInfo, type PluginRow } from './types.js';

interface Int64Like {
  toNumber(allowImprecise?: boolean): number;
  toString(radix?: number): string;
  buffer: Buffer;
}

type Service = { Client: unknown; Processor: new (handler: object) => unknown };
const ExtensionService = ExtensionGen as unknown as Service;
const ExtensionManagerService = ExtensionManagerGen as unknown as Service;

// @types/thrift predates createUDSConnection; this is the part of the runtime we rely on.
interface ThriftConnection extends NodeJS.EventEmitter {
  end(): void;
  destroy(): void;
}
interface BufferedTransportClass {
  new (buffer: undefined, onFlush: (message: Buffer) => void): unknown;
  /** Feeds `data` into a fresh read transport and calls back with it, synchronously. */
  receiver(callback: (transport: unknown) => void): (data: Buffer) => void;
}
interface ThriftRuntime {
  TBufferedTransport: BufferedTransportClass;
  TBinaryProtocol: new (transport: unknown) => ThriftProtocol;
  createUDSConnection(path: string, options: object): ThriftConnection;
  createClient(service: unknown, connection: ThriftConnection): unknown;
}
const runtime = thrift as unknown as ThriftRuntime;
const WIRE = { transport: runtime.TBufferedTransport, protocol: runtime.TBinaryProtocol };

// ---------------------------------------------------------------------------------------------------
// Conversions between the generated classes and our plain shapes.

function i64ToNumber(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return Number(v);
  return (v as Int64Like).toNumber(true);
}

function toStatus(raw: unknown): ExtensionStatus {
  const s = (raw ?? {}) as { code?: number | null; message?: string | null; uuid?: unknown };
  return { code: s.code ?? 0, message: s.message ?? '', uuid: i64ToNumber(s.uuid) };
}

function toInfo(raw: unknown): ExtensionInfo {
  const i = (raw ?? {}) as Partial<Record<keyof ExtensionInfo, string | null>>;
  return { name: i.name ?? '', version: i.version ?? '', sdk_version: i.sdk_version ?? '', min_sdk_version: i.min_sdk_version ?? '' };
}

/** Thrift exceptions are not always Errors (the generated code rejects with strings too). */
function rpcError(method: string, err: unknown): SdkError {
  if (err instanceof SdkError) return err;
  const message = err instanceof Error ? err.message : typeof err === 'object' && err && 'message' in err ? String((err as { message: unknown }).message) : String(err);
  return new SdkError('RPC_FAILED', `${method}: ${message}`, { cause: err });
}

// ---------------------------------------------------------------------------------------------------
// Client side: one connection per call, like osquery core does.

export interface RpcOptions {
  /** Bound on connect + request + reply. */
  timeoutMs: number;
  /** Bound on the reply of a call that returns rows (query, getQueryColumns, call); unbounded when absent. */
  maxReplyBytes?: number;
}

/**
 * Open a fresh connection to `socketPath`, run one call on the generated client, close the connection.
 * Rejects with SdkError on connect failure, timeout, a dropped connection or a Thrift exception.
 */
function rpc<T>(socketPath: string, service: Service, method: string, opts: RpcOptions, invoke: (client: any) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const conn = runtime.createUDSConnection(socketPath, WIRE);
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      fn();
    };
    const timer = setTimeout(
      () => settle(() => reject(new SdkError('RPC_TIMEOUT', `${method}: no reply from ${socketPath} within ${opts.timeoutMs} ms`))),
      opts.timeoutMs,
    );
    conn.on('error', (err: NodeJS.ErrnoException) =>
      settle(() => reject(new SdkError('RPC_FAILED', `${method}: cannot talk to ${socketPath}: ${err.code ?? err.message}`, { cause: err }))),
    );
    conn.on('close', () => settle(() => reject(new SdkError('RPC_FAILED', `${method}: ${socketPath} closed the connection before replying`))));
    let pending: Promise<T>;
    try {
      pending = invoke(runtime.createClient(service, conn));
    } catch (err) {
      settle(() => reject(rpcError(method, err)));
      return;
    }
    pending.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(rpcError(method, err))),
    );
  });
}

/**
 * Like rpc(), for the calls that return an ExtensionResponse (possibly many rows): the request is
 * written by hand and the reply decoded as it streams in (fast-codec.ts).
 */
function responseRpc(socketPath: string, method: string, request: Buffer, opts: RpcOptions): Promise<ExtensionResponse> {
  return new Promise<ExtensionResponse>((resolve, reject) => {
    let settled = false;
    const decoder = new ExtensionResponseDecoder(method);
    const socket = net.createConnection(socketPath, () => socket.write(request));
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(
      () => settle(() => reject(new SdkError('RPC_TIMEOUT', `${method}: no reply from ${socketPath} within ${opts.timeoutMs} ms`))),
      opts.timeoutMs,
    );
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (opts.maxReplyBytes !== undefined && received > opts.maxReplyBytes) {
        settle(() => reject(new SdkError('RPC_FAILED', `${method}: the reply from ${socketPath} is larger than ${opts.maxReplyBytes} bytes`)));
        return;
      }
      const r = decoder.feed(chunk);
      if (!r.done) return;
      if ('error' in r) settle(() => reject(new SdkError('RPC_FAILED', r.error.message, { cause: r.error })));
      else settle(() => resolve(r.value));
    });
    socket.on('error', (err: NodeJS.ErrnoException) =>
      settle(() => reject(new SdkError('RPC_FAILED', `${method}: cannot talk to ${socketPath}: ${err.code ?? err.message}`, { cause: err }))),
    );
    socket.on('close', () => settle(() => reject(new SdkError('RPC_FAILED', `${method}: ${socketPath} closed the connection before replying`))));
  });
}

/** Calls on an Extension service (what core does to us; what the fake manager does in tests). */
export class ExtensionClient {
  constructor(
    readonly socketPath: string,
    readonly opts: RpcOptions = { timeoutMs: 10_000 },
  ) {}

  async ping(): Promise<ExtensionStatus> {
    return toStatus(await rpc(this.socketPath, ExtensionService, 'ping', this.opts, (c) => c.ping()));
  }

  call(registry: string, item: string, request: PluginRow): Promise<ExtensionResponse> {
    return responseRpc(this.socketPath, 'call', encodeCallRequest(1, registry, item, request), this.opts);
  }

  async shutdown(): Promise<void> {
    await rpc(this.socketPath, ExtensionService, 'shutdown', this.opts, (c) => c.shutdown());
  }
}

/** Calls on osquery's ExtensionManager (`--socket`). Each call uses its own short-lived connection. */
export class ExtensionManagerClient {
  constructor(
    readonly socketPath: string,
    readonly opts: RpcOptions = { timeoutMs: 10_000 },
  ) {}

  private call<T>(method: string, invoke: (client: any) => Promise<unknown>, convert: (raw: unknown) => T, opts?: Partial<RpcOptions>): Promise<T> {
    return rpc(this.socketPath, ExtensionManagerService, method, { ...this.opts, ...opts }, invoke).then(convert);
  }

  ping(opts?: Partial<RpcOptions>): Promise<ExtensionStatus> {
    return this.call('ping', (c) => c.ping(), toStatus, opts);
  }

  /** Registered extensions by uuid. */
  extensions(opts?: Partial<RpcOptions>): Promise<Map<number, ExtensionInfo>> {
    return this.call(
      'extensions',
      (c) => c.extensions(),
      (raw) => {
        const out = new Map<number, ExtensionInfo>();
        // The generated reader keys the object by Int64#toString(), i.e. decimal.
        for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) out.set(Number(k), toInfo(v));
        return out;
      },
      opts,
    );
  }

  options(opts?: Partial<RpcOptions>): Promise<Record<string, OptionInfo>> {
    return this.call(
      'options',
      (c) => c.options(),
      (raw) => {
        const out: Record<string, OptionInfo> = {};
        for (const [k, v] of Object.entries((raw ?? {}) as Record<string, Partial<OptionInfo>>)) {
          out[k] = { value: v.value ?? '', default_value: v.default_value ?? '', type: v.type ?? '' };
        }
        return out;
      },
      opts,
    );
  }

  registerExtension(info: ExtensionInfo, registry: Record<string, Record<string, PluginRow[]>>, opts?: Partial<RpcOptions>): Promise<ExtensionStatus> {
    return this.call('registerExtension', (c) => c.registerExtension(info, registry), toStatus, opts);
  }

  deregisterExtension(uuid: number, opts?: Partial<RpcOptions>): Promise<ExtensionStatus> {
    return this.call('deregisterExtension', (c) => c.deregisterExtension(uuid), toStatus, opts);
  }

  /** Run osquery SQL in the core (e.g. to join our data with core tables). */
  query(sql: string, opts?: Partial<RpcOptions>): Promise<ExtensionResponse> {
    return responseRpc(this.socketPath, 'query', encodeSqlRequest('query', 1, sql), { ...this.opts, ...opts });
  }

  getQueryColumns(sql: string, opts?: Partial<RpcOptions>): Promise<ExtensionResponse> {
    return responseRpc(this.socketPath, 'getQueryColumns', encodeSqlRequest('getQueryColumns', 1, sql), { ...this.opts, ...opts });
  }

  /** Extension-registry call on the manager itself (core's own plugins). */
  callPlugin(registry: string, item: string, request: PluginRow, opts?: Partial<RpcOptions>): Promise<ExtensionResponse> {
    return responseRpc(this.socketPath, 'call', encodeCallRequest(1, registry, item, request), { ...this.opts, ...opts });
  }
}

// ---------------------------------------------------------------------------------------------------
// Server side.

/**
 * Adapt our promise handler to the generated processor. The generated code picks promise mode by the
 * handler method's arity, so every method here declares exactly the IDL's parameters.
 */
function extensionProcessorHandler(h: ExtensionHandler) {
  return {
    ping: () => h.ping(),
    call: (registry: string, item: string, request: PluginRow | null) => h.call(registry ?? '', item ?? '', request ?? {}),
    shutdown: () => h.shutdown(),
  };
}

function managerProcessorHandler(h: ExtensionManagerHandler) {
  return {
    ...extensionProcessorHandler(h),
    extensions: async () => {
      const out: Record<string, ExtensionInfo> = {};
      // The generated writer turns each object key into an Int64 with `new Int64(key)`, which parses a
      // string as HEX. Keys are therefore written in hex so the wire carries the right uuid.
      for (const [uuid, info] of await h.extensions()) out[uuid.toString(16)] = info;
      return out;
    },
    options: () => h.options(),
    registerExtension: (info: unknown, registry: Record<string, Record<string, PluginRow[]>> | null) => h.registerExtension(toInfo(info), registry ?? {}),
    deregisterExtension: (uuid: unknown) => h.deregisterExtension(i64ToNumber(uuid)),
    query: (sql: string | null) => h.query(sql ?? ''),
    getQueryColumns: (sql: string | null) => h.getQueryColumns(sql ?? ''),
  };
}

export interface ThriftServer {
  readonly path: string;
  /** Stop accepting, drop open connections, remove the socket file. */
  close(): Promise<void>;
  /** Open client connections (for tests and diagnostics). */
  readonly connections: number;
}

export interface ServeOptions {
  /**
   * Transport-level problems (a peer resetting its connection), and peers whose connection we closed for
   * breaking the protocol or a limit (SdkError PEER_REJECTED, once per connection); never fatal.
   */
  onError?: (err: Error) => void;
  /** Per-connection limits; the defaults suit osquery (tests shorten them). */
  limits?: Partial<ConnectionLimits>;
}

export interface ConnectionLimits {
  /** Largest request accepted, header included. */
  maxRequestBytes: number;
  /** From a request's first byte to its last; past it the connection is closed (and reported). */
  partialRequestTimeoutMs: number;
  /** With no request pending or being answered; past it the connection is closed quietly. */
  idleTimeoutMs: number;
}

/**
 * osquery's requests are small: a generate's context with a large IN list still arrives as one JSON
 * string, and registerExtension's route lists are tens of KB. The thrift runtime's default allows 100 MB
 * per connection, times MAX_SERVER_CONNECTIONS.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxRequestBytes: 8 * 1024 * 1024,
  // A request is written in one go on a local socket; one trickling in for this long is a stuck or
  // hostile writer holding a buffer and a connection slot.
  partialRequestTimeoutMs: 30_000,
  // osqueryd connects once per call and closes after the reply (formats.md §1.1), so it never leaves a
  // connection idle; the timeout only reclaims slots from abandoned ones. Twice the partial timeout and
  // far above --extensions_interval (3 s), so even a client that kept one connection for its pings
  // would not be cut off. Nothing is timed while a request is being answered: the peer waits on us,
  // and the table router bounds a generate itself.
  idleTimeoutMs: 60_000,
};

const { Thrift } = thrift as unknown as {
  Thrift: { Type: { STOP: number; STRUCT: number; STRING: number; I32: number; MAP: number }; MessageType: { EXCEPTION: number }; TApplicationExceptionType: { UNKNOWN_METHOD: number } };
};

interface ThriftProtocol {
  readMessageBegin(): { fname: string | Buffer; mtype: number; rseqid: number };
  readMessageEnd(): void;
  readStructBegin(): void;
  readStructEnd(): void;
  readFieldBegin(): { ftype: number; fid: number };
  readFieldEnd(): void;
  readMapBegin(): { ktype: number; vtype: number; size: number };
  readMapEnd(): void;
  readString(): string;
  skip(type: number): void;
  trans: { write(buf: Buffer): void };
  writeMessageBegin(name: string, type: number, seqid: number): void;
  writeMessageEnd(): void;
  writeStructBegin(name: string): void;
  writeStructEnd(): void;
  writeFieldBegin(name: string, type: number, id: number): void;
  writeFieldEnd(): void;
  writeFieldStop(): void;
  writeString(s: string): void;
  writeI32(n: number): void;
  flush(): void;
}

/** Read Extension.call's arguments (1: registry, 2: item, 3: map<string,string> request) like the generated reader. */
function readCallArgs(input: ThriftProtocol): { registry: string; item: string; request: PluginRow } {
  let registry = '';
  let item = '';
  const request: PluginRow = {};
  input.readStructBegin();
  for (;;) {
    const { ftype, fid } = input.readFieldBegin();
    if (ftype === Thrift.Type.STOP) break;
    if (fid === 1 && ftype === Thrift.Type.STRING) registry = input.readString();
    else if (fid === 2 && ftype === Thrift.Type.STRING) item = input.readString();
    else if (fid === 3 && ftype === Thrift.Type.MAP) {
      const { size } = input.readMapBegin();
      for (let i = 0; i < size; i++) {
        const k = input.readString();
        request[k] = input.readString();
      }
      input.readMapEnd();
    } else input.skip(ftype);
    input.readFieldEnd();
  }
  input.readStructEnd();
  return { registry, item, request };
}

type CallFastPath = (registry: string, item: string, request: PluginRow) => Promise<ExtensionResponse>;

/**
 * The generated processor with two changes: a correct unknown-method reply (the runtime's
 * TApplicationException writes `this.code` where it stores `this.type`, so field 2 would be missing),
 * and, for Extension.call, a single-buffer reply encoder (fast-codec.ts) instead of the generated writer.
 */
function processorFor(service: Service, fastCall?: CallFastPath): new (handler: object) => unknown {
  const Base = service.Processor as new (handler: object) => Record<string, unknown>;
  return class extends Base {
    process(input: ThriftProtocol, output: ThriftProtocol): unknown {
      const header = input.readMessageBegin();
      const name = String(header.fname);
      if (name === 'call' && fastCall) {
        const args = readCallArgs(input);
        input.readMessageEnd();
        const reply = (res: ExtensionResponse) => {
          output.trans.write(encodeCallReply(header.rseqid, res));
          output.flush();
        };
        // The connection reads nothing more until this request is answered, so it must always be.
        void fastCall(args.registry, args.item, args.request)
          .then(reply)
          .catch((err: unknown) => reply({ status: { code: 1, message: `call failed: cannot encode the reply: ${err instanceof Error ? err.message : String(err)}`, uuid: 0 }, response: [] }));
        return undefined;
      }
      const method = this[`process_${name}`];
      if (typeof method === 'function') return method.call(this, header.rseqid, input, output);
      input.skip(Thrift.Type.STRUCT);
      input.readMessageEnd();
      output.writeMessageBegin(name, Thrift.MessageType.EXCEPTION, header.rseqid);
      output.writeStructBegin('TApplicationException');
      output.writeFieldBegin('message', Thrift.Type.STRING, 1);
      output.writeString(`Unknown function ${name}`);
      output.writeFieldEnd();
      output.writeFieldBegin('type', Thrift.Type.I32, 2);
      output.writeI32(Thrift.TApplicationExceptionType.UNKNOWN_METHOD);
      output.writeFieldEnd();
      output.writeFieldStop();
      output.writeStructEnd();
      output.writeMessageEnd();
      output.flush();
      return undefined;
    }
  };
}

/** osqueryd opens a connection per call (a few at once); past this many, more are refused so no local process can pile up buffers. */
export const MAX_SERVER_CONNECTIONS = 64;

interface Processor {
  process(input: ThriftProtocol, output: ThriftProtocol): unknown;
}

/**
 * One client connection. Replaces the thrift runtime's server loop, which re-decodes a partial request
 * from its first byte on every chunk and buffers whatever length a peer declares up to 100 MB: here a
 * request is only decoded once MessageScanner has seen all of it, and a peer breaking the protocol or the
 * size cap is cut off at once.
 */
function serveConnection(path: string, socket: net.Socket, processor: Processor, limits: ConnectionLimits, report: (err: Error) => void): void {
  const scanner = new MessageScanner(limits.maxRequestBytes);
  // The request being received (and, rarely, the start of the next one).
  let buf = Buffer.alloc(0);
  let end = 0;
  // osquery sends one request and waits for its reply. While one is being answered we stop reading (past
  // the stream's own small buffer), so a peer that pipelines requests without reading the replies gets
  // backpressure instead of our memory and a handler call per request.
  let busy = false;
  // A reply the peer has not read yet is queued in the socket: nothing more is read or answered until it drains.
  let draining = false;
  let pumping = false;
  let rejected = false;
  let timer: NodeJS.Timeout | undefined;
  let timing: 'idle' | 'partial' | undefined;

  const reject = (why: string) => {
    if (rejected) return;
    rejected = true;
    report(new SdkError('PEER_REJECTED', `closed a connection to ${path}: ${why}`));
    socket.destroy();
  };

  // A request's deadline runs from its first byte: bytes trickling in do not extend it.
  const arm = () => {
    // A peer that does not read its reply is as idle as one that sends nothing.
    const want = rejected || socket.destroyed ? undefined : draining ? 'idle' : busy ? undefined : end > 0 ? 'partial' : 'idle';
    if (want === timing) return;
    clearTimeout(timer);
    timing = want;
    if (want === 'partial') timer = setTimeout(() => reject(`request incomplete after ${limits.partialRequestTimeoutMs} ms`), limits.partialRequestTimeoutMs);
    else if (want === 'idle') timer = setTimeout(() => socket.destroy(), limits.idleTimeoutMs);
  };

  const next = () => {
    busy = false;
    if (!socket.destroyed) socket.resume();
    pump();
  };

  const replied = (message: Buffer) => {
    const flushed = socket.writable ? socket.write(message) : true;
    if (flushed || socket.destroyed) {
      next();
      return;
    }
    // The peer is not reading its replies: do not read (and answer) its next request until it does.
    draining = true;
    arm();
    const resume = () => {
      socket.off('drain', resume);
      socket.off('close', resume);
      draining = false;
      clearTimeout(timer);
      timing = undefined;
      next();
    };
    socket.on('drain', resume);
    socket.on('close', resume);
  };

  const dispatch = (message: Buffer) => {
    busy = true;
    socket.pause();
    const output = new runtime.TBinaryProtocol(new runtime.TBufferedTransport(undefined, replied));
    runtime.TBufferedTransport.receiver((transport) => {
      processor.process(new runtime.TBinaryProtocol(transport) as ThriftProtocol, output as ThriftProtocol);
    })(message);
  };

  function pump(): void {
    // A reply flushed synchronously (unknown method) re-enters through replied(); the loop below picks up.
    if (pumping) return;
    pumping = true;
    try {
      while (!busy && !rejected && !socket.destroyed && end > 0) {
        const length = scanner.scan(buf, end);
        if (length === 0) break;
        scanner.reset();
        const rest = end - length;
        dispatch(buf.subarray(0, length));
        if (rest > 0) buf.copyWithin(0, length, end);
        else if (buf.length > 64 * 1024) buf = Buffer.alloc(0);
        end = rest;
      }
    } catch (err) {
      reject(err instanceof MessageRejected ? err.message : `cannot process a request: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      pumping = false;
    }
    arm();
  }

  socket.on('data', (chunk: Buffer) => {
    if (rejected) return;
    if (end + chunk.length > buf.length) {
      let size = Math.max(buf.length, 1024);
      while (size < end + chunk.length) size *= 2;
      const next = Buffer.allocUnsafe(size);
      buf.copy(next, 0, 0, end);
      buf = next;
    }
    chunk.copy(buf, end);
    end += chunk.length;
    pump();
  });
  socket.on('error', (err) => report(err));
  socket.on('close', () => clearTimeout(timer));
  arm();
}

function serve(path: string, service: Service, handler: object, opts: ServeOptions, fastCall?: CallFastPath): Promise<ThriftServer> {
  const Processor = processorFor(service, fastCall);
  const processor = new Processor(handler) as Processor;
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
  const report = (err: Error) => opts.onError?.(err);
  const server = net.createServer((s) => serveConnection(path, s, processor, limits, report));
  server.maxConnections = MAX_SERVER_CONNECTIONS;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise<ThriftServer>((resolve, reject) => {
    const onListenError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new SdkError('SOCKET_IN_USE', `cannot listen on ${path}: in use`, { cause: err })
          : new SdkError('RPC_FAILED', `cannot listen on ${path}: ${err.code ?? err.message}`, { cause: err }),
      );
    };
    server.once('error', onListenError);
    // The socket file is created by bind(2) inside listen(), with the process umask: 0o177 makes it 0600, so
    // only our user (root, like osqueryd) can connect, whatever umask we inherited.
    const umask = process.umask(0o177);
    try {
      server.listen(path, onListening);
    } finally {
      process.umask(umask);
    }
    function onListening() {
      server.off('error', onListenError);
      server.on('error', report);
      let closed: Promise<void> | undefined;
      resolve({
        path,
        get connections() {
          return sockets.size;
        },
        close() {
          closed ??= new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          });
          return closed;
        },
      });
    }
  });
}

export function serveExtension(path: string, handler: ExtensionHandler, opts: ServeOptions = {}): Promise<ThriftServer> {
  // call() must never reject: errors are statuses (the table router guarantees it; this is the backstop).
  const fastCall: CallFastPath = (registry, item, request) =>
    handler.call(registry, item, request).catch((err: unknown) => ({
      status: { code: 1, message: `call failed: ${err instanceof Error ? err.message : String(err)}`, uuid: 0 },
      response: [],
    }));
  return serve(path, ExtensionService, extensionProcessorHandler(handler), opts, fastCall);
}

export function serveExtensionManager(path: string, handler: ExtensionManagerHandler, opts: ServeOptions = {}): Promise<ThriftServer> {
  return serve(path, ExtensionManagerService, managerProcessorHandler(handler), opts);
}
