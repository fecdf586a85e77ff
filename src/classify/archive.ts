import { posix } from 'node:path';
import { foldedPath, homeRelative } from './sensitive-paths.js';

/**
 * Archive / compression detection rules (SPEC §2 `archive_events`) as pure lookups: which executables
 * are archive tools, which argv actually produces an archive (and where), which file names are archives,
 * and which locations count as staging.
 */
export type ArchiveTool = 'zip' | 'ditto' | 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd' | '7z' | 'rar' | 'aa' | 'hdiutil' | 'split' | 'openssl' | 'gpg' | 'other';

/** Executable basename → tool. Aliases (bsdtar, pigz, 7zz…) map to the tool they behave like. */
export const ARCHIVE_EXECUTABLES: Readonly<Record<string, ArchiveTool>> = {
  zip: 'zip',
  ditto: 'ditto',
  tar: 'tar',
  bsdtar: 'tar',
  gnutar: 'tar',
  gtar: 'tar',
  gzip: 'gzip',
  pigz: 'gzip',
  bzip2: 'bzip2',
  pbzip2: 'bzip2',
  xz: 'xz',
  zstd: 'zstd',
  '7z': '7z',
  '7za': '7z',
  '7zz': '7z',
  '7zr': '7z',
  rar: 'rar',
  aa: 'aa',
  hdiutil: 'hdiutil',
  split: 'split',
  openssl: 'openssl',
  gpg: 'gpg',
  gpg2: 'gpg',
  // Compressors SPEC has no name for.
  'Archive Utility': 'other',
  compression_tool: 'other',
  pax: 'other',
  cpio: 'other',
  lz4: 'other',
  lzma: 'other',
};

/** File name endings that are archives or encrypted containers (lower-case, with the dot). */
export const ARCHIVE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.zip', '.tar', '.tgz', '.tbz', '.tbz2', '.txz', '.tzst', '.gz', '.bz2', '.xz', '.zst', '.zstd', '.7z', '.rar',
  '.dmg', '.sparseimage', '.aar', '.aea', '.yaa', '.cpgz', '.cpio', '.pax', '.gpg', '.pgp', '.enc', '.lz4', '.lzma',
]);

/** Does the file name end in an archive extension? */
export function hasArchiveExtension(path: string): boolean {
  const dot = path.lastIndexOf('.');
  if (dot === -1 || dot < path.lastIndexOf('/')) return false;
  const ext = path.length - dot <= 12 ? path.slice(dot).toLowerCase() : '';
  return ARCHIVE_EXTENSIONS.has(ext);
}

/**
 * What downloaders append to a file until it is complete (Homebrew's .incomplete, Firefox's .part, rclone's .partial,
 * Chrome's .crdownload); .download for tools that use Safari's suffix on a file.
 */
const DOWNLOAD_IN_PROGRESS_SUFFIXES = ['.incomplete', '.part', '.partial', '.crdownload', '.download'];

/**
 * Whether writing, closing after a write, cloning onto or renaming onto `path` (canonical) makes an archive: the name is
 * an archive's, and it is none of the files a download leaves, which came in over the network and are written by a
 * process that is not the download's (so the download's own-archive exclusion in correlate cannot see them):
 * - a rename that ends a download, `renamedFrom` being the destination's name plus an in-progress suffix
 *   (`…--Foo-1.0.dmg.incomplete` → `…--Foo-1.0.dmg`, curl's file renamed by brew's Ruby);
 * - anything in Homebrew's download cache (`~/Library/Caches/Homebrew`, `HOMEBREW_CACHE`'s default on macOS), where
 *   brew also links the cached file under a shorter archive name (`Cask/foo--1.0.dmg`).
 * Nothing is lost to an attacker: a file they name can skip archive names altogether, and an archiver run to make it
 * is seen by its exec wherever it writes.
 */
