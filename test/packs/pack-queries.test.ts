import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../extension/tables/index.js';
import { EGRESS_CANDIDATE_COLUMNS } from '../../src/schemas/egress-candidate.js';
import { fakeDarwinEnv, jsonRows, REPO_ROOT, runOutflow } from '../helpers/cli.js';
import { writeStealerScenario } from '../e2e/stealer-scenario.js';

/**
 * Every query of the generated osquery pack is valid SQL for the local shell and returns the columns
 * the fleet expects, run through `outflow query` against the fake-tool darwin backend.
 */
interface PackQuery {
  query: string;
  platform: string;
}
const pack = JSON.parse(readFileSync(path.join(REPO_ROOT, 'packs/outflow.conf'), 'utf8')) as { discovery: string[]; queries: Record<string, PackQuery> };
const root = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'outflow-packq-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const EXPECTED_COLUMNS: Record<string, string[]> = {
  outflow_candidates: EGRESS_CANDIDATE_COLUMNS as string[],
  outflow_destinations: ['remote_address', 'remote_port', 'protocol', 'service', 'server_name', 'path', 'identity', 'bytes_out', 'bytes_in'],
  outflow_apps: ['path', 'identity', 'signature_class', 'team_id', 'signing_id', 'cdhash', 'notarized'],
  outflow_status: ['component', 'platform', 'state', 'detail', 'events', 'dropped', 'last_event', 'version'],
};

function tablesIn(sql: string): string[] {
  return [...sql.matchAll(/\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)/gi)].map((m) => m[1]!.toLowerCase());
}

describe('pack queries', () => {
  it('cover exactly the SPEC §3 queries', () => {
    expect(Object.keys(pack.queries).sort()).toEqual(Object.keys(EXPECTED_COLUMNS).sort());
  });

  it.each(Object.entries(pack.queries))('%s reads only registered tables that support its platforms', (_name, q) => {
    const byName = new Map(TABLES.map((t) => [t.name, t]));
    const tables = tablesIn(q.query);
    expect(tables.length).toBeGreaterThan(0);
    for (const t of tables) {
      const def = byName.get(t);
      expect(def, `table ${t}`).toBeDefined();
      for (const p of q.platform.split(',')) expect(def!.platforms, `${t} on ${p}`).toContain(p);
    }
  });

  it('every query runs through `outflow query` on the darwin backend with the expected columns', { timeout: 120_000 }, async () => {
    const scenario = writeStealerScenario(path.join(root, 'scenario'));
    mkdirSync(path.join(root, 'state'));
    const config = path.join(root, 'config.yaml');
    writeFileSync(config, 'flows:\n  sample_interval: 0.3\nprocesses:\n  sample_interval: 0.3\n');
    const names = Object.keys(pack.queries).sort();
    // One shell run for all statements (two cores): rows are told apart by their column sets.
    const sql = names.map((n) => pack.queries[n]!.query).join('\n');
    const r = await runOutflow(['query', '--config', config, '--collect', '1', '--format', 'json', sql], {
      env: fakeDarwinEnv(scenario.dir, path.join(root, 'state')),
      timeoutMs: 110_000,
    });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rows = jsonRows(r.stdout);
    const seen = new Map<string, Record<string, unknown>[]>();
    for (const row of rows) {
      const keys = Object.keys(row);
      const name = names.find((n) => JSON.stringify(EXPECTED_COLUMNS[n]) === JSON.stringify(keys));
      expect(name, `row with columns ${keys.join(',')}`).toBeDefined();
      seen.set(name!, [...(seen.get(name!) ?? []), row]);
    }
    for (const n of names) expect(seen.get(n)?.length ?? 0, `${n} returned no rows`).toBeGreaterThan(0);

    // outflow_destinations: one row per public destination per executable, bytes = the flow's.
    const dest = seen.get('outflow_destinations')!;
    expect(dest.map((d) => d.remote_address).sort()).toEqual(['162.125.1.20', '203.0.113.77']);
    expect(dest.find((d) => d.remote_address === '203.0.113.77')).toMatchObject({ remote_port: 443, protocol: 'tcp', service: 'tls', server_name: 'drop.quiet-harbor.io', path: '/usr/bin/curl', identity: 'team:APPLE/com.apple.curl', bytes_out: 15 * 1024 * 1024 });
    expect(seen.get('outflow_candidates')!.map((c) => c.analytic)).toEqual(expect.arrayContaining(['AN0990', 'AN1415']));
    expect(seen.get('outflow_status')!.map((s) => s.component)).toEqual(expect.arrayContaining(['nettop', 'eslogger', 'processes', 'dns_names']));
  });

  it('the discovery query looks for a table this extension registers (osquery_registry itself exists only in osquery)', () => {
    expect(pack.discovery).toHaveLength(1);
    expect(pack.discovery[0]).toContain("name = 'egress_candidates'");
    expect(TABLES.map((t) => t.name)).toContain('egress_candidates');
  });
});
