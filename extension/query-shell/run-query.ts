/**
 * `outflow query "SQL"` (SPEC §1): the same table definitions as the extension, served as SQLite virtual
 * tables (better-sqlite3 `db.table()`, behind views that type their columns as osquery does), without osquery. Starts the collectors, waits for their first
 * sample, keeps collecting `--collect` seconds, then answers each `;`-separated statement in order.
 *
 * better-sqlite3 calls virtual-table generators synchronously while our generates may be async, so
 * before each statement the tables it names are generated up front with an osquery-shaped context
 * (every column; the constraints osquery would push, read from simple WHERE clauses by pushdown.ts, else
 * none — a superset either way, which SQLite then filters) and the statement reads that snapshot.
 */
import { constants as osConstants } from 'node:os';
import Database from 'better-sqlite3';
import { InputError, coerceError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/index.js';
import type { LevelWithSilent } from 'pino';
import { createLogger } from '../../src/log.js';
import { COLLECTORS } from '../collectors/index.js';
import type { ExtensionContext } from '../runtime/context.js';
import { createContext, resolvePlatform } from '../runtime/create-context.js';
import { columnOptions, type ColumnSpec, type ColumnType, type TableDefinition } from '../runtime/define-table.js';
import { awaitCollectorsReady, loadTestTables, reapToolsOnExit, startCollectors, stopAll, tablesFor } from '../runtime/table-host.js';
import { formatQueryContext, parseQueryContext } from '../sdk/query-context.js';
import { cellToString, type CellValue } from '../sdk/table-plugin.js';
import { TABLES } from '../tables/index.js';
import { formatJsonLines, formatTable, type OutputFormat } from './format-output.js';
import { extractConstraints } from './pushdown.js';
import { splitStatements } from './split-statements.js';
import { stdoutReaderGone, writeOut } from '../../src/stdout.js';

export interface QueryCliOptions {
  collect?: string;
  every?: string;
  count?: string;
  config?: string;
  format?: OutputFormat;
}

/** Upper bound on waiting for collectors' first sample (a wedged tool must not hang the shell). */
const READY_TIMEOUT_MS = 60_000;
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

type SqlValue = string | number | bigint | null;

function numberFlag(value: string | undefined, flag: string, fallback: number, opts: { integer?: boolean; min: number }): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < opts.min || (opts.integer && !Number.isInteger(n))) {
    throw new InputError(`invalid ${flag}`, [{ path: flag, message: `expected ${opts.integer ? 'an integer' : 'a number'} >= ${opts.min}, got "${value}"` }]);
  }
  return n;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A value as osquery's core stores it for a column of this type (osquery/sql/dynamic_table_row.cpp): the extension
 * hands it text (sdk/table-plugin.ts cellToString, so a missing value is ''), TEXT columns keep that text, integer
 * columns hold an int64 and DOUBLE a double; a numeric column given '' or no number in range is NULL. JS numbers would
 * otherwise reach SQLite as REALs (`pid || ''` = "1001.0", `bytes_out / 1000` a fraction).
 */
const INT64_MIN = -(2n ** 63n);
const INT64_END = 2n ** 63n;
function sqlValue(v: CellValue, type: ColumnType): SqlValue {
  const text = cellToString(v);
  if (type === 'TEXT') return text;
  const t = text.trim();
  if (t === '') return null;
  if (type === 'DOUBLE') {
    const n = Number(t);
    return Number.isFinite(n) ? n : null;
  }
  // INTEGER, BIGINT and UNSIGNED BIGINT alike: tryTo<long long>(value, 0), i.e. std::stoll base 0 — leading blanks, a
  // sign, 0x/0 prefixes, the longest run of digits (the rest, "1.5"'s ".5", is ignored); out of int64 range is NULL
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))/.exec(text);
  if (!m) return null;
  const abs = m[2] !== undefined ? BigInt(`0x${m[2]}`) : m[3] !== undefined ? BigInt(`0o${m[3].slice(1) || '0'}`) : BigInt(m[4]!);
  const n = m[1] === '-' ? -abs : abs;
  return n >= INT64_MIN && n < INT64_END ? n : null;
}

/** The context osquery would send for this statement: every column, the constraints it would push. */
function contextFor(def: TableDefinition<any>, statement: string) {
  const columns = (Object.entries(def.columns) as [string, ColumnSpec][]).map(([name, spec]) => ({ name, type: spec.type, options: columnOptions(spec) }));
  return parseQueryContext(formatQueryContext(columns, extractConstraints(statement, def.name, columns)));
}

