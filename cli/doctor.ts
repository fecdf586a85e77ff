/**
 * `outflow doctor`: checks what Outflow needs on this machine and says how to fix what is missing.
 * Exit 0 only when every required check passes; `--json` prints the results as one JSON document.
 */
import { accessSync, constants, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { apiTokenSource, resolveApiToken } from '../fleet/api/auth.js';
import { specialFileKind, statFile } from '../fleet/ingest/file-source.js';
import { CRON_HINT, invalidCronIssues } from '../fleet/scheduler/scheduler.js';
import { scheduledJobs } from '../fleet/scheduler/jobs.js';
import { sinkStartProblems } from '../fleet/sinks/index.js';
import { configFrom, readConfigFile, type OutflowConfig } from '../src/config/index.js';
import { causeCode, coerceError, OutflowError, ToolError } from '../src/errors.js';
import { rootOnlyPathProblems, runningAsRoot } from '../src/root-only-path.js';
import { resolvePlatform } from '../extension/runtime/create-context.js';
import { ToolRunner, type Platform, type ToolName } from '../extension/runtime/tools.js';
import { writeOut } from '../src/stdout.js';
import { typedUserinfo } from '../src/strings.js';

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  required: boolean;
  detail: string;
  fix?: string;
}

export interface DoctorOptions {
  json?: boolean;
  socket?: string;
  config?: string;
  store?: string;
  /** The extensions.load file Outflow was installed into (install.sh --extensions-load). */
  extensionsLoad?: string;
}

interface ToolProbe {
  tool: ToolName;
  args: string[];
  /** Exit codes that mean "present and runnable" (usage errors count: the binary ran). */
  okExitCodes: number[];
  required: boolean;
  purpose: string;
}

const PROBES: Record<Platform, ToolProbe[]> = {
  darwin: [
    { tool: 'nettop', args: ['-L', '1', '-P', '-n', '-x', '-J', 'bytes_in'], okExitCodes: [0], required: true, purpose: 'process_network_flows' },
    { tool: 'ps', args: ['-p', '1', '-o', 'pid='], okExitCodes: [0], required: true, purpose: 'process lineage' },
    { tool: 'codesign', args: ['-h'], okExitCodes: [0, 1, 2], required: true, purpose: 'code_signing' },
    { tool: 'spctl', args: ['--status'], okExitCodes: [0, 1], required: true, purpose: 'notarization in code_signing' },
    { tool: 'eslogger', args: ['--list-events'], okExitCodes: [0], required: true, purpose: 'sensitive_file_events, archive_events' },
    { tool: 'tcpdump', args: ['-h'], okExitCodes: [0, 1], required: false, purpose: 'server names from DNS answers (dns_names)' },
    { tool: 'scutil', args: ['--dns'], okExitCodes: [0], required: false, purpose: 'which resolvers dns_names trusts' },
  ],
  linux: [
    // no ps: the linux backend reads processes from /proc (extension/process-model/refresh.ts)
    { tool: 'ss', args: ['-V'], okExitCodes: [0], required: true, purpose: 'process_network_flows' },
    { tool: 'dpkg-query', args: ['--version'], okExitCodes: [0], required: false, purpose: 'package ownership in code_signing' },
    { tool: 'tcpdump', args: ['-h'], okExitCodes: [0, 1], required: false, purpose: 'server names from DNS answers (dns_names)' },
  ],
};

const MIN_NODE: [number, number] = [20, 19];

export function checkNode(version = process.versions.node): CheckResult {
  const [maj = 0, min = 0] = version.split('.').map(Number);
  const ok = maj > MIN_NODE[0] || (maj === MIN_NODE[0] && min >= MIN_NODE[1]);
  return ok
    ? { name: 'node', status: 'ok', required: true, detail: `Node ${version}` }
    : { name: 'node', status: 'fail', required: true, detail: `Node ${version} is too old`, fix: `install Node >= ${MIN_NODE.join('.')}` };
}

async function probeTool(tools: ToolRunner, p: ToolProbe): Promise<CheckResult> {
  const name = `tool:${p.tool}`;
  const file = tools.resolve(p.tool);
  if (!tools.available(p.tool)) {
    return {
      name,
      status: p.required ? 'fail' : 'warn',
      required: p.required,
      detail: `${file} is missing or not executable (needed for ${p.purpose})`,
      fix: tools.platform === 'darwin' ? 'these tools ship with macOS; check tools.dir in the config' : `install the package that provides ${p.tool}`,
    };
  }
  try {
    await tools.run(p.tool, p.args, { timeoutMs: 10_000, okExitCodes: p.okExitCodes, maxBytes: 4 * 1024 * 1024 });
    return { name, status: 'ok', required: p.required, detail: `${file} runs (${p.purpose})` };
  } catch (err) {
    const e = coerceError(err);
    return { name, status: p.required ? 'fail' : 'warn', required: p.required, detail: `${file}: ${e.message}`, fix: e instanceof OutflowError ? e.hint : undefined };
  }
}

