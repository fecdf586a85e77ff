/**
 * A line in osquery's own member order goes through readResultLine first (ingest-service.ts), which JSON.parses
 * its rows value on its own: a deeply nested rows value must not reach JSON.parse there either.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';
import { parseResultLine } from './parse-result-log.js';
import { readResultLine } from './read-result-line.js';

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const head = '{"name":"pack/Global/outflow_flows","hostIdentifier":"h","calendarTime":"Mon Mar  2 00:00:00 2026 UTC","unixTime":1772409600,"epoch":0,"counter":1,"numerics":false,';

describe('deep rows in a line laid out as osquery writes it', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ['snapshot', `${head}"snapshot":${nested(500_000)}}`],
    ['columns', `${head}"columns":${nested(500_000)},"action":"added"}`],
    ['diffResults', `${head}"diffResults":${nested(500_000)}}`],
  ])('%s: nothing nested past the limit is handed to JSON.parse, and the line is refused for its depth', (_kind, line) => {
    const parse = vi.spyOn(JSON, 'parse');
    const r = readResultLine(line) ?? parseResultLine(line);
    const deepParses = parse.mock.calls.filter(([text]) => typeof text === 'string' && nestsDeeperThan(text));
    expect(deepParses.map(([text]) => (text as string).length)).toEqual([]);
    expect(r).toEqual({ ok: false, reason: `not a result line: JSON nested deeper than ${MAX_JSON_DEPTH} levels` });
  });
});
