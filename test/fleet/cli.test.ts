/**
 * `outflow fleet …` through the real CLI (child processes from the sources, as users run it).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import Database from 'better-sqlite3';
import { runFleetCli } from '../../fleet/cli/commands.js';
import { runIngestCommand } from '../../fleet/cli/ingest-command.js';
import { loadMigrations } from '../../fleet/store/migrations.js';
import { parseConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { APPS, simulateFleet, writeFleet, type SimulatedFleet } from '../../scripts/simulate-fleet.js';
import { openSqliteStore } from '../../fleet/store/sqlite/sqlite-store.js';
import { runOutflow, spawnOutflow } from '../helpers/cli.js';
import { rollup } from '../../fleet/rules/maintenance.js';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { DAY, MiB, T0, candidateLine, destinationLine, hostsOf, runPipeline, statusLines } from './fleet-helpers.js';
import { sampleDetection } from './serve-fixtures.js';

const dir = mkdtempSync(path.join(process.env.OUTFLOW_TEST_ROOT ?? tmpdir(), 'fleet-cli-'));
const store = path.join(dir, 'outflow.db');
let fleet: SimulatedFleet;
let files: string[];

beforeAll(async () => {
  fleet = simulateFleet({ hosts: 45, days: 9, seed: 5, files: 2 });
  files = await writeFleet(fleet, path.join(dir, 'logs'));
  writeFileSync(path.join(dir, 'logs', 'garbage.log'), 'not a result line\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('outflow fleet (CLI)', () => {
  it('ingest FILE… prints a JSON summary, quarantines garbage, finalizes; detections lists them in every format', async () => {
    const quarantine = path.join(dir, 'q.ndjson');
    const r = await runOutflow(['fleet', 'ingest', '--store', store, '--quarantine', quarantine, '--flush', '--json', ...files, path.join(dir, 'logs', 'garbage.log')], { timeoutMs: 170_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ files: 3, failed_files: 0, lines: fleet.lineCount + 1, quarantined: 1, pending: 0 });
    expect(summary.finalized.created).toBe(fleet.scenarios.filter((s) => s.fires).length);
    expect(JSON.parse(readFileSync(quarantine, 'utf8').trim())).toMatchObject({ reason: expect.stringMatching(/not JSON/), line: 'not a result line' });

    const json = await runOutflow(['fleet', 'detections', '--store', store, '--format', 'json', '--analytic', 'an0990'], { timeoutMs: 60_000 });
    expect(json.code).toBe(0);
    const dets = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(dets.map((d) => [d.analytic, d.destination_key])).toEqual([['AN0990', 'quiet-harbor.io']]);

    const table = await runOutflow(['fleet', 'detections', '--store', store, '--format', 'table', '--since', '3d'], { timeoutMs: 60_000 });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^last_seen\s+severity\s+analytic\s+host/);
    expect(table.stdout).toMatch(/(low|medium|high|critical) \d+\*?\s+AN0082 not_upload_normal/);
    expect(table.stdout.trim()).toMatch(new RegExp(`\\n${fleet.scenarios.filter((s) => s.fires).length} detections( \\(\\* baseline warming[^\\n]*\\))?$`));

    // --limit keeps the newest, oldest first, and says on stderr that older ones were left out
    const all = (await runOutflow(['fleet', 'detections', '--store', store, '--format', 'json'], { timeoutMs: 60_000 })).stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string });
    const two = await runOutflow(['fleet', 'detections', '--store', store, '--format', 'json', '--limit', '2'], { timeoutMs: 60_000 });
    expect(two.code).toBe(0);
    expect(two.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(all.slice(-2).map((d) => d.id));
    expect(two.stderr).toMatch(/showing the newest 2 matching detections; older ones match too/);
  }, 300_000);

  it('prevalence destination / app print the fleet counts', async () => {
    const d = await runOutflow(['fleet', 'prevalence', 'destination', 'quiet-harbor.io', '--store', store], { timeoutMs: 60_000 });
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ key: 'quiet-harbor.io', hosts: 1, active_hosts: 45, saturated: false, rare: true, host_sample: [expect.objectContaining({ host_id: expect.any(String) })] });
    // the same answer as GET /v1/prevalence/destinations/:key, and a server name is looked up by its key
    const byName = await runOutflow(['fleet', 'prevalence', 'destination', 'Files.Quiet-Harbor.io.', '--store', store], { timeoutMs: 60_000 });
    expect(JSON.parse(byName.stdout)).toEqual({ ...JSON.parse(d.stdout), normalized_from: 'Files.Quiet-Harbor.io.' });
    expect([d.stderr, JSON.parse(d.stdout).in_store]).toEqual(['', true]);
    // a pasted URL is looked up by its host's key
    const byUrl = await runOutflow(['fleet', 'prevalence', 'destination', 'https://files.quiet-harbor.io/upload/', '--store', store], { timeoutMs: 60_000 });
    expect([byUrl.stderr, JSON.parse(byUrl.stdout)]).toEqual(['', { ...JSON.parse(d.stdout), normalized_from: 'https://files.quiet-harbor.io/upload/' }]);
    // a key the store never saw is said so on stderr, as for apps
    const never = await runOutflow(['fleet', 'prevalence', 'destination', 'Never-Seen.example/', '--store', store], { timeoutMs: 60_000 });
    expect(never.code).toBe(0);
    expect(JSON.parse(never.stdout)).toMatchObject({ key: 'never-seen.example', hosts: 0, in_store: false });
    expect(never.stderr).toBe('outflow fleet: the store has never seen never-seen.example (from Never-Seen.example/): no data it keeps names this destination\n');
    // a store that is not there is an error, not an empty answer
    const missing = await runOutflow(['fleet', 'prevalence', 'destination', 'quiet-harbor.io', '--store', path.join(dir, 'no-such.db')], { timeoutMs: 60_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no store at .*no-such\.db/);
    expect(existsSync(path.join(dir, 'no-such.db'))).toBe(false);
    const noDetections = await runOutflow(['fleet', 'detections', '--store', path.join(dir, 'no-such.db')], { timeoutMs: 60_000 });
    expect(noDetections.stderr).toMatch(/no store at/);
    const a = await runOutflow(['fleet', 'prevalence', 'app', 'team:APPLE/com.apple.zsh', '--store', store, '--hosts', '2'], { timeoutMs: 60_000 });
    expect(a.code).toBe(0);
    const app = JSON.parse(a.stdout);
    expect(app.hosts).toBeGreaterThan(30);
    expect(app.host_sample).toHaveLength(2);
  }, 120_000);

  it('prevalence on a store with no events yet says so, with no window and no verdict (not a window ending in 1970)', async () => {
    const empty = path.join(dir, 'empty.db');
    expect((await runOutflow(['fleet', 'migrate', '--store', empty], { timeoutMs: 60_000 })).code).toBe(0);
    const d = await runOutflow(['fleet', 'prevalence', 'destination', 'quiet-harbor.io', '--store', empty], { timeoutMs: 60_000 });
    expect(d.code).toBe(0);
    expect(d.stderr).toBe(`outflow fleet: ${empty} holds no events yet: no prevalence window to count in (ingest result logs first: \`outflow fleet ingest FILE\`, or \`fleet serve\`)\n`);
    expect(JSON.parse(d.stdout)).toMatchObject({ key: 'quiet-harbor.io', window: null, active_hosts: 0, hosts: 0, first_seen: null, rare: null, common: null, host_sample: [] });
    const a = await runOutflow(['fleet', 'prevalence', 'app', 'team:APPLE/com.apple.zsh', '--store', empty], { timeoutMs: 60_000 });
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(/holds no events yet/);
    expect(JSON.parse(a.stdout)).toMatchObject({ identity: 'team:APPLE/com.apple.zsh', window: null, active_hosts: 0, hosts: 0, previously_unseen: null });
  }, 120_000);

  it('prevalence app of an identity the store never saw says so (in_store: false), with no "previously unseen" verdict', async () => {
    const file = path.join(dir, 'apps.db');
    const lines = fleet.files[0]!.slice(0, 300);
    const seen = lines.map((l) => JSON.parse(l) as { name: string; columns?: { identity?: string } }).find((l) => l.name.endsWith('outflow_apps') && l.columns?.identity)!.columns!.identity!;
    expect((await runOutflow(['fleet', 'ingest', '-', '--store', file, '--no-finalize', '--json'], { input: lines.join('\n'), timeoutMs: 60_000 })).code).toBe(0);
    const never = await runOutflow(['fleet', 'prevalence', 'app', 'team:NOPE000000/com.nobody.app', '--store', file], { timeoutMs: 60_000 });
    expect(never.code).toBe(0);
    expect(never.stderr).toBe('outflow fleet: the store has never seen team:NOPE000000/com.nobody.app: no data it keeps names this identity\n');
    expect(JSON.parse(never.stdout)).toMatchObject({ hosts: 0, first_seen: null, in_store: false, previously_unseen: null, window: expect.objectContaining({ to: expect.any(Number) }) });
    const known = await runOutflow(['fleet', 'prevalence', 'app', seen, '--store', file], { timeoutMs: 60_000 });
    expect(known.stderr).toBe('');
    expect(JSON.parse(known.stdout)).toMatchObject({ identity: seen, in_store: true, previously_unseen: expect.any(Boolean) });
  }, 120_000);

  it('ingest - reads stdin; --progress always draws the bar with lines/s', async () => {
    const lines = fleet.files[0]!.slice(0, 300).join('\n');
    const r = await runOutflow(['fleet', 'ingest', '-', '--store', path.join(dir, 'stdin.db'), '--no-finalize', '--progress', 'always'], { input: lines, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/lines\/s/);
    expect(r.stderr).toMatch(/ingested 300 lines/);
    expect(r.stderr).toMatch(/candidates pending \(not finalized\)/);
  }, 120_000);

  it('finalize waits while another process (a fleet serve) is finalizing the same store, then runs', async () => {
    const file = path.join(dir, 'busy.db');
    const ingested = await runOutflow(['fleet', 'ingest', '-', '--store', file, '--no-finalize', '--json'], { input: fleet.files.flat().join('\n'), timeoutMs: 120_000 });
    expect(ingested.code).toBe(0);
    expect(JSON.parse(ingested.stdout).pending).toBeGreaterThan(0);
    const serve = await openSqliteStore(file);
    let release!: () => void;
    const held = serve.withJobLock('finalize', () => new Promise<void>((r) => (release = r)));
    try {
      const child = spawnOutflow(['fleet', 'finalize', '--store', file, '--flush']);
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const deadline = Date.now() + 60_000;
      while (!/waiting for it/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toMatch(/another process \(fleet serve\?\) is finalizing this store; waiting for it/);
      expect(child.exitCode).toBeNull();
      expect(await serve.candidates.countPending()).toBeGreaterThan(0);
      release();
      expect(await held).toEqual({ acquired: true, value: undefined });
      expect(await exited).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ examined: expect.any(Number), created: fleet.scenarios.filter((s) => s.fires).length });
      expect(await serve.candidates.countPending()).toBe(0);
    } finally {
      release?.();
      await serve.close();
    }
  }, 180_000);

  it('ingest commits and reports its lines when the finalize lock stays busy, leaving the candidates pending', async () => {
    const file = path.join(dir, 'busy-ingest.db');
    const serve = await openSqliteStore(file);
    const ingestStore = await openSqliteStore(file);
    let release!: () => void;
    const held = serve.withJobLock('finalize', () => new Promise<void>((r) => (release = r)));
    const logFile = path.join(dir, 'busy-ingest.log');
    writeFileSync(logFile, `${fleet.files[0]!.join('\n')}\n`);
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    const errWrite = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const config = parseConfig({ fleet: { ingest: { quarantine_file: '' } } });
      const code = await runIngestCommand(ingestStore, [logFile], { config, log: silentLogger(), finalize: true, flush: true, fromStart: false, json: true, progress: 'never', finalizeWaitMs: 400 });
      write.mockRestore();
      errWrite.mockRestore();
      expect(code).toBe(0);
      const summary = JSON.parse(out.join(''));
      expect(summary).toMatchObject({ lines: fleet.files[0]!.length, finalized: null, finalize_skipped: expect.stringMatching(/another process holds the finalize job lock/) });
      expect(summary.pending).toBeGreaterThan(0);
    } finally {
      write.mockRestore();
      errWrite.mockRestore();
      release?.();
      await held;
      await ingestStore.close();
      await serve.close();
    }
  }, 120_000);

  it('ingest says when candidates were held as late: old logs replayed into a store that holds newer ones', async () => {
    const file = path.join(dir, 'late-replay.db');
    const live = await openSqliteStore(file);
    const hosts = hostsOf(12);
    const newer: string[] = [];
    for (let d = 60; d <= 100; d += 10) newer.push(...statusLines(hosts, T0 + d * DAY));
    await runPipeline(live, [newer]);
    await rollup(live, { analytics: defaultAnalyticsConfig() });
    const logFile = path.join(dir, 'old.log');
    // two weeks of old logs (a store of their own would be past warming by their last day)
    const old = [...statusLines(hosts, T0 + 10 * DAY), ...statusLines(hosts, T0 + 25 * DAY)];
    old.push(candidateLine({ analytic: 'AN1415', host: hosts[0]!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.nobody-else.com', bytes_out: 30 * MiB, first_seen: T0 + 25 * DAY - 200 }, T0 + 25 * DAY));
    writeFileSync(logFile, `${old.join('\n')}\n`);
    const err: string[] = [];
    const errWrite = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
    try {
      const config = parseConfig({ fleet: { ingest: { quarantine_file: '' } } });
      const code = await runIngestCommand(live, [logFile], { config, log: silentLogger(), finalize: true, flush: true, fromStart: false, json: false, progress: 'never' });
      errWrite.mockRestore();
      expect(code).toBe(0);
      expect(err.join('')).toMatch(/finalized 1 candidates: 0 new detections, 0 updated, 1 held \(baseline warming; 1 of them late: their window reaches back before the data this store keeps; replaying the whole fleet's logs of that time into a new store judges them, one host's logs alone cannot\); 0 pending/);
    } finally {
      errWrite.mockRestore();
      await live.close();
    }
  }, 120_000);

  it('ingest states ignored rows apart from applied ones, names the query names, and exits 3 when nothing was usable', async () => {
    const run = async (name: string, lines: string[], json = false) => {
      const db = await openSqliteStore(path.join(dir, `${name}.db`));
      const logFile = path.join(dir, `${name}.log`);
      writeFileSync(logFile, `${lines.join('\n')}\n`);
      const out: string[] = [];
      const err: string[] = [];
      const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
      const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
      try {
        const config = parseConfig({ fleet: { ingest: { quarantine_file: '' } } });
        const code = await runIngestCommand(db, [logFile], { config, log: silentLogger(), finalize: true, flush: true, fromStart: false, json, progress: 'never' });
        return { code, stdout: out.join(''), stderr: err.join('') };
      } finally {
        o.mockRestore();
        e.mockRestore();
        await db.close();
      }
    };
    const some = fleet.files[0]!.slice(0, 400);
    // reports renamed in Fleet: every row is of another query
    const renamed = some.map((l) => l.replaceAll('"pack/Global/outflow_', '"pack/Global/Outflow '));
    const r = await run('renamed', renamed);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^ingested 400 lines \(0 rows applied, 0 of them baseline; (\d+) rows ignored;/);
    const ignored = Number(/; (\d+) rows ignored;/.exec(r.stderr)![1]);
    expect(ignored).toBeGreaterThan(400);
    expect(r.stderr).toContain(`\n${ignored} rows ignored are of queries that are not Outflow's: "pack/Global/Outflow apps" (`);
    expect(r.stderr).toMatch(/docs\/fleet\.md, Input lines/);
    expect(r.stderr).toMatch(/\noutflow fleet ingest: warning: nothing usable: the 400 lines read hold no row of Outflow's queries \(\d+ rows of other queries\): see above \(exit 3\)\n$/);
    // --json: the summary on stdout carries the names; the warning still goes to stderr
    const j = await run('renamed-json', renamed, true);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toMatchObject({ lines: 400, ignored, ignoredByReason: { other_query: ignored }, ignoredQueries: expect.arrayContaining([expect.objectContaining({ name: 'pack/Global/Outflow status' })]) });
    expect(j.stderr).toMatch(/^outflow fleet ingest: warning: nothing usable: .*rows ignored are of queries that are not Outflow's: "pack\/Global\/Outflow apps"/);
    // every line quarantined (a JSON manifest, not a result log)
    const q = await run('manifest', JSON.stringify({ hosts: 3, scenarios: [1, 2] }, null, 2).split('\n'));
    expect(q.code).toBe(3);
    expect(q.stderr).toMatch(/warning: nothing usable: every line read \(\d+\) was quarantined: is this an osquery result log/);
    // the real thing, with one line of another query: exit 0, no warning, the one name said
    const ok = await run('usable', [...some, renamed[0]!]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).not.toMatch(/warning/);
    expect(ok.stderr).toMatch(/^ingested 401 lines \([1-9]\d* rows applied, \d+ of them baseline; [1-9]\d* rows ignored;/);
    expect(ok.stderr).toMatch(/\n\d+ rows ignored are of queries that are not Outflow's: "pack\/Global\/Outflow [a-z]+" \(\d+\)\. /);
  }, 120_000);

  it('ingest --from-start of a file whose Outflow rows were all rejected exits 3 again; of one whose candidates were taken, 0', async () => {
    const db = await openSqliteStore(path.join(dir, 'reread.db'));
    const read = async (name: string, lines: string[], fromStart: boolean) => {
      const logFile = path.join(dir, `${name}.log`);
      writeFileSync(logFile, `${lines.join('\n')}\n`);
      const err: string[] = [];
      const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
      try {
        const config = parseConfig({ fleet: { ingest: { quarantine_file: '' } } });
        const code = await runIngestCommand(db, [logFile], { config, log: silentLogger(), finalize: false, flush: false, fromStart, json: false, progress: 'never' });
        return { code, stderr: err.join('') };
      } finally {
        e.mockRestore();
      }
    };
    const [a, b] = hostsOf(2, 'RR');
    const t = Math.floor(Date.now() / 1000) - 3600;
    const noRemote = (line: string) => {
      const l = JSON.parse(line) as { columns: Record<string, string> };
      l.columns.remote_address = '';
      return JSON.stringify(l);
    };
    // Outflow's rows, every one rejected: keyed, so a second read counts them as duplicates, not as quarantined
    const rejected = [noRemote(destinationLine(a!, t, 'files.example.com')), noRemote(destinationLine(b!, t + 1, 'files.example.com')), statusLines([a!], t)[0]!.replace('"component":"flows"', '"component":""')];
    try {
      const first = await read('all-rejected', rejected, false);
      expect(first.code).toBe(3);
      expect(first.stderr).toMatch(/; 0 duplicate candidate\/rejected rows skipped; 3 quarantined\)/);
      expect(first.stderr).toContain('warning: nothing usable: every line read (3) was quarantined: is this an osquery result log');
      const again = await read('all-rejected', rejected, true);
      expect(again.stderr).toMatch(/; 3 duplicate candidate\/rejected rows skipped; 0 quarantined\)/);
      expect(again.stderr).toContain('warning: nothing usable: every line read (3) was quarantined (3 rows or lines by an earlier read of the same lines, not again): is this an osquery result log');
      expect(again.code).toBe(3);
      // re-delivered candidate rows are Outflow's data, taken on the first read: usable
      const candidates = [candidateLine({ analytic: 'AN1415', host: a!, app: APPS.vscode, remote_address: '192.0.2.77', server_name: 'up.example.com', bytes_out: 30 * MiB, first_seen: t - 200 }, t)];
      expect((await read('candidate', candidates, false)).code).toBe(0);
      const candidateAgain = await read('candidate', candidates, true);
      expect(candidateAgain.stderr).toMatch(/^ingested 1 lines \(0 rows applied, 0 of them baseline; 0 rows ignored; 1 duplicate candidate\/rejected rows skipped; 0 quarantined\)/);
      expect(candidateAgain.code).toBe(0);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('ingest names the files it read after a path rotated twice since the last run', async () => {
    const logDir = path.join(dir, 'twice');
    mkdirSync(logDir);
    const log = path.join(logDir, 'osqueryd.results.log');
    const [h] = hostsOf(1);
    writeFileSync(log, `${destinationLine(h!, T0, 'a.example.com')}\n`);
    const db = await openSqliteStore(path.join(dir, 'twice.db'));
    const err: string[] = [];
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
    try {
      const config = parseConfig({ fleet: { ingest: { quarantine_file: '' } } });
      const opts = { config, log: silentLogger(), finalize: false, flush: false, fromStart: false, json: false, progress: 'never' as const };
      expect(await runIngestCommand(db, [log], opts)).toBe(0);
      renameSync(log, `${log}.2`);
      utimesSync(`${log}.2`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      writeFileSync(`${log}.1`, `${destinationLine(h!, T0 + 60, 'b.example.com')}\n`);
      writeFileSync(log, `${destinationLine(h!, T0 + 120, 'c.example.com')}\n`);
      err.length = 0;
      expect(await runIngestCommand(db, [log], opts)).toBe(0);
    } finally {
      e.mockRestore();
      await db.close();
    }
    expect(err.join('')).toContain(`the rest of that file, ${log}.2, was read first from offset ${Buffer.byteLength(destinationLine(h!, T0, 'a.example.com')) + 1}, then the file rotated after it, ${log}.1; read from the start`);
  });

  it('ingest says when files were already ingested, and when one was rewritten in place and is read from the start; the simulator writes new files', async () => {
    const simDir = path.join(dir, 'resim');
    const first = await writeFleet(simulateFleet({ hosts: 6, days: 2, seed: 3, files: 1 }), simDir);
    const ino = statSync(first[0]!).ino;
    const db = await openSqliteStore(path.join(dir, 'resim.db'));
    const run = async (f: string[]) => {
      const err: string[] = [];
      const e = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
      try {
        const config = parseConfig({ fleet: { ingest: { quarantine_file: '' } } });
        const code = await runIngestCommand(db, f, { config, log: silentLogger(), finalize: false, flush: false, fromStart: false, json: false, progress: 'never' });
        return { code, stderr: err.join('') };
      } finally {
        e.mockRestore();
      }
    };
    try {
      expect((await run(first)).code).toBe(0);
      const again = await run(first);
      expect(again.code).toBe(0);
      expect(again.stderr).toMatch(/^ingested 0 lines /);
      expect(again.stderr).toContain(`outflow fleet ingest: nothing new: ${first[0]} was already ingested up to its stored offset (the whole file); --from-start reads it again`);
      // re-simulated into the same directory: a new file (inode), read from 0 as rotated
      const bigger = simulateFleet({ hosts: 12, days: 2, seed: 4, files: 1 });
      await writeFleet(bigger, simDir);
      expect(statSync(first[0]!).ino).not.toBe(ino);
      const resim = await run(first);
      expect(resim.stderr).toMatch(new RegExp(`^ingested ${bigger.lineCount} lines .*; 0 quarantined\\)`, 'm'));
      expect(resim.stderr).toContain(`${first[0]} is another file (inode) than the one its stored offset was taken on, which is no longer beside it: rotated; read from the start`);
      // `cp` of a bigger file over it keeps the inode: caught by the checkpoint's fingerprint
      const copied = statSync(first[0]!).ino;
      writeFileSync(first[0]!, `${simulateFleet({ hosts: 14, days: 2, seed: 5, files: 1 }).files[0]!.join('\n')}\n`);
      expect(statSync(first[0]!).ino).toBe(copied);
      const cp = await run(first);
      expect(cp.stderr).toMatch(/; 0 quarantined\)/);
      expect(cp.stderr).toMatch(/is not the file its stored offset was taken on \(.* differ\): rewritten in place, same inode; read from the start/);
    } finally {
      await db.close();
    }
  }, 120_000);

  it('ingest of a FILE that is not there exits 2 naming it, before opening (or creating) the store', async () => {
    const db = path.join(dir, 'never-created.db');
    const missing = path.join(dir, 'logs', 'no-such.log');
    const r = await runOutflow(['fleet', 'ingest', '--store', db, '--json', files[0]!, missing], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`outflow fleet: cannot read ${missing}: no such file (check the path; nothing was ingested)\n`);
    expect(r.stdout).toBe('');
    expect(existsSync(db)).toBe(false);
    // a directory is there, but is no log: the same, before the store
    const logs = path.join(dir, 'a-log-dir');
    mkdirSync(logs, { recursive: true });
    const d = await runOutflow(['fleet', 'ingest', '--store', db, '--json', logs], { timeoutMs: 60_000 });
    expect([d.code, d.stderr]).toEqual([2, `outflow fleet: cannot read ${logs}: a directory (name the result-log files in it) (check the path; nothing was ingested)\n`]);
    expect(existsSync(db)).toBe(false);
  }, 120_000);

  it('migrate says when it created a store (a mistyped --store shows), and which migrations an outdated one got', async () => {
    const run = async (argv: string[]) => {
      const out: string[] = [];
      const o = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
      try {
        return { code: await runFleetCli(argv), stdout: out.join('') };
      } finally {
        o.mockRestore();
      }
    };
    const ids = loadMigrations('sqlite').map((m) => m.id);
    const typo = path.join(dir, 'no-such-dir', 'outflwo.db');
    expect(await run(['migrate', '--store', typo])).toEqual({ code: 0, stdout: `created new store ${typo} (migrations ${ids[0]} … ${ids[ids.length - 1]})\n` });
    expect(await run(['migrate', '--store', typo])).toEqual({ code: 0, stdout: `${typo} is up to date\n` });
    // a store one migration behind: the migration is named, not "up to date"
    const behind = path.join(dir, 'behind.db');
    const db = new Database(behind);
    db.function('outflow_md5', { deterministic: true }, (body: unknown) => String(body));
    db.exec('CREATE TABLE schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of loadMigrations('sqlite').slice(0, -1)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, 0)').run(m.id);
    }
    db.close();
    expect(await run(['migrate', '--store', behind])).toEqual({ code: 0, stdout: `applied ${ids[ids.length - 1]} to ${behind}\n` });
  }, 60_000);

  it('detections --since DURATION counts back from the newest event time, but never from past the wall clock', async () => {
    const now = Math.floor(Date.now() / 1000);
    // a replay of old logs (newest event a month ago) and a live store where one host's clock is 20 h ahead
    for (const [label, newest, anchor] of [['replay', now - 30 * DAY, now - 30 * DAY], ['host clock ahead', now + 20 * 3600, now]] as const) {
      const db = path.join(dir, `since-${label.replaceAll(' ', '-')}.db`);
      const s = await openSqliteStore(db);
      await s.clock.observe(anchor - 5 * DAY, newest);
      await s.detections.upsert([1, 10, 30].map((h) => sampleDetection({ id: `det-${h}h`, suppression_key: `k-${h}`, first_seen: anchor - h * 3600 - 30, last_seen: anchor - h * 3600 })));
      await s.close();
      const r = await runOutflow(['fleet', 'detections', '--store', db, '--format', 'json', '--since', '24h'], { timeoutMs: 60_000 });
      expect(r.code, label).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id), label).toEqual(['det-10h', 'det-1h']);
    }
  }, 120_000);

  it('hosts lists collector health, worst first; --problems, --component and --since narrow it; host text is escaped in the table', async () => {
    const db = path.join(dir, 'hosts-status.db');
    const s = await openSqliteStore(db);
    const st = (hostId: string, component: string, state: string, detail: string, time: number) => ({ hostId, component, platform: 'darwin', state, detail, version: '0.1.0', time });
    await s.hosts.touch([{ hostId: 'H1', hostname: 'mac-1.local', firstSeen: T0, lastSeen: T0 }]);
    await s.hosts.recordStatus([
      st('H1', 'eslogger', 'permission_denied', 'grant Full Disk Access\u001b[31m', T0),
      st('H1', 'flows', 'running', '', T0),
      st('H2', 'flows', 'degraded', 'nettop exited', T0 - DAY),
    ]);
    await s.clock.observe(T0 - DAY, T0);
    await s.close();
    const json = await runOutflow(['fleet', 'hosts', '--store', db, '--problems', '--format', 'json'], { timeoutMs: 60_000 });
    expect(json.code).toBe(0);
    expect(json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host_id: string; component: string; state: string }).map((r) => [r.host_id, r.component, r.state])).toEqual([
      ['H1', 'eslogger', 'permission_denied'],
      ['H2', 'flows', 'degraded'],
    ]);
    const recent = await runOutflow(['fleet', 'hosts', '--store', db, '--problems', '--since', '2h', '--format', 'json'], { timeoutMs: 60_000 });
    expect(recent.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { host_id: string }).host_id)).toEqual(['H1']);
    const table = await runOutflow(['fleet', 'hosts', '--store', db, '--component', 'eslogger', '--format', 'table'], { timeoutMs: 60_000 });
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^time\s+host\s+component\s+state\s+detail$/);
    expect(lines[1]).toContain('mac-1.local');
    expect(lines[1]).toContain('permission_denied');
    expect(lines[1]).toContain('grant Full Disk Access\\u001b[31m');
    expect(table.stdout).not.toContain('\u001b');
    expect(lines.at(-1)).toBe('1 status row');
    const bad = await runOutflow(['fleet', 'hosts', '--store', db, '--limit', '0'], { timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    const none = await runOutflow(['fleet', 'hosts', '--store', path.join(dir, 'no-such.db')], { timeoutMs: 60_000 });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('no store at');
  }, 120_000);

  it('migrate reports an up-to-date store; bad input exits 2 with a message', async () => {
    const m = await runOutflow(['fleet', 'migrate', '--store', store], { timeoutMs: 60_000 });
    expect([m.code, m.stdout.trim()]).toEqual([0, `${store} is up to date`]);
    const bad = await runOutflow(['fleet', 'detections', '--store', store, '--since', 'yesterday-ish'], { timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since yesterday-ish is not a time \(accepted: a duration .*unix seconds .*ISO 8601/);
    // a guess would widen (7 = 2001-07-01) or empty (milliseconds) the result without a word
    for (const [v, why] of [['7', /--since 7 is a number without a unit \(for a duration add one: 7h, 7d; accepted: /], ['March 9', /--since March 9 is not a time/], ['1773064700000', /--since 1773064700000 looks like milliseconds \(13 digits\) \(divide by 1000: 1773064700 is unix seconds;/]] as const) {
      const r = await runOutflow(['fleet', 'detections', '--store', store, '--since', v], { timeoutMs: 60_000 });
      expect([r.code, r.stdout], v).toEqual([2, '']);
      expect(r.stderr, v).toMatch(why);
    }
    const unknownAnalytic = await runOutflow(['fleet', 'detections', '--store', store, '--analytic', 'AN9999'], { timeoutMs: 60_000 });
    expect(unknownAnalytic.code).toBe(2);
    expect(unknownAnalytic.stderr).toMatch(/--analytic AN9999 is not one of Outflow's analytics/);
    const hosts = await runOutflow(['fleet', 'prevalence', 'app', 'team:APPLE/com.apple.zsh', '--store', store, '--hosts', 'abc'], { timeoutMs: 60_000 });
    expect(hosts.code).toBe(2);
    expect(hosts.stderr).toMatch(/--hosts abc is not a number from 0 to 1000/);
  }, 120_000);
});
