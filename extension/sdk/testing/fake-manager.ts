/**
 * A stand-in for osqueryd's extension manager, written from the IDL (like osquery-go's mock/): it serves
 * ExtensionManager on a Unix socket, records every call, and calls registered extensions the way core
 * does — a new connection per call, `context` JSON shaped as in formats.md §1.4. Tests can make it die
 * (socket gone) or silently forget an extension.
 */
import { EventEmitter } from 'node:events';
import { unlink } from 'node:fs/promises';
import { formatQueryContext, type NamedConstraint } from '../query-context.js';
import type { ExtensionOptions } from '../extension.js';
import { ExtensionClient, serveExtensionManager, type ThriftServer } from '../thrift-bridge.js';
import { ExtensionCode, type ExtensionInfo, type ExtensionRegistry, type ExtensionResponse, type ExtensionStatus, type OptionInfo, type PluginRow } from '../types.js';

export interface RecordedCall {
  method: 'ping' | 'call' | 'shutdown' | 'extensions' | 'options' | 'registerExtension' | 'deregisterExtension' | 'query' | 'getQueryColumns';
  args: unknown[];
  at: number;
}

export interface RegisteredExtension {
  uuid: number;
  info: ExtensionInfo;
  registry: ExtensionRegistry;
}

/** A constraint as osquery pushes it: column, op code, SQLite's text of the value. */
export interface FakeConstraint {
  name: string;
  op: number;
  expr: string;
}

const MIN_SDK = [1, 7, 7];

