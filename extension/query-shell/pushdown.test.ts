import { describe, expect, it } from 'vitest';
import { extractConstraints, type PushdownColumn } from './pushdown.js';

const COLUMNS: PushdownColumn[] = [
  { name: 'path', type: 'TEXT', options: 1 },
  { name: 'pid', type: 'INTEGER', options: 0 },
  { name: 'hidden_only', type: 'TEXT', options: 16 },
  { name: 'bytes_out', type: 'BIGINT', options: 0 },
];
const x = (sql: string) => extractConstraints(sql, 'code_signing', COLUMNS);

describe('extractConstraints', () => {
  it.each([
    ["SELECT * FROM code_signing WHERE path = '/bin/ls'", [{ name: 'path', op: 2, expr: '/bin/ls' }]],
    ["select * from code_signing where '/bin/ls' = path", [{ name: 'path', op: 2, expr: '/bin/ls' }]],
    ["SELECT path FROM code_signing WHERE path IN ('/a', '/b''c') AND pid >= 05", [
      { name: 'path', op: 2, expr: '/a' },
      { name: 'path', op: 2, expr: "/b'c" },
      { name: 'pid', op: 32, expr: '5' },
    ]],
    ["SELECT * FROM code_signing cs WHERE cs.path LIKE '/Applications/%' AND 100 < cs.bytes_out ORDER BY pid LIMIT 3", [
      { name: 'path', op: 65, expr: '/Applications/%' },
      { name: 'bytes_out', op: 4, expr: '100' },
    ]],
    ["SELECT * FROM code_signing WHERE path GLOB '/usr/*' AND lower(path) = 'x'", []],
    ['SELECT * FROM "code_signing" WHERE pid = 1', [{ name: 'pid', op: 2, expr: '1' }]],
    ["SELECT * FROM code_signing WHERE path > '/a'", []],
    ["SELECT * FROM code_signing WHERE hidden_only = 'x' AND pid < 3", [{ name: 'pid', op: 16, expr: '3' }]],
    ["SELECT * FROM code_signing WHERE path = 'x' AND pid IS 3", [{ name: 'path', op: 2, expr: 'x' }]],
  ])('%s', (sql, expected) => {
    expect(x(sql)).toEqual(expected);
  });

  it.each([
    "SELECT * FROM code_signing WHERE path = '/a' OR pid = 1",
    "SELECT * FROM code_signing WHERE NOT path = '/a'",
    "SELECT * FROM code_signing WHERE (path = '/a' AND pid = 1)",
    "SELECT * FROM code_signing WHERE path = '/a' AND (pid = 1 OR pid = 2)",
    "SELECT * FROM code_signing WHERE path IN (SELECT path FROM other)",
    "SELECT * FROM code_signing JOIN other USING (pid) WHERE path = '/a'",
    "SELECT * FROM code_signing, other WHERE path = '/a'",
    "SELECT * FROM other WHERE path = '/a'",
    "SELECT * FROM code_signing WHERE pid BETWEEN 1 AND 5",
    "SELECT * FROM code_signing WHERE path = '/a' UNION SELECT * FROM code_signing",
    "WITH c AS (SELECT * FROM code_signing) SELECT * FROM c WHERE path = '/a'",
    "SELECT * FROM code_signing WHERE path = 'unterminated",
    'SELECT * FROM code_signing',
  ])('pushes nothing for %s', (sql) => {
    expect(x(sql)).toEqual([]);
  });
});
