/**
 * `fleet.ingest.shared_suffixes` makes each name under a suffix a destination of its own (docs/fleet.md, "Destination
 * key"). The prevalence lookups (`outflow fleet prevalence destination KEY`, `GET /v1/prevalence/destinations/…`)
 * turn what was asked into "the key ingest stores": with the same suffixes, or a tenant's own key is turned into its
 * provider's registrable domain and the answer is another destination's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { runFleetCli } from '../../fleet/cli/commands.js';
import { createIngestService } from '../../fleet/ingest/ingest-service.js';
import { startServe, type RunningServe } from '../../fleet/serve.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { APPS } from '../../scripts/simulate-fleet.js';
import { MemoryStream } from './serve-fixtures.js';
import { T0, destinationLine, hostsOf } from './fleet-helpers.js';

const TOKEN = 'shared-suffix-token-0123456789abcdef';
const SUFFIX = 'files.example.com';
const TENANT = 'tenant-a.files.example.com';

let dir: string;
let db: string;
let configFile: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'prev-suffix-'));
  db = path.join(dir, 'fleet.db');
  configFile = path.join(dir, 'outflow.yml');
  writeFileSync(configFile, `fleet:\n  store: ${JSON.stringify(db)}\n  ingest:\n    shared_suffixes: [${SUFFIX}]\n`);
  const config = parseConfig({ fleet: { store: db, ingest: { shared_suffixes: [SUFFIX] } } });
  const store = await openSqliteStore(db);
  const ingest = createIngestService({ store, analytics: config.analytics, quarantineFile: null, sharedSuffixes: config.fleet.ingest.shared_suffixes, clock: { now: () => new Date(), unix: () => T0 + 3600, ms: () => Date.now() } });
  const hosts = hostsOf(3);
  // two hosts use the tenant's share, one host another page of the provider's own domain
  await ingest.ingestLines(
    [destinationLine(hosts[0]!, T0, TENANT, APPS.vscode), destinationLine(hosts[1]!, T0 + 1, TENANT, APPS.vscode), destinationLine(hosts[2]!, T0 + 2, 'www.example.com', APPS.chrome)],
    { kind: 'test', id: 'seed' },
  );
  expect((await store.prevalence.destinations([TENANT], { from: T0 - 10, to: T0 + 10 })).get(TENANT)?.hosts).toBe(2);
  await store.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a prevalence lookup keys a name under a configured shared suffix as ingest did', () => {
  it('outflow fleet prevalence destination TENANT answers for the tenant, not the provider domain', async () => {
    const out: string[] = [];
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await runFleetCli(['prevalence', 'destination', '--config', configFile, `https://${TENANT}/shared/x`]);
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    expect(code).toBe(0);
    const answer = JSON.parse(out.join(''));
    expect({ key: answer.key, hosts: answer.hosts, in_store: answer.in_store }).toEqual({ key: TENANT, hosts: 2, in_store: true });
  }, 60_000);

  it('GET /v1/prevalence/destinations/TENANT answers for the tenant, not the provider domain', async () => {
    let server: RunningServe | undefined;
    try {
      server = await startServe({
        loaded: parseConfig({
          fleet: {
            store: db,
            ingest: { quarantine_file: path.join(dir, 'q.ndjson'), shared_suffixes: [SUFFIX] },
            http: { host: '127.0.0.1', port: 0, token: TOKEN },
            sinks: [{ type: 'stdout', format: 'json' }],
            scheduler: { finalize: { cron: '0 0 1 1 *' }, rollup: { cron: '0 0 1 1 *' }, retention: { cron: '0 0 1 1 *' } },
          },
        }),
        log: silentLogger(),
        stdout: new MemoryStream(),
      });
      const res = await fetch(`${server.url}/v1/prevalence/destinations/${TENANT}?hosts=0`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as Record<string, unknown>;
      expect({ key: answer.key, hosts: answer.hosts, in_store: answer.in_store }).toEqual({ key: TENANT, hosts: 2, in_store: true });
    } finally {
      await server?.stop('test');
    }
  }, 60_000);
});
