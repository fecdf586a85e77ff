/**
 * Table plugins as osquery core sees them: routes for registration and `action=columns`, and
 * `action=generate` with a parsed context, bounded by a per-call timeout. Errors never cross the wire
 * as exceptions: every failure is a status code 1 with a message the user can act on.
 */
import { parseQueryContext, type QueryContext } from './query-context.js';
import { ExtensionCode, type ExtensionResponse, type PluginRow, type SdkLogger, nullLogger } from './types.js';

export type SqlColumnType = 'TEXT' | 'INTEGER' | 'BIGINT' | 'UNSIGNED BIGINT' | 'DOUBLE' | 'BLOB';

/** osquery column option bits (formats.md §1.3). */
export const ColumnOption = { INDEX: 1, REQUIRED: 2, ADDITIONAL: 4, OPTIMIZED: 8, HIDDEN: 16 } as const;

export interface TableColumn {
  name: string;
  type: SqlColumnType;
  /** Bitmask of ColumnOption. */
  options?: number;
}

export type CellValue = string | number | bigint | boolean | null | undefined;
export type TableRow = Record<string, CellValue>;

export interface TablePlugin {
  name: string;
  columns: TableColumn[];
  /** `signal` aborts when the call timed out; the reply has already been sent by then. */
  generate(query: QueryContext, signal: AbortSignal): TableRow[] | Promise<TableRow[]>;
}

/** Routes sent in registerExtension and answered for `action=columns` (the two must be identical). */
export function tableRoutes(plugin: TablePlugin): PluginRow[] {
  return plugin.columns.map((c) => ({ id: 'column', name: c.name, type: c.type, op: String(c.options ?? 0) }));
}

/** osquery wants strings: numbers as decimal text, null/undefined as '' (NULL for numeric columns). */
export function cellToString(v: CellValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (!Number.isFinite(v)) return '';
  // String(1e21) is "1e+21"; integers must stay plain decimal digits.
  if (Number.isInteger(v)) return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
  return String(v);
}

export function rowToPluginRow(row: TableRow, columns: readonly TableColumn[]): PluginRow {
  const out: PluginRow = {};
  for (const c of columns) out[c.name] = cellToString(row[c.name]);
  return out;
}

export interface TableRouterOptions {
  /** Per generate call; a slower generate answers status 1 (default 2000 ms). */
  generateTimeoutMs?: number;
  log?: SdkLogger;
}

const failed = (message: string): ExtensionResponse => ({ status: { code: ExtensionCode.FAILED, message, uuid: 0 }, response: [] });
const ok = (response: PluginRow[]): ExtensionResponse => ({ status: { code: ExtensionCode.SUCCESS, message: 'OK', uuid: 0 }, response });

/** Answers `call("table", name, request)` for a set of table plugins. */
export class TableRouter {
  private readonly tables = new Map<string, TablePlugin>();
  private readonly routes = new Map<string, PluginRow[]>();
  private readonly timeoutMs: number;
  private readonly log: SdkLogger;

  constructor(plugins: readonly TablePlugin[], opts: TableRouterOptions = {}) {
    for (const p of plugins) {
      if (this.tables.has(p.name)) throw new Error(`table ${p.name} is registered twice`);
      if (!p.columns.length) throw new Error(`table ${p.name} has no columns (osquery rejects an empty route list)`);
      this.tables.set(p.name, p);
      this.routes.set(p.name, tableRoutes(p));
    }
    this.timeoutMs = opts.generateTimeoutMs ?? 2000;
    this.log = opts.log ?? nullLogger;
  }

  /** The `registry` argument of registerExtension. */
  registry(): Record<string, Record<string, PluginRow[]>> {
    return { table: Object.fromEntries([...this.routes].map(([name, routes]) => [name, routes.map((r) => ({ ...r }))])) };
  }

  get tableNames(): string[] {
    return [...this.tables.keys()];
  }

  async call(registry: string, item: string, request: PluginRow): Promise<ExtensionResponse> {
    if (registry !== 'table') return failed(`unknown registry "${registry}": this extension only serves tables`);
    const table = this.tables.get(item);
    if (!table) return failed(`unknown table "${item}": this extension serves ${this.tableNames.join(', ') || 'no tables'}`);
    const action = request.action ?? '';
    switch (action) {
      case 'columns':
        return ok((this.routes.get(item) ?? []).map((r) => ({ ...r })));
      case 'generate':
        return this.generate(table, request.context);
      case 'insert':
      case 'update':
      case 'delete':
        // osquery's answer for tables that are not writable.
        return ok([{ status: 'readonly' }]);
      default:
        return failed(`table ${item}: unsupported action "${action}" (expected columns or generate)`);
    }
  }

  private async generate(table: TablePlugin, contextJson: string | undefined): Promise<ExtensionResponse> {
    const query = parseQueryContext(contextJson);
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    try {
      const rows = await Promise.race([
        Promise.resolve().then(() => table.generate(query, abort.signal)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new GenerateTimeout()), this.timeoutMs);
        }),
      ]);
      const response = rows.map((r) => rowToPluginRow(r, table.columns));
      this.log.debug({ table: table.name, rows: response.length, duration_ms: Date.now() - started }, 'generate');
      return ok(response);
    } catch (err) {
      if (err instanceof GenerateTimeout) {
        abort.abort();
        this.log.warn({ table: table.name, timeout_ms: this.timeoutMs }, 'generate timed out');
        return failed(`table ${table.name}: generate did not finish within ${this.timeoutMs} ms; the extension is overloaded or a collector is stuck (see outflow_status)`);
      }
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ table: table.name, err }, 'generate failed');
      return failed(`table ${table.name}: generate failed: ${message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

class GenerateTimeout extends Error {}

export type { QueryContext };
