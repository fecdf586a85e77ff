/**
 * Glue between the table/collector registries and the two ways tables are served: the osquery SDK
 * (`outflow extension`) and the local SQLite shell (`outflow query`).
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { coerceError } from '../../src/errors.js';
import { checkRootOnlyPath, runningAsRoot } from '../../src/root-only-path.js';
import type { QueryContext } from '../sdk/query-context.js';
import type { TablePlugin } from '../sdk/table-plugin.js';
import type { Collector, CollectorFactory, ExtensionContext } from './context.js';
import { columnOptions, type ColumnSpec, type TableDefinition } from './define-table.js';
import type { Platform } from './tools.js';

export function tablesFor<T extends { platforms: Platform[] }>(registry: readonly T[], platform: Platform): T[] {
  return registry.filter((t) => t.platforms.includes(platform));
}

/** A TableDefinition as the SDK serves it: column routes with the option bitmask, generate over the context. */
export function toTablePlugin(def: TableDefinition<any>, ctx: ExtensionContext): TablePlugin {
  return {
    name: def.name,
    columns: (Object.entries(def.columns) as [string, ColumnSpec][]).map(([name, spec]) => ({ name, type: spec.type, options: columnOptions(spec) })),
    generate: (query: QueryContext) => def.generate(ctx, query),
  };
}

/**
 * Tables loaded from the modules named in OUTFLOW_TEST_TABLES (comma-separated absolute paths, each
 * exporting `TABLES: TableDefinition[]`). Only tests set it: it lets the end-to-end suite register a
 * throwing or hanging table in the real `outflow extension` process without shipping such tables. As root
 * (under osqueryd) a module is loaded only from a path that is root's alone: it runs as root.
 */
export async function loadTestTables(env: NodeJS.ProcessEnv = process.env): Promise<TableDefinition<any>[]> {
  const spec = env.OUTFLOW_TEST_TABLES;
  if (!spec) return [];
  const out: TableDefinition<any>[] = [];
  for (const file of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!path.isAbsolute(file)) throw new Error(`OUTFLOW_TEST_TABLES names ${file}, not an absolute path`);
    let load = file;
    if (runningAsRoot()) {
      const checked = checkRootOnlyPath(file);
      if (checked.problems.length || checked.real === undefined) throw new Error(`refusing to load OUTFLOW_TEST_TABLES module ${file} as root: ${checked.problems.join('; ')}`);
      load = checked.real; // as checked
    }
    const mod = (await import(pathToFileURL(load).href)) as { TABLES?: TableDefinition<any>[] };
    if (!Array.isArray(mod.TABLES)) throw new Error(`OUTFLOW_TEST_TABLES module ${file} does not export TABLES`);
    out.push(...mod.TABLES);
  }
  return out;
}

/**
 * Create and start every collector of this platform. A collector that throws while being built or
 * started becomes an `unavailable` health row instead of taking the process down.
 */
export function startCollectors(factories: readonly CollectorFactory[], ctx: ExtensionContext): Collector[] {
  const started: Collector[] = [];
  for (const f of tablesFor(factories, ctx.platform)) {
    try {
      const c = f.create(ctx);
      c.start();
      started.push(c);
    } catch (err) {
      const e = coerceError(err);
      ctx.health.component(f.name).unavailable(`collector failed to start: ${e.message}`);
      ctx.log.error({ err: e, collector: f.name }, 'collector failed to start');
    }
  }
  return started;
}

/** Resolves when every collector produced its first sample, or after `timeoutMs` (returns the laggards). */
export async function awaitCollectorsReady(collectors: readonly Collector[], timeoutMs: number): Promise<string[]> {
  const pending = new Set(collectors.map((c) => c.name));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(collectors.map((c) => c.ready().catch(() => undefined).then(() => pending.delete(c.name)))),
    new Promise<void>((r) => {
      timer = setTimeout(r, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return [...pending];
}

/** Stop collectors and the signing workers, bounded so shutdown stays within osqueryd's 2 s budget. */
export async function stopAll(collectors: readonly Collector[], ctx: ExtensionContext, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...collectors.map((c) => c.stop()), ctx.signing.stop()]),
    new Promise<void>((r) => {
      timer = setTimeout(() => {
        ctx.log.warn({ timeout_ms: timeoutMs }, 'collectors did not stop in time');
        r();
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  // A tool a collector did not wait for (a ps run in flight, an eslogger deaf to SIGTERM) must not outlive us.
  const killed = ctx.tools.killAll();
  if (killed) ctx.log.warn({ tools: killed }, 'tools still running at stop were killed');
}

/**
 * Kill the tools still running when the process goes away without stopAll: on its forced exit (`exit` runs
 * synchronous code only, which killAll is) and on a terminal's signals (osqueryd sends SIGTERM, which the
 * caller handles; SIGINT, SIGHUP and SIGQUIT would otherwise end the process with its tools left running in
 * their own process groups). `onSignal` replaces the default exit for those it is given. Returns a function
 * that removes the handlers.
 */
export function reapToolsOnExit(ctx: ExtensionContext, signals: readonly NodeJS.Signals[], onSignal: (signal: NodeJS.Signals) => void): () => void {
  const reap = () => void ctx.tools.killAll();
  process.once('exit', reap);
  for (const s of signals) process.on(s, onSignal);
  return () => {
    process.off('exit', reap);
    for (const s of signals) process.off(s, onSignal);
  };
}
