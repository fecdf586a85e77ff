import { describe, expect, it } from 'vitest';
import { constraintIntegers, constraintValues, formatQueryContext, Op, parseQueryContext } from './query-context.js';

const entries = (json: string) => [...parseQueryContext(json).constraints];

describe('parseQueryContext', () => {
  it('parses the context current cores send (formats.md §1.4 example)', () => {
    const json =
      '{"constraints":[{"name":"cdhash","list":[],"affinity":"TEXT"},{"name":"path","list":[{"op":2,"expr":"/opt/widget/bin/wgtd"}],"affinity":"TEXT"},' +
      '{"name":"pid","list":[{"op":4,"expr":"900"}],"affinity":"INTEGER"}],"colsUsed":["cdhash","path","pid"],"colsUsedBitset":7}';
    const ctx = parseQueryContext(json);
    expect(entries(json)).toEqual([
      ['path', [{ op: Op.EQUALS, expr: '/opt/widget/bin/wgtd' }]],
      ['pid', [{ op: Op.GREATER_THAN, expr: '900' }]],
    ]);
    expect(ctx.colsUsed).toEqual(['cdhash', 'path', 'pid']);
  });

  it.each([
    ['=', 2],
    ['>', 4],
    ['<=', 8],
    ['<', 16],
    ['>=', 32],
    ['MATCH', 64],
    ['LIKE', 65],
    ['GLOB', 66],
    ['REGEXP', 67],
  ])('keeps op %s (%i)', (_label, op) => {
    expect(entries(`{"constraints":[{"name":"a","list":[{"op":${op},"expr":"x"}],"affinity":"TEXT"}]}`)).toEqual([['a', [{ op, expr: 'x' }]]]);
  });

  it('accepts legacy cores: op as a string, list as ""', () => {
    const json = '{"constraints":[{"name":"path","list":[{"op":"2","expr":"/bin/ls"},{"op":"65","expr":"/usr/%"}],"affinity":"TEXT"},{"name":"pid","list":"","affinity":"INTEGER"}]}';
    expect(entries(json)).toEqual([
      [
        'path',
        [
          { op: 2, expr: '/bin/ls' },
          { op: 65, expr: '/usr/%' },
        ],
      ],
    ]);
    expect(parseQueryContext(json).colsUsed).toBeUndefined();
  });

  it('ignores unknown op codes (68 is !=) and malformed entries, keeps the rest', () => {
    const json = JSON.stringify({
      constraints: [
        { name: 'a', list: [{ op: 68, expr: 'x' }, { op: 2 }, { op: 'eq', expr: 'y' }, null, { op: 2, expr: 5 }], affinity: 'TEXT' },
        { list: [{ op: 2, expr: 'nameless' }] },
        'junk',
        { name: 'b', list: [{ op: 2, expr: 'ok' }] },
      ],
      colsUsed: ['a', 3, 'b'],
    });
    expect(entries(json)).toEqual([
      ['a', [{ op: 2, expr: '5' }]],
      ['b', [{ op: 2, expr: 'ok' }]],
    ]);
    expect(parseQueryContext(json).colsUsed).toEqual(['a', 'b']);
  });

  it('merges several entries for one column (IN on an OPTIMIZED column arrives as several op-2 entries)', () => {
    const json = '{"constraints":[{"name":"pid","list":[{"op":2,"expr":"1"},{"op":2,"expr":"2"}]},{"name":"pid","list":[{"op":2,"expr":"3"}]}]}';
    expect(constraintValues(parseQueryContext(json), 'pid')).toEqual(['1', '2', '3']);
  });

  it.each(['', 'not json', 'null', '42', '"str"', '{"constraints":"x"}', '[]'])('never throws on %j', (json) => {
    expect(parseQueryContext(json).constraints.size).toBe(0);
  });
});

describe('constraintValues', () => {
  const ctx = parseQueryContext('{"constraints":[{"name":"path","list":[{"op":2,"expr":"/bin/ls"},{"op":2,"expr":"$(rm -rf /)"},{"op":65,"expr":"/usr/%"}]},{"name":"pid","list":[{"op":4,"expr":"9"}]}]}');
  it('returns = values only, filtered by the allow pattern', () => {
    expect(constraintValues(ctx, 'path')).toEqual(['/bin/ls', '$(rm -rf /)']);
    expect(constraintValues(ctx, 'path', { allowed: /^[\w./ -]+$/ })).toEqual(['/bin/ls']);
  });
  it('is undefined when the column has no = constraint', () => {
    expect(constraintValues(ctx, 'pid')).toBeUndefined();
    expect(constraintValues(ctx, 'nope')).toBeUndefined();
  });
});

describe('constraintIntegers', () => {
  // osquery hands generate SQLite's text of the value (sqlite3_value_text): `pid = 1.0` arrives as "1.0", and SQLite
  // then keeps every row with pid 1
  const pid = (expr: string) => parseQueryContext(formatQueryContext([{ name: 'pid', type: 'INTEGER' }], [{ name: 'pid', op: Op.EQUALS, expr }]));
  it('reads = values as SQLite compares them with an INTEGER column', () => {
    expect(constraintIntegers(pid('42'), 'pid')).toEqual([42]);
    expect(constraintIntegers(pid('1.0'), 'pid')).toEqual([1]);
    expect(constraintIntegers(pid(' 1'), 'pid')).toEqual([1]);
    expect(constraintIntegers(pid('1e0'), 'pid')).toEqual([1]);
  });
  it('drops a value no integer row can equal, and is undefined without an = constraint', () => {
    expect(constraintIntegers(pid('1.5'), 'pid')).toEqual([]);
    expect(constraintIntegers(pid('abc'), 'pid')).toEqual([]);
    expect(constraintIntegers(pid(''), 'pid')).toEqual([]);
    expect(constraintIntegers(parseQueryContext(undefined), 'pid')).toBeUndefined();
  });
});

describe('formatQueryContext', () => {
  it('builds the core shape: every column sorted by name, affinity, colsUsed and bitset; parse round-trips', () => {
    const json = formatQueryContext(
      [
        { name: 'pid', type: 'INTEGER' },
        { name: 'cdhash', type: 'TEXT' },
        { name: 'path', type: 'TEXT' },
      ],
      [{ name: 'path', op: Op.LIKE, expr: '/Applications/%' }],
      ['path', 'pid'],
    );
    expect(JSON.parse(json)).toEqual({
      constraints: [
        { name: 'cdhash', list: [], affinity: 'TEXT' },
        { name: 'path', list: [{ op: 65, expr: '/Applications/%' }], affinity: 'TEXT' },
        { name: 'pid', list: [], affinity: 'INTEGER' },
      ],
      colsUsed: ['path', 'pid'],
      colsUsedBitset: 0b101,
    });
    expect(entries(json)).toEqual([['path', [{ op: 65, expr: '/Applications/%' }]]]);
  });
});
