/**
 * `outflow extension`: the osqueryd-autoloaded process. Composition root: config → logger → context →
 * collectors → tables → SDK. Logs are pino JSON on stderr only (osquery owns stdout).
 */
import { existsSync, rmSync } from 'node:fs';
import { coerceError, InputError, OutflowError } from '../src/errors.js';
import { loadConfig, type OutflowConfig } from '../src/config/index.js';
import { checkRootOnlyPath, runningAsRoot } from '../src/root-only-path.js';
import { createLogger } from '../src/log.js';
import { SDK_VERSION, VERSION } from '../src/version.js';
import { COLLECTORS } from './collectors/index.js';
import { createContext, resolvePlatform } from './runtime/create-context.js';
import { applyExtensionHeapTuning } from './runtime/node-flags.js';
import { loadTestTables, reapToolsOnExit, startCollectors, stopAll, tablesFor, toTablePlugin } from './runtime/table-host.js';
import { OsqueryExtension, SdkError, coreQuery, exitCodeFor, parseSecondsFlag, type StopReason } from './sdk/index.js';
import { TABLES } from './tables/index.js';

export interface ExtensionCliOptions {
  socket: string;
  timeout: string;
  interval: string;
  verbose?: boolean;
  config?: string;
}

/** Collectors get this long to stop; the rest of osqueryd's 2 s budget is for deregistering and cleanup. */
const COLLECTOR_STOP_BUDGET_MS = 800;
/** A process snapshot waits for core's answer before it runs ps: a busy core costs a snapshot at most this. */
const CORE_QUERY_TIMEOUT_MS = 5000;
/** Hard bound on the whole exit path from the moment a stop begins. */
const EXIT_DEADLINE_MS = 1500;

function secondsFlag(value: string, flag: string, fallback: number): number {
  try {
    return parseSecondsFlag(value, flag, fallback);
  } catch (err) {
    // the SDK's message names the flag and the value already
    throw new InputError((err as Error).message, [], 'osqueryd passes seconds, e.g. --timeout 3 --interval 3');
  }
}

/**
 * The extension's config: the --config file (the packaged outflow.ext passes the outflow.yaml beside it), else
 * the defaults. Under osqueryd nobody sees a failed start, so a config the extension cannot use does not stop
 * it: it runs on the defaults and its outflow_status row says why (`problem`), on every Mac the file reached.
 * That covers a file root cannot trust (anyone who can change it steers a root process) and an invalid one.
 * A --config naming no file at all is still an error: that is a typo on a command line, not a deployed file.
 */
export function extensionConfig(file: string | undefined): { config: OutflowConfig; problem?: string } {
  if (!file) return { config: loadConfig() };
  let read = file;
  if (runningAsRoot()) {
    const checked = checkRootOnlyPath(file);
    // not there: the same error as a missing --config always gave, without reading a file that appeared since
    if (checked.real === undefined && !existsSync(file)) throw new OutflowError('CONFIG_NOT_FOUND', `cannot read config file ${file}`, 'check the --config path and its permissions');
    if (checked.problems.length || checked.real === undefined) {
      return { config: loadConfig(), problem: `config ${file} ignored, running on the defaults: root cannot trust it (${checked.problems.join('; ')}); make it and every directory above it owned by root and writable by root only` };
    }
    // the file as the check resolved it: a link on the given path replaced since changes nothing
    read = checked.real;
  } else if (!existsSync(file)) {
    return { config: loadConfig(file) };
  }
  try {
    return { config: loadConfig(read) };
  } catch (err) {
    const e = coerceError(err);
    const hint = err instanceof OutflowError && err.hint ? `; ${err.hint}` : '';
    return { config: loadConfig(), problem: `config ${file} ignored, running on the defaults: ${e.message}${hint}` };
  }
}

export async function runExtension(opts: ExtensionCliOptions): Promise<number> {
  applyExtensionHeapTuning();
  const log = createLogger({ level: opts.verbose ? 'debug' : 'info', name: 'outflow-extension' });
  const startTimeoutMs = secondsFlag(opts.timeout, '--timeout', 3);
  const intervalMs = secondsFlag(opts.interval, '--interval', 3);
  const { config, problem: configProblem } = extensionConfig(opts.config);
  if (configProblem) log.error({ config: opts.config }, configProblem);
  else log.info({ config: opts.config ?? null }, opts.config ? 'config loaded' : 'no config file: running on the defaults');
  const platform = resolvePlatform();
  // On macOS the process snapshot takes executable paths from core's processes table (proc_pidpath): ps only
  // has argv[0], which a process chooses. Bounded like any tool's output.
  const core = coreQuery(opts.socket, { timeoutMs: Math.min(config.tools.timeout_ms, CORE_QUERY_TIMEOUT_MS), maxReplyBytes: config.tools.max_output_bytes });
  const ctx = createContext({ platform, config, log, core });

  const definitions = [...tablesFor(TABLES, platform), ...(await loadTestTables())];
  const ext = new OsqueryExtension({
    socket: opts.socket,
    name: 'outflow',
    version: VERSION,
    sdkVersion: SDK_VERSION,
    tables: definitions.map((d) => toTablePlugin(d, ctx)),
    startTimeoutMs,
    intervalMs,
    generateTimeoutMs: config.generate_timeout_ms,
    log: log.child({ component: 'sdk' }),
  });

  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'signal received; stopping');
    void ext.stop({ kind: 'signal', signal });
  };
  // Every terminating signal stops in order (SIGHUP and SIGQUIT used to end us with the socket and tools left).
  const removeSignalHandlers = reapToolsOnExit(ctx, ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'], onSignal);

  // Collectors may hold child processes (eslogger, nettop -L 0) whose teardown we do not fully control:
  // never let them keep us past osqueryd's deadline (exit within 2 s of shutdown()/SIGTERM).
  void ext.stopRequested.then((r) => setTimeout(() => process.exit(exitCodeFor(r)), EXIT_DEADLINE_MS).unref());
  // Last resort for the forced exit above: never leave `<socket>.<uuid>` behind.
  const removeSocket = () => {
    if (ext.registered) rmSync(ext.extensionSocket, { force: true });
  };
  process.once('exit', removeSocket);

  const selfHealth = ctx.health.component('extension');
  const collectors = startCollectors(COLLECTORS, ctx);
  let reason: StopReason;
  try {
    await ext.start();
    const registered = `registered with osquery as uuid ${ext.uuid}; serving ${ext.router.tableNames.length} tables`;
    if (configProblem) selfHealth.degraded(`${registered}; ${configProblem}`);
    else selfHealth.running(`${registered}; config ${opts.config ?? 'none (defaults)'}`);
    reason = await ext.stopped;
  } catch (err) {
    // A signal during start-up is an orderly stop, not a failure.
    if (ext.isStopping) reason = await ext.stopped;
    else {
      const message = err instanceof SdkError || err instanceof OutflowError ? err.message : String(err);
      log.error({ err }, 'extension failed to start');
      process.stderr.write(`outflow extension: ${message}\n`);
      reason = { kind: 'manager_unreachable', detail: message };
      await ext.stop(reason);
    }
  }

  const code = exitCodeFor(reason);
  await stopAll(collectors, ctx, COLLECTOR_STOP_BUDGET_MS);
  removeSignalHandlers();
  process.off('exit', removeSocket);
  log.info({ reason: reason.kind, exit_code: code }, 'extension exiting');
  return code;
}