/**
 * eslogger needs root and Full Disk Access: a 1-second run shows which one is missing, for this session only.
 * TCC judges Full Disk Access on the *responsible* process: for doctor typed in Terminal (or over ssh) that is
 * Terminal (sshd), not osqueryd or orbit. So a pass here does not mean the extension may run eslogger, and a
 * refusal here does not mean it may not: checkExtensionEslogger asks the extension itself, through osqueryd.
 */
const THIS_SESSION = "from this session: TCC judges this shell's responsible app (Terminal, sshd), not osqueryd's; osquery:eslogger (with --socket) checks the extension's own";
async function probeEsloggerPermission(tools: ToolRunner): Promise<CheckResult> {
  const name = 'eslogger:permission';
  if (!tools.available('eslogger')) return { name, status: 'skip', required: false, detail: 'eslogger not present' };
  try {
    await tools.run('eslogger', ['exec'], { timeoutMs: 1000, maxBytes: 1024 * 1024 });
    return { name, status: 'ok', required: false, detail: `eslogger started and exited cleanly ${THIS_SESSION}` };
  } catch (err) {
    if (err instanceof ToolError && err.code === 'TOOL_TIMEOUT') {
      return { name, status: 'ok', required: false, detail: `eslogger ran for 1 s without a permission error ${THIS_SESSION}` };
    }
    // more events than the output cap on stdout (a busy Mac): it was streaming, so it was permitted
    if (err instanceof ToolError && err.code === 'TOOL_OUTPUT_LIMIT' && err.details.stderrHead === undefined) {
      return { name, status: 'ok', required: false, detail: `eslogger streamed events (more than the probe keeps) ${THIS_SESSION}` };
    }
    const stderr = err instanceof ToolError ? (err.details.stderrHead ?? '') : '';
    if (stderr.includes('ERR_NOT_PERMITTED')) {
      return {
        name,
        status: 'warn',
        required: false,
        detail: `eslogger is not permitted (ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED) ${THIS_SESSION}`,
        fix: 'check the extension with --socket (osquery:eslogger); for osqueryd grant Full Disk Access (PPPC SystemPolicyAllFiles) to the process that runs osqueryd (docs/deploy.md §4)',
      };
    }
    if (stderr.includes('ERR_NOT_PRIVILEGED')) {
      return { name, status: 'fail', required: true, detail: 'eslogger needs root (ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED)', fix: 'run osqueryd (and so the extension) as root' };
    }
    return { name, status: 'fail', required: true, detail: `eslogger failed: ${coerceError(err).message} ${stderr.trim()}`.trim() };
  }
}

/**
 * Whether the extension, under osqueryd's (or orbit's) TCC responsibility, runs eslogger: its own outflow_status
 * row, read through osqueryd. The only check of the Full Disk Access grant that matters.
 */
async function checkExtensionEslogger(socket: string): Promise<CheckResult> {
  const name = 'osquery:eslogger';
  const sql = "SELECT state, detail FROM outflow_status WHERE component = 'eslogger'";
  try {
    const row = (await queryOsqueryd(socket, sql))[0];
    if (!row) return { name, status: 'warn', required: false, detail: 'the extension reports no eslogger row in outflow_status', fix: `run in osqueryi or Fleet: ${sql}` };
    const said = `the extension under osqueryd: eslogger ${row.state ?? '?'}: ${row.detail ?? ''}`;
    if (row.state === 'running') return { name, status: 'ok', required: true, detail: said };
    if (row.state === 'permission_denied') {
      return {
        name,
        status: 'fail',
        required: true,
        detail: said,
        fix: 'grant Full Disk Access (PPPC SystemPolicyAllFiles) to the process that launches osqueryd (osqueryd itself, or orbit under fleetd) and /usr/bin/eslogger (docs/deploy.md §4)',
      };
    }
    return { name, status: 'warn', required: false, detail: said, fix: 'see docs/eslogger.md' };
  } catch (err) {
    return { name, status: 'warn', required: false, detail: `outflow_status did not answer through ${socket}: ${coerceError(err).message}`, fix: `run in osqueryi or Fleet: ${sql}` };
  }
}

