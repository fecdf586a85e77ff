/**
 * `fleet.ingest.max_line_bytes` is a number of bytes (docs/fleet.md, Input lines): the file and stdin sources count a
 * line's bytes, and the lines HTTP (NDJSON) and NATS hand over as strings must be held to the same bytes, not to their
 * UTF-16 length, which lets a line of non-ASCII text through at up to three times the limit.
 */
import { describe, expect, it } from 'vitest';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { fixedClock } from '../../src/clock.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { T0, memoryStore } from './fleet-helpers.js';

const LIMIT = 64 * 1024;

function statusLine(detail: string): string {
  return JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: 'H-1', unixTime: T0, counter: 0, snapshot: [{ component: 'flows', state: 'degraded', detail }] });
}

describe('max_line_bytes on lines handed over as strings', () => {
  it('quarantines a line over the limit in bytes though under it in characters, and takes one within it', async () => {
    const store = await memoryStore();
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null, maxLineBytes: LIMIT, clock: fixedClock(T0 + 60) });
    const wide = statusLine('é'.repeat(40_000)); // 40 158 characters, 80 158 bytes
    const narrow = statusLine('e'.repeat(40_000));
    expect(wide.length).toBeLessThan(LIMIT);
    expect(Buffer.byteLength(wide)).toBeGreaterThan(LIMIT);
    const r = await ingest.ingestLines([wide, narrow], { kind: 'http', id: 'ndjson' });
    expect({ quarantined: r.quarantined, accepted: r.accepted }).toEqual({ quarantined: 1, accepted: 1 });
    expect((await store.quarantine.list(1))[0]!.reason).toBe(`line longer than ${LIMIT} bytes`);
    await store.close();
  });
});
