import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EgressCandidateSchema } from '../../src/schemas/egress-candidate.js';
import { fakeDarwinEnv, jsonRows, runOutflow } from '../helpers/cli.js';
import { CURL, DROPBOX, DROPBOX_UPLOAD, EXFIL, KEYCHAIN, STEALER, writeStealerScenario } from './stealer-scenario.js';

/**
 * Issue 6 end to end: the darwin backend on Linux with fake nettop, ps, codesign, spctl and eslogger
 * playing an infostealer (reads Chrome's Login Data and the keychain, ditto into /tmp, curl POSTs 15 MiB
 * over 443) next to a Dropbox upload. `outflow query "SELECT * FROM egress_candidates"` must show the
 * stealer's upload as AN0990 and AN1415 candidates and nothing for Dropbox.
 */
const root = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'outflow-stealer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('stealer vs Dropbox through `outflow query` (darwin, fake tools)', () => {
  it('the stealer upload is an AN0990 and AN1415 candidate with its lineage and precursors; Dropbox is none', { timeout: 120_000 }, async () => {
    const scenarioDir = path.join(root, 'scenario');
    const scenario = writeStealerScenario(scenarioDir);
    const config = path.join(root, 'config.yaml');
    mkdirSync(path.join(root, 'state'));
    writeFileSync(config, 'flows:\n  sample_interval: 0.3\nprocesses:\n  sample_interval: 0.3\n');
    const r = await runOutflow(
      [
        'query',
        '--config',
        config,
        '--collect',
        '1',
        '--format',
        'json',
        'SELECT * FROM egress_candidates; SELECT pid, path, bytes_out, remote_scope, service, server_name FROM process_network_flows; SELECT path, signature_class, team_id FROM code_signing',
      ],
      {
        env: fakeDarwinEnv(scenario.dir, path.join(root, 'state')),
        timeoutMs: 110_000,
      },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const rows = jsonRows(r.stdout);
    const candidates = rows.filter((x) => 'analytic' in x);
    const flows = rows.filter((x) => 'remote_scope' in x && !('analytic' in x));
    const signing = rows.filter((x) => 'signature_class' in x && !('analytic' in x));

    // Both uploads were seen, and Dropbox's code identity is known: the negative below is not vacuous.
    expect(flows.map((f) => f.pid).sort()).toEqual([DROPBOX.pid, CURL.pid].sort());
    // both flows are named after the router's answers the capture held
    expect(Object.fromEntries(flows.map((f) => [f.pid, f.server_name]))).toEqual({ [DROPBOX.pid]: DROPBOX_UPLOAD.name, [CURL.pid]: EXFIL.name });
    expect(signing.find((x) => x.path === DROPBOX.path)).toMatchObject({ signature_class: 'developer_id', team_id: 'G7HH3F8CAK' });

    for (const c of candidates) expect(EgressCandidateSchema.safeParse(c).success, JSON.stringify(c)).toBe(true);
    expect(candidates.filter((c) => c.pid === DROPBOX.pid)).toEqual([]);
    const stealerRows = candidates.filter((c) => c.pid === CURL.pid);
    const analytics = stealerRows.map((c) => c.analytic);
    expect(analytics).toEqual(expect.arrayContaining(['AN0990', 'AN1415']));

    const an0990 = stealerRows.find((c) => c.analytic === 'AN0990')!;
    expect(an0990).toMatchObject({
      path: CURL.path,
      remote_address: EXFIL.remote,
      server_name: EXFIL.name,
      remote_port: 443,
      remote_scope: 'public',
      service: 'tls',
      bytes_out: EXFIL.bytesOut,
      signature_class: 'apple_platform',
      identity: 'team:APPLE/com.apple.curl',
      group_root_pid: STEALER.pid,
      group_root_path: STEALER.path,
      browser: 0,
      sanctioned: 0,
      precursor_kind: 'sensitive_access',
      precursor_tier: 1,
      precursor_pid: STEALER.pid,
      precursor_path: KEYCHAIN,
      precursor_category: 'keychain',
      precursor_time: scenario.times.keychain,
    });
    // The keychain read came 44 s before the flow was first sampled (give the sampler a few seconds).
    expect(an0990.precursor_gap as number).toBeGreaterThanOrEqual(44);
    expect(an0990.precursor_gap as number).toBeLessThanOrEqual(44 + 30);
    const chain = JSON.parse(an0990.process_chain as string) as { pid: number; path: string; signature_class: string }[];
    expect(chain.map((l) => [l.pid, l.path])).toEqual([
      [CURL.pid, CURL.path],
      [STEALER.pid, STEALER.path],
    ]);
    expect(chain[1]!.signature_class).toBe('unsigned');
    expect(String(an0990.group_root_identity)).toMatch(/^cdhash:[0-9a-f]{40}$/);
    const reasons = String(an0990.reasons).split(',');
    expect(reasons).toEqual(expect.arrayContaining(['tier1_precursor', 'archive_precursor', 'staging_path', 'upload_shaped', 'no_return', 'non_browser', 'encrypted']));
    // a name from a DNS answer does not make an empty one evidence of a bare-IP connection: no raw_ip either way
    expect(reasons).not.toContain('raw_ip');
    expect(stealerRows.find((c) => c.analytic === 'AN1415')).toMatchObject({ precursor_kind: 'sensitive_access', precursor_pid: STEALER.pid });
  });
});
