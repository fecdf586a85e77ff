/**
 * `outflow packs build [--out DIR] [--check]`: render packs/source/*.yaml into the osquery pack and the
 * Fleet GitOps files. With --check nothing is written; the exit code says whether the files in DIR are
 * current (CI runs it so a source edit without a rebuild fails).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { InputError, OutflowError } from '../src/errors.js';
import { parsePackSource, renderAll, type PackSource } from './pack-source.js';
import { writeOut } from '../src/stdout.js';

export interface PacksBuildOptions {
  /** Output directory; default: the directory holding the source (packs/ of the repository or of the package). */
  out?: string;
  check: boolean;
  /**
   * Source directory; default: OUTFLOW_PACKS_SOURCE, else source/ next to this module (the repository), else
   * packs/source beside the bundle's lib/ (the package), else ./packs/source.
   */
  source?: string;
}

export function defaultSourceDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OUTFLOW_PACKS_SOURCE) return env.OUTFLOW_PACKS_SOURCE;
  const moduleDir = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(moduleDir, 'source'), path.join(moduleDir, '..', 'packs', 'source')]) if (existsSync(dir)) return dir;
  return path.resolve('packs/source');
}

export async function loadPackSource(dir: string): Promise<PackSource> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();
  } catch (err) {
    throw new OutflowError('CONFIG_NOT_FOUND', `cannot read pack source directory ${dir}`, 'run from the repository root or set OUTFLOW_PACKS_SOURCE', { cause: err });
  }
  const files = [];
  for (const file of names) {
    const text = await readFile(path.join(dir, file), 'utf8');
    try {
      files.push({ file, data: parseYaml(text) as unknown });
    } catch (err) {
      throw new InputError(`${path.join(dir, file)} is not valid YAML`, [], (err as Error).message);
    }
  }
  return parsePackSource(files);
}

/** Where the packs go: --out, else beside their source, so the packaged `outflow packs build` updates the installed packs wherever it runs. */
function packsOutDir(opts: Pick<PacksBuildOptions, 'out' | 'source'>, sourceDir = opts.source ?? defaultSourceDir()): string {
  return opts.out ?? path.dirname(path.resolve(sourceDir));
}

/** Generated files with their target paths under the output directory, and whether each matches what is on disk. */
export async function planPacksBuild(opts: PacksBuildOptions): Promise<{ file: string; content: string; current: boolean }[]> {
  const sourceDir = opts.source ?? defaultSourceDir();
  const src = await loadPackSource(sourceDir);
  const out = packsOutDir(opts, sourceDir);
  const plan = [];
  for (const [rel, content] of renderAll(src)) {
    const file = path.join(out, rel);
    const onDisk = await readFile(file, 'utf8').catch(() => undefined);
    plan.push({ file, content, current: onDisk === content });
  }
  return plan;
}

export async function runPacksBuild(opts: PacksBuildOptions): Promise<number> {
  const plan = await planPacksBuild(opts);
  if (opts.check) {
    const stale = plan.filter((p) => !p.current);
    for (const p of stale) process.stderr.write(`stale: ${p.file} (run \`outflow packs build --out ${packsOutDir(opts)}\`)\n`);
    if (!stale.length) writeOut(`packs are current (${plan.length} files)\n`);
    return stale.length ? 1 : 0;
  }
  for (const p of plan) {
    if (p.current) continue;
    await mkdir(path.dirname(p.file), { recursive: true });
    await writeFile(p.file, p.content);
  }
  for (const p of plan) writeOut(`${p.current ? 'unchanged' : 'wrote'} ${p.file}\n`);
  return 0;
}
