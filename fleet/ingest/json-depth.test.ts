import { describe, expect, it } from 'vitest';
import { decodeIngestBody } from '../api/ingest-body.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { parseResultLine } from './parse-result-log.js';

const pad = (text: string) => `{"pad":"${'x'.repeat(70_000)}","v":${text}}`;
const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('nestsDeeperThan', () => {
  it('counts arrays and objects inside one another, not brackets inside strings, whatever they escape', () => {
    // the pad object is one level: MAX_JSON_DEPTH - 1 arrays inside it are exactly the limit
    expect(nestsDeeperThan(pad(nested(MAX_JSON_DEPTH - 1)))).toBe(false);
    expect(nestsDeeperThan(pad(nested(MAX_JSON_DEPTH)))).toBe(true);
    expect(nestsDeeperThan(pad(`{"a":{"b":${nested(MAX_JSON_DEPTH - 2)}}}`))).toBe(true);
    expect(nestsDeeperThan(pad(`"${'['.repeat(500)}"`))).toBe(false);
    // an escaped quote does not end the string: the brackets after it are still inside it
    expect(nestsDeeperThan(pad(`"\\"${'{'.repeat(500)}"`))).toBe(false);
    // an escaped backslash does: the brackets after the string are not
    expect(nestsDeeperThan(pad(`["\\\\",${nested(MAX_JSON_DEPTH)}]`))).toBe(true);
    // siblings do not add up
    expect(nestsDeeperThan(pad(`[${Array.from({ length: 200 }, () => nested(10)).join(',')}]`))).toBe(false);
  });

  it('leaves short text alone: its parse is cheap at any depth', () => {
    expect(nestsDeeperThan(nested(1000))).toBe(false);
  });
});

describe('result lines and ingest bodies nested past the limit', () => {
  const line = (columns: string) => `{"name":"pack/Global/outflow_flows","hostIdentifier":"h","unixTime":1772409600,"counter":1,"action":"added","columns":${columns}}`;

  it('a line is refused, with the reason, before JSON.parse builds it', () => {
    expect(parseResultLine(line(pad(nested(1_000_000))))).toEqual({ ok: false, reason: `not a result line: JSON nested deeper than ${MAX_JSON_DEPTH} levels` });
    // a long line of ordinary depth is parsed as before
    expect(parseResultLine(line(pad('{"k":"v"}'))).ok).toBe(true);
  });

  it('a wrapper body is parsed whole, one deep line among others judged alone; an NDJSON body line by line', () => {
    // (the parse of a wrapper body pays for the depth: a line inside it is one host's, the body every host's)
    const arr = decodeIngestBody(`[${line('{"k":"v"}')},${line(pad(nested(10_000)))}]`);
    expect(arr).toMatchObject({ shape: 'array', lines: [{ name: 'pack/Global/outflow_flows' }, { name: 'pack/Global/outflow_flows' }] });
    const ok = line('{"k":"v"}');
    const body = `${ok}\n${line(pad(nested(100_000)))}\n${ok}\n`;
    const decoded = decodeIngestBody(body);
    expect(decoded.shape).toBe('ndjson');
    expect(decoded.lines).toHaveLength(3);
    expect(decoded.lines.map((l) => parseResultLine(l).ok)).toEqual([true, false, true]);
  });
});
