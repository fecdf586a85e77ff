/**
 * `npm run package -- [--node /abs/node] [--out DIR]`
 * Bundles the CLI (extension + query shell + fleet) into one CommonJS file with esbuild and lays out
 *   <out>/outflow/{outflow.ext, outflow, lib/outflow.cjs, lib/node_modules/better-sqlite3, packs/, README.md, install.sh}
 * plus <out>/outflow-<version>.tar.gz. outflow.ext is what osqueryd autoloads (execve, no shell, no PATH):
 * its first line names an absolute Node path chosen here. The extension path never loads better-sqlite3;
 * only `outflow query` and the fleet side do, from lib/node_modules.
 */
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EXTENSION_NODE_FLAG } from '../extension/runtime/node-flags.js';

export { EXTENSION_NODE_FLAG };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface PackageOptions {
  node: string;
  out: string;
}

/** Packages that stay outside the bundle: native code must be loaded from disk. */
const NATIVE_EXTERNALS = ['better-sqlite3'];
/** Optional peers we never use (pg's native binding); left unresolved on purpose. */
const OPTIONAL_EXTERNALS = ['pg-native'];
/** The extension's config file, beside outflow.ext (install.sh --config puts it there). */
export const ENDPOINT_CONFIG = 'outflow.yaml';
/** Runtime files of the native module and its pure-JS helpers. */
const NATIVE_RUNTIME = ['better-sqlite3', 'bindings', 'file-uri-to-path'];

/**
 * What a runtime package needs at run time: its package.json, licence, JavaScript and the compiled module, not
 * the sources, build tree (a 2.5 MB sqlite3.a among it), tests or docs that npm ci leaves beside them. `rel` is
 * relative to the package, with forward slashes ('' for the package directory itself).
 */
export function shippedRuntimeFile(rel: string): boolean {
  if (rel === '' || rel === 'lib' || rel === 'lib/methods' || rel === 'build' || rel === 'build/Release') return true;
  return /^(package\.json|LICENSE(\.md)?|[^/]+\.js|lib\/(methods\/)?[^/]+\.js|build\/Release\/better_sqlite3\.node)$/.test(rel);
}

/**
 * How the shipped code is built: one CommonJS bundle for Node 20 with the native module outside it. The
 * fleet-ingest benchmark builds its driver with these options too, so its targets are measured on the code an
 * admin runs, not on the sources under tsx's loader. The bundle finds the SQL migrations in `migrations/` beside
 * it (copy fleet/store/migrations there).
 */
export function shippedBuildOptions(): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: [...NATIVE_EXTERNALS, ...OPTIONAL_EXTERNALS],
    // CommonJS has no import.meta: give modules that locate files relative to themselves a real URL.
    define: { 'import.meta.url': '__outflow_import_meta_url' },
    banner: { js: "const __outflow_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    legalComments: 'linked',
    logLevel: 'warning',
    // The generated Thrift code has duplicate `case 0:` labels (harmless, not ours to edit).
    logOverride: { 'duplicate-case': 'silent' },
  };
}

