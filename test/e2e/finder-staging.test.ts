import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EgressCandidateSchema } from '../../src/schemas/egress-candidate.js';
import { fakeDarwinEnv, jsonRows, runOutflow } from '../helpers/cli.js';
import { APP, COOKIES, COPY, CURL, DITTO, FINDER, UPLOAD, writeFinderStagingScenario } from './finder-staging-scenario.js';

/**
 * AMOS-style staging end to end: the darwin backend on Linux with fake nettop, ps, codesign, spctl and eslogger.
 * Finder duplicates Safari's cookies into the staging folder (Finder's read), the app's ditto zips the folder and its
 * curl POSTs the zip to a bare IP over HTTP. The upload is an AN0425 candidate whose precursor is ditto's read of
 * Finder's copy, in the app's own lineage group.
 */
const root = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'outflow-finder-staging-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('Finder-staged cookies posted over HTTP through `outflow query` (darwin, fake tools)', () => {
  it("the upload is an AN0425 candidate, its precursor ditto's read of Finder's copy", { timeout: 120_000 }, async () => {
    const scenario = writeFinderStagingScenario(path.join(root, 'scenario'));
    const config = path.join(root, 'config.yaml');
    mkdirSync(path.join(root, 'state'));
    writeFileSync(config, 'flows:\n  sample_interval: 0.3\nprocesses:\n  sample_interval: 0.3\n');
    const sql = 'SELECT * FROM egress_candidates; SELECT pid, operation, file_path, category, tier FROM sensitive_file_events';
    const r = await runOutflow(['query', '--config', config, '--collect', '1', '--format', 'json', sql], { env: fakeDarwinEnv(scenario.dir, path.join(root, 'state')), timeoutMs: 110_000 });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rows = jsonRows(r.stdout);
    const candidates = rows.filter((x) => 'analytic' in x);
    const reads = rows.filter((x) => 'file_path' in x && !('analytic' in x));

    expect(reads).toEqual([
      { pid: FINDER.pid, operation: 'open', file_path: COOKIES, category: 'browser_secrets', tier: 1 },
      { pid: DITTO.pid, operation: 'open', file_path: COPY, category: 'browser_secrets', tier: 1 },
    ]);
    for (const c of candidates) expect(EgressCandidateSchema.safeParse(c).success, JSON.stringify(c)).toBe(true);
    const an0425 = candidates.filter((c) => c.analytic === 'AN0425');
    expect(an0425).toEqual([
      expect.objectContaining({
        pid: CURL.pid,
        remote_address: UPLOAD.remote,
        remote_port: 80,
        service: 'http',
        bytes_out: UPLOAD.bytesOut,
        group_root_pid: APP.pid,
        precursor_kind: 'sensitive_access',
        precursor_pid: DITTO.pid,
        precursor_path: COPY,
        precursor_category: 'browser_secrets',
        precursor_tier: 1,
        precursor_time: scenario.times.dittoRead,
      }),
    ]);
    expect(String(an0425[0]!.reasons).split(',')).toEqual(expect.arrayContaining(['tier1_precursor', 'cleartext']));
  });
});
