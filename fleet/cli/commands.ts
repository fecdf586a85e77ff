/**
 * `outflow fleet …` (SPEC §6). cli/main.ts forwards everything after `fleet` here; this module owns
 * its own commander program and returns an exit code (0 ok, 1 failure, 2 bad input/config; `ingest`: 3 when lines
 * were read but none was usable, see ingest-command.ts).
 *
 *   outflow fleet ingest FILE…|-      ingest result logs, then finalize (progress bar on a TTY)
 *   outflow fleet detections          list detections (--since, --format json|ocsf|table)
 *   outflow fleet prevalence destination KEY | app IDENTITY
 *   outflow fleet hosts               hosts' collector health (--problems, --component, --since, --format json|table)
 *   outflow fleet finalize            finalize pending candidates now
 *   outflow fleet migrate             apply store migrations
 *   outflow fleet serve --config FILE run the aggregator (fleet/serve.ts)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { systemClock } from '../../src/clock.js';
import { loadConfig, type OutflowConfig } from '../../src/config/index.js';
import { OutflowError, StoreError, coerceError, InputError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/log.js';
import { ANALYTIC_IDS } from '../../src/schemas/egress-candidate.js';
import { statusAnswer } from '../api/host-status.js';
import { appPrevalence, destinationPrevalence } from '../api/prevalence.js';
import { readAsStream, specialFileKind, statFile } from '../ingest/file-source.js';
import { loadMigrations } from '../store/migrations.js';
import { isPostgresUrl, openStore, sqlitePath } from '../store/open.js';
import { listNewestDetections, withJobLockWaiting, type Store, type TimeWindow } from '../store/store.js';
import { runIngestCommand } from './ingest-command.js';
import { writeOut } from '../../src/stdout.js';
import { formatDetections, hostStatusTable, parseSince, sinceAnchor, type DetectionFormat } from './format.js';

interface CommonOpts {
  config?: string;
  store?: string;
  verbose?: boolean;
}

interface Context {
  config: OutflowConfig;
  log: Logger;
  storeUrl: string;
}

function context(opts: CommonOpts): Context {
  const config = loadConfig(opts.config);
  const log = createLogger({ level: opts.verbose ? 'debug' : 'warn', name: 'outflow-fleet' });
  return { config, log, storeUrl: opts.store ?? config.fleet.store };
}

/**
 * Open the store for `fn`. `mustExist` (commands that only read): a SQLite file that is not there is an error,
 * rather than a new empty store that answers "0 detections" (a mistyped --store, or the default ./outflow.db
 * where no store was ever made).
 */
async function withStore<T>(ctx: Context, fn: (store: Store) => Promise<T>, opts: { mustExist?: boolean } = {}): Promise<T> {
  if (opts.mustExist && !isPostgresUrl(ctx.storeUrl)) {
    const file = sqlitePath(ctx.storeUrl);
    if (file !== ':memory:' && !existsSync(file)) {
      throw new StoreError('STORE_OPEN', `no store at ${path.resolve(file)}`, 'pass --store (or fleet.store) naming the store that `fleet serve` or `fleet ingest` wrote; `bash scripts/demo.sh` prints its store');
    }
  }
  const store = await openStore(ctx.storeUrl, { postgres: ctx.config.fleet.postgres, log: ctx.log });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * The quarantine file's directory, checked with the inputs: an append into a directory that is not there failed
 * after the fact (a warning in the log), and the summary then named a file that was never written.
 */
function checkQuarantineFile(file: string | undefined): void {
  if (!file) return;
  const dir = path.dirname(path.resolve(file));
  const st = statFile(dir);
  if (typeof st === 'string' || !st.isDirectory()) {
    throw new InputError(`cannot write the quarantine file ${file}: ${typeof st === 'string' ? (st === 'ENOENT' ? `no directory ${dir}` : st) : `${dir} is not a directory`}`, [], 'create the directory, or name another file with --quarantine (fleet.ingest.quarantine_file); nothing was ingested');
  }
}

/**
 * `fleet ingest`'s files, checked before the store is opened: a mistyped path must fail alone, not after creating
 * an empty store (or the default ./outflow.db) that later commands would read as "0 detections".
 */
function checkInputFiles(files: readonly string[]): void {
  const problems: string[] = [];
  for (const f of files) {
    if (f === '-') continue;
    const st = statFile(f);
    if (typeof st === 'string') problems.push(`${f}: ${st === 'ENOENT' ? 'no such file' : st}`);
    // `fleet ingest /var/log/osquery` stats fine, then failed on its first read (EISDIR) after creating the store
    else if (st.isDirectory()) problems.push(`${f}: a directory (name the result-log files in it)`);
    else if (!st.isFile() && !readAsStream(st)) problems.push(`${f}: not a regular file or a pipe (${specialFileKind(st)})`);
  }
  if (problems.length) throw new InputError(`cannot read ${problems.join(', ')}`, [], 'check the path; nothing was ingested');
}

/** --hosts of the prevalence commands: the API's bounds (0–1000). */
function hostSampleSize(text: string): number {
  // digits only: Number('') is 0, Number('0x10') 16
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new InputError(`--hosts ${text} is not a number from 0 to 1000`);
  return n;
}

function common(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'Outflow YAML config')
    .option('--store <url>', 'store: SQLite file path or postgres://… (default: fleet.store, ./outflow.db)')
    .option('--verbose', 'debug logging on stderr', false);
}