export function writesArchive(path: string, renamedFrom?: string): boolean {
  if (!hasArchiveExtension(path)) return false;
  if (homeRelative(path)?.startsWith('/Library/Caches/Homebrew/')) return false;
  return renamedFrom === undefined || !endsDownload(renamedFrom, path);
}

function endsDownload(sourcePath: string, destinationPath: string): boolean {
  const source = posix.basename(sourcePath);
  const destination = posix.basename(destinationPath);
  if (source.length <= destination.length || !source.startsWith(destination)) return false;
  return DOWNLOAD_IN_PROGRESS_SUFFIXES.includes(source.slice(destination.length).toLowerCase());
}

export function toolForExecutable(execPath: string): ArchiveTool | undefined {
  return ARCHIVE_EXECUTABLES[posix.basename(execPath)];
}

/**
 * Staging (SPEC §2): an archive under /tmp, /private/tmp, /var/tmp, /Users/Shared, /var/folders/…/T or any
 * hidden directory. Expects a canonical path (/private/tmp → /tmp) but accepts the aliases too.
 */
export function isStagingPath(path: string): boolean {
  if (!path) return false;
  // folded (foldedPath): in any case, as macOS volumes are case-insensitive by default (`/TMP/x.zip` is /tmp/x.zip),
  // and without the /private and Data-volume aliases
  const p = foldedPath(path);
  if (p.startsWith('/tmp/') || p.startsWith('/var/tmp/') || p.startsWith('/users/shared/')) return true;
  // $TMPDIR is /var/folders/<2 chars>/<random>/T/; accept one or two levels before T.
  if (/^\/var\/folders\/[^/]+\/(?:[^/]+\/)?t\//.test(p)) return true;
  const dir = p.slice(0, p.lastIndexOf('/'));
  return /\/\.(?!\.?(?:\/|$))[^/]/.test(dir);
}

export interface ArchiveExec {
  tool: ArchiveTool;
  /** Absolute archive path when argv names it ('' when it goes to stdout or cannot be determined). */
  archivePath: string;
}

const positional = (args: readonly string[], valueOpts: ReadonlySet<string> = new Set()): string[] => {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a.length > 1) {
      if (valueOpts.has(a)) i++;
      continue;
    }
    out.push(a);
  }
  return out;
};

const optionValue = (args: readonly string[], names: readonly string[]): string | undefined => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const n of names) {
      if (a === n) return args[i + 1];
      if (n.startsWith('--') && a.startsWith(`${n}=`)) return a.slice(n.length + 1);
    }
  }
  return undefined;
};

const has = (args: readonly string[], ...flags: string[]) => args.some((a) => flags.includes(a));

function tarArchive(args: readonly string[]): string | undefined {
  const long = optionValue(args, ['--file']);
  if (long !== undefined) return long;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const bundle = i === 0 && !a.startsWith('-') ? a : a.startsWith('-') && !a.startsWith('--') ? a.slice(1) : undefined;
    if (!bundle || !/^[A-Za-z]/.test(bundle)) continue;
    const f = bundle.indexOf('f');
    if (f === -1) continue;
    // `-cf out.tar` (value is the next word) or `-cfout.tar` (value glued on).
    return f === bundle.length - 1 ? args[i + 1] : bundle.slice(f + 1);
  }
  return undefined;
}

/** Longest argument read by classifyArchiveExec (4× macOS PATH_MAX), and by transfer-tools' startsTransfer. */
export const MAX_ARG_CHARS = 4096;

/**
 * A short-option cluster (`-…`, letters only, or letters and digits) holding one of `letters`. Two linear tests:
 * `^-[a-z]*d[a-z]*$` backtracks quadratically on a long cluster that does not end well (argv is attacker-controlled).
 */
const clusterHas = (a: string, letters: RegExp, digits = false): boolean => (digits ? /^-[a-zA-Z0-9]+$/ : /^-[a-zA-Z]+$/).test(a) && letters.test(a);