function sdkTooOld(version: string): boolean {
  if (!version || version === '0.0.0') return false;
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const a = parts[i] ?? 0;
    const b = MIN_SDK[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

/** A generate `context` as core builds it, from the routes the extension registered. */
export function osqueryContext(routes: PluginRow[], constraints: FakeConstraint[] = [], colsUsed?: string[]): string {
  const columns = routes.filter((r) => r.id === 'column' && r.name && r.type).map((r) => ({ name: r.name as string, type: r.type as string }));
  return formatQueryContext(columns, constraints as NamedConstraint[], colsUsed);
}

export class FakeManager extends EventEmitter {
  readonly calls: RecordedCall[] = [];
  readonly registered = new Map<number, RegisteredExtension>();
  /** Options returned by options(). */
  optionValues: Record<string, OptionInfo> = {
    extensions_interval: { value: '3', default_value: '3', type: 'string' },
    thrift_timeout: { value: '300', default_value: '300', type: 'int32' },
  };
  /** Scripted answers for query() / getQueryColumns(); default: status 1. */
  queryHandler: (sql: string) => ExtensionResponse = (sql) => ({
    status: { code: ExtensionCode.FAILED, message: `fake manager has no tables (query: ${sql})`, uuid: 0 },
    response: [],
  });
  /** Whether ping() fails (a manager that answers its socket but is broken): the extension's liveness check. */
  pingFails = false;
  /** Client timeout for calls into extensions (core uses --thrift_timeout). */
  callTimeoutMs = 10_000;
  private server: ThriftServer | undefined;
  /** The uuid the next registration gets (core draws a random 16-bit one, 0 included). */
  nextUuid = 1 + Math.floor(Math.random() * 1000);

  private constructor(readonly socketPath: string) {
    super();
  }

  static async start(socketPath: string): Promise<FakeManager> {
    const m = new FakeManager(socketPath);
    await unlink(socketPath).catch(() => undefined);
    m.server = await serveExtensionManager(socketPath, m.handler());
    return m;
  }

  private record(method: RecordedCall['method'], args: unknown[]): void {
    const call = { method, args, at: Date.now() };
    this.calls.push(call);
    this.emit('call', call);
  }

  private handler() {
    const status = (code: number, message: string, uuid = 0): ExtensionStatus => ({ code, message, uuid });
    return {
      ping: async () => {
        this.record('ping', []);
        if (this.pingFails) throw new Error('fake manager: ping failed');
        return status(0, 'OK');
      },
      call: async (registry: string, item: string, request: PluginRow): Promise<ExtensionResponse> => {
        this.record('call', [registry, item, request]);
        return { status: status(1, 'fake manager serves no plugins'), response: [] };
      },
      shutdown: async () => {
        this.record('shutdown', []);
      },
      extensions: async () => {
        this.record('extensions', []);
        return new Map([...this.registered].map(([uuid, e]) => [uuid, e.info]));
      },
      options: async () => {
        this.record('options', []);
        return this.optionValues;
      },
      registerExtension: async (info: ExtensionInfo, registry: ExtensionRegistry) => {
        this.record('registerExtension', [info, registry]);
        // The checks osquery core makes (formats.md §1.3).
        if (sdkTooOld(info.sdk_version)) return status(1, 'Incompatible extension SDK version');
        for (const e of this.registered.values()) if (e.info.name === info.name) return status(1, 'Duplicate extension registered');
        for (const [reg, plugins] of Object.entries(registry)) {
          if (!['table', 'config', 'logger', 'distributed'].includes(reg)) return status(1, `Failed adding registry: unknown registry ${reg}`);
          for (const [name, routes] of Object.entries(plugins)) {
            if (reg === 'table' && !routes.length) return status(1, `Failed adding registry: table ${name} has no columns`);
          }
        }
        const uuid = this.nextUuid++;
        this.registered.set(uuid, { uuid, info, registry });
        this.emit('registered', this.registered.get(uuid));
        return status(0, 'OK', uuid);
      },
      deregisterExtension: async (uuid: number) => {
        this.record('deregisterExtension', [uuid]);
        if (!this.registered.delete(uuid)) return status(1, 'No extension UUID registered');
        this.emit('deregistered', uuid);
        return status(0, 'OK');
      },
      query: async (sql: string) => {
        this.record('query', [sql]);
        return this.queryHandler(sql);
      },
      getQueryColumns: async (sql: string) => {
        this.record('getQueryColumns', [sql]);
        return this.queryHandler(sql);
      },
    };
  }

  /** Resolves with the next (or an already present) registration. */
  waitForRegistration(timeoutMs = 10_000): Promise<RegisteredExtension> {
    const existing = [...this.registered.values()][0];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('registered', onReg);
        reject(new Error(`no extension registered on ${this.socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReg = (e: RegisteredExtension) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.once('registered', onReg);
    });
  }

  /**
   * Registration plus a successful ping on `<socket>.<uuid>`: an extension binds its socket only after
   * it learned its uuid, so a call right after registerExtension can legitimately find no socket yet.
   */
  async waitForExtension(timeoutMs = 10_000): Promise<RegisteredExtension> {
    const deadline = Date.now() + timeoutMs;
    const reg = await this.waitForRegistration(timeoutMs);
    for (;;) {
      try {
        await new ExtensionClient(this.extensionSocket(reg.uuid), { timeoutMs: Math.max(100, deadline - Date.now()) }).ping();
        return reg;
      } catch (err) {
        if (Date.now() >= deadline) throw new Error(`extension ${reg.uuid} registered but does not answer on ${this.extensionSocket(reg.uuid)}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  extensionSocket(uuid: number): string {
    return `${this.socketPath}.${uuid}`;
  }

  private client(uuid: number): ExtensionClient {
    return new ExtensionClient(this.extensionSocket(uuid), { timeoutMs: this.callTimeoutMs });
  }

  /** Like core: a fresh connection for this one call. */
  callExtension(uuid: number, registry: string, item: string, request: PluginRow): Promise<ExtensionResponse> {
    return this.client(uuid).call(registry, item, request);
  }

  columns(uuid: number, table: string): Promise<ExtensionResponse> {
    return this.callExtension(uuid, 'table', table, { action: 'columns' });
  }

  /** `action=generate` with a spec-shaped context built from the registered routes. */
  generate(uuid: number, table: string, constraints: FakeConstraint[] = [], colsUsed?: string[]): Promise<ExtensionResponse> {
    const routes = this.registered.get(uuid)?.registry.table?.[table] ?? [];
    return this.callExtension(uuid, 'table', table, { action: 'generate', context: osqueryContext(routes, constraints, colsUsed) });
  }

  pingExtension(uuid: number): Promise<ExtensionStatus> {
    return this.client(uuid).ping();
  }

  shutdownExtension(uuid: number): Promise<void> {
    return this.client(uuid).shutdown();
  }

  /** Forget an extension without telling it (what core does after two failed pings). */
  silentlyDeregister(uuid: number): void {
    this.registered.delete(uuid);
  }

  /** Simulate osqueryd dying: stop answering and remove the manager socket. */
  async die(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    await unlink(this.socketPath).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.die();
    this.removeAllListeners();
  }
}

/** Options of a one-table test extension on `socket` (a start timeout of 3 s, liveness every minute), with `over`. */
export function testExtensionOptions(socket: string, over: Partial<ExtensionOptions> = {}): ExtensionOptions {
  return {
    socket,
    name: 'outflow',
    version: '0.1.0',
    sdkVersion: '1.8.2',
    tables: [{ name: 't', columns: [{ name: 'a', type: 'TEXT' }], generate: () => [{ a: 'x' }] }],
    startTimeoutMs: 3000,
    intervalMs: 60_000,
    ...over,
  };
}