/**
 * A prevalence answer as JSON. What the JSON says in fields alone is said plainly on stderr too: a store with no
 * events yet (no window), or `unknown` (an app identity the store never saw).
 */
function writePrevalence(store: Store, answer: { window: TimeWindow | null }, unknown?: string): void {
  if (answer.window === null) {
    process.stderr.write(`outflow fleet: ${store.location} holds no events yet: no prevalence window to count in (ingest result logs first: \`outflow fleet ingest FILE\`, or \`fleet serve\`)\n`);
  } else if (unknown) {
    process.stderr.write(`outflow fleet: ${unknown}\n`);
  }
  writeOut(JSON.stringify(answer, null, 2));
}

/** `--limit`: digits only (not `1e3`, not ` 5`), more than 0. */
function positiveLimit(value: string): number {
  const limit = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(limit) || limit <= 0) throw new InputError('--limit must be a positive integer');
  return limit;
}

export function buildFleetProgram(setCode: (code: number) => void): Command {
  const program = new Command('outflow fleet').description('fleet aggregator: ingest result logs, prevalence, detections').exitOverride().showHelpAfterError();

  common(
    program
      .command('ingest')
      .description('ingest osquery result logs (files or - for stdin), then finalize candidates')
      .argument('<files...>', 'result-log files (osqueryd.results.log, Fleet filesystem destination), named pipes, or - for stdin')
      .option('--no-finalize', 'only ingest; leave candidates pending')
      .option('--flush', 'finalize every pending candidate, ignoring finalize_delay (end of a replay)', false)
      .option('--from-start', 'ignore stored file offsets and read files from the beginning', false)
      .option('--json', 'print the summary as JSON on stdout', false)
      .option('--quarantine <file>', 'append malformed lines here (default: fleet.ingest.quarantine_file)')
      .addOption(new Option('--progress <mode>', 'progress bar').choices(['auto', 'always', 'never']).default('auto'))
      .addHelpText('after', '\nExit codes: 0 ok; 1 a file failed while read, or the store; 2 a FILE not there or a directory; 3 lines were read but none was usable (every line quarantined, or every row of a query that is not Outflow\'s: see docs/fleet.md, Input lines).'),
  ).action(async (files: string[], opts: CommonOpts & { finalize: boolean; flush: boolean; fromStart: boolean; json: boolean; quarantine?: string; progress: 'auto' | 'always' | 'never' }) => {
    const ctx = context(opts);
    checkInputFiles(files);
    if (opts.quarantine) ctx.config.fleet.ingest.quarantine_file = opts.quarantine;
    checkQuarantineFile(ctx.config.fleet.ingest.quarantine_file);
    setCode(await withStore(ctx, (store) => runIngestCommand(store, files, { ...opts, config: ctx.config, log: ctx.log })));
  });

  common(
    program
      .command('detections')
      .description('list detections')
      .option('--since <when>', 'last seen at or after: a duration back from the newest event or now, whichever is earlier (30m, 24h, 7d), unix seconds, or an ISO 8601 date or date-time (UTC unless it has Z or an offset)')
      .option('--analytic <id>', 'only this analytic (AN0990, AN1415, AN0425, AN0032, AN0082)')
      .option('--host <id|name>', 'only this host: its id or its current hostname (ASCII case aside)')
      .option('--limit <n>', 'the newest n matching detections (listed oldest first)', '1000')
      .addOption(new Option('--format <format>', 'output format (default: table on a TTY, json otherwise)').choices(['json', 'ocsf', 'table'])),
  ).action(async (opts: CommonOpts & { since?: string; analytic?: string; host?: string; limit: string; format?: DetectionFormat }) => {
    const ctx = context(opts);
    const limit = positiveLimit(opts.limit);
    const analytic = opts.analytic?.toUpperCase();
    if (analytic && !(ANALYTIC_IDS as readonly string[]).includes(analytic)) throw new InputError(`--analytic ${opts.analytic} is not one of Outflow's analytics`, [], `use ${ANALYTIC_IDS.join(', ')}`);
    await withStore(ctx, async (store) => {
      const since = opts.since === undefined ? undefined : parseSince(opts.since, sinceAnchor((await store.clock.get()).newest, systemClock.unix()));
      const { detections: rows, truncated } = await listNewestDetections(store.detections, { since, analytic: analytic as never, host: opts.host, limit });
      if (truncated) process.stderr.write(`outflow fleet: showing the newest ${limit} matching detections; older ones match too (narrow with --since, or raise --limit)\n`);
      const format = opts.format ?? (process.stdout.isTTY ? 'table' : 'json');
      writeOut(await formatDetections(rows, format, { maxWidth: process.stdout.isTTY ? process.stdout.columns : undefined }));
    }, { mustExist: true });
    setCode(0);
  });

  common(
    program
      .command('hosts')
      .description("hosts' collector health (their latest outflow_status rows), the states that most need an operator first")
      .option('--problems', 'only states that need an operator: anything but running and disabled', false)
      .option('--state <state>', 'only this state (running, degraded, unavailable, permission_denied, disabled)')
      .option('--component <name>', 'only this component (flows, eslogger, code_signing, dns_names …)')
      .option('--since <when>', 'reported at or after (as for detections: 2h, 7d, unix seconds, ISO 8601)')
      .option('--limit <n>', 'at most n rows', '1000')
      .addOption(new Option('--format <format>', 'output format (default: table on a TTY, json otherwise)').choices(['json', 'table'])),
  ).action(async (opts: CommonOpts & { problems: boolean; state?: string; component?: string; since?: string; limit: string; format?: 'json' | 'table' }) => {
    const ctx = context(opts);
    const limit = positiveLimit(opts.limit);
    await withStore(
      ctx,
      async (store) => {
        const since = opts.since === undefined ? undefined : parseSince(opts.since, sinceAnchor((await store.clock.get()).newest, systemClock.unix()));
        const { rows, truncated } = await store.hosts.findStatus({ problems: opts.problems, state: opts.state, component: opts.component, since, limit });
        const format = opts.format ?? (process.stdout.isTTY ? 'table' : 'json');
        if (format === 'table') writeOut(hostStatusTable(rows, truncated, process.stdout.isTTY ? process.stdout.columns : undefined));
        else {
          if (truncated) process.stderr.write(`outflow fleet: showing ${limit} status rows; more match (narrow with --problems, --component or --since, or raise --limit)\n`);
          writeOut(rows.map((r) => JSON.stringify(statusAnswer(r))).join('\n'));
        }
      },
      { mustExist: true },
    );
    setCode(0);
  });

  const prevalence = program.command('prevalence').description('fleet prevalence of a destination key or an app identity');
  common(
    prevalence
      .command('destination')
      .argument('<key>', 'destination key (registrable domain, storage FQDN or IP), or a server name, IP or URL it is derived from')
      .option('--hosts <n>', 'list up to n hosts (0–1000)', '20'),
  ).action(async (key: string, opts: CommonOpts & { hosts: string }) => {
    const ctx = context(opts);
    const hosts = hostSampleSize(opts.hosts);
    await withStore(
      ctx,
      async (store) => {
        const answer = await destinationPrevalence(store, ctx.config.analytics, key, hosts, undefined, ctx.config.fleet.ingest.shared_suffixes);
        writePrevalence(store, answer, answer.in_store ? undefined : `the store has never seen ${answer.key}${answer.normalized_from === undefined ? '' : ` (from ${key})`}: no data it keeps names this destination`);
      },
      { mustExist: true },
    );
    setCode(0);
  });
  common(
    prevalence
      .command('app')
      .argument('<identity>', 'app identity, e.g. team:ABCDE12345/com.example.app or cdhash:…')
      .option('--hosts <n>', 'list up to n hosts (0–1000)', '20'),
  ).action(async (identity: string, opts: CommonOpts & { hosts: string }) => {
    const ctx = context(opts);
    const hosts = hostSampleSize(opts.hosts);
    await withStore(
      ctx,
      async (store) => {
        const answer = await appPrevalence(store, ctx.config.analytics, identity, hosts);
        writePrevalence(store, answer, answer.in_store ? undefined : `the store has never seen ${identity}: no data it keeps names this identity`);
      },
      { mustExist: true },
    );
    setCode(0);
  });

  common(program.command('finalize').description('finalize pending candidates now').option('--flush', 'ignore finalize_delay', false)).action(
    async (opts: CommonOpts & { flush: boolean }) => {
      const ctx = context(opts);
      const { finalizePending } = await import('../rules/finalize.js');
      await withStore(ctx, async (store) => {
        // Not while a fleet serve on this store finalizes (see withJobLockWaiting).
        const r = await withJobLockWaiting(store, 'finalize', () => finalizePending(store, { analytics: ctx.config.analytics, flush: opts.flush, log: ctx.log }), {
          onWait: () => process.stderr.write('outflow fleet finalize: another process (fleet serve?) is finalizing this store; waiting for it\n'),
        });
        writeOut(JSON.stringify({ cutoff: r.cutoff, examined: r.examined, fired: r.fired, created: r.created.length, updated: r.updated.length, duration_ms: Math.round(r.durationMs) }));
        // a store that is not there has nothing to finalize: a mistyped --store must not make one
      }, { mustExist: true });
      setCode(0);
    },
  );

  common(program.command('migrate').description('apply pending store migrations (a store that is not there is created: the message says so)')).action(async (opts: CommonOpts) => {
    const ctx = context(opts);
    const postgres = ctx.config.fleet.postgres;
    // Opened without applying, so that what store.migrate() applies is what this says: an outdated store was
    // migrated on open and then reported "up to date", and a mistyped --store was created and reported the same.
    const store = await openStore(ctx.storeUrl, { migrate: false, checkMigrated: false, postgres });
    try {
      const applied = await store.migrate();
      const first = loadMigrations(isPostgresUrl(ctx.storeUrl) ? 'postgres' : 'sqlite')[0]!.id;
      const ids = applied.length > 3 ? `${applied[0]} … ${applied[applied.length - 1]}` : applied.join(', ');
      if (applied.includes(first)) writeOut(`created new store ${store.location} (migrations ${ids})`);
      else writeOut(applied.length ? `applied ${applied.join(', ')} to ${store.location}` : `${store.location} is up to date`);
    } finally {
      await store.close();
    }
    setCode(0);
  });

  program
    .command('serve')
    .description('run the aggregator: sources, scheduler, sinks, HTTP API')
    .requiredOption('--config <file>', 'Outflow YAML config')
    .option('--store <url>', 'override fleet.store')
    .option('--verbose', 'debug logging', false)
    .option('--nats-create-stream', 'create the fleet.nats JetStream stream if it does not exist', false)
    .action(async (opts: { config: string; store?: string; verbose?: boolean; natsCreateStream?: boolean }) => {
      // fleet/serve.ts is the serve composition root (HTTP API, scheduler, sinks, sources). A literal
      // specifier so bundles include it; still loaded only for this command.
      const { runServe } = await import('../serve.js');
      setCode(await runServe(opts));
    });

  return program;
}

/** Entry point from cli/main.ts: argv is everything after `outflow fleet`. */
export async function runFleetCli(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildFleetProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof OutflowError) {
      process.stderr.write(`outflow fleet: ${err.toUserMessage()}\n`);
      return err.code === 'CONFIG_INVALID' || err.code === 'INPUT_INVALID' || err.code === 'CONFIG_NOT_FOUND' ? 2 : 1;
    }
    process.stderr.write(`outflow fleet: ${coerceError(err).stack ?? coerceError(err).message}\n`);
    return 1;
  }
}
