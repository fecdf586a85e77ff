import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { InputError, OutflowError, zodIssues } from '../errors.js';
import { AnalyticsConfigSchema } from './analytics.js';
import { classifyConfigShape } from './classify.js';
import { extensionConfigShape } from './extension.js';
import { FleetConfigSchema } from './fleet.js';

export { DEFAULT_PORT_MAP } from './extension.js';
export type { AnalyticsConfig } from './analytics.js';
export type { AppMatcher, SensitiveRule } from './classify.js';
export type { FleetConfig } from './fleet.js';

/** The one YAML file both programs read. Unknown keys are errors (a typo must not silently keep a default). */
export const OutflowConfigSchema = z
  .object({
    ...extensionConfigShape,
    ...classifyConfigShape,
    analytics: AnalyticsConfigSchema,
    fleet: FleetConfigSchema,
  })
  .strict();

export type OutflowConfig = z.infer<typeof OutflowConfigSchema>;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Keys of `raw` that the parsed config does not have, at any depth: the keys the schema's objects stripped as
 * unknown. (Every object schema of the config strips what it does not know and fills in defaults, so a key
 * given and then missing from the result was a key no schema knows: a typo that would silently keep a default.)
 */
function strippedKeys(raw: unknown, parsed: unknown, at: string[] = [], into: string[][] = []): string[][] {
  if (isPlainObject(raw) && isPlainObject(parsed)) {
    for (const key of Object.keys(raw)) {
      if (!Object.hasOwn(parsed, key)) into.push([...at, key]);
      else strippedKeys(raw[key], parsed[key], [...at, key], into);
    }
  } else if (Array.isArray(raw) && Array.isArray(parsed) && raw.length === parsed.length) {
    raw.forEach((item, i) => strippedKeys(item, parsed[i], [...at, String(i)], into));
  }
  return into;
}

/** Validate a config object; errors name the key and what is wrong with it. */
export function parseConfig(raw: unknown, source = 'config'): OutflowConfig {
  const hint = 'fix the named keys (see docs/config.md for every key and its default)';
  const result = OutflowConfigSchema.safeParse(raw ?? {});
  if (!result.success) throw new InputError(`invalid ${source}`, zodIssues(result.error.issues), hint, 'CONFIG_INVALID');
  const unknown = strippedKeys(raw ?? {}, result.data);
  if (unknown.length) {
    throw new InputError(
      `invalid ${source}`,
      unknown.map((p) => ({ path: p.slice(0, -1).join('.'), message: `Unrecognized key: "${p.at(-1)}"` })),
      hint,
      'CONFIG_INVALID',
    );
  }
  return result.data;
}

export function defaultConfig(): OutflowConfig {
  return parseConfig({});
}

/** The YAML of a config file as a plain value, before validation (what `loadConfig` validates). */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new OutflowError('CONFIG_NOT_FOUND', `cannot read config file ${file}`, 'check the --config path and its permissions', { cause: err });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new InputError(`config file ${file} is not valid YAML`, [], (err as Error).message, 'CONFIG_INVALID');
  }
}

/**
 * Load the config file (YAML or JSON) if given, then apply environment overrides:
 * OUTFLOW_TOOL_DIR → tools.dir.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): OutflowConfig {
  return configFrom(file ? readConfigFile(file) : {}, file, env);
}

/** `raw` (readConfigFile's value) validated, with the environment's overrides applied. */
export function configFrom(raw: unknown, file?: string, env: NodeJS.ProcessEnv = process.env): OutflowConfig {
  const config = parseConfig(raw, file ?? 'config');
  if (env.OUTFLOW_TOOL_DIR) config.tools.dir = env.OUTFLOW_TOOL_DIR;
  return config;
}
