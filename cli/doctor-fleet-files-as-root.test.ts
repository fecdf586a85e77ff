/**
 * `sudo outflow doctor --config /etc/outflow/fleet.yml` reads the tailed files, the webhook secret files, the API token
 * file and the TLS files as root, who reads any file: a pass there says nothing of the service user (User=outflow), who
 * then cannot read osqueryd's 0640 root:root result log or a 0600 root secret. doctor must say so instead of passing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { stringify as yaml } from 'yaml';

const asRoot = vi.hoisted(() => ({ value: true }));
vi.mock('../src/root-only-path.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/root-only-path.js')>()),
  runningAsRoot: () => asRoot.value,
}));

const { runDoctorChecks } = await import('./doctor.js');

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'doctor-fleet-root-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { OUTFLOW_PLATFORM: 'linux' };

function config(): string {
  const log = path.join(dir, 'osqueryd.results.log');
  writeFileSync(log, '', { mode: 0o640 });
  const secret = path.join(dir, 'webhook.secret');
  writeFileSync(secret, `${'s'.repeat(32)}\n`, { mode: 0o600 });
  const file = path.join(dir, 'fleet.yml');
  writeFileSync(
    file,
    yaml({
      fleet: {
        store: path.join(dir, 'fleet.db'),
        http: { enabled: false },
        ingest: { files: [log] },
        sinks: [{ type: 'webhook', url: 'https://siem.example.com/hooks/outflow', secret_file: secret, spool_dir: path.join(dir, 'spool') }],
      },
    }),
  );
  return file;
}

it('run as root, doctor warns that the files it read were read as root, not as the service user', async () => {
  asRoot.value = true;
  const checks = await runDoctorChecks({ config: config() }, env);
  expect(checks.find((c) => c.name === 'fleet:files')).toMatchObject({ status: 'ok' });
  expect(checks.find((c) => c.name === 'fleet:user')).toMatchObject({
    status: 'warn',
    required: false,
    detail: expect.stringMatching(/root.*the webhook secret files, the tailed files/),
    fix: expect.stringContaining('sudo -u outflow'),
  });
});

it('run as another user, doctor read the files as that user: no such warning', async () => {
  asRoot.value = false;
  const checks = await runDoctorChecks({ config: config() }, env);
  expect(checks.find((c) => c.name === 'fleet:user')).toBeUndefined();
});
