/** Output of `outflow query`: an aligned table for people, JSON lines for programs. */
export type OutputFormat = 'table' | 'json';
export type ResultRow = Record<string, unknown>;

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return `x'${v.toString('hex')}'`;
  return String(v);
}

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return v === undefined ? null : v;
}

export function formatJsonLines(rows: readonly ResultRow[]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, jsonValue(v)])))).join('\n') + (rows.length ? '\n' : '');
}

/**
 * What a terminal must never receive raw: C0 and C1 controls and DEL. Table cells hold text other users chose (file
 * names, argv, DNS and TLS names): an ESC or CR in one could rewrite or hide rows on the hunter's screen.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escapeControls = (s: string) => s.replace(CONTROL, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/**
 * osqueryi-style box table; numbers right-aligned. Rows are objects keyed by column name, or arrays in column order
 * (a result may name two columns alike: `SELECT a.x, b.x …`).
 */
export function formatTable(columns: readonly string[], rows: readonly (ResultRow | readonly unknown[])[]): string {
  const value = (r: ResultRow | readonly unknown[], i: number): unknown => (Array.isArray(r) ? r[i] : (r as ResultRow)[columns[i] as string]);
  const widths = columns.map((c) => escapeControls(c).length);
  const cells = rows.map((r) =>
    columns.map((_, i) => {
      const s = escapeControls(cell(value(r, i)));
      widths[i] = Math.max(widths[i] ?? 0, s.length);
      return s;
    }),
  );
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => value(r, i) === null || typeof value(r, i) === 'number' || typeof value(r, i) === 'bigint'));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const render = (vals: string[], alignNumbers: boolean) =>
    '| ' + vals.map((v, i) => (alignNumbers && numeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join(' | ') + ' |';
  const out = [line, render(columns.map(escapeControls), false), line, ...cells.map((c) => render(c, true)), line];
  return out.join('\n') + '\n';
}
