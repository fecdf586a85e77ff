#!/usr/bin/env node
/**
 * `outflow` — one CLI for both programs (SPEC §6). Subcommands load their code lazily so the extension
 * never loads the fleet side's native modules (better-sqlite3) and start-up stays fast.
 * Only this file and the two program mains translate errors into exit codes.
 */
import { Command, Option } from 'commander';
import { OutflowError } from '../src/errors.js';
import { guardStdout } from '../src/stdout.js';
import { VERSION } from '../src/version.js';

export function buildProgram(): Command {
  const program = new Command('outflow')
    .description('Data-egress detection for osquery/Fleet administrators')
    .version(VERSION)
    .showHelpAfterError();

  program
    .command('extension')
    .description('run as an osquery extension (osqueryd autoload passes --socket --timeout --interval)')
    .requiredOption('--socket <path>', 'osquery extension manager socket')
    .option('--timeout <seconds>', 'seconds to wait for the manager socket', '3')
    .option('--interval <seconds>', 'seconds between liveness pings', '3')
    .option('--verbose', 'debug logging', false)
    .option('--config <file>', 'Outflow YAML config')
    .action(async (opts) => {
      const { runExtension } = await import('../extension/main.js');
      process.exitCode = await runExtension(opts);
    });

  program
    .command('query')
    .description('run Outflow tables locally without osquery (SQLite virtual tables over the same table code)')
    .argument('<sql>', 'SQL; several statements separated by ;')
    .option('--collect <seconds>', 'keep collecting this long after the first sample before answering', '0')
    .option('--every <seconds>', 're-run the query on an interval (seconds, more than 0), like a scheduled pack')
    .option('--count <n>', 'with --every: number of runs (default: 1)')
    .option('--config <file>', 'Outflow YAML config')
    .addOption(new Option('--format <format>', 'output format (default: table on a TTY, JSON lines otherwise)').choices(['table', 'json']))
    .action(async (sql, opts) => {
      const { runQuery } = await import('../extension/query-shell/run-query.js');
      process.exitCode = await runQuery(sql, opts);
    });

  const packs = program.command('packs').description('scheduled query packs');
  packs
    .command('build')
    .description('write the osquery pack JSON and Fleet GitOps YAML from packs/source')
    .option('--out <dir>', 'output directory (default: beside packs/source, the packs osquery reads)')
    .option('--check', 'exit 1 if the committed files are stale instead of writing them', false)
    .action(async (opts) => {
      const { runPacksBuild } = await import('../packs/build.js');
      process.exitCode = await runPacksBuild(opts);
    });

  program
    .command('doctor')
    .description('check tools, permissions, the osquery socket, config and store')
    .option('--json', 'JSON output', false)
    .option('--socket <path>', 'osquery extension manager socket to probe')
    .option('--config <file>', 'Outflow YAML config')
    .option('--store <url>', 'fleet store to probe (SQLite path or postgres://…; default: fleet.store of --config, else ./outflow.db as fleet commands use)')
    .option('--extensions-load <file>', 'the extensions.load Outflow was installed into (install.sh --extensions-load): checked against the one osqueryd reads')
    .action(async (opts) => {
      const { runDoctor } = await import('./doctor.js');
      process.exitCode = await runDoctor(opts);
    });

  const fleet = program.command('fleet').description('fleet aggregator: ingest result logs, prevalence, detections');
  registerFleetLazily(fleet);

  // Commander's own `help CMD` prints CMD's help as declared here, and `fleet` is declared here only as a stub
  // (`Usage: outflow fleet [args...]`): `help fleet …` asks the fleet CLI, as `fleet … --help` does.
  program.helpCommand(false);
  program
    .command('help')
    .description('display help for command')
    .argument('[command...]', 'a command, or a command and its subcommands (help fleet ingest)')
    .action(async (names: string[]) => {
      if (names[0] === 'fleet') {
        const { runFleetCli } = await import('../fleet/cli/commands.js');
        process.exitCode = await runFleetCli([...names.slice(1), '--help']);
        return;
      }
      let cmd = program;
      for (const name of names) {
        const sub = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (!sub) return cmd.error(`error: unknown command '${name}'`);
        cmd = sub;
      }
      cmd.help();
    });
  return program;
}

function registerFleetLazily(fleet: Command): void {
  // Subcommands are declared in fleet/cli/commands.ts; loading it pulls in the store drivers.
  // --help too belongs to the fleet CLI, which knows the subcommands.
  fleet.allowUnknownOption(true).allowExcessArguments(true).helpOption(false);
  fleet.argument('[args...]').action(async () => {
    const { runFleetCli } = await import('../fleet/cli/commands.js');
    const idx = process.argv.indexOf('fleet');
    process.exitCode = await runFleetCli(process.argv.slice(idx + 1));
  });
}

export async function main(argv: string[]): Promise<void> {
  // a reader that goes away (`| head`) ends the output quietly, whatever writes it (commander's help too)
  guardStdout();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof OutflowError) {
      process.stderr.write(`outflow: ${err.toUserMessage()}\n`);
      process.exitCode = err.code === 'CONFIG_INVALID' || err.code === 'INPUT_INVALID' ? 2 : 1;
      return;
    }
    throw err;
  }
}

// No top-level await: the packaged build is a CommonJS bundle (dist/outflow/lib/outflow.cjs).
main(process.argv).catch((err: unknown) => {
  process.stderr.write(`outflow: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
