/**
 * Known noise, pinned (a trade-off, not fixed: docs/analytics.md, "Known noise"; a change that removes it updates both): a developer CLI reading its own credential file
 * and then talking to its own service. `aws s3 cp build.tar.gz s3://team-artifacts/` reads ~/.aws/credentials and
 * ~/.aws/config (dev_credentials, tier 1; the rule has no authorized reader) and uploads to the bucket's own host name,
 * which the fleet keys by its full FQDN (shared storage): a bucket a handful of hosts use is a rare destination. The
 * read is 2 s before the upload; AN0990 fires rare_destination, high by the rare destination alone (60 + 15 ≥ 73, so
 * the close precursor's floor adds nothing). Every `aws
 * s3 cp`, `docker push` (~/.docker/config.json), `gh release upload` (~/.config/gh/hosts.yml), `npm publish`
 * (~/.npmrc), `az storage blob upload` (~/.azure) is the same story.
 */
import { describe, expect, it } from 'vitest';
import { ANALYTICS } from '../../../src/analytics/index.js';
import { candidate, fleetFacts } from '../../../src/analytics/testing/facts.js';
import { destinationKey } from '../../../src/classify/destination.js';
import { defaultAnalyticsConfig } from '../../../src/config/analytics.js';
import { recordedSensitive } from '../../collectors/eslogger/testing/test-context.js';
import { body, esLine } from '../../collectors/eslogger/testing/es-lines.mjs';
import { correlate } from './correlate.js';
import { MiB, NOW, TERMINAL, TERMINAL_SIGNING, ZSH, buildWorld } from './testing/world.js';

const HOME = '/Users/alice';
const AWS = '/usr/local/aws-cli/aws';
const BUCKET_HOST = 'team-artifacts.s3.us-east-1.amazonaws.com';

describe('`aws s3 cp` from a Terminal tab (the CLI reads its own ~/.aws credentials, then uploads to the bucket)', () => {
  // AWS CLI v2's installer puts a PyInstaller binary there; its signature does not matter here (no reader of ~/.aws
  // is authorized), so it is taken as ad hoc and no vendor id is claimed
  const aws = { pid: 830, ppid: 810, path: AWS, signingId: 'aws', teamId: null, startMs: (NOW - 55) * 1000, tty: '/dev/ttys001' };
  const sensitive = recordedSensitive(NOW, [
    esLine({ kind: 'open', timeMs: (NOW - 52) * 1000, gseq: 1, process: aws, body: body.open(`${HOME}/.aws/config`) }),
    esLine({ kind: 'open', timeMs: (NOW - 52) * 1000 + 3, gseq: 2, process: aws, body: body.open(`${HOME}/.aws/credentials`) }),
  ]);
  const start = sensitive[0]?.process_start ?? NOW - 55;
  const world = buildWorld({
    processes: [TERMINAL, ZSH, { pid: 830, processStart: start, ppid: 810, path: AWS, signingId: 'aws', cdhash: 'C0FFEE00112233445566778899AABBCCDDEEFF00' }],
    signing: [...TERMINAL_SIGNING, { path: AWS, cls: 'adhoc', signingId: 'aws', cdhash: 'c0ffee00112233445566778899aabbccddeeff00' }],
    flows: [{ pid: 830, processStart: start, remote: '52.217.10.20', bytesOut: 40 * MiB, bytesIn: 300_000, firstSeen: NOW - 50, lastSeen: NOW - 10 }],
    sensitive,
  });

  it('the read is recorded as a tier-1 dev_credentials access (what a stealer reading ~/.aws makes too)', () => {
    expect(sensitive).toMatchObject([
      { category: 'dev_credentials', tier: 1, operation: 'open' },
      { category: 'dev_credentials', tier: 1, operation: 'open' },
    ]);
  });

  it('is a high AN0990 rare_destination detection for every upload to a team bucket (known noise)', () => {
    const rows = correlate(world).rows.filter((r) => r.analytic === 'AN0990');
    expect(rows).toHaveLength(1);
    const key = destinationKey(BUCKET_HOST, '52.217.10.20');
    expect(key).toBe(BUCKET_HOST);
    const v = ANALYTICS.AN0990.finalize(
      candidate({ ...rows[0]!, server_name: BUCKET_HOST, process_chain: JSON.parse(rows[0]!.process_chain) }),
      fleetFacts({ destinationKey: key, destinationHosts: 2 }),
      defaultAnalyticsConfig(),
    );
    expect(v).toMatchObject({ fire: true, branch: 'rare_destination', severity: 'high' });
  });
});