/** As root, the extension ignores a config file that is not root's alone (see extensionConfig): say so ahead. */
function checkConfigTrust(file: string): CheckResult {
  const problems = rootOnlyPathProblems(file);
  return problems.length === 0
    ? { name: 'config:trust', status: 'ok', required: false, detail: `${file}: root-owned, writable by root only` }
    : {
        name: 'config:trust',
        status: 'warn',
        required: false,
        detail: `the extension, running as root, would ignore ${file} and run on the defaults: ${problems.join('; ')}`,
        fix: 'make the file and every directory above it owned by root and writable by root only (install.sh --config does)',
      };
}

/**
 * The Node running Outflow is what osqueryd runs as root (outflow.ext's first line names it): the file and
 * every directory above it must be writable by root only. Symlinks are followed.
 */
export function checkInterpreter(execPath = process.execPath): CheckResult {
  const name = 'node interpreter';
  const problems = rootOnlyPathProblems(execPath);
  return problems.length === 0
    ? { name, status: 'ok', required: false, detail: `${execPath}: root-owned, writable by root only` }
    : {
        name,
        status: 'warn',
        required: false,
        detail: `${execPath} runs as root under osqueryd, but ${problems.join('; ')}`,
        fix: 'package outflow.ext with --node naming a root-owned Node in root-only directories (docs/deploy.md §1)',
      };
}

function checkRoot(platform: Platform): CheckResult {
  return runningAsRoot()
    ? { name: 'root', status: 'ok', required: false, detail: 'running as root' }
    : {
        name: 'root',
        status: 'warn',
        required: false,
        detail: 'not running as root',
        fix: platform === 'darwin' ? 'eslogger and per-process flows of other users need root; osqueryd runs extensions as root' : 'other users\' sockets and /proc/<pid>/exe need root',
      };
}

const DEFAULT_SOCKETS = ['/var/osquery/osquery.em', '/opt/orbit/orbit-osquery.em'];

/** What to do about a manager socket that did not answer, by why. */
export function socketFix(socket: string, err: unknown): string {
  switch (causeCode(err)) {
    case 'ENOENT':
      return `no socket at ${socket}: pass the path osqueryd's --extensions_socket names (--socket PATH)`;
    case 'EACCES':
    case 'EPERM':
      return `${socket} is not ours to open (osqueryd's socket is root's, mode 0600): run doctor as root`;
    case 'ECONNREFUSED':
      return `nothing listens on ${socket}: osqueryd is not running (the socket file is left over), or runs with --disable_extensions`;
    default:
      return 'is osqueryd running with extensions enabled? (--disable_extensions=false)';
  }
}

/** The socket check, and the socket when it answered (the checks that query osqueryd use it). */
async function checkSocket(explicit: string | undefined): Promise<{ result: CheckResult; answered?: string; outflow?: boolean }> {
  const candidates = explicit ? [explicit] : DEFAULT_SOCKETS.filter((p) => existsSync(p));
  const required = explicit !== undefined;
  if (!candidates.length) {
    return { result: { name: 'osquery:socket', status: 'skip', required: false, detail: `no manager socket found (${DEFAULT_SOCKETS.join(', ')})`, fix: 'pass --socket PATH to probe a running osqueryd' } };
  }
  const socket = candidates[0] as string;
  try {
    const { listExtensions } = await import('../extension/sdk/probe.js');
    const exts = await listExtensions(socket, 3000);
    const names = exts.map((e) => `${e.name}@${e.version} (uuid ${e.uuid})`);
    const ours = exts.some((e) => e.name === 'outflow');
    return {
      result: {
        name: 'osquery:socket',
        // the first thing an admin asks doctor: is Outflow loaded? Not yet is worth a line whatever the flags
        status: ours ? 'ok' : 'warn',
        required,
        detail: `${socket} reachable; extensions: ${names.join(', ') || 'none'}`,
        fix: ours ? undefined : 'outflow is not registered: add outflow.ext to extensions.load (docs/deploy.md)',
      },
      answered: socket,
      outflow: ours,
    };
  } catch (err) {
    return { result: { name: 'osquery:socket', status: required ? 'fail' : 'warn', required, detail: `${socket}: ${coerceError(err).message}`, fix: socketFix(socket, err) } };
  }
}

