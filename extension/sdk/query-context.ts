/**
 * The `context` osquery sends with `action=generate` (a JSON string), parsed tolerantly:
 * current cores send numeric `op` and a `list` array; very old cores send `op` as a string and `list` as "".
 * Constraints are hints: SQLite re-filters every row, so returning a superset is always correct.
 */
export const Op = {
  EQUALS: 2,
  GREATER_THAN: 4,
  LESS_THAN_OR_EQUALS: 8,
  LESS_THAN: 16,
  GREATER_THAN_OR_EQUALS: 32,
  MATCH: 64,
  LIKE: 65,
  GLOB: 66,
  REGEXP: 67,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

const KNOWN_OPS = new Set<number>(Object.values(Op));

export interface Constraint {
  op: OpCode;
  /** Always SQLite's text of the value, even for INTEGER columns. */
  expr: string;
}

export interface QueryContext {
  /** Column name → pushed constraints (absent or empty when nothing was pushed). */
  constraints: Map<string, Constraint[]>;
  /** Columns the query uses, when the core says so. */
  colsUsed?: string[];
}

export function emptyQueryContext(): QueryContext {
  return { constraints: new Map() };
}

/** Parse osquery's context JSON. Never throws: unknown shapes and unknown op codes are ignored. */
export function parseQueryContext(json: string | undefined): QueryContext {
  const ctx = emptyQueryContext();
  if (!json) return ctx;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return ctx;
  }
  if (!raw || typeof raw !== 'object') return ctx;
  const obj = raw as { constraints?: unknown; colsUsed?: unknown };
  if (Array.isArray(obj.colsUsed)) ctx.colsUsed = obj.colsUsed.filter((c): c is string => typeof c === 'string');
  if (!Array.isArray(obj.constraints)) return ctx;
  for (const entry of obj.constraints) {
    if (!entry || typeof entry !== 'object') continue;
    const { name, list } = entry as { name?: unknown; list?: unknown };
    if (typeof name !== 'string' || !Array.isArray(list)) continue; // legacy `list: ""` = nothing pushed
    const parsed: Constraint[] = [];
    for (const item of list) {
      if (!item || typeof item !== 'object') continue;
      const { op, expr } = item as { op?: unknown; expr?: unknown };
      const opNum = typeof op === 'number' ? op : typeof op === 'string' && /^\d+$/.test(op) ? Number(op) : NaN;
      if (!KNOWN_OPS.has(opNum)) continue;
      if (expr === undefined || expr === null) continue;
      parsed.push({ op: opNum as OpCode, expr: String(expr) });
    }
    if (parsed.length) ctx.constraints.set(name, [...(ctx.constraints.get(name) ?? []), ...parsed]);
  }
  return ctx;
}

/**
 * Values pushed with `=` (or IN) for a column, or undefined when the column is unconstrained.
 * `allowed` rejects values before they can reach an argv; rejected values are skipped (SQLite re-filters). The
 * pattern must admit every text SQLite would find equal to a row we produce: for INTEGER columns, whose text
 * may be `1.0` or ` 1`, use constraintIntegers instead.
 */
export function constraintValues(ctx: QueryContext, column: string, opts: { allowed?: RegExp } = {}): string[] | undefined {
  const list = ctx.constraints.get(column);
  if (!list) return undefined;
  const eq = list.filter((c) => c.op === Op.EQUALS);
  if (!eq.length) return undefined;
  return eq.map((c) => c.expr).filter((v) => !opts.allowed || opts.allowed.test(v));
}

/**
 * Integers pushed with `=` (or IN) for an INTEGER/BIGINT column, read the way SQLite compares them: osquery sends the
 * text of the value (sqlite3_value_text), and for `pid = 1.0`, `pid = ' 1'` or `pid = '1e0'` that text is not plain
 * digits although SQLite matches pid 1. A value that is no integer cannot equal an integer column and is dropped.
 * Undefined when the column has no `=` constraint.
 */
export function constraintIntegers(ctx: QueryContext, column: string): number[] | undefined {
  const values = constraintValues(ctx, column);
  if (!values) return undefined;
  const out: number[] = [];
  for (const v of values) {
    const text = v.trim();
    const n = text === '' ? NaN : Number(text);
    if (Number.isSafeInteger(n)) out.push(n);
  }
  return out;
}

/** A constraint on a named column, for building contexts (fake manager, local query shell). */
export interface NamedConstraint extends Constraint {
  name: string;
}

/**
 * The context JSON exactly as current osquery cores send it (formats.md §1.4): one entry per table column
 * sorted by name, `list` empty when nothing was pushed, `affinity` = declared type, numeric `op`, string
 * `expr`, plus `colsUsed` (sorted) and `colsUsedBitset` (bit i = column i).
 */
export function formatQueryContext(columns: ReadonlyArray<{ name: string; type: string }>, constraints: ReadonlyArray<NamedConstraint> = [], colsUsed?: readonly string[]): string {
  const used = colsUsed ?? columns.map((c) => c.name);
  const entries = columns
    .map((c) => ({ name: c.name, list: constraints.filter((k) => k.name === c.name).map((k) => ({ op: k.op, expr: k.expr })), affinity: c.type }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let bitset = 0;
  columns.forEach((c, i) => {
    // osquery's bitset is 64-bit; JSON numbers stay exact up to 2^53, far beyond any table here.
    if (used.includes(c.name) && i < 53) bitset += 2 ** i;
  });
  return JSON.stringify({ constraints: entries, colsUsed: [...used].sort(), colsUsedBitset: bitset });
}
