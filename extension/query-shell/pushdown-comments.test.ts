/** Constraints are pushed only from what SQLite reads: a commented-out `AND col = 'x'` must push nothing (the result would lose rows). */
import { describe, expect, it } from 'vitest';
import { extractConstraints, type PushdownColumn } from './pushdown.js';

const COLUMNS: PushdownColumn[] = [
  { name: 'path', type: 'TEXT', options: 1 },
  { name: 'pid', type: 'INTEGER', options: 0 },
];
const x = (sql: string) => extractConstraints(sql, 'code_signing', COLUMNS);

describe('extractConstraints ignores what SQLite ignores: comments', () => {
  it.each([
    ["SELECT * FROM code_signing WHERE 1\n-- AND path = '/bin/ls'", []],
    ["SELECT * FROM code_signing WHERE pid > 0\n--  AND path = '/bin/ls'\nORDER BY pid", [{ name: 'pid', op: 4, expr: '0' }]],
    ["SELECT * FROM code_signing WHERE pid > 0 /* AND path = '/bin/ls' */", [{ name: 'pid', op: 4, expr: '0' }]],
    ["SELECT * FROM code_signing WHERE path = '/a' -- narrowed on purpose\n AND pid = 7", [{ name: 'path', op: 2, expr: '/a' }, { name: 'pid', op: 2, expr: '7' }]],
  ])('%j', (sql, expected) => {
    expect(x(sql)).toEqual(expected);
  });
});
