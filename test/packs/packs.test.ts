import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../../src/errors.js';
import { loadPackSource, planPacksBuild, runPacksBuild } from '../../packs/build.js';
import { parsePackSource, renderFleetReports, renderOsqueryPack } from '../../packs/pack-source.js';
import { REPO_ROOT, runOutflow } from '../helpers/cli.js';

const PACKS = path.join(REPO_ROOT, 'packs');
const SOURCE = path.join(PACKS, 'source');
const temps: string[] = [];
async function temp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'outflow-packs-'));
  temps.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('generated packs', () => {
  it('the committed packs/outflow.conf and packs/fleet/*.yml match packs/source (run `outflow packs build` after editing the source)', async () => {
    const plan = await planPacksBuild({ out: PACKS, check: true, source: SOURCE });
    expect(plan.map((p) => path.relative(PACKS, p.file)).sort()).toEqual(['fleet/outflow-labels.yml', 'fleet/outflow-reports.yml', 'outflow.conf']);
    expect(plan.filter((p) => !p.current).map((p) => p.file)).toEqual([]);
  });

  it('a source edit makes --check fail until the packs are rebuilt', async () => {
    const src = path.join(await temp(), 'source');
    const out = await temp();
    await cp(SOURCE, src, { recursive: true });
    expect(await runPacksBuild({ out, check: false, source: src })).toBe(0);
    expect(await runPacksBuild({ out, check: true, source: src })).toBe(0);
    const file = path.join(src, 'outflow_apps.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('interval: 600', 'interval: 900'));
    expect(await runPacksBuild({ out, check: true, source: src })).toBe(1);
    expect(await runPacksBuild({ out, check: false, source: src })).toBe(0);
    expect(await runPacksBuild({ out, check: true, source: src })).toBe(0);
    expect(JSON.parse(await readFile(path.join(out, 'outflow.conf'), 'utf8')).queries.outflow_apps.interval).toBe(900);
  });

  it('`outflow packs build --check` exits 0 on the repository and 1 on a stale directory', async () => {
    const ok = await runOutflow(['packs', 'build', '--check'], { timeoutMs: 60_000 });
    expect(ok.code, ok.stderr).toBe(0);
    const stale = await runOutflow(['packs', 'build', '--check', '--out', await temp()], { timeoutMs: 60_000 });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('stale:');
  });
});

describe('osquery pack JSON (SPEC §3)', () => {
  it('has the discovery query and the four queries with their intervals, logging and platforms', async () => {
    const pack = JSON.parse(await readFile(path.join(PACKS, 'outflow.conf'), 'utf8'));
    expect(pack.discovery).toEqual(["SELECT 1 FROM osquery_registry WHERE registry = 'table' AND name = 'egress_candidates';"]);
    expect(Object.keys(pack.queries).sort()).toEqual(['outflow_apps', 'outflow_candidates', 'outflow_destinations', 'outflow_status']);
    expect(pack.queries.outflow_candidates).toMatchObject({ query: 'SELECT * FROM egress_candidates;', interval: 60, removed: false });
    expect(pack.queries.outflow_destinations).toMatchObject({ interval: 300, removed: false });
    expect(pack.queries.outflow_apps).toMatchObject({
      query: 'SELECT path, identity, signature_class, team_id, signing_id, cdhash, notarized FROM code_signing;',
      interval: 600,
      removed: false,
    });
    expect(pack.queries.outflow_status).toMatchObject({ query: 'SELECT * FROM outflow_status;', interval: 3600, snapshot: true });
    for (const q of Object.values(pack.queries) as { platform: string; snapshot?: boolean }[]) {
      expect(q.platform.split(',')).toContain('darwin');
    }
    expect(pack.queries.outflow_candidates.snapshot).toBeUndefined();
  });
});

describe('Fleet GitOps reports (SPEC §3)', () => {
  it('every report has exactly the spec keys with automations on and data discarded', async () => {
    const text = await readFile(path.join(PACKS, 'fleet/outflow-reports.yml'), 'utf8');
    const reports = parseYaml(text) as Record<string, unknown>[];
    expect(reports.map((r) => r.name)).toEqual(['outflow_apps', 'outflow_candidates', 'outflow_destinations', 'outflow_status']);
    for (const r of reports) {
      expect(Object.keys(r)).toEqual(['name', 'query', 'description', 'interval', 'platform', 'logging', 'automations_enabled', 'discard_data', 'labels_include_any']);
      expect(r).toMatchObject({ automations_enabled: true, discard_data: true });
    }
    const byName = Object.fromEntries(reports.map((r) => [r.name, r]));
    expect(byName.outflow_candidates).toMatchObject({ interval: 60, logging: 'differential_ignore_removals' });
    expect(byName.outflow_destinations).toMatchObject({ interval: 300, logging: 'differential_ignore_removals' });
    expect(byName.outflow_apps).toMatchObject({ interval: 600, logging: 'differential_ignore_removals' });
    expect(byName.outflow_status).toMatchObject({ interval: 3600, logging: 'snapshot' });
  });

  it('every report is scoped to the label that the label file defines (Fleet has no pack discovery)', async () => {
    const reports = parseYaml(await readFile(path.join(PACKS, 'fleet/outflow-reports.yml'), 'utf8')) as Record<string, unknown>[];
    const labels = parseYaml(await readFile(path.join(PACKS, 'fleet/outflow-labels.yml'), 'utf8')) as { name: string }[];
    expect(labels.map((l) => l.name)).toEqual(['Outflow extension']);
    for (const r of reports) expect(r.labels_include_any, String(r.name)).toEqual([labels[0]!.name]);
  });

  it('the label file carries the discovery query as a dynamic label', async () => {
    const labels = parseYaml(await readFile(path.join(PACKS, 'fleet/outflow-labels.yml'), 'utf8')) as Record<string, unknown>[];
    expect(labels).toEqual([
      expect.objectContaining({ query: "SELECT 1 FROM osquery_registry WHERE registry = 'table' AND name = 'egress_candidates';", label_membership_type: 'dynamic' }),
    ]);
  });
});

describe('pack source validation', () => {
  const meta = { file: 'pack.yaml', data: { name: 'outflow', description: 'd', discovery: ['SELECT 1'], fleet_label: { name: 'L', description: 'd' } } };
  const q = { name: 'outflow_x', description: 'd', query: 'SELECT 1;', interval: 60, platform: ['darwin'], logging: 'snapshot' };
  it('accepts a minimal source and strips a trailing semicolon', () => {
    expect(parsePackSource([meta, { file: 'outflow_x.yaml', data: q }]).queries[0]!.query).toBe('SELECT 1');
  });
  it('scopes a Fleet report to the pack label by default and to its own labels_include_any when set', () => {
    const src = parsePackSource([
      meta,
      { file: 'outflow_x.yaml', data: q },
      { file: 'outflow_y.yaml', data: { ...q, name: 'outflow_y', labels_include_any: ['L', 'Canary Macs'] } },
    ]);
    const reports = parseYaml(renderFleetReports(src)) as { name: string; labels_include_any: string[] }[];
    expect(reports.map((r) => [r.name, r.labels_include_any])).toEqual([
      ['outflow_x', ['L']],
      ['outflow_y', ['L', 'Canary Macs']],
    ]);
    // the osquery pack scopes by discovery: the Fleet-only key never reaches its JSON
    expect(renderOsqueryPack(src)).not.toContain('labels_include_any');
  });
  it('says above the label-scoped reports that they need Fleet Premium (Fleet Free answers 402: fleetdm/fleet#41255)', () => {
    const text = renderFleetReports(parsePackSource([meta, { file: 'outflow_x.yaml', data: q }]));
    const lines = text.split('\n');
    const header = lines.slice(0, lines.findIndex((l) => !l.startsWith('#'))).join('\n');
    expect(header).toContain('needs Fleet Premium');
    expect(header).toContain('labels_include_any');
  });
  it.each([
    ['unknown logging', { ...q, logging: 'stream' }, 'logging'],
    ['interval above osquery\'s 604800 s', { ...q, interval: 700_000 }, 'interval'],
    ['no platform', { ...q, platform: [] }, 'platform'],
    ['windows platform', { ...q, platform: ['windows'] }, 'platform'],
    ['two statements', { ...q, query: 'SELECT 1; SELECT 2' }, 'query'],
    ['unknown key (typo)', { ...q, intervall: 5 }, 'intervall'],
    ['empty labels_include_any (would unscope the report)', { ...q, labels_include_any: [] }, 'labels_include_any'],
    ['labels_include_any as a string', { ...q, labels_include_any: 'L' }, 'labels_include_any'],
    ['file not named after the query', { ...q, name: 'outflow_y' }, 'outflow_y.yaml'],
  ])('rejects %s, naming the file and key', (_n, data, needle) => {
    let err: unknown;
    try {
      parsePackSource([meta, { file: 'outflow_x.yaml', data }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('outflow_x.yaml');
    expect((err as Error).message).toContain(needle);
  });
  it('the repository source loads', async () => {
    const src = await loadPackSource(SOURCE);
    expect(src.meta.name).toBe('outflow');
  });
});
