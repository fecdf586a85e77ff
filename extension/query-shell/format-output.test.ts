import { describe, expect, it } from 'vitest';
import { formatJsonLines, formatTable } from './format-output.js';

describe('formatJsonLines', () => {
  it('prints one JSON object per row, bigints as numbers when safe', () => {
    expect(formatJsonLines([{ a: 1, b: 'x', c: null }, { a: 2n, b: '', c: 9007199254740993n }])).toBe('{"a":1,"b":"x","c":null}\n{"a":2,"b":"","c":"9007199254740993"}\n');
  });
  it('prints nothing for no rows', () => {
    expect(formatJsonLines([])).toBe('');
  });
});

describe('formatTable', () => {
  it('aligns columns, right-aligns numeric columns, shows NULL', () => {
    expect(formatTable(['component', 'events'], [{ component: 'nettop', events: 12 }, { component: 'es', events: null }])).toBe(
      ['+-----------+--------+', '| component | events |', '+-----------+--------+', '| nettop    |     12 |', '| es        |   NULL |', '+-----------+--------+', ''].join('\n'),
    );
  });
  it('prints the header for an empty result and escapes newlines', () => {
    expect(formatTable(['a'], [])).toBe('+---+\n| a |\n+---+\n+---+\n');
    expect(formatTable(['a'], [{ a: 'x\ny' }])).toContain('| x\\ny |');
  });
});
