import { describe, expect, it } from 'vitest';
import { splitStatements } from './split-statements.js';

describe('splitStatements', () => {
  it.each([
    ['SELECT 1', ['SELECT 1']],
    ['SELECT 1; SELECT 2;', ['SELECT 1', 'SELECT 2']],
    ["SELECT ';' AS s; SELECT 2", ["SELECT ';' AS s", 'SELECT 2']],
    ["SELECT 'it''s; fine'", ["SELECT 'it''s; fine'"]],
    ['SELECT "a;b" FROM t; SELECT [c;d] FROM u; SELECT `e;f`', ['SELECT "a;b" FROM t', 'SELECT [c;d] FROM u', 'SELECT `e;f`']],
    ['SELECT 1 -- trailing; comment\n; SELECT 2', ['SELECT 1 -- trailing; comment', 'SELECT 2']],
    ['SELECT /* a; b */ 1; ;; ', ['SELECT /* a; b */ 1']],
    ['-- only a comment;\n', []],
    ['  ;  ', []],
    ["SELECT 'unterminated; still one", ["SELECT 'unterminated; still one"]],
  ])('%j', (sql, expected) => {
    expect(splitStatements(sql)).toEqual(expected);
  });
});
