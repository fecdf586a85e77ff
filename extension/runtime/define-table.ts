import type { QueryContext } from '../sdk/query-context.js';
import type { ExtensionContext } from './context.js';
import type { Platform } from './tools.js';

/**
 * A table: name, typed columns and a generate function that reads in-memory state (it never spawns or
 * waits on a tool). The SDK adapter (sdk/table-plugin.ts) and the local query shell both serve these.
 */
export type ColumnType = 'TEXT' | 'INTEGER' | 'BIGINT' | 'UNSIGNED BIGINT' | 'DOUBLE';

export interface ColumnSpec {
  type: ColumnType;
  /** osquery column options (formats.md §1.3): INDEX 1, REQUIRED 2, ADDITIONAL 4, OPTIMIZED 8, HIDDEN 16. */
  index?: boolean;
  required?: boolean;
  additional?: boolean;
  optimized?: boolean;
  hidden?: boolean;
  description?: string;
}

type ColumnOpts = Omit<ColumnSpec, 'type'>;
// The literal `type` is kept in each helper's return type so Row<C> knows TEXT columns hold strings.
export const text = (o: ColumnOpts = {}): ColumnSpec & { type: 'TEXT' } => ({ type: 'TEXT', ...o });
export const integer = (o: ColumnOpts = {}): ColumnSpec & { type: 'INTEGER' } => ({ type: 'INTEGER', ...o });
export const bigint = (o: ColumnOpts = {}): ColumnSpec & { type: 'BIGINT' } => ({ type: 'BIGINT', ...o });
export const double = (o: ColumnOpts = {}): ColumnSpec & { type: 'DOUBLE' } => ({ type: 'DOUBLE', ...o });

export type Columns = Record<string, ColumnSpec>;

type ValueOf<S extends ColumnSpec> = S['type'] extends 'TEXT' ? string : number;
/** Row type derived from the columns; null means "unknown" (osquery NULL). */
export type Row<C extends Columns> = { [K in keyof C]: ValueOf<C[K]> | null };
export type AnyRow = Record<string, string | number | bigint | null | undefined>;

export interface TableDefinition<C extends Columns = Columns> {
  name: string;
  description: string;
  columns: C;
  /** Platforms the table supports (osquery pack `platform`). */
  platforms: Platform[];
  generate(ctx: ExtensionContext, query: QueryContext): Row<C>[] | Promise<Row<C>[]>;
}

export function defineTable<C extends Columns>(def: TableDefinition<C>): TableDefinition<C> {
  for (const name of Object.keys(def.columns)) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`table ${def.name}: column name ${name} is not snake_case`);
  }
  return def;
}

/** osquery option bitmask for a column. */
export function columnOptions(c: ColumnSpec): number {
  return (c.index ? 1 : 0) | (c.required ? 2 : 0) | (c.additional ? 4 : 0) | (c.optimized ? 8 : 0) | (c.hidden ? 16 : 0);
}
