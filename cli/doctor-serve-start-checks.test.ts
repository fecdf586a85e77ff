/**
 * docs/deploy.md §6: `outflow doctor --config FILE` checks what `fleet serve` checks at start. serve reads every webhook
 * sink's secret_file at start (exit 2 when it cannot) and opens every tailed file to read it: doctor must fail on both
 * too, not pass ("all required checks passed") a config serve then refuses, or a file the service user cannot read.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify as yaml } from 'yaml';
import { REPO_ROOT } from '../test/helpers/cli.js';
import { runDoctorChecks } from './doctor.js';

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'doctor-serve-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, fleet: Record<string, unknown>): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml({ fleet: { store: path.join(dir, `${name}.db`), http: { enabled: false }, ...fleet } }));
  return file;
}

const webhook = (secretFile: string) => ({ type: 'webhook', url: 'https://siem.example.com/hooks/outflow', secret_file: secretFile, spool_dir: path.join(dir, 'spool') });
const env = { OUTFLOW_PLATFORM: 'linux' };

it('a webhook secret_file that is not there fails doctor, as it fails serve at start', async () => {
  const checks = await runDoctorChecks({ config: config('no-secret.yml', { sinks: [webhook(path.join(dir, 'missing-secret'))] }) }, env);
  expect(checks.find((c) => c.name === 'fleet:sinks')).toMatchObject({ status: 'fail', required: true, detail: expect.stringContaining('cannot read fleet.sinks.0.secret_file') });
});

it('a webhook secret_file shorter than 16 characters fails doctor; a good one adds no failure', async () => {
  const short = path.join(dir, 'short-secret');
  writeFileSync(short, 'abc\n');
  const shortChecks = await runDoctorChecks({ config: config('short-secret.yml', { sinks: [webhook(short)] }) }, env);
  expect(shortChecks.find((c) => c.name === 'fleet:sinks')).toMatchObject({ status: 'fail', detail: expect.stringContaining('fewer than 16 characters') });

  const good = path.join(dir, 'good-secret');
  writeFileSync(good, `${'s'.repeat(32)}\n`);
  const goodChecks = await runDoctorChecks({ config: config('good-secret.yml', { sinks: [webhook(good)] }) }, env);
  expect(goodChecks.find((c) => c.name === 'fleet:sinks')).toBeUndefined();
});

it('an inline webhook secret short once trimmed, and a file sink path that is a directory, fail doctor as they fail serve', async () => {
  const inline = { type: 'webhook', url: 'https://siem.example.com/hooks/outflow', secret: `${' '.repeat(12)}abcdef${' '.repeat(12)}`, spool_dir: path.join(dir, 'spool-inline') };
  const checks = await runDoctorChecks({ config: config('inline-and-dir.yml', { sinks: [inline, { type: 'file', path: dir }] }) }, env);
  const sinks = checks.find((c) => c.name === 'fleet:sinks');
  expect(sinks).toMatchObject({ status: 'fail', required: true });
  expect(sinks!.detail).toContain('fleet.sinks.0.secret is shorter than 16 characters');
  expect(sinks!.detail).toContain(`fleet.sinks.1.path ${dir} is a directory`);
});

it('a tailed file the service user cannot read fails fleet:files, as serve cannot open it', async () => {
  if (process.getuid?.() !== 0) {
    const log = path.join(dir, 'osqueryd.results.log');
    writeFileSync(log, '');
    chmodSync(log, 0o000);
    const checks = await runDoctorChecks({ config: config('unreadable.yml', { ingest: { files: [log] } }) }, env);
    expect(checks.find((c) => c.name === 'fleet:files')).toMatchObject({ status: 'fail', detail: expect.stringContaining('EACCES') });
    return;
  }
  // root reads any file: run doctor as nobody, as the service user would be, on osqueryd's 0640 root:root result log
  const open = mkdtempSync(path.join(tmpdir(), 'doctor-service-user-'));
  try {
    chmodSync(open, 0o755);
    const log = path.join(open, 'osqueryd.results.log');
    writeFileSync(log, '', { mode: 0o640 });
    const file = path.join(open, 'fleet.yml');
    writeFileSync(file, yaml({ fleet: { store: path.join(open, 'fleet.db'), http: { enabled: false }, ingest: { files: [log] } } }), { mode: 0o644 });
    const scratch = path.join(open, 'tmp'); // nobody's own temp dir (tsx keeps its cache there)
    mkdirSync(scratch, { mode: 0o777 });
    chmodSync(scratch, 0o777);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'cli/main.ts'), 'doctor', '--config', file], {
      uid: 65534,
      gid: 65534,
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...env, HOME: scratch, TMPDIR: scratch },
      timeout: 60_000,
    });
    expect(`${r.stdout}${r.stderr}`).toMatch(/FAIL +fleet:files +cannot reach: \S+osqueryd\.results\.log \(EACCES: not readable by this user\)/);
    expect(r.status).toBe(1);
  } finally {
    rmSync(open, { recursive: true, force: true });
  }
}, 90_000);

it('a cron expression node-cron refuses fails doctor, as serve refuses it at start (exit 2)', async () => {
  const bad = await runDoctorChecks({ config: config('bad-cron.yml', { scheduler: { rollup: { cron: '61 * * * *' } } }) }, env);
  expect(bad.find((c) => c.name === 'fleet:scheduler')).toMatchObject({ status: 'fail', required: true, detail: expect.stringContaining('fleet.scheduler.rollup.cron') });
  const good = await runDoctorChecks({ config: config('good-cron.yml', { scheduler: { rollup: { cron: '7 * * * *' } } }) }, env);
  expect(good.find((c) => c.name === 'fleet:scheduler')).toBeUndefined();
});

it('a tailed path that is a directory or a named pipe fails fleet:files, as serve tails regular files only', async () => {
  const logDir = path.join(dir, 'osquery-logs');
  mkdirSync(logDir);
  const fifo = path.join(dir, 'results.fifo');
  spawnSync('mkfifo', [fifo]);
  const checks = await runDoctorChecks({ config: config('not-regular.yml', { ingest: { files: [logDir, fifo] } }) }, env);
  const files = checks.find((c) => c.name === 'fleet:files');
  expect(files).toMatchObject({ status: 'fail' });
  expect(files?.detail).toContain(`${logDir} (a directory`);
  expect(files?.detail).toContain(`${fifo} (a named pipe`);
});

it('a bad cron expression of a job serve does not schedule (disabled, or the scheduler off) does not fail doctor', async () => {
  const off = await runDoctorChecks({ config: config('cron-scheduler-off.yml', { scheduler: { enabled: false, rollup: { cron: '61 * * * *' } } }) }, env);
  expect(off.find((c) => c.name === 'fleet:scheduler')).toBeUndefined();
  const jobOff = await runDoctorChecks({ config: config('cron-job-off.yml', { scheduler: { rollup: { enabled: false, cron: '61 * * * *' } } }) }, env);
  expect(jobOff.find((c) => c.name === 'fleet:scheduler')).toBeUndefined();
  const other = await runDoctorChecks({ config: config('cron-other-job.yml', { scheduler: { rollup: { enabled: false }, retention: { cron: '0 0 0 * *' } } }) }, env);
  expect(other.find((c) => c.name === 'fleet:scheduler')).toMatchObject({ status: 'fail', detail: expect.stringContaining('fleet.scheduler.retention.cron') });
});

it('a config for fleet ingest alone (no http key) reports a bad sink or cron without failing doctor, as its other fleet checks do', async () => {
  const file = path.join(dir, 'ingest-only.yml');
  writeFileSync(file, yaml({ fleet: { store: path.join(dir, 'ingest-only.db'), sinks: [webhook(path.join(dir, 'missing-secret'))], scheduler: { rollup: { cron: '61 * * * *' } } } }));
  const checks = await runDoctorChecks({ config: file }, env);
  expect(checks.find((c) => c.name === 'fleet:sinks')).toMatchObject({ status: 'fail', required: false });
  expect(checks.find((c) => c.name === 'fleet:scheduler')).toMatchObject({ status: 'fail', required: false });
});
