/**
 * Whole pipeline on a simulated fleet: result logs → ingest → store → finalize → detections.
 * Every injected attack fires with its branch, every hard negative stays quiet, the same logs in a
 * different file order give identical detections (re-deliveries: redelivery.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { simulateFleet, type SimulatedFleet } from '../../scripts/simulate-fleet.js';
import { canonical, memoryStore, runPipeline, type PipelineRun } from './fleet-helpers.js';

let fleet: SimulatedFleet;
let first: PipelineRun;

beforeAll(async () => {
  fleet = simulateFleet({ hosts: 45, days: 9, seed: 11, files: 3, duplicateRate: 0.02 });
  const store = await memoryStore();
  first = await runPipeline(store, fleet.files);
  await store.close();
}, 180_000);

describe('simulated fleet, 45 hosts × 9 days', () => {
  it('has scenarios for every analytic and hard negatives', () => {
    const fires = fleet.scenarios.filter((s) => s.fires).map((s) => s.analytic);
    expect(new Set(fires)).toEqual(new Set(['AN0990', 'AN1415', 'AN0425', 'AN0032', 'AN0082']));
    expect(fleet.scenarios.filter((s) => !s.fires).map((s) => s.name).sort()).toEqual(['arq-backup-normal', 'db-reset-redump', 'figma-upload-common', 'mdm-rollout']);
  });

  it('fires every injected attack with the expected branch', () => {
    for (const s of fleet.scenarios.filter((x) => x.fires)) {
      const hit = first.detections.filter((d) => d.analytic === s.analytic && d.host_id === s.host && d.destination_key === s.destination_key);
      expect(hit, s.name).toHaveLength(1);
      expect(hit[0]!.branch, s.name).toBe(s.branch);
      expect(hit[0]!.baseline_warming, s.name).toBe(false);
    }
  });

  it('stays quiet on the hard negatives and on everyday noise', () => {
    for (const s of fleet.scenarios.filter((x) => !x.fires)) {
      expect(first.detections.filter((d) => d.analytic === s.analytic && d.destination_key === s.destination_key), s.name).toEqual([]);
    }
    expect(first.detections).toHaveLength(fleet.scenarios.filter((s) => s.fires).length);
    // Benign candidates were judged, not skipped.
    expect(first.finalized.examined).toBeGreaterThan(50);
  });

  it('puts complete evidence in every detection', () => {
    for (const d of first.detections) {
      expect(d.flow.remote_address).not.toBe('');
      expect(d.flow.bytes_out).toBeGreaterThan(0);
      expect(d.process_chain.length).toBeGreaterThanOrEqual(1);
      expect(d.process.path).not.toBe('');
      expect(d.process.signature_class).not.toBe('');
      expect(d.fleet.active_hosts).toBe(45);
      expect(d.fleet.destination_hosts).toBeGreaterThanOrEqual(1);
      expect(d.fleet.rare_threshold).toBe(3);
      expect(d.suppression_key.startsWith(`${d.host_id}|${d.analytic}|`)).toBe(true);
      expect(d.attack_technique).toMatch(/^T\d{4}/);
      expect(d.hostname).toMatch(/\.local$/);
      // a process's own precursors come after it started (the demo is what a newcomer reads first)
      for (const p of d.precursors) if (p.pid === d.process.pid) expect(p.time).toBeGreaterThanOrEqual(d.process_start);
      // the score can be checked by hand: the base plus the signed modifiers, then a floor or cap they name
      let score = d.base_score!;
      for (const m of d.modifiers) {
        const [what, points] = m.split(':');
        if (what === 'floor') score = Math.max(score, Number(points));
        else if (what === 'cap') score = Math.min(score, Number(points));
        else if (/^[+-]\d+$/.test(what!)) score += Number(what);
      }
      expect(Math.max(0, Math.min(100, score)), `${d.analytic} ${d.modifiers.join(' ')}`).toBe(d.score);
    }
    // more than the bare base: some detections carry modifiers
    expect(first.detections.some((d) => d.modifiers.some((m) => /^[+-]\d+:/.test(m)) && d.score !== d.base_score)).toBe(true);
    const an0990 = first.detections.find((d) => d.analytic === 'AN0990')!;
    expect(an0990.precursors).toEqual([expect.objectContaining({ kind: 'sensitive_access', category: 'keychain', tier: 1 })]);
    expect(an0990.process_chain.map((p) => p.path)).toEqual(['/usr/bin/curl', '/bin/zsh']);
    // zsh runs everywhere: the verdict counted it only up to the common threshold, the evidence counts it all
    expect(an0990.process_chain[1]!.hosts).toBeGreaterThan(an0990.fleet.common_threshold);
    const an1415 = first.detections.find((d) => d.analytic === 'AN1415' && d.branch === 'rare_destination')!;
    // the category the extension writes for an archive precursor (correlate.ts: archive:<tool>)
    expect(an1415.precursors[0]).toMatchObject({ kind: 'archive', category: 'archive:ditto', archive_output: '/private/tmp/docs.zip' });
    expect(an1415.modifiers).toContain('+15:staging_path');
    const an0082 = first.detections.find((d) => d.analytic === 'AN0082')!;
    expect(an0082.group_root.launchd_job).toBe(true);
    expect(an0082.modifiers).toContain('+15:background_launchd_job');
    const an0032 = first.detections.find((d) => d.analytic === 'AN0032')!;
    expect(an0032.process).toMatchObject({ signature_class: 'unsigned', cdhash: '9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b', hosts: 1 });
    expect(an0032.fleet.app_hosts).toBe(1);
    const an0425 = first.detections.find((d) => d.analytic === 'AN0425')!;
    expect(an0425.modifiers).toContain('+15:raw_ip');
    expect(an0425.destination_key).toBe('203.0.113.50');
  });

  it('gives identical detections when the files arrive in another order', async () => {
    const store = await memoryStore();
    const reordered = [...fleet.files].reverse();
    const again = await runPipeline(store, reordered, { batch: 777 });
    await store.close();
    expect(JSON.stringify(canonical(again.detections))).toBe(JSON.stringify(canonical(first.detections)));
  }, 180_000);
});

/** Each injected attack fires once on its host and key with its branch, no hard negative fires, nothing else does. */
function expectExactlyTheInjected(f: SimulatedFleet, run: PipelineRun): void {
  for (const s of f.scenarios.filter((x) => x.fires)) {
    const hit = run.detections.filter((d) => d.analytic === s.analytic && d.host_id === s.host && d.destination_key === s.destination_key);
    expect(hit, s.name).toHaveLength(1);
    expect(hit[0]!.branch, s.name).toBe(s.branch);
  }
  for (const s of f.scenarios.filter((x) => !x.fires)) {
    expect(run.detections.filter((d) => d.analytic === s.analytic && d.destination_key === s.destination_key), s.name).toEqual([]);
  }
  expect(run.detections).toHaveLength(f.scenarios.filter((s) => s.fires).length);
}

