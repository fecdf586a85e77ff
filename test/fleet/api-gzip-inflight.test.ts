/**
 * max_ingest_bytes_in_flight counts a gzip request by what it inflates to: the process holds the inflated body
 * (up to body_limit) and its parsed batch until the store commits, so counting the compressed Content-Length
 * alone let small gzip posts during a store stall hold many times the bound.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { startServe } from '../../fleet/serve.js';
import { generateFleetLines } from '../helpers/fleet-lines.js';
import { useTestDatabase } from '../helpers/pg.js';
import { MemoryStream } from './serve-fixtures.js';

// held shared for the file (test/helpers/pg.ts): the restart test cannot take the server away while it is used
const stallDatabase = useTestDatabase('api_gzip_stall');

const TOKEN = 'api-test-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('ingest bytes in flight with gzip bodies', () => {
  it('counts what a gzip body inflates to, so a stalled store does not hold N × body_limit', async () => {
    const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'gz-'));
    const db = stallDatabase();
    const serve = await startServe({
      loaded: parseConfig({
        fleet: {
          store: db.url,
          ingest: { quarantine_file: path.join(dir, 'q.ndjson') },
          http: { host: '127.0.0.1', port: 0, token: TOKEN, body_limit: 16 * 1024 * 1024, max_ingest_bytes_in_flight: 4 * 1024 * 1024 },
          sinks: [],
          scheduler: { finalize: { cron: '0 0 1 1 *' }, rollup: { cron: '0 0 1 1 *' }, retention: { cron: '0 0 1 1 *' } },
        },
      }),
      log: silentLogger(),
      stdout: new MemoryStream(),
    });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      const lines = generateFleetLines({ lines: 2000, hosts: 4, days: 1, seed: 43 });
      const plain = Array.from({ length: 6 }, () => lines.join('\n')).join('\n');
      const gz = gzipSync(plain);
      expect(plain.length).toBeGreaterThan(6 * 1024 * 1024);
      await locker.query('BEGIN; LOCK TABLE hosts IN SHARE MODE');
      const answered: number[] = [];
      const posts = Array.from({ length: 8 }, () =>
        fetch(`${serve.url}/v1/ingest`, { method: 'POST', body: gz, headers: { ...auth, 'content-encoding': 'gzip' } }).then(async (r) => {
          answered.push(r.status);
          await r.arrayBuffer();
        }),
      );
      await new Promise((r) => setTimeout(r, 4000));
      const rss = process.memoryUsage().rss;
      // 8 × 7 MiB inflated is far past the 4 MiB bound: all but the first should be refused while the store stalls
      expect(answered.filter((s) => s === 503).length).toBeGreaterThanOrEqual(7);
      await locker.query('ROLLBACK');
      await Promise.all(posts);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await serve.stop('test');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