async function generateSnapshot(def: TableDefinition<any>, statement: string, ctx: ExtensionContext, timeoutMs: number): Promise<SqlValue[][]> {
  const columns = Object.keys(def.columns);
  let timer: NodeJS.Timeout | undefined;
  try {
    const rows = await Promise.race([
      Promise.resolve().then(() => def.generate(ctx, contextFor(def, statement))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`table ${def.name}: generate did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const types = columns.map((c) => (def.columns[c] as ColumnSpec).type);
    return rows.map((r) => columns.map((c, i) => sqlValue((r as Record<string, CellValue>)[c], types[i] as ColumnType)));
  } catch (err) {
    const e = coerceError(err);
    throw new Error(e.message.startsWith(`table ${def.name}`) ? e.message : `table ${def.name}: generate failed: ${e.message}`, { cause: err });
  }
}

export async function runQuery(sql: string, opts: QueryCliOptions = {}): Promise<number> {
  const collectSeconds = numberFlag(opts.collect, '--collect', 0, { min: 0 });
  // --every 0 would re-run at once (or, without --count, run once as if no --every was given), and a --count
  // without --every ran once: each a typo that did something else without a word, so both are refused.
  const everySeconds = numberFlag(opts.every, '--every', 0, { min: 0 });
  if (opts.every !== undefined && everySeconds === 0) throw new InputError('invalid --every', [{ path: '--every', message: `expected seconds between runs, more than 0, got "${opts.every}"` }], 'omit --every to run once');
  if (opts.count !== undefined && opts.every === undefined) throw new InputError('--count needs --every', [], `add --every SECONDS, the time between the ${opts.count} runs, or omit --count to run once`);
  const count = numberFlag(opts.count, '--count', 1, { integer: true, min: 1 });
  const statements = splitStatements(sql);
  if (!statements.length) throw new InputError('no SQL statement given', [], 'e.g. outflow query "SELECT * FROM outflow_status"');

  // Collector trouble shows in outflow_status; on an interactive shell only errors are worth a log line.
  const log = createLogger({ level: LOG_LEVELS.has(process.env.OUTFLOW_LOG_LEVEL ?? '') ? (process.env.OUTFLOW_LOG_LEVEL as LevelWithSilent) : 'error', name: 'outflow-query' });
  const config = loadConfig(opts.config);
  const platform = resolvePlatform();
  const ctx = createContext({ platform, config, log });
  ctx.health.component('extension').running('local query shell (outflow query); not registered with osquery');
  const definitions = [...tablesFor(TABLES, platform), ...(await loadTestTables())];
  const format: OutputFormat = opts.format ?? (process.stdout.isTTY ? 'table' : 'json');

  const db = new Database(':memory:');
  // Each table is a virtual table yielding its snapshot (see above), read through a view that declares the column
  // types as osquery declares them to SQLite (`pid INTEGER, path TEXT, …`): better-sqlite3's virtual tables declare
  // none, and a CAST gives a view column its type's affinity, so `pid = '1001'` matches pid 1001 as under osqueryd.
  // A view is read-only, as osquery's tables are.
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const snapshots = new Map<string, SqlValue[][]>();
  for (const def of definitions) {
    const names = Object.keys(def.columns);
    const source = `outflow_vtab_${def.name}`;
    db.table(source, {
      columns: names,
      rows: function* () {
        yield* snapshots.get(def.name) ?? [];
      },
    });
    const typed = names.map((n) => `CAST(${quote(n)} AS ${(def.columns[n] as ColumnSpec).type}) AS ${quote(n)}`);
    db.exec(`CREATE TEMP VIEW ${quote(def.name)} AS SELECT ${typed.join(', ')} FROM ${quote(source)}`);
  }
  const referencedTables = (statement: string) => definitions.filter((d) => new RegExp(`\\b${d.name}\\b`, 'i').test(statement));

  const collectors = startCollectors(COLLECTORS, ctx);
  // Ctrl-C (or a kill) ends the shell as before, but without leaving its tools running in their own process groups.
  const removeReaper = reapToolsOnExit(ctx, ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'], (signal) => {
    ctx.tools.killAll();
    process.exit(128 + (osConstants.signals[signal] ?? 0));
  });
  try {
    const laggards = await awaitCollectorsReady(collectors, READY_TIMEOUT_MS);
    if (laggards.length) log.warn({ collectors: laggards }, 'collectors produced no first sample in time; answering with what they have');
    if (collectSeconds > 0) await sleep(collectSeconds * 1000);

    for (let run = 0; run < count; run++) {
      if (run > 0) await sleep(everySeconds * 1000);
      for (const statement of statements) {
        for (const def of referencedTables(statement)) snapshots.set(def.name, await generateSnapshot(def, statement, ctx, config.generate_timeout_ms));
        const prepared = db.prepare(statement);
        if (!prepared.reader) {
          prepared.run();
          continue;
        }
        const columns = prepared.columns().map((c) => c.name);
        // rows as arrays: two result columns may share a name (`SELECT a.x, b.x`); integers as BigInt: past 2^53 a
        // JS number would drop digits (formatJsonLines prints the safe ones as numbers)
        const rows = prepared.safeIntegers(true).raw(true).all() as unknown[][];
        writeOut(format === 'json' ? formatJsonLines(rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i]])))) : formatTable(columns, rows));
        snapshots.clear();
        if (stdoutReaderGone()) return 0;
      }
    }
    return 0;
  } catch (err) {
    const e = coerceError(err);
    let message = e.message;
    if (/no such table/i.test(message)) {
      message += ` (tables on ${platform}: ${definitions.map((d) => d.name).join(', ') || 'none'})`;
    }
    process.stderr.write(`outflow query: ${message}\n`);
    return 1;
  } finally {
    await stopAll(collectors, ctx, 2000);
    removeReaper();
    db.close();
  }
}
