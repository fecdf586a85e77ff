/**
 * `rpm -qf` prints one line per package owning the file: a binary both multilib packages own (glib2.x86_64 and
 * glib2.i686 both ship /usr/bin/gdbus) prints two. Asked alone, such a file cannot be misaligned: every owner line is
 * its owner, and it is `package`, not `unknown`.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { HealthRegistry } from '../../runtime/health.js';
import { ToolRunner } from '../../runtime/tools.js';
import { parseRpmQf } from './parse-packages.js';
import { createSigningService } from './signing-service.js';

const FAKE_RPM = `#!${process.execPath}
const owners = JSON.parse(process.env.OUTFLOW_FAKE_RPM_OWNERS || '{}');
const paths = process.argv.slice(2).filter((a, i, all) => a !== '-qf' && a !== '--queryformat' && all[i - 1] !== '--queryformat');
let failed = 0;
for (const p of paths) {
  if (owners[p]) for (const o of owners[p]) process.stdout.write(o + '\\n');
  else { process.stdout.write('file ' + p + ' is not owned by any package\\n'); failed++; }
}
process.exit(failed);
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rpm-shared-'));
  mkdirSync(path.join(dir, 'bin'), { mode: 0o700 });
  writeFileSync(path.join(dir, 'bin', 'rpm'), FAKE_RPM);
  chmodSync(path.join(dir, 'bin', 'rpm'), 0o755);
});
afterEach(() => {
  delete process.env.OUTFLOW_FAKE_RPM_OWNERS;
  rmSync(dir, { recursive: true, force: true });
});

describe('a file two installed packages own (rpm)', () => {
  it('parseRpmQf: asked alone, both lines are its owners', () => {
    expect([...parseRpmQf('glib2\nglib2\n', ['/usr/bin/gdbus'], '').owners]).toEqual([['/usr/bin/gdbus', ['glib2']]]);
  });

  it('the signing service calls it `package`', async () => {
    const shared = path.join(dir, 'gdbus');
    const other = path.join(dir, 'tool');
    for (const f of [shared, other]) writeFileSync(f, 'x');
    process.env.OUTFLOW_FAKE_RPM_OWNERS = JSON.stringify({ [shared]: ['glib2', 'glib2'] });
    const service = createSigningService({
      platform: 'linux',
      tools: new ToolRunner({ platform: 'linux', toolDir: path.join(dir, 'bin') }),
      config: parseConfig({}),
      clock: fixedClock(1_800_000_000),
      health: new HealthRegistry('linux', 't'),
      log: silentLogger(),
    });
    try {
      service.request([shared, other]);
      await service.idle();
      expect(service.lookup(shared)).toMatchObject({ signature_class: 'package', signing_id: 'glib2', identity: 'package:glib2' });
    } finally {
      await service.stop();
    }
  });
});
