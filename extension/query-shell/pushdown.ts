/**
 * Constraint push-down for the local shell. osquery core hands generate the constraints SQLite pushed
 * (formats.md §1.4); better-sqlite3's virtual tables cannot, so for the simple statement shapes where
 * the answer is certain we read them from the SQL: one table, a WHERE that is a plain AND of
 * `column <op> literal` terms (no OR, no subquery, no BETWEEN). Anything else pushes nothing, which is
 * always correct (generate returns a superset, SQLite filters).
 */
import type { NamedConstraint, OpCode } from '../sdk/query-context.js';
import { Op } from '../sdk/query-context.js';

export interface PushdownColumn {
  name: string;
  type: string;
  /** osquery option bitmask (INDEX 1, REQUIRED 2, ADDITIONAL 4, OPTIMIZED 8, HIDDEN 16). */
  options: number;
}

type Token = { kind: 'ident' | 'string' | 'number' | 'op' | 'punct' | 'word'; text: string };

const KEYWORDS = new Set(['select', 'from', 'where', 'and', 'or', 'not', 'in', 'like', 'glob', 'regexp', 'match', 'between', 'is', 'null', 'order', 'group', 'limit', 'having', 'union', 'intersect', 'except', 'join', 'as', 'on', 'using', 'window', 'escape', 'collate', 'exists', 'case', 'distinct', 'all']);