export async function packageOutflow(opts: PackageOptions): Promise<{ dir: string; tarball: string }> {
  if (!path.isAbsolute(opts.node)) throw new Error(`--node must be an absolute path (osqueryd execs without PATH): ${opts.node}`);
  // The kernel ends a #! interpreter path at the first blank and reads only the first line's first bytes (Linux: 255
  // since 5.1; macOS: 511): such a path gives an outflow.ext nobody can exec, which osqueryd respawns for ever.
  if (/\s/.test(opts.node)) throw new Error(`--node must have no blank in it (a #! line ends the interpreter path at the first one): ${JSON.stringify(opts.node)}; link or copy Node to a path without one`);
  if (Buffer.byteLength(`#!${opts.node} ${EXTENSION_NODE_FLAG}`) > 255) throw new Error(`--node is too long for a #! line (255 bytes with the flag): ${opts.node}`);
  const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;
  const outRoot = path.resolve(opts.out);
  const dir = path.join(outRoot, 'outflow');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'lib'), { recursive: true });

  await build({ ...shippedBuildOptions(), entryPoints: [path.join(root, 'cli/main.ts')], outfile: path.join(dir, 'lib/outflow.cjs') });

  for (const pkg of NATIVE_RUNTIME) {
    const src = path.join(root, 'node_modules', pkg);
    if (!existsSync(src)) throw new Error(`native runtime package ${pkg} is not installed (run npm ci)`);
    const dest = path.join(dir, 'lib/node_modules', pkg);
    cpSync(src, dest, { recursive: true, filter: (f) => shippedRuntimeFile(path.relative(src, f).split(path.sep).join('/')) });
  }

  // The store finds its numbered SQL migrations next to the bundle (lib/migrations/<backend>).
  cpSync(path.join(root, 'fleet/store/migrations'), path.join(dir, 'lib/migrations'), { recursive: true, filter: (f) => !f.endsWith('.ts') });

  // One interpreter argument is all a shebang carries portably (Linux and macOS). The extension uses it to
  // cap V8's young generation: ~24 MB less resident memory under collector churn, at a small GC cost.
  // Both launchers run on the ${ENDPOINT_CONFIG} beside them unless --config is given (`when`: for which commands):
  // osqueryd passes outflow.ext only --socket, --timeout, --interval and --verbose, and the packaged doctor and
  // query must check and show what the extension runs. The bundled thrift runtime calls the deprecated Buffer():
  // a warning at every start (in osqueryd's log, or to an admin running doctor), for nobody to act on.
  const launcher = (when: string, prelude: string, nodeFlag = '') =>
    `#!${opts.node}${nodeFlag ? ` ${nodeFlag}` : ''}\n` +
    `'use strict';\n` +
    `// Outflow ${version}. Generated by scripts/package.ts; osqueryd execs this file directly.\n` +
    `const path = require('node:path');\n` +
    prelude +
    `const config = path.join(__dirname, '${ENDPOINT_CONFIG}');\n` +
    `if (${when} && !process.argv.some((a) => a === '--config' || a.startsWith('--config=')) && require('node:fs').existsSync(config)) process.argv.push('--config', config);\n` +
    `process.noDeprecation = true;\n` +
    `require(path.join(__dirname, 'lib', 'outflow.cjs'));\n`;
  const extensionPrelude = `if (process.argv[2] !== 'extension') process.argv.splice(2, 0, 'extension');\n`;
  writeFileSync(path.join(dir, 'outflow.ext'), launcher('true', extensionPrelude, EXTENSION_NODE_FLAG), { mode: 0o755 });
  writeFileSync(path.join(dir, 'outflow'), launcher(`['doctor', 'query'].includes(process.argv[2])`, ''), { mode: 0o755 });
  chmodSync(path.join(dir, 'outflow.ext'), 0o755);
  chmodSync(path.join(dir, 'outflow'), 0o755);
  // The launchers are CommonJS without an extension: Node would take them for ES modules below any directory
  // whose package.json says "type": "module" (this repository's dist/, for one).
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'outflow-package', private: true, type: 'commonjs' }, null, 2)}\n`);

  const packsSrc = path.join(root, 'packs');
  mkdirSync(path.join(dir, 'packs'), { recursive: true });
  // source/ too: an admin can change an interval there and rebuild with the packaged `outflow packs build`.
  for (const f of ['outflow.conf', 'fleet', 'source']) {
    const p = path.join(packsSrc, f);
    if (existsSync(p)) cpSync(p, path.join(dir, 'packs', f), { recursive: true });
  }
  // the aggregator's systemd unit and example config (docs/deploy.md §6)
  cpSync(path.join(root, 'deploy'), path.join(dir, 'deploy'), { recursive: true });
  cpSync(path.join(root, 'scripts/install.sh'), path.join(dir, 'install.sh'));
  chmodSync(path.join(dir, 'install.sh'), 0o755);
  const deployDoc = path.join(root, 'docs/deploy.md');
  writeFileSync(
    path.join(dir, 'README.md'),
    `# Outflow ${version}\n\nInstall as root: \`./install.sh --config outflow.yaml --extensions-load /var/osquery/extensions.load\` on macOS ` +
      `(\`/etc/osquery/extensions.load\` on Linux; or the file your --extensions_autoload flag names). See install.sh --help and below.\n\n` +
      (existsSync(deployDoc) ? readFileSync(deployDoc, 'utf8') : ''),
  );

  const tarball = path.join(outRoot, `outflow-${version}.tar.gz`);
  // Owner/group 0 inside the archive so an install as root yields root-owned files.
  // GNU tar spells it --owner/--group; bsdtar (macOS's /usr/bin/tar, libarchive < 3.7.5) only knows --uid/--gid.
  const gnu = /GNU tar/.test(execFileSync('tar', ['--version'], { encoding: 'utf8' }));
  const owner = gnu ? ['--owner=0', '--group=0'] : ['--uid', '0', '--gid', '0'];
  execFileSync('tar', [...owner, '--numeric-owner', '-czf', tarball, '-C', outRoot, 'outflow'], { stdio: 'inherit' });
  return { dir, tarball };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { node: { type: 'string' }, out: { type: 'string' } } });
  const res = await packageOutflow({ node: values.node ?? process.execPath, out: values.out ?? path.join(root, 'dist') });
  process.stdout.write(`packaged ${res.dir}\n${res.tarball}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`package failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
