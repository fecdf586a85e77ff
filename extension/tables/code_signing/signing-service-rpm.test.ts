/**
 * The Linux signing service with rpm (no dpkg-query): a fake rpm in a tools dir of its own prints what rpm 4.18
 * prints for `rpm -qf --queryformat '%{NAME}\n' PATH…` (an owner or `file P is not owned by any package` per path on
 * stdout, `error: file P: No such file or directory` on stderr for a missing one) and exits with the number of paths
 * it found no owner for.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import type { SigningService } from '../../runtime/context.js';
import { HealthRegistry } from '../../runtime/health.js';
import { ToolRunner } from '../../runtime/tools.js';
import { createSigningService, signingHealthComponent } from './signing-service.js';

const FAKE_RPM = `#!${process.execPath}
const owners = JSON.parse(process.env.OUTFLOW_FAKE_RPM_OWNERS || '{}');
const { existsSync } = require('node:fs');
const paths = process.argv.slice(2).filter((a, i, all) => a !== '-qf' && a !== '--queryformat' && all[i - 1] !== '--queryformat');
let failed = 0;
for (const p of paths) {
  if (!existsSync(p)) { process.stderr.write('error: file ' + p + ': No such file or directory\\n'); failed++; }
  else if (owners[p]) process.stdout.write(owners[p] + '\\n');
  else { process.stdout.write('file ' + p + ' is not owned by any package\\n'); failed++; }
}
process.exit(failed);
`;

let dir: string;
let files: string;
const services: SigningService[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'signing-rpm-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { mode: 0o700 });
  writeFileSync(path.join(bin, 'rpm'), FAKE_RPM);
  chmodSync(path.join(bin, 'rpm'), 0o755);
  files = path.join(dir, 'files');
  mkdirSync(files);
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  delete process.env.OUTFLOW_FAKE_RPM_OWNERS;
  rmSync(dir, { recursive: true, force: true });
});

describe('linux signing service with rpm', () => {
  it('an owned binary is `package` when other paths of its batch are unowned (rpm exits 2, not an error)', async () => {
    const [owned, a, b] = ['sshd', 'tool-a', 'tool-b'].map((n) => path.join(files, n));
    for (const f of [owned!, a!, b!]) writeFileSync(f, 'x');
    process.env.OUTFLOW_FAKE_RPM_OWNERS = JSON.stringify({ [owned!]: 'openssh-server' });
    const health = new HealthRegistry('linux', 't');
    const service = createSigningService({
      platform: 'linux',
      tools: new ToolRunner({ platform: 'linux', toolDir: path.join(dir, 'bin') }),
      config: parseConfig({}),
      clock: fixedClock(1_800_000_000),
      health,
      log: silentLogger(),
    });
    services.push(service);
    service.request([owned!, a!, b!]);
    await service.idle();
    expect(service.lookup(owned!)).toMatchObject({ signature_class: 'package', signing_id: 'openssh-server' });
    expect(service.lookup(a!)!.signature_class).toBe('unknown');
    expect(health.rows().find((r) => r.component === signingHealthComponent('linux'))!.state).toBe('running');
  });
});