/** Rows of `sql` run by osqueryd itself, through its manager socket (the SDK loads only when doctor gets here). */
async function queryOsqueryd(socket: string, sql: string): Promise<Record<string, string>[]> {
  const { coreQuery } = await import('../extension/sdk/core-query.js');
  return coreQuery(socket, { timeoutMs: 3000 }).query(sql);
}

/**
 * The darwin extension takes process paths from core's processes table (proc_pidpath); without it they are ps's
 * argv[0] claims (docs/flows.md). launchd (pid 1) is always there, with a path.
 */
async function checkCoreProcesses(socket: string): Promise<CheckResult> {
  const name = 'osquery:processes';
  const sql = 'SELECT pid, path FROM processes WHERE pid = 1';
  try {
    const rows = await queryOsqueryd(socket, sql);
    const launchd = rows.find((r) => r.pid === '1');
    if (launchd?.path?.startsWith('/')) return { name, status: 'ok', required: false, detail: `osqueryd's processes table answers with kernel paths (pid 1: ${launchd.path})` };
    return { name, status: 'warn', required: false, detail: `osqueryd's processes table gave no path for pid 1 (${JSON.stringify(rows).slice(0, 200)})`, fix: 'osqueryd answers this query itself: check that it runs as root and has not disabled the table (docs/flows.md)' };
  } catch (err) {
    return {
      name,
      status: 'warn',
      required: false,
      detail: `osqueryd's processes table did not answer through ${socket}: ${coerceError(err).message}; process paths will be ps's argv[0] claims`,
      fix: "remove processes from osqueryd's --disable_tables (docs/flows.md, \"A ps path is a claim\")",
    };
  }
}

const FLAGS_SQL = "SELECT name, value FROM osquery_flags WHERE name IN ('extensions_autoload', 'disable_extensions')";

function samePath(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  // /var is /private/var on macOS: osqueryd's flag and install.sh's argument may name one file two ways
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** The lines of an extensions.load that name an outflow.ext, read as osqueryd reads them (trimmed; # and ; comment). */
function outflowLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';') && l.endsWith('/outflow.ext'));
}

/**
 * Which extensions.load osqueryd reads (its --extensions_autoload, from osquery_flags) against the one Outflow was
 * installed into: a file osqueryd does not read means Outflow never starts, and nothing else says so. Without
 * --extensions-load, the file osqueryd reads is looked into for an outflow.ext line instead.
 */
async function checkAutoload(socket: string, required: boolean, installedInto: string | undefined): Promise<CheckResult> {
  const name = 'osquery:autoload';
  let flags: Map<string, string>;
  try {
    flags = new Map((await queryOsqueryd(socket, FLAGS_SQL)).map((r) => [r.name ?? '', r.value ?? '']));
  } catch (err) {
    return { name, status: 'warn', required: false, detail: `could not read osqueryd's flags through ${socket}: ${coerceError(err).message}`, fix: `run in osqueryi or Fleet: ${FLAGS_SQL}` };
  }
  const disabled = flags.get('disable_extensions');
  if (disabled === 'true' || disabled === '1') {
    return { name, status: 'fail', required, detail: 'osqueryd runs with --disable_extensions=true: it loads no extension', fix: 'set --disable_extensions=false in osqueryd\'s flags (docs/deploy.md §2)' };
  }
  const autoload = flags.get('extensions_autoload');
  if (!autoload) {
    return { name, status: 'warn', required: false, detail: 'osqueryd reports no extensions_autoload path: it autoloads no extension', fix: 'set --extensions_autoload to the file install.sh wrote (docs/deploy.md §2)' };
  }
  const reads = `osqueryd autoloads extensions from ${autoload}`;
  // its outflow.ext lines, or why it cannot be read here
  let listed: string[] | undefined;
  let unreadable = '';
  try {
    listed = outflowLines(readFileSync(autoload, 'utf8'));
  } catch (err) {
    unreadable = String((err as { code?: unknown }).code ?? coerceError(err).message);
  }
  if (installedInto !== undefined) {
    if (samePath(installedInto, autoload)) {
      // the right file, but something may have rewritten it since (config management, another installer); not
      // readable here, the comparison is all doctor can say
      if (listed !== undefined && !listed.length) {
        return {
          name,
          status: 'fail',
          required: true,
          detail: `${reads}, the file Outflow was installed into, but it lists no outflow.ext any more: Outflow will not start`,
          fix: `install again with --extensions-load ${autoload}, and keep Outflow's line in whatever else writes that file`,
        };
      }
      return { name, status: 'ok', required: true, detail: `${reads}, the file Outflow was installed into${listed ? `, which lists ${listed.join(', ')}` : ''}` };
    }
    return {
      name,
      status: 'fail',
      required: true,
      detail: `${reads}, not ${installedInto} where Outflow was installed: Outflow will not start`,
      fix: `install again with --extensions-load ${autoload}, or point osqueryd's --extensions_autoload at ${installedInto} (under fleetd, see docs/deploy.md §3)`,
    };
  }
  if (listed === undefined) {
    return {
      name,
      status: 'warn',
      required: false,
      detail: unreadable === 'ENOENT' ? `${reads}, which does not exist: Outflow will not start` : `${reads} (cannot read it here: ${unreadable})`,
      fix: unreadable === 'ENOENT' ? `install with --extensions-load ${autoload}` : 'run doctor as root, or pass --extensions-load FILE naming the file install.sh wrote',
    };
  }
  return listed.length
    ? { name, status: 'ok', required: false, detail: `${reads}, which lists ${listed.join(', ')}` }
    : { name, status: 'warn', required: false, detail: `${reads}, which lists no outflow.ext: Outflow will not start`, fix: `install with --extensions-load ${autoload} (or pass --extensions-load FILE naming the file install.sh wrote)` };
}

