/**
 * Fleet batches many hosts' result lines into one webhook (or Kafka REST) body: one line nested past
 * MAX_JSON_DEPTH (json-depth.ts) must be quarantined on its own, as an NDJSON body's is, not take every other
 * host's line in the body with it.
 */
import { describe, expect, it } from 'vitest';
import { parseResultLine } from '../ingest/parse-result-log.js';
import { decodeIngestBody } from './ingest-body.js';

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const line = (host: string, columns: unknown) => ({ name: 'pack/Global/outflow_flows', hostIdentifier: host, unixTime: 1772409600, counter: 1, action: 'added', columns });
const deepLine = `{"name":"pack/Global/outflow_flows","hostIdentifier":"evil","unixTime":1772409600,"counter":1,"action":"added","columns":${nested(100_000)}}`;
const good = Array.from({ length: 3 }, (_, i) => JSON.stringify(line(`host-${i}`, { k: 'v' })));

describe('a wrapper body holding one line nested too deep', () => {
  it.each([
    ['webhook', (lines: string[]) => `{"timestamp":"2026-03-02T00:00:00Z","details":[${lines.join(',')}]}`],
    ['kafka', (lines: string[]) => `{"records":[${lines.map((l) => `{"value":${l}}`).join(',')}]}`],
  ])('%s: the other hosts\' lines are still taken', (shape, wrap) => {
    const decoded = decodeIngestBody(wrap([good[0]!, deepLine, good[1]!, good[2]!]));
    expect(decoded.shape).toBe(shape);
    expect(decoded.lines).toHaveLength(4);
    expect(decoded.lines.map((l) => parseResultLine(l).ok)).toEqual([true, false, true, true]);
  });
});
