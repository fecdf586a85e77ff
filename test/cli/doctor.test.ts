import { chmodSync, chownSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeManager } from '../../extension/sdk/testing/fake-manager.js';
import { runOutflow } from '../helpers/cli.js';
import { checkInterpreter, socketFix } from '../../cli/doctor.js';

interface Check {
  name: string;
  status: 'ok' | 'fail' | 'warn' | 'skip';
  required: boolean;
  detail: string;
  fix?: string;
}

async function doctor(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null; ok: boolean; checks: Map<string, Check> }> {
  const res = await runOutflow(['doctor', '--json', ...args], { env: { ...process.env, OUTFLOW_PLATFORM: 'linux', ...env }, timeoutMs: 60_000, ...(cwd ? { cwd } : {}) });
  let parsed: { ok: boolean; checks: Check[] };
  try {
    parsed = JSON.parse(res.stdout);
  } catch {
    throw new Error(`doctor printed no JSON (exit ${res.code}): ${res.stdout}\n${res.stderr}`);
  }
  return { code: res.code, ok: parsed.ok, checks: new Map(parsed.checks.map((c) => [c.name, c])) };
}

const dir = mkdtempSync(path.join(tmpdir(), 'outflow-doctor-'));

describe('outflow doctor', () => {
  let manager: FakeManager;
  const socket = path.join(dir, 'osquery.em');

  let defaultQueryHandler: FakeManager['queryHandler'];

  beforeAll(async () => {
    manager = await FakeManager.start(socket);
    defaultQueryHandler = manager.queryHandler;
  });
  afterAll(async () => {
    await manager.close();
  });

  it('passes on this Linux machine with the real ss (processes come from /proc: no ps check)', async () => {
    const r = await doctor([]);
    expect(r.code).toBe(0);
    expect(r.ok).toBe(true);
    expect(r.checks.get('node')?.status).toBe('ok');
    expect(r.checks.get('platform')?.detail).toContain('linux');
    expect(r.checks.get('tool:ss')?.status).toBe('ok');
    expect(r.checks.get('tool:ps')).toBeUndefined();
    expect(r.checks.get('node interpreter')?.status).toBe('ok');
  });

  it('warns when the Node osqueryd would run as root sits where another user can replace it', () => {
    const home = mkdtempSync(path.join(dir, 'home-'));
    const bin = path.join(home, 'bin');
    mkdirSync(bin);
    const node = path.join(bin, 'node');
    writeFileSync(node, '');
    chownSync(home, 65534, 65534);
    const r = checkInterpreter(node);
    expect(r).toMatchObject({ status: 'warn', fix: expect.stringContaining('--node') });
    expect(r.detail).toContain(`${home} is owned by uid 65534`);
    chownSync(home, 0, 0);
    chmodSync(bin, 0o777);
    expect(checkInterpreter(node).detail).toContain(`${bin} is writable by every user`);
    chmodSync(bin, 0o755);
    // a symlink is followed to what it names
    const link = path.join(dir, 'node-link');
    symlinkSync(node, link);
    chownSync(home, 65534, 65534);
    expect(checkInterpreter(link).detail).toContain(`${home} is owned by uid 65534`);
    chownSync(home, 0, 0);
  });

  it('fails with a fix when the darwin tools are missing', async () => {
    const empty = mkdtempSync(path.join(dir, 'tools-'));
    const r = await doctor([], { OUTFLOW_PLATFORM: 'darwin', OUTFLOW_TOOL_DIR: empty });
    expect(r.code).toBe(1);
    expect(r.ok).toBe(false);
    const nettop = r.checks.get('tool:nettop');
    expect(nettop?.status).toBe('fail');
    expect(nettop?.detail).toContain(path.join(empty, 'nettop'));
    expect(nettop?.fix).toBeTruthy();
    expect(r.checks.get('tool:eslogger')?.status).toBe('fail');
  });

  it.skipIf(process.getuid?.() !== 0)('as root, fails on a tools.dir that is not root\'s alone and warns about a config the extension would ignore', async () => {
    const tools = mkdtempSync(path.join(dir, 'tools-theirs-'));
    chownSync(tools, 65534, 65534);
    const config = path.join(mkdtempSync(path.join(dir, 'cfg-')), 'outflow.yaml');
    writeFileSync(config, `tools:\n  dir: ${tools}\n`);
    chownSync(config, 65534, 65534);
    const r = await doctor(['--config', config], { OUTFLOW_PLATFORM: 'darwin' });
    expect(r.code).toBe(1);
    expect(r.checks.get('tools.dir')).toMatchObject({ status: 'fail', required: true, detail: `the extension runs no tool from ${tools} as root: ${tools} is owned by uid 65534, not root` });
    expect(r.checks.get('tool:nettop')).toBeUndefined();
    expect(r.checks.get('config:trust')).toMatchObject({ status: 'warn', detail: `the extension, running as root, would ignore ${config} and run on the defaults: ${config} is owned by uid 65534, not root` });
  });

  it('lists the extensions registered with a reachable osquery socket', async () => {
    const r = await doctor(['--socket', socket]);
    expect(r.code).toBe(0);
    const s = r.checks.get('osquery:socket');
    expect(s?.detail).toContain(socket);
    expect(s?.detail).toContain('extensions:');
    // osqueryd answers, but Outflow is not among its extensions: the line an admin runs doctor for
    expect(s).toMatchObject({ status: 'warn', fix: expect.stringContaining('outflow is not registered: add outflow.ext to extensions.load') });
  });

  it('checks which extensions.load osqueryd reads (osquery_flags) against the one Outflow was installed into', async () => {
    const load = path.join(dir, 'extensions.load');
    let flags: Record<string, string> = {};
    manager.queryHandler = (sql) => ({
      status: { code: 0, message: 'OK', uuid: 0 },
      response: sql.includes('osquery_flags') ? Object.entries(flags).map(([name, value]) => ({ name, value })) : [],
    });
    try {
      flags = { disable_extensions: 'false', extensions_autoload: load };
      const same = await doctor(['--socket', socket, '--extensions-load', load]);
      expect(manager.calls.filter((c) => c.method === 'query').at(-1)?.args).toEqual(["SELECT name, value FROM osquery_flags WHERE name IN ('extensions_autoload', 'disable_extensions')"]);
      expect(same.checks.get('osquery:autoload')).toMatchObject({ status: 'ok', detail: `osqueryd autoloads extensions from ${load}, the file Outflow was installed into` });
      expect(same.code).toBe(0);

      // fleetd's case: orbit passes its own file, and the one install.sh wrote is never read
      flags = { disable_extensions: 'false', extensions_autoload: '/opt/orbit/extensions.load' };
      const other = await doctor(['--socket', socket, '--extensions-load', load]);
      expect(other.code).toBe(1);
      expect(other.checks.get('osquery:autoload')).toMatchObject({
        status: 'fail',
        required: true,
        detail: `osqueryd autoloads extensions from /opt/orbit/extensions.load, not ${load} where Outflow was installed: Outflow will not start`,
        fix: expect.stringContaining('--extensions-load /opt/orbit/extensions.load'),
      });

      // without --extensions-load: the file osqueryd reads is looked into
      flags = { disable_extensions: 'false', extensions_autoload: load };
      writeFileSync(load, '# extensions\n/usr/local/other/other.ext\n');
      const unlisted = await doctor(['--socket', socket]);
      expect(unlisted.checks.get('osquery:autoload')).toMatchObject({ status: 'warn', detail: `osqueryd autoloads extensions from ${load}, which lists no outflow.ext: Outflow will not start` });
      writeFileSync(load, '/usr/local/other/other.ext\n  /usr/local/outflow/outflow.ext \n');
      expect((await doctor(['--socket', socket])).checks.get('osquery:autoload')).toMatchObject({ status: 'ok', detail: `osqueryd autoloads extensions from ${load}, which lists /usr/local/outflow/outflow.ext` });

      flags = { disable_extensions: 'true', extensions_autoload: load };
      const disabled = await doctor(['--socket', socket, '--extensions-load', load]);
      expect(disabled.code).toBe(1);
      expect(disabled.checks.get('osquery:autoload')).toMatchObject({ status: 'fail', detail: 'osqueryd runs with --disable_extensions=true: it loads no extension' });
    } finally {
      manager.queryHandler = defaultQueryHandler;
    }
    // a query osqueryd refuses is a warning with its reason, not a crash or a failure
    const refused = await doctor(['--socket', socket, '--extensions-load', load]);
    expect(refused.code).toBe(0);
    expect(refused.checks.get('osquery:autoload')).toMatchObject({ status: 'warn', required: false, detail: expect.stringMatching(/^could not read osqueryd's flags through .*: osquery core refused the query \(1\): fake manager has no tables/) });
  });

  it("on darwin, checks that osqueryd's processes table gives kernel paths (the extension's process paths)", async () => {
    try {
      manager.queryHandler = (sql) =>
        sql === 'SELECT pid, path FROM processes WHERE pid = 1'
          ? { status: { code: 0, message: 'OK', uuid: 0 }, response: [{ pid: '1', path: '/sbin/launchd' }] }
          : { status: { code: 1, message: 'not scripted', uuid: 0 }, response: [] };
      const ok = await doctor(['--socket', socket], { OUTFLOW_PLATFORM: 'darwin' });
      expect(ok.checks.get('osquery:processes')).toMatchObject({ status: 'ok', required: false, detail: "osqueryd's processes table answers with kernel paths (pid 1: /sbin/launchd)" });
      expect((await doctor(['--socket', socket])).checks.has('osquery:processes')).toBe(false); // linux: /proc/<pid>/exe
    } finally {
      manager.queryHandler = defaultQueryHandler;
    }
    const disabled = await doctor(['--socket', socket], { OUTFLOW_PLATFORM: 'darwin' });
    expect(disabled.checks.get('osquery:processes')).toMatchObject({ status: 'warn', required: false, detail: expect.stringMatching(/did not answer .*fake manager has no tables.*; process paths will be ps's argv\[0\] claims$/), fix: expect.stringContaining('--disable_tables') });
  });

  it('fails when the named osquery socket is unreachable, with advice for why', async () => {
    const missing = path.join(dir, 'missing.em');
    const r = await doctor(['--socket', missing]);
    expect(r.code).toBe(1);
    expect(r.checks.get('osquery:socket')).toMatchObject({ status: 'fail', fix: `no socket at ${missing}: pass the path osqueryd's --extensions_socket names (--socket PATH)` });
    // a file nothing listens on (osqueryd stopped and left it)
    const stale = path.join(dir, 'stale.em');
    writeFileSync(stale, '');
    const refused = await doctor(['--socket', stale]);
    expect(refused.checks.get('osquery:socket')?.fix).toMatch(/^nothing listens on .*stale\.em: osqueryd is not running/);
    expect(socketFix('/var/osquery/osquery.em', Object.assign(new Error('x'), { cause: { code: 'EACCES' } }))).toBe(
      "/var/osquery/osquery.em is not ours to open (osqueryd's socket is root's, mode 0600): run doctor as root",
    );
  });

  it('checks the fleet store: migrate advice for a new file, ok once migrated, fail when unreachable', async () => {
    const db = path.join(dir, 'doctor.db');
    const fresh = await doctor(['--store', db]);
    expect(fresh.checks.get('fleet:store')?.status).toBe('warn');
    expect(fresh.checks.get('fleet:store')?.fix).toContain('outflow fleet migrate');
    const migrated = await runOutflow(['fleet', 'migrate', '--store', db], { timeoutMs: 60_000 });
    expect(migrated.code, migrated.stderr).toBe(0);
    const good = await doctor(['--store', db]);
    expect(good.checks.get('fleet:store')?.status).toBe('ok');
    expect(good.code).toBe(0);
    const bad = await doctor(['--store', 'postgres://outflow:secret@127.0.0.1:1/nope']);
    expect(bad.code).toBe(1);
    const check = bad.checks.get('fleet:store');
    expect(check?.status).toBe('fail');
    expect(check?.detail).not.toContain('secret');
  });

  it('without --store checks the store fleet commands default to (./outflow.db), saying it is the default; none there is no warning (an endpoint has none)', async () => {
    const here = mkdtempSync(path.join(dir, 'cwd-'));
    const none = await doctor([], {}, here);
    expect(none.checks.get('fleet:store')).toEqual({
      name: 'fleet:store',
      status: 'skip',
      required: false,
      detail: `no fleet store here: ./outflow.db (${path.join(here, 'outflow.db')}, the default store: no --store or --config) does not exist (an endpoint needs none)`,
      fix: "to check the aggregator's store, pass --store (or --config); `outflow fleet migrate` here creates this one",
    });
    expect(none.code).toBe(0);
    expect((await runOutflow(['fleet', 'migrate'], { cwd: here, timeoutMs: 60_000 })).code).toBe(0);
    const made = await doctor([], {}, here);
    expect(made.checks.get('fleet:store')).toMatchObject({ status: 'ok', required: false, detail: `./outflow.db (${path.join(here, 'outflow.db')}, the default store: no --store or --config) reachable` });
  });

  it('gives a store whose directory does not exist advice that works, and says when it cannot be made there', async () => {
    const db = path.join(dir, 'not-yet', 'deeper', 'fleet.db');
    const missing = await doctor(['--store', db]);
    const check = missing.checks.get('fleet:store')!;
    expect(check).toMatchObject({ status: 'warn', detail: `${db} does not exist yet (nor its directory ${path.dirname(db)})` });
    // the advice names the store: a bare `outflow fleet migrate` would make ./outflow.db instead
    const command = /`(outflow fleet migrate [^`]+)`/.exec(check.fix!)![1]!;
    expect(command).toBe(`outflow fleet migrate --store ${db}`);
    expect((await runOutflow(command.split(' ').slice(1), { timeoutMs: 60_000 })).code).toBe(0);
    expect((await doctor(['--store', db])).checks.get('fleet:store')?.status).toBe('ok');

    const file = path.join(dir, 'a-plain-file');
    writeFileSync(file, '');
    const blocked = await doctor(['--store', path.join(file, 'fleet.db')]);
    expect(blocked.code).toBe(1);
    expect(blocked.checks.get('fleet:store')).toMatchObject({
      status: 'fail',
      detail: `${path.join(file, 'fleet.db')} does not exist, and cannot be created in ${file}: ${file} is not a directory`,
      fix: `${file} is a file: name a store path under a directory (--store PATH or fleet.store)`,
    });
  });

  it('names the bad key of an invalid config', async () => {
    const cfg = path.join(dir, 'bad.yml');
    writeFileSync(cfg, 'flows:\n  sample_interval: -5\n');
    const r = await doctor(['--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.checks.get('config')?.status).toBe('fail');
    expect(r.checks.get('config')?.detail).toContain('flows.sample_interval');
  });

  it('checks what fleet serve checks at start: the API token, its file, the TLS files, the tailed files', async () => {
    const db = path.join(dir, 'serve.db');
    const cfg = (name: string, http: string, files = [path.join(dir, 'not-yet.log')]) => {
      const file = path.join(dir, name);
      writeFileSync(file, `fleet:\n  store: ${db}\n  ingest:\n    files: [${files.join(', ')}]\n  http:\n${http}`);
      return file;
    };
    const env = { OUTFLOW_HTTP_TOKEN: '' };
    const badFile = await doctor(['--config', cfg('bad-file.yml', `    token_file: ${path.join(dir, 'missing.token')}\n`)], env);
    expect(badFile.code).toBe(1);
    expect(badFile.checks.get('fleet:http')).toMatchObject({ status: 'fail', required: true, detail: expect.stringContaining('cannot read fleet.http.token_file') });
    // a token file that this shell's OUTFLOW_HTTP_TOKEN would shadow is still checked: the service may not set it
    const shadowed = await doctor(['--config', cfg('bad-file-env.yml', `    token_file: ${path.join(dir, 'missing.token')}\n`)], { OUTFLOW_HTTP_TOKEN: 'shell-token-0123456789abcdef' });
    expect(shadowed.checks.get('fleet:http')).toMatchObject({ status: 'fail' });
    const tokenFile = path.join(dir, 'good.token');
    writeFileSync(tokenFile, 'a-long-random-token-0123456789\n');
    const good = await doctor(['--config', cfg('good.yml', `    token_file: ${tokenFile}\n`)], env);
    expect(good.checks.get('fleet:http')).toMatchObject({ status: 'ok', required: true });
    expect(good.checks.get('fleet:files')).toMatchObject({ status: 'warn', required: false, detail: expect.stringContaining('not-yet.log') });
    expect(good.code).toBe(0);
    // no token in the config: serve needs it from its environment, which doctor cannot see
    const envOnly = await doctor(['--config', cfg('env-only.yml', '    port: 0\n')], env);
    expect(envOnly.checks.get('fleet:http')).toMatchObject({ status: 'warn', required: false, detail: expect.stringContaining('OUTFLOW_HTTP_TOKEN in its environment') });
    expect(envOnly.code).toBe(0);
    const tls = await doctor(['--config', cfg('tls.yml', `    token_file: ${tokenFile}\n    tls: {cert: ${path.join(dir, 'no.crt')}, key: ${path.join(dir, 'no.key')}}\n`)], env);
    expect(tls.checks.get('fleet:http')).toMatchObject({ status: 'fail', detail: expect.stringContaining('no.crt') });
    // a tailed path that cannot be reached (here under a regular file: ENOTDIR; EACCES alike) is a failure, not "not there yet"
    writeFileSync(path.join(dir, 'plain-file'), '');
    const unreachable = await doctor(['--config', cfg('unreachable.yml', `    token_file: ${tokenFile}\n`, [path.join(dir, 'plain-file', 'x.log')])], env);
    expect(unreachable.checks.get('fleet:files')).toMatchObject({ status: 'fail', required: true, detail: expect.stringContaining('ENOTDIR') });
    // a fleet section without http (CLI use) and an extension-only config are not failed for serve's token
    const cliOnly = path.join(dir, 'cli.yml');
    writeFileSync(cliOnly, `fleet:\n  store: ${db}\n`);
    const cli = await doctor(['--config', cliOnly], env);
    expect(cli.checks.get('fleet:http')).toMatchObject({ status: 'warn', required: false });
    expect(cli.code).toBe(0);
    const extOnly = path.join(dir, 'ext.yml');
    writeFileSync(extOnly, 'flows:\n  sample_interval: 5\n');
    expect((await doctor(['--config', extOnly], env)).checks.get('fleet:http')).toMatchObject({ status: 'skip', required: false });
  });
});