describe('simulated fleet without server names (no tcpdump, DoH everywhere: destinations keyed by IP)', () => {
  it('fires every injected attack on its address, stays quiet on the hard negatives, and carries no server name', async () => {
    const ipFleet = simulateFleet({ hosts: 45, days: 9, seed: 11, files: 3, duplicateRate: 0.02, serverNames: 'none' });
    const store = await memoryStore();
    const run = await runPipeline(store, ipFleet.files);
    await store.close();
    for (const line of ipFleet.files.flat()) {
      const columns = JSON.parse(line).columns as Record<string, string> | undefined;
      expect(columns?.server_name ?? '', line.slice(0, 120)).toBe('');
      // nor the reason only a source that observes server names gives (endpoint.ts: serverNameObservable)
      expect((columns?.reasons ?? '').split(','), line.slice(0, 120)).not.toContain('raw_ip');
    }
    for (const d of run.detections) expect(d.modifiers, d.analytic).not.toContain('+15:raw_ip');
    const quiet = ipFleet.scenarios.find((s) => s.name === 'mdm-rollout')!;
    expect(quiet.destination_key).toBe('44.200.1.7');
    for (const s of ipFleet.scenarios.filter((x) => x.fires)) expect(s.destination_key, s.name).toMatch(/^[0-9.]+$/);
    expectExactlyTheInjected(ipFleet, run);
  }, 180_000);
});

describe('simulated fleet as the extension reports it with DNS answers captured (names, no handshake, no raw_ip)', () => {
  it('fires every injected attack on its domain, stays quiet on the hard negatives, and never claims a handshake or raw_ip', async () => {
    const dnsFleet = simulateFleet({ hosts: 45, days: 9, seed: 11, files: 3, duplicateRate: 0.02, serverNames: 'dns' });
    const store = await memoryStore();
    const run = await runPipeline(store, dnsFleet.files);
    await store.close();
    let named = 0;
    for (const line of dnsFleet.files.flat()) {
      const columns = JSON.parse(line).columns as Record<string, string> | undefined;
      if (columns?.server_name) named++;
      expect(columns?.service_evidence ?? 'port', line.slice(0, 120)).toBe('port');
      expect((columns?.reasons ?? '').split(','), line.slice(0, 120)).not.toContain('raw_ip');
    }
    expect(named).toBeGreaterThan(0);
    for (const d of run.detections) expect(d.modifiers, d.analytic).not.toContain('+15:raw_ip');
    expectExactlyTheInjected(dnsFleet, run);
    // the storage attack is keyed by its domain, not by an address
    expect(dnsFleet.scenarios.filter((s) => s.fires).some((s) => !/^[0-9.:]+$/.test(s.destination_key))).toBe(true);
  }, 180_000);
});
