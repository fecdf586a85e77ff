/**
 * Stdin text that starts with a UTF-8 byte-order mark (a log saved by a Windows editor, or piped out of
 * PowerShell) has its first line quarantined as "not JSON"; POST /v1/ingest drops the BOM (fleet/api/ingest-body.ts).
 */
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { ingestStream } from '../../fleet/ingest/stream-source.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';

const line = (host: string) =>
  JSON.stringify({ name: 'pack/Global/outflow_status', hostIdentifier: host, unixTime: 1772531580, counter: 1, action: 'added', columns: { component: 'nettop', state: 'running' } });

it('a UTF-8 BOM at the start of stdin does not cost the first line', async () => {
  const store = await openSqliteStore(':memory:');
  try {
    const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig() });
    // the BOM's three bytes split across chunks, as a pipe may deliver them
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${line('h1')}\r\n${line('h2')}\r\n`)]);
    const r = await ingestStream(Readable.from([bytes.subarray(0, 2), bytes.subarray(2)]), { ingest });
    expect({ accepted: r.accepted, quarantined: r.quarantined }).toEqual({ accepted: 2, quarantined: 0 });
  } finally {
    await store.close();
  }
});

