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

/** osqueryi-style box table; numbers right-aligned. */
export function formatTable(columns: readonly string[], rows: readonly ResultRow[]): string {
  const widths = columns.map((c) => c.length);
  const cells = rows.map((r) =>
    columns.map((c, i) => {
      const s = cell(r[c]).replace(/\n/g, '\\n');
      widths[i] = Math.max(widths[i] ?? 0, s.length);
      return s;
    }),
  );
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => r[c] === null || typeof r[c] === 'number' || typeof r[c] === 'bigint'));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const render = (vals: string[], alignNumbers: boolean) =>
    '| ' + vals.map((v, i) => (alignNumbers && numeric[i] ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join(' | ') + ' |';
  const out = [line, render([...columns], false), line, ...cells.map((c) => render(c, true)), line];
  return out.join('\n') + '\n';
}