function tokenize(sql: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    // Comments are whitespace to SQLite: a commented-out `AND col = 'x'` must not become a pushed constraint.
    if (ch === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i + 2);
      i = nl === -1 ? sql.length : nl + 1;
      continue;
    }
    if (ch === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
      continue;
    }
    if (ch === "'") {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= sql.length) return undefined;
        if (sql[j] === "'") {
          if (sql[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        s += sql[j];
        j++;
      }
      out.push({ kind: 'string', text: s });
      i = j + 1;
      continue;
    }
    if (ch === '"' || ch === '`' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      const j = sql.indexOf(close, i + 1);
      if (j === -1) return undefined;
      out.push({ kind: 'ident', text: sql.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    const num = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(sql.slice(i));
    if (num && /\d|\./.test(ch)) {
      // SQLite's text of an integer literal has no leading zeros (`05` → "5").
      out.push({ kind: 'number', text: /^\d+$/.test(num[0]) ? BigInt(num[0]).toString() : num[0] });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i));
    if (word) {
      const w = word[0];
      out.push(KEYWORDS.has(w.toLowerCase()) ? { kind: 'word', text: w.toLowerCase() } : { kind: 'ident', text: w });
      i += w.length;
      continue;
    }
    const op = /^(?:<=|>=|==|!=|<>|=|<|>|\|\||\*|\.|,|\(|\)|;|-|\+|\/|%|\?|:|@|\$)/.exec(sql.slice(i));
    if (!op) return undefined;
    out.push({ kind: op[0] === '(' || op[0] === ')' || op[0] === ',' || op[0] === '.' ? 'punct' : 'op', text: op[0] });
    i += op[0].length;
  }
  return out;
}

const OPS: Record<string, OpCode> = { '=': Op.EQUALS, '==': Op.EQUALS, '>': Op.GREATER_THAN, '<=': Op.LESS_THAN_OR_EQUALS, '<': Op.LESS_THAN, '>=': Op.GREATER_THAN_OR_EQUALS };
const FLIPPED: Record<string, string> = { '=': '=', '==': '=', '>': '<', '<': '>', '>=': '<=', '<=': '>=' };
const WORD_OPS: Record<string, OpCode> = { like: Op.LIKE, glob: Op.GLOB, regexp: Op.REGEXP };
const CLAUSE_END = new Set(['order', 'group', 'limit', 'having', 'window']);

const isLiteral = (t: Token | undefined) => t?.kind === 'string' || t?.kind === 'number';

/** Columns osquery would push constraints for (virtual_table.cpp xBestIndex, with extensions_default_index). */
function pushable(c: PushdownColumn): boolean {
  if (c.options === 0) return true;
  return (c.options & (1 | 2 | 4)) !== 0;
}

/** Constraints osquery would hand `table`'s generate for this statement, or [] when not certain. */
export function extractConstraints(statement: string, table: string, columns: readonly PushdownColumn[]): NamedConstraint[] {
  const tokens = tokenize(statement);
  if (!tokens) return [];
  if (tokens.filter((t) => t.kind === 'word' && t.text === 'select').length !== 1) return [];
  if (tokens.some((t) => t.kind === 'word' && ['union', 'intersect', 'except', 'join', 'exists', 'or', 'not', 'between', 'case'].includes(t.text))) return [];
  const from = tokens.findIndex((t) => t.kind === 'word' && t.text === 'from');
  if (from === -1) return [];
  const target = tokens[from + 1];
  if (target?.kind !== 'ident' || target.text.toLowerCase() !== table.toLowerCase()) return [];
  // Optional alias: FROM t [AS] a
  let i = from + 2;
  let alias: string | undefined;
  if (tokens[i]?.kind === 'word' && tokens[i]?.text === 'as') i++;
  if (tokens[i]?.kind === 'ident') alias = tokens[i++]?.text;
  if (tokens[i]?.kind === 'punct' && tokens[i]?.text === ',') return []; // implicit join
  if (!(tokens[i]?.kind === 'word' && tokens[i]?.text === 'where')) return [];
  let end = tokens.length;
  for (let j = i + 1; j < tokens.length; j++) {
    const t = tokens[j] as Token;
    if ((t.kind === 'word' && CLAUSE_END.has(t.text)) || (t.kind === 'op' && t.text === ';')) {
      end = j;
      break;
    }
  }
  const where = tokens.slice(i + 1, end);
  // Split on AND at depth 0; any parenthesis other than an IN list makes us bail.
  const terms: Token[][] = [[]];
  for (let j = 0; j < where.length; j++) {
    const t = where[j] as Token;
    if (t.kind === 'word' && t.text === 'and') {
      terms.push([]);
      continue;
    }
    (terms[terms.length - 1] as Token[]).push(t);
  }
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const out: NamedConstraint[] = [];
  const columnOf = (ts: Token[], at: number): { col: PushdownColumn; next: number } | undefined => {
    let k = at;
    const first = ts[k];
    if (first?.kind !== 'ident') return undefined;
    if (ts[k + 1]?.kind === 'punct' && ts[k + 1]?.text === '.') {
      const q = first.text.toLowerCase();
      if (q !== table.toLowerCase() && q !== alias?.toLowerCase()) return undefined;
      k += 2;
    }
    const name = ts[k];
    if (name?.kind !== 'ident') return undefined;
    const col = byName.get(name.text.toLowerCase());
    return col ? { col, next: k + 1 } : undefined;
  };
  const push = (col: PushdownColumn, op: OpCode, expr: string) => {
    if (!pushable(col)) return;
    // SQLite never hands range constraints on TEXT columns to osquery's tables.
    if (col.type === 'TEXT' && op !== Op.EQUALS && op !== Op.LIKE && op !== Op.GLOB && op !== Op.REGEXP) return;
    out.push({ name: col.name, op, expr });
  };
  for (const ts of terms) {
    if (!ts.length) return [];
    const left = columnOf(ts, 0);
    if (left) {
      const opTok = ts[left.next];
      const rest = ts.slice(left.next + 1);
      if (opTok?.kind === 'op' && OPS[opTok.text] !== undefined && rest.length === 1 && isLiteral(rest[0])) {
        push(left.col, OPS[opTok.text] as OpCode, (rest[0] as Token).text);
        continue;
      }
      if (opTok?.kind === 'word' && WORD_OPS[opTok.text] !== undefined && rest.length === 1 && rest[0]?.kind === 'string') {
        push(left.col, WORD_OPS[opTok.text] as OpCode, (rest[0] as Token).text);
        continue;
      }
      if (opTok?.kind === 'word' && opTok.text === 'in' && rest[0]?.text === '(' && rest[rest.length - 1]?.text === ')') {
        const inner = rest.slice(1, -1);
        const values = inner.filter((_, k) => k % 2 === 0);
        const commas = inner.filter((_, k) => k % 2 === 1);
        if (values.length && values.every(isLiteral) && commas.every((c) => c.text === ',')) {
          for (const v of values) push(left.col, Op.EQUALS, v.text);
          continue;
        }
      }
      // A term we do not understand still only narrows the result: skip it, keep the others.
      if (ts.some((t) => t.kind === 'punct' && t.text === '(')) return [];
      continue;
    }
    // literal <op> column
    if (isLiteral(ts[0]) && ts[1]?.kind === 'op' && FLIPPED[ts[1].text]) {
      const right = columnOf(ts, 2);
      if (right && right.next === ts.length) {
        push(right.col, OPS[FLIPPED[ts[1].text] as string] as OpCode, (ts[0] as Token).text);
        continue;
      }
    }
    if (ts.some((t) => t.kind === 'punct' && t.text === '(')) return [];
  }
  return out;
}