/** A config file's `fleet:` section as written, or undefined when it has none (or not a mapping). */
function fleetSection(raw: unknown): Record<string, unknown> | undefined {
  const fleet = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).fleet : undefined;
  return typeof fleet === 'object' && fleet !== null ? (fleet as Record<string, unknown>) : undefined;
}

/** Whether a config file has a `fleet:` section: the aggregator's config (an endpoint's outflow.yaml may have one too). */
function hasFleetSection(raw: unknown): boolean {
  return fleetSection(raw) !== undefined;
}

/** Whether a config file names a fleet store (fleet.store); an endpoint's outflow.yaml does not. */
function namesStore(raw: unknown): boolean {
  return fleetSection(raw)?.store !== undefined;
}

async function checkStore(config: OutflowConfig | undefined, configPath: string | undefined, explicit: string | undefined, raw: unknown = {}): Promise<CheckResult> {
  // The store fleet commands would use here: --store, else fleet.store of --config or of the defaults (./outflow.db).
  if (explicit === undefined && !config) return { name: 'fleet:store', status: 'skip', required: false, detail: 'the config is invalid: which store it names is unknown' };
  const url = explicit ?? config!.fleet.store;
  // The packaged `outflow doctor` always passes the endpoint's outflow.yaml, which names no store: still the default.
  const isDefault = explicit === undefined && (configPath === undefined || !namesStore(raw));
  const required = explicit !== undefined;
  const { isPostgresUrl, sqlitePath } = await import('../fleet/store/open.js');
  const why = configPath === undefined ? 'no --store or --config' : `no --store, and ${configPath} names no fleet.store`;
  const named = isDefault ? `${url} (${path.resolve(sqlitePath(url))}, the default store: ${why})` : redactStoreUrl(url);
  // what `fleet migrate` needs to find this store again
  const args = explicit !== undefined ? ` --store ${shellWord(url)}` : configPath !== undefined ? ` --config ${shellWord(configPath)}` : '';
  // Probing must not create the SQLite file as a side effect.
  if (!isPostgresUrl(url) && !existsSync(sqlitePath(url))) {
    // Nothing asked for a store, and there is none here: a Mac running the extension, most often, which needs none.
    if (isDefault) {
      return { name: 'fleet:store', status: 'skip', required: false, detail: `no fleet store here: ${named} does not exist (an endpoint needs none)`, fix: 'to check the aggregator\'s store, pass --store (or --config); `outflow fleet migrate` here creates this one' };
    }
    const file = path.resolve(sqlitePath(url));
    const dir = path.dirname(file);
    const blocked = dirBlocker(dir);
    if (blocked) {
      const fix = blocked.notDir
        ? `${blocked.at} is a file: name a store path under a directory (--store PATH or fleet.store)`
        : `create ${dir} as a user who can and give it to the user fleet commands run as (sudo mkdir -p ${shellWord(dir)} && sudo chown "$USER" ${shellWord(dir)}), or name a store in a directory this user can write (--store PATH or fleet.store)`;
      return { name: 'fleet:store', status: required ? 'fail' : 'warn', required, detail: `${named} does not exist, and cannot be created in ${dir}: ${blocked.why}`, fix };
    }
    const missingDir = existsSync(dir) ? '' : ` (nor its directory ${dir})`;
    const others = args ? `, or \`fleet ingest\` / \`fleet serve\` with${args}` : ' here, or `fleet ingest` / `fleet serve`';
    return { name: 'fleet:store', status: 'warn', required, detail: `${named} does not exist yet${missingDir}`, fix: `run \`outflow fleet migrate${args}\`${others}: each creates it${missingDir ? ' and its directory' : ''}` };
  }
  try {
    const { openStore } = await import('../fleet/store/open.js');
    const store = await openStore(url, { migrate: false });
    await store.close();
    return { name: 'fleet:store', status: 'ok', required, detail: `${named} reachable` };
  } catch (err) {
    const e = coerceError(err);
    // Reachable but behind on migrations: the fix is one command, the store itself is fine.
    if (e instanceof OutflowError && e.code === 'STORE_MIGRATE') {
      return { name: 'fleet:store', status: 'warn', required, detail: `${named} reachable; ${redactStoreUrl(url, e.message)}`, fix: e.hint ?? `run \`outflow fleet migrate${args}\`` };
    }
    return { name: 'fleet:store', status: required ? 'fail' : 'warn', required, detail: `${named}: ${redactStoreUrl(url, e.message)}`, fix: 'check fleet.store / --store and that the server is reachable' };
  }
}