const decompressing = (args: readonly string[]) => has(args, '--decompress', '--uncompress', '-t', '--test', '-l', '--list') || args.some((a) => clusterHas(a, /d/, true));

/**
 * Does this exec produce an archive? `args` is the full argv (args[0] = program name as invoked), `cwd`
 * resolves relative archive paths. Returns undefined for non-archive tools and for read-side uses
 * (unzip-like listing, `tar -x`, `gzip -d`, `hdiutil attach`, `openssl` other than `enc`…).
 */
export function classifyArchiveExec(execPath: string, argv: readonly string[], cwd: string): ArchiveExec | undefined {
  const tool = toolForExecutable(execPath);
  if (!tool) return undefined;
  // argv is attacker-controlled and eslogger passes MiB-long arguments through: resolving a 2 MiB path of
  // a million segments cost ~300 ms. No file path is longer than PATH_MAX (1 024 on macOS), so an argument
  // is only read up to MAX_ARG_CHARS; the event is still reported, with the path's first characters.
  const args = argv.slice(1).map((a) => (a.length > MAX_ARG_CHARS ? a.slice(0, MAX_ARG_CHARS) : a));
  const abs = (p: string | undefined) => (p && p !== '-' ? posix.resolve(cwd || '/', p) : '');
  switch (tool) {
    case 'zip': {
      if (has(args, '-d', '--delete', '-T', '--test') && args.length <= 2) return undefined;
      const out = optionValue(args, ['-O', '--output-file']);
      const pos = positional(args, new Set(['-b', '-n', '-t', '-tt', '-P', '-Z', '-O', '--output-file', '-x', '-i']));
      return { tool, archivePath: abs(out ?? pos[0]) };
    }
    case 'ditto': {
      if (!args.some((a) => clusterHas(a, /c/))) return undefined;
      const pos = positional(args, new Set(['--arch', '--bom', '--password']));
      return { tool, archivePath: pos.length >= 2 ? abs(pos[pos.length - 1]) : '' };
    }
    case 'tar': {
      const first = args[0];
      const oldStyle = first !== undefined && /^[A-Za-z]+$/.test(first) && /[cru]/.test(first) && !/[xt]/.test(first);
      const creating = oldStyle || has(args, '--create', '--append', '--update') || args.some((a) => clusterHas(a, /[cru]/) && !/[xt]/.test(a));
      if (!creating) return undefined;
      return { tool, archivePath: abs(tarArchive(args)) };
    }
    case 'gzip':
    case 'bzip2':
    case 'xz':
    case 'zstd': {
      // unxz, xzcat, unzstd, gunzip, zcat…: often links to the compressor, which ES reports by its resolved image
      // (`…/bin/xz`); the tool itself picks its mode from the name it was invoked by, argv[0]
      const readSide = (name: string) => name.startsWith('un') || name.startsWith('gun') || name.endsWith('cat');
      const compressing = has(args, '-z', '--compress');
      if (decompressing(args) || (!compressing && (readSide(posix.basename(execPath)) || readSide(posix.basename(argv[0] ?? ''))))) return undefined;
      const explicit = tool === 'zstd' ? optionValue(args, ['-o']) : undefined;
      if (explicit) return { tool, archivePath: abs(explicit) };
      if (has(args, '-c', '--stdout', '--to-stdout')) return { tool, archivePath: '' };
      const input = positional(args, new Set(['-o', '-S', '--suffix', '-T', '--threads', '-b', '-p']))[0];
      const suffix = { gzip: '.gz', bzip2: '.bz2', xz: '.xz', zstd: '.zst' }[tool];
      return { tool, archivePath: input ? abs(input + suffix) : '' };
    }
    case '7z':
    case 'rar': {
      const pos = positional(args);
      if (pos[0] !== 'a' && pos[0] !== 'u') return undefined;
      return { tool, archivePath: abs(pos[1]) };
    }
    case 'aa': {
      const verb = args[0];
      if (verb !== 'archive' && verb !== 'append') return undefined;
      return { tool, archivePath: abs(optionValue(args, ['-o'])) };
    }
    case 'hdiutil': {
      if (args[0] !== 'create' && args[0] !== 'makehybrid' && args[0] !== 'convert') return undefined;
      const explicit = optionValue(args.slice(1), ['-o']);
      if (explicit) return { tool, archivePath: abs(explicit) };
      const pos = positional(args.slice(1), HDIUTIL_VALUE_OPTIONS);
      const image = args[0] === 'convert' ? undefined : pos[pos.length - 1];
      return { tool, archivePath: abs(image) };
    }
    case 'split': {
      const pos = positional(args, new Set(['-a', '-b', '-l', '-n', '-p', '-d']));
      return { tool, archivePath: abs(pos[1] ?? 'x') };
    }
    case 'openssl': {
      const sub = args[0];
      const cipherSub = sub !== undefined && /^(?:enc|aes-|des|bf|camellia|chacha|cast|rc[24]|seed|sm4|base64)/.test(sub);
      if (!cipherSub || has(args, '-d')) return undefined;
      return { tool, archivePath: abs(optionValue(args, ['-out'])) };
    }
    case 'gpg': {
      if (!has(args, '--symmetric', '--encrypt') && !args.some((a) => clusterHas(a, /[ce]/))) return undefined;
      const out = optionValue(args, ['-o', '--output']);
      if (out) return { tool, archivePath: abs(out) };
      const input = positional(args, GPG_VALUE_OPTIONS)[0];
      return { tool, archivePath: input ? abs(`${input}${has(args, '-a', '--armor') ? '.asc' : '.gpg'}`) : '' };
    }
    default: {
      if (posix.basename(execPath) === 'pax' && !args.some((a) => /^-[a-zA-Z]*w/.test(a))) return undefined;
      if (posix.basename(execPath) === 'cpio' && !args.some((a) => /^-[a-zA-Z]*o/.test(a) || a === '--create')) return undefined;
      if (posix.basename(execPath) === 'compression_tool' && !has(args, '-encode')) return undefined;
      if (posix.basename(execPath) === 'pax') return { tool, archivePath: abs(tarArchive(args)) };
      return { tool, archivePath: abs(optionValue(args, ['-o', '-O', '-F'])) };
    }
  }
}

