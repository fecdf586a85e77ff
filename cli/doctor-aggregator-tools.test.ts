/**
 * docs/deploy.md §6 has the admin run `outflow doctor --config /etc/outflow/fleet.yml` on the aggregator server and
 * fix what it reports. fleet serve runs none of the extension's tools (ss, dpkg-query, tcpdump): on a server without
 * them doctor must say so without failing (exit 1 "required check(s) failed") a host that serve runs on fine. With an
 * endpoint config (no fleet section) or none, a missing ss still fails, as the extension needs it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FAKE_TOOLS_DIR } from '../test/helpers/cli.js';
import { runDoctorChecks } from './doctor.js';

const dir = mkdtempSync(path.join(tmpdir(), 'doctor-aggregator-tools-'));
// no tool in it: a server without iproute2, tcpdump or dpkg
const noTools = mkdtempSync(path.join(tmpdir(), 'doctor-no-tools-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(noTools, { recursive: true, force: true });
});
const env = { OUTFLOW_PLATFORM: 'linux', OUTFLOW_TOOL_DIR: noTools };

it('an aggregator config (a fleet section) does not fail doctor over the missing endpoint tools', async () => {
  const config = path.join(dir, 'fleet.yml');
  writeFileSync(config, `fleet:\n  store: ${path.join(dir, 'outflow.db')}\n  http: { enabled: false }\n`);
  const checks = await runDoctorChecks({ config }, env);
  expect(checks.find((c) => c.name === 'tool:ss')).toMatchObject({ status: 'warn', required: false });
  expect(checks.filter((c) => c.required && c.status === 'fail')).toEqual([]);
});

it('an endpoint config (no fleet section) still fails doctor without ss', async () => {
  const config = path.join(dir, 'outflow.yaml');
  writeFileSync(config, 'dns_names:\n  enabled: false\n');
  const checks = await runDoctorChecks({ config }, env);
  expect(checks.find((c) => c.name === 'tool:ss')).toMatchObject({ status: 'fail', required: true });
});

it('a fleet section in the config of a host doctor checks the osquery extension on (--socket, --extensions-load) does not relax the tools', async () => {
  // one YAML file serves the extension and the aggregator (docs/config.md): an endpoint's outflow.yaml may have one
  const config = path.join(dir, 'shared.yml');
  writeFileSync(config, `fleet:\n  store: ${path.join(dir, 'shared.db')}\n  http: { enabled: false }\n`);
  const bySocket = await runDoctorChecks({ config, socket: path.join(dir, 'osquery.em') }, env);
  expect(bySocket.find((c) => c.name === 'tool:ss')).toMatchObject({ status: 'fail', required: true });
  const byAutoload = await runDoctorChecks({ config, extensionsLoad: path.join(dir, 'extensions.load') }, env);
  expect(byAutoload.find((c) => c.name === 'tool:ss')).toMatchObject({ status: 'fail', required: true });
});

it("on a Mac that only runs fleet serve, eslogger refusing a non-root doctor is a warning; on an endpoint it fails", async () => {
  const darwin = { OUTFLOW_PLATFORM: 'darwin', OUTFLOW_TOOL_DIR: FAKE_TOOLS_DIR };
  process.env.OUTFLOW_FAKE_ESLOGGER_DENY = 'not_privileged';
  try {
    const aggregator = path.join(dir, 'mac-fleet.yml');
    writeFileSync(aggregator, `fleet:\n  store: ${path.join(dir, 'mac.db')}\n  http: { enabled: false }\n`);
    const checks = await runDoctorChecks({ config: aggregator }, darwin);
    expect(checks.find((c) => c.name === 'eslogger:permission')).toMatchObject({ status: 'warn', required: false, detail: expect.stringContaining('needs root') });
    const endpoint = path.join(dir, 'mac-outflow.yaml');
    writeFileSync(endpoint, 'dns_names:\n  enabled: false\n');
    expect((await runDoctorChecks({ config: endpoint }, darwin)).find((c) => c.name === 'eslogger:permission')).toMatchObject({ status: 'fail', required: true });
  } finally {
    delete process.env.OUTFLOW_FAKE_ESLOGGER_DENY;
  }
});
