/**
 * Another tenant of a shared service is a destination of its own: an upload to an attacker's
 * Microsoft 365 tenant or tunnel must not inherit the prevalence of the fleet's own tenant there.
 */
import { describe, expect, it } from 'vitest';
import { APPS } from '../../scripts/simulate-fleet.js';
import { DAY, HOUR, MiB, T0, candidateLine, destinationLine, hostsOf, memoryStore, runPipeline, statusLines } from './fleet-helpers.js';

describe('tenant destinations through the whole pipeline', () => {
  it.each([
    ['contoso-my.sharepoint.com', 'attacker-my.sharepoint.com'],
    ['dev-tunnel.ngrok-free.dev', 'attacker.ngrok-free.dev'],
    ['dev-tunnel.ngrok-free.app', 'attacker.ngrok-free.app'],
  ])("AN1415 without precursor: 30 MiB to %s's neighbour %s is rare and fires (medium)", async (everyone, attacker) => {
    const hosts = hostsOf(100);
    const at = T0 + 10 * DAY;
    const lines = [...statusLines(hosts, T0), ...statusLines(hosts, at - HOUR)];
    // 40 colleagues use their own company's tenant
    for (let i = 1; i <= 40; i++) lines.push(destinationLine(hosts[i]!, at - 2 * DAY, everyone));
    // host 0: rclone uploads 30 MiB to the attacker's tenant
    lines.push(candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.rclone, remote_address: '192.0.2.77', server_name: attacker, bytes_out: 30 * MiB, first_seen: at - 200 }, at));
    const store = await memoryStore();
    try {
      const run = await runPipeline(store, [lines]);
      expect(run.finalized.examined).toBe(1);
      expect(run.detections.map((d) => [d.destination_key, d.branch, d.severity])).toEqual([[attacker, 'rare_and_upload', 'medium']]);
    } finally {
      await store.close();
    }
  }, 60_000);
});