/** Why this user cannot make a file in `dir` (which may not exist): its nearest existing ancestor is no directory or not writable; null if it can. */
function dirBlocker(dir: string): { at: string; why: string; notDir: boolean } | null {
  let at = dir;
  while (!existsSync(at)) {
    const up = path.dirname(at);
    if (up === at) return null;
    at = up;
  }
  if (!statSync(at).isDirectory()) return { at, why: `${at} is not a directory`, notDir: true };
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
    return null;
  } catch {
    return { at, why: `${at} is not writable by this user`, notDir: false };
  }
}

/** `s` as one shell word (quoted only when it needs to be). */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The store url itself, as doctor names it, or a message about it: the password of its typed userinfo (typedUserinfo:
 * a URL parser may end the authority inside it) hidden wherever it appears.
 */
function redactStoreUrl(url: string, text = url): string {
  const typed = typedUserinfo(url);
  if (!typed?.info.includes(':')) return redactUrl(text);
  const user = typed.info.slice(0, typed.info.indexOf(':'));
  return redactUrl(text.replaceAll(url, `${typed.scheme}${user}:***@${typed.rest}`).replaceAll(typed.info, `${user}:***`));
}

function redactUrl(url: string): string {
  // node-postgres takes the password from user:password@ and from a password (or sslpassword) parameter alike
  // the userinfo runs to the authority's last '@' (WHATWG URL, as node-postgres reads it): a password may hold an '@'
  // (anywhere in the text: an error message may quote the url)
  return url
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^/?#\r\n]*)@/gi, (_m, scheme: string, info: string) => `${scheme}${info.includes(':') ? `${info.slice(0, info.indexOf(':'))}:***` : info}@`)
    .replace(/([?&](?:ssl)?password=)[^&#\r\n]*/gi, '$1***');
}

export async function runDoctorChecks(opts: DoctorOptions, env: NodeJS.ProcessEnv = process.env): Promise<CheckResult[]> {
  const results: CheckResult[] = [checkNode()];
  let platform: Platform;
  try {
    platform = resolvePlatform(env);
    results.push({ name: 'platform', status: 'ok', required: true, detail: `${platform} backend${env.OUTFLOW_PLATFORM ? ' (forced by OUTFLOW_PLATFORM)' : ''}` });
  } catch (err) {
    results.push({ name: 'platform', status: 'fail', required: true, detail: coerceError(err).message, fix: 'unset OUTFLOW_PLATFORM or set it to darwin|linux' });
    return results;
  }
  let config: OutflowConfig | undefined;
  let raw: unknown = {};
  try {
    if (opts.config) raw = readConfigFile(opts.config);
    config = configFrom(raw, opts.config, env);
    results.push({ name: 'config', status: 'ok', required: true, detail: opts.config ? `${opts.config} is valid` : 'defaults (no --config)' });
    if (opts.config && runningAsRoot()) results.push(checkConfigTrust(opts.config));
  } catch (err) {
    const e = coerceError(err);
    results.push({ name: 'config', status: 'fail', required: true, detail: e.message, fix: e instanceof OutflowError ? e.hint : undefined });
  }
  const tools = new ToolRunner({ platform, toolDir: config?.tools.dir ?? env.OUTFLOW_TOOL_DIR });
  // asked before the tools (reported after them): an osqueryd with Outflow loaded makes this host an endpoint
  const socket = await checkSocket(opts.socket);
  // A config with a fleet section is the aggregator's: fleet serve runs none of the extension's tools, so a server
  // without them (no iproute2, say) is told so without failing doctor. One file may serve both (docs/config.md),
  // though: where doctor checks the extension (--socket, --extensions-load, or Outflow answers on the socket), the
  // host is an endpoint and its tools stay required.
  const endpoint = opts.socket !== undefined || opts.extensionsLoad !== undefined || socket.outflow === true;
  const aggregator = opts.config !== undefined && hasFleetSection(raw) && !endpoint;
  if (tools.toolDirProblem) {
    results.push({
      name: 'tools.dir',
      status: 'fail',
      required: true,
      detail: `the extension runs no tool from ${tools.toolDir} as root: ${tools.toolDirProblem}`,
      fix: 'tools.dir (OUTFLOW_TOOL_DIR) is for tests: unset it, or make it and every directory above it owned by root and writable by root only',
    });
  } else {
    for (const probe of PROBES[platform]) {
      results.push(await probeTool(tools, aggregator ? { ...probe, required: false, purpose: `${probe.purpose}; the extension's, not fleet serve's` } : probe));
    }
  }
  if (platform === 'darwin') {
    // eslogger is the extension's too: a Mac that only runs fleet serve needs neither it nor its permission
    const es = await probeEsloggerPermission(tools);
    results.push(aggregator && es.required ? { ...es, required: false, status: es.status === 'fail' ? 'warn' : es.status, detail: `${es.detail}; the extension's, not fleet serve's` } : es);
  }
  results.push(checkRoot(platform));
  results.push(checkInterpreter());
  results.push(socket.result);
  if (socket.answered) {
    results.push(await checkAutoload(socket.answered, opts.socket !== undefined, opts.extensionsLoad));
    if (platform === 'darwin') results.push(await checkCoreProcesses(socket.answered));
    if (platform === 'darwin' && socket.outflow) results.push(await checkExtensionEslogger(socket.answered));
  } else if (opts.extensionsLoad) results.push({ name: 'osquery:autoload', status: 'skip', required: false, detail: `no osqueryd answered to compare ${opts.extensionsLoad} with`, fix: 'pass --socket PATH' });
  results.push(await checkStore(config, opts.config, opts.store, raw));
  if (config && opts.config) results.push(...checkFleetServe(config, raw, env));
  return results;
}

/**
 * What `fleet serve` checks at start beyond the schema: the API token (its file readable, 16+ characters), the
 * TLS files, and the tailed files. Required when the config file has a `fleet.http` section (a config meant for
 * serve's API); otherwise reported without failing doctor. A token only in the service's environment
 * (OUTFLOW_HTTP_TOKEN) is out of doctor's sight: that is a warning, not a pass or a failure.
 */
function checkFleetServe(config: OutflowConfig, raw: unknown, env: NodeJS.ProcessEnv): CheckResult[] {
  const fleetRaw = fleetSection(raw);
  if (fleetRaw === undefined) return [{ name: 'fleet:http', status: 'skip', required: false, detail: 'no fleet section in the config' }];
  const forServe = 'http' in fleetRaw;
  const results: CheckResult[] = [];
  const http = config.fleet.http;
  if (!http.enabled) {
    results.push({ name: 'fleet:http', status: 'skip', required: false, detail: 'fleet.http.enabled is false' });
  } else {
    try {
      const tls = http.tls;
      if (tls) for (const f of [tls.cert, tls.key]) readFileSync(f);
      const listens = `${tls ? 'TLS files readable; ' : ''}serve listens on ${http.host}:${http.port}`;
      // the configured token as serve would read it (OUTFLOW_HTTP_TOKEN aside, which only the service's environment has)
      const configured = apiTokenSource(http, {});
      if (configured) {
        resolveApiToken(http, {});
        const shadowed = env.OUTFLOW_HTTP_TOKEN?.trim() ? ' (this shell sets OUTFLOW_HTTP_TOKEN, which would override it)' : '';
        results.push({ name: 'fleet:http', status: 'ok', required: forServe, detail: `API token from ${configured}${shadowed}; ${listens}` });
      } else {
        results.push({
          name: 'fleet:http',
          status: 'warn',
          required: false,
          detail: `no API token in the config: serve starts only with OUTFLOW_HTTP_TOKEN in its environment; ${listens}`,
          fix: 'set fleet.http.token_file (or make sure the service environment sets OUTFLOW_HTTP_TOKEN), or fleet.http.enabled: false',
        });
      }
    } catch (err) {
      const e = coerceError(err);
      results.push({ name: 'fleet:http', status: 'fail', required: forServe, detail: e.message, fix: e instanceof OutflowError ? e.hint : 'check fleet.http.tls.cert and .key and that the service user can read them' });
    }
  }
  const files = config.fleet.ingest.files;
  if (files.length) {
    const notYet: string[] = [];
    const unreachable: string[] = [];
    for (const f of files) {
      const st = statFile(f);
      if (st === 'ENOENT') notYet.push(f);
      else if (typeof st === 'string') unreachable.push(`${f} (${st})`);
      // serve's file source reads a regular file from stored offsets and refuses anything else, retrying for ever
      else if (!st.isFile()) unreachable.push(`${f} (${specialFileKind(st)}: serve tails regular files only)`);
      // serve opens the file to read it: a stat is not enough (osquery writes its result log 0640 root:root)
      else if (!readable(f)) unreachable.push(`${f} (EACCES: not readable by this user)`);
    }
    if (unreachable.length) {
      results.push({ name: 'fleet:files', status: 'fail', required: forServe, detail: `cannot reach: ${unreachable.join(', ')}`, fix: 'name regular files (the result logs themselves), and let the service user read them and search their directories' });
    } else if (notYet.length) {
      results.push({ name: 'fleet:files', status: 'warn', required: false, detail: `not there yet: ${notYet.join(', ')}`, fix: 'serve waits for them to appear (osquery creates its result log on its first result)' });
    } else {
      results.push({ name: 'fleet:files', status: 'ok', required: false, detail: `${files.length} file(s) to tail` });
    }
  }
  // serve refuses these sinks at start (exit 2): a webhook secret it cannot read or too short, a file sink's directory
  const sinkProblems = sinkStartProblems(config.fleet.sinks);
  // serve refuses a cron expression node-cron does not take (exit 2), after the config itself validated
  const cron = config.fleet.scheduler.enabled ? invalidCronIssues(scheduledJobs(config.fleet.scheduler)) : [];
  if (cron.length) {
    results.push({ name: 'fleet:scheduler', status: 'fail', required: forServe, detail: cron.map((i) => `${i.path}: ${i.message}`).join('; '), fix: `${CRON_HINT}: fleet serve refuses to start with it` });
  }
  if (sinkProblems.length) {
    results.push({ name: 'fleet:sinks', status: 'fail', required: forServe, detail: sinkProblems.join('; '), fix: 'a webhook secret: 16+ characters, in secret or on the first line of a secret_file the service user can read; a file sink: the path of a file' });
  }
  // The file checks above read as doctor's user: root reads any file, so from root they pass files that the service
  // user (User=outflow in deploy/outflow-fleet.service) cannot read, and serve then exits 2 or retries for ever.
  const read = [
    ...(http.enabled && http.token_file !== undefined ? ['the API token file'] : []),
    ...(http.enabled && http.tls ? ['the TLS files'] : []),
    ...(config.fleet.sinks.some((s) => s.type === 'webhook' && s.secret_file !== undefined) ? ['the webhook secret files'] : []),
    ...(files.length ? ['the tailed files'] : []),
  ];
  if (read.length && runningAsRoot()) {
    results.push({
      name: 'fleet:user',
      status: 'warn',
      required: false,
      detail: `doctor runs as root, which reads any file: ${read.join(', ')} were checked as root, not as the user fleet serve runs as`,
      fix: 'run doctor as that user too: sudo -u outflow outflow doctor --config FILE',
    });
  }
  return results;
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', fail: 'FAIL', warn: 'warn', skip: 'skip' };

export async function runDoctor(opts: DoctorOptions): Promise<number> {
  const results = await runDoctorChecks(opts);
  const failed = results.filter((r) => r.required && r.status === 'fail');
  if (opts.json) {
    writeOut(`${JSON.stringify({ ok: failed.length === 0, checks: results }, null, 2)}\n`);
  } else {
    for (const r of results) {
      writeOut(`${MARK[r.status]}  ${r.name.padEnd(20)} ${r.detail}${r.fix && r.status !== 'ok' ? `\n      fix: ${r.fix}` : ''}\n`);
    }
    writeOut(failed.length ? `\n${failed.length} required check(s) failed\n` : '\nall required checks passed\n');
  }
  return failed.length ? 1 : 0;
}
