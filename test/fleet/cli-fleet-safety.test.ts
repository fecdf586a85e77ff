/**
 * The fleet CLI against what hosts send and where output goes: host-sent text in table output,
 * a reader that goes away, a mistyped --store for finalize, and number options.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateFleet, type SimulatedFleet } from '../../scripts/simulate-fleet.js';
import { cliArgs, REPO_ROOT, runOutflow } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'fleet-cli-safety-'));
const store = path.join(dir, 'outflow.db');
let fleet: SimulatedFleet;
let hostname: string;

beforeAll(async () => {
  fleet = simulateFleet({ hosts: 20, days: 9, seed: 7, files: 1 });
  // The AN0990 victim's Mac names itself with a newline and an escape sequence (a host controls its hostname).
  hostname = fleet.scenarios.find((s) => s.analytic === 'AN0990' && s.fires)!.hostname;
  const hostile = JSON.stringify(`${hostname}\nFAKE ROW \u001b[2J`);
  mkdirSync(path.join(dir, 'logs'));
  const file = path.join(dir, 'logs', 'osquery_result.log');
  writeFileSync(file, fleet.files[0]!.map((l) => l.split(JSON.stringify(hostname)).join(hostile)).join('\n') + '\n');
  const r = await runOutflow(['fleet', 'ingest', '--store', store, '--flush', '--json', file], { timeoutMs: 120_000 });
  expect(r.code).toBe(0);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet CLI: host-sent text, pipes and options', () => {
  it('detections --format table keeps one row per detection and emits no raw control characters from host-sent text', async () => {
    const json = await runOutflow(['fleet', 'detections', '--store', store, '--format', 'json'], { timeoutMs: 60_000 });
    const n = json.stdout.trim().split('\n').length;
    expect(json.stdout).toContain('FAKE ROW'); // the hostile hostname did reach a detection
    const table = await runOutflow(['fleet', 'detections', '--store', store, '--format', 'table'], { timeoutMs: 60_000 });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    // header + one line per detection + the count line
    expect(lines).toHaveLength(n + 2);
    expect(table.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  }, 120_000);

  it('detections piped into a reader that has gone (| head, | true) ends quietly, without an EPIPE stack trace', async () => {
    const child = spawn(process.execPath, cliArgs(['fleet', 'detections', '--store', store, '--format', 'ocsf']), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy(); // the reader is gone before the CLI writes, as with `outflow fleet detections | true`
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/Unhandled 'error' event|EPIPE/);
    expect(code).toBe(0);
  }, 60_000);

  it('ingest --json into a reader that has gone ends with the ingest\'s own exit code, without an EPIPE stack trace', async () => {
    const file = path.join(dir, 'epipe.log');
    writeFileSync(file, 'not a result line\n');
    const child = spawn(process.execPath, cliArgs(['fleet', 'ingest', '--store', path.join(dir, 'epipe.db'), '--json', '--quarantine', path.join(dir, 'epipe-q.ndjson'), file]), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy(); // `outflow fleet ingest --json FILE | true`
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/Unhandled 'error' event|EPIPE/);
    // every line quarantined: exit 3 (nothing usable), not 0 and not a crash
    expect(code).toBe(3);
  }, 60_000);

  it('finalize does not create a store that is not there (a mistyped --store)', async () => {
    const missing = path.join(dir, 'mistyped.db');
    const r = await runOutflow(['fleet', 'finalize', '--store', missing], { timeoutMs: 60_000 });
    expect(existsSync(missing)).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no store at/);
  }, 60_000);

  it('prevalence --hosts refuses an empty value instead of reading it as 0', async () => {
    const r = await runOutflow(['fleet', 'prevalence', 'destination', 'quiet-harbor.io', '--store', store, '--hosts', ''], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--hosts/);
  }, 60_000);

  it('ingest refuses a quarantine file whose directory is not there, before it reads anything or makes a store', async () => {
    const bad = path.join(dir, 'garbage.log');
    writeFileSync(bad, 'not a result line\n');
    const q = path.join(dir, 'no-such-dir', 'q.ndjson');
    const qStore = path.join(dir, 'q.db');
    const r = await runOutflow(['fleet', 'ingest', '--store', qStore, '--quarantine', q, bad], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot write the quarantine file ${q}`);
    expect(r.stderr).not.toContain(`reasons in ${q}`);
    expect(existsSync(qStore)).toBe(false);
  }, 60_000);
});