const HDIUTIL_VALUE_OPTIONS = new Set([
  '-srcfolder', '-srcdir', '-srcdevice', '-size', '-sectors', '-megabytes', '-fs', '-fsargs', '-volname', '-uid', '-gid', '-mode',
  '-type', '-format', '-layout', '-library', '-partitionType', '-align', '-imagekey', '-encryption', '-certificate', '-pubkey',
  '-tgtimagekey', '-shadow', '-segmentSize', '-stretch', '-o', '-hfs-volume-name', '-iso-volume-name',
  '-joliet-volume-name', '-udf-volume-name', '-default-volume-name',
]);
const GPG_VALUE_OPTIONS = new Set(['-o', '--output', '-r', '--recipient', '-u', '--local-user', '--cipher-algo', '--compress-algo', '--passphrase', '--passphrase-file', '--passphrase-fd', '--homedir', '-z']);

/** argv as the table stores it: space-joined, capped at 1 KiB (SPEC §2). */
export function capArgs(argv: readonly string[], maxBytes = 1024): string {
  let out = '';
  for (const a of argv) {
    const part = out ? ` ${a}` : a;
    if (Buffer.byteLength(out) + Buffer.byteLength(part) > maxBytes) {
      const room = maxBytes - Buffer.byteLength(out);
      if (room > 0) out += truncateUtf8(part, room);
      break;
    }
    out += part;
  }
  return out;
}

function truncateUtf8(s: string, maxBytes: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= maxBytes) return s;
  // Back off to a character boundary so the result is valid UTF-8.
  let end = maxBytes;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}
