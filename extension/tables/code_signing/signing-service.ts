import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Clock } from '../../../src/clock.js';
import type { OutflowConfig } from '../../../src/config/index.js';
import { coerceError, ParseError, ToolError } from '../../../src/errors.js';
import { detached } from '../../../src/strings.js';
import type { Logger } from '../../../src/log.js';
import {
  classifyCodesign,
  classifyEs,
  identityFor,
  teamVouched,
  needsNotarizationCheck,
  needsAnchorCheck,
  needsClaimCheck,
  needsRequirementChecks,
  REQUIREMENTS,
  type CodesignInfo,
  type RequirementChecks,
  type SigningFields,
  type SpctlInfo,
} from '../../../src/classify/signing-class.js';
import type { SigningRow, SigningService } from '../../runtime/context.js';
import type { HealthRegistry } from '../../runtime/health.js';
import { reportFailure } from '../../runtime/interval-collector.js';
import type { Platform, ToolRunner } from '../../runtime/tools.js';
import { parseCodesignDisplay, parseCodesignVerify } from './parse-codesign.js';
import { packageDbAliases, parseDpkgQueryS, parseRpmQf } from './parse-packages.js';
import { parseSpctlAssess } from './parse-spctl.js';

export interface SigningServiceOptions {
  platform: Platform;
  tools: ToolRunner;
  config: OutflowConfig;
  clock: Clock;
  health: HealthRegistry;
  log: Logger;
}

/** Re-stat a cached path at most this often (seconds): a changed (inode, size, mtime) means a new check. */
const REVALIDATE_AFTER_S = 60;
/** After a tool failure (timeout, missing tool) the path is retried no sooner than this (seconds). */
const RETRY_AFTER_FAILURE_S = 300;
/** Paths per package-database query on Linux. */
const PACKAGE_BATCH = 64;
/** Unsigned files larger than this are not hashed for an identity. */
const MAX_HASH_BYTES = 256 * 1024 * 1024;

/**
 * Health of the signing tools (outflow_status component): `codesign` on darwin, `package_db` on linux.
 * Separate from the `code_signing` collector row, whose ticks succeed even while every check times out.
 */
export function signingHealthComponent(platform: Platform): string {
  return platform === 'darwin' ? 'codesign' : 'package_db';
}

interface CacheEntry {
  row: SigningRow;
  /** (inode, size, mtime) when checked; 'missing' when stat failed; 'es' before the first stat of a seed. */
  key: string;
  validatedAt: number;
  /** Set after a failed check: do not retry before this time. */
  retryAt: number | null;
  source: 'tool' | 'es';
}

/** Classes that say the code that ran is not what a signature vouches for. */
const BROKEN: ReadonlySet<string> = new Set(['invalid', 'unsigned']);

/** Two verdicts are about the same image unless both name a cdhash and they differ. */
function sameImage(a: { cdhash: string }, b: { cdhash: string }): boolean {
  return !a.cdhash || !b.cdhash || a.cdhash === b.cdhash;
}

/** The kernel's class for an image says it is broken where the other verdict did not: the kernel's wins then. */
function kernelFoundBroken(kernel: string, other: string): boolean {
  return BROKEN.has(kernel) && !BROKEN.has(other);
}

/** The row for a path nobody could check (yet): every fact unknown. */
export function unknownRow(path: string, checkedAt = 0): SigningRow {
  return {
    path,
    signed: -1,
    valid: -1,
    signature_class: 'unknown',
    team_id: '',
    signing_id: '',
    authority: '',
    cdhash: '',
    notarized: -1,
    hardened_runtime: -1,
    identity: '',
    checked_at: checkedAt,
  };
}

/** `X.app` bundle whose main executable (or the bundle itself) `path` is; undefined for bare binaries. */
export function appBundleOf(path: string): string | undefined {
  if (/\.app\/?$/.test(path)) return path.replace(/\/$/, '');
  const m = /^(.*\.app)\/Contents\/MacOS\/[^/]+$/.exec(path);
  return m ? m[1] : undefined;
}

/**
 * What says a file is still the one that was checked. ctime too: a file's owner can rewrite it in place with the same
 * size and set its mtime back (`touch -r`), but nobody can set ctime.
 */
async function statKey(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return 'missing';
  }
}

/**
 * SHA-256 of a regular file, '' for anything else. The file is opened without blocking and checked through
 * its descriptor: a path swapped for a FIFO between a check and the open would otherwise block a worker
 * forever (open(2) of a FIFO waits for a writer). Reading is bounded by `timeoutMs` too.
 */
async function hashFile(path: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const s = await fh.stat();
    if (!s.isFile() || s.size > MAX_HASH_BYTES) return '';
    const h = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      const stream = fh.createReadStream({ signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]), autoClose: false });
      stream.on('data', (c) => h.update(c));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}

/**
 * codesign and the package tools print a path as it is, one record per line: a path holding a newline (any
 * process can exec one) could add lines of its own, such as an `Authority=… Apple Root CA` chain. Such paths
 * are never handed to a tool. No real executable path holds a control character.
 */
function isToolSafePath(path: string): boolean {
  return !/[\x00-\x1f\x7f]/.test(path);
}

/**
 * What a path that cannot be checked safely is: `invalid` (not Apple-backed, never allowlisted, in the
 * non-Apple analytics), identified by the file's SHA-256 when it can be read.
 */
function uncheckable(digest: string): SigningFields {
  const { path: _path, checked_at: _checkedAt, ...unknown } = unknownRow('');
  return { ...unknown, valid: 0, signature_class: 'invalid', identity: identityFor('invalid', '', '', digest) };
}

/**
 * Code-signing facts per executable path, served from a bounded LRU so lookups never wait on a tool.
 * Misses queue a background check run by a small worker pool (config.signing.workers), each tool bounded
 * by config.signing.timeout_ms. darwin: codesign/spctl (formats.md §4); linux: package ownership via
 * dpkg-query (or rpm), batched.
 */
export function createSigningService(opts: SigningServiceOptions): SigningService {
  const { platform, tools, config, clock, log } = opts;
  const health = opts.health.component(signingHealthComponent(platform));
  const cacheSize = config.signing.cache_size;
  const workers = config.signing.workers;
  const timeoutMs = config.signing.timeout_ms;
  const maxAgeS = config.signing.max_age_s;
  const maxQueue = Math.max(cacheSize, 64);

  const cache = new Map<string, CacheEntry>();
  const queue: string[] = [];
  const queued = new Set<string>();
  const active = new Set<Promise<void>>();
  const idleWaiters: (() => void)[] = [];
  const abort = new AbortController();
  /** Notarization by cdhash, and when it was checked: spctl/codesign notarization checks can be slow or online. */
  const notarizationByCdhash = new Map<string, { notarized: number; at: number }>();
  let stopped = false;
  let packageTool: 'dpkg-query' | 'rpm' | null | undefined;

  function touch(path: string, entry: CacheEntry): void {
    cache.delete(path);
    cache.set(path, entry);
  }

  function store(path: string, entry: CacheEntry): void {
    cache.delete(path);
    // its own copy: a path cut from a tool's output would pin that whole output for the cache's life
    cache.set(detached(path), entry);
    while (cache.size > cacheSize) {
      const oldest = cache.keys().next().value as string;
      cache.delete(oldest);
    }
  }

  function enqueue(path: string): void {
    if (stopped || queued.has(path)) return;
    if (queue.length >= maxQueue) {
      health.drop();
      return;
    }
    queued.add(path);
    queue.push(path);
  }

  /** Whether `at` is `seconds` old by now; a time ahead of now (the wall clock stepped back since) counts as old. */
  function olderThan(at: number, now: number, seconds: number): boolean {
    const age = now - at;
    return age < 0 || age >= seconds;
  }

  /**
   * Whether a failed check may run again: its delay is over, or the wall clock stepped back more than the delay
   * (before the failure by more than the delay again; a step of seconds by NTP does not make it due).
   */
  function retryDue(retryAt: number, now: number): boolean {
    return now >= retryAt || retryAt - now > 2 * RETRY_AFTER_FAILURE_S;
  }

  function wantsCheck(path: string, now: number): boolean {
    const e = cache.get(path);
    if (!e) return true;
    if (e.retryAt !== null) return retryDue(e.retryAt, now);
    if (e.key === 'es') return true;
    return olderThan(e.validatedAt, now, REVALIDATE_AFTER_S);
  }

  function pump(): void {
    while (!stopped && active.size < workers && queue.length) {
      const batch = queue.splice(0, platform === 'linux' ? PACKAGE_BATCH : 1);
      const task: Promise<void> = (async () => {
        try {
          if (platform === 'darwin') await checkDarwin(batch[0]!);
          else await checkLinux(batch);
        } catch (err) {
          // checkX handle tool errors themselves; anything reaching here is a bug worth a log line.
          log.error({ err: coerceError(err) }, 'signing check crashed');
        } finally {
          for (const p of batch) queued.delete(p);
          // an exec eslogger reported while its path was checked left a verdict its check dropped for (the race guards
          // of checkDarwin) and could not queue a check itself (the path was queued): queued now
          for (const p of batch) if (cache.get(p)?.key === 'es' && wantsCheck(p, clock.unix())) enqueue(p);
        }
      })();
      active.add(task);
      void task.finally(() => {
        active.delete(task);
        pump();
        if (!active.size && !queue.length) for (const w of idleWaiters.splice(0)) w();
      });
    }
  }

  function failed(path: string, key: string, err: unknown): void {
    const e = coerceError(err);
    const now = clock.unix();
    const prev = cache.get(path);
    // What eslogger already said stays true when codesign cannot add to it, and so does an earlier verdict on the same
    // file (an unchanged file whose day-old verdict was being checked again when the tool failed).
    const keep = prev && prev.row.signature_class !== 'unknown' && (prev.source === 'es' || prev.key === key);
    // A kept row still describes the file it was taken on: under that file's key, so that once the retry succeeds on
    // a file replaced meanwhile, the new file's verdict is not taken for the same file's (the kernel's rule).
    const rowKey = keep && prev.key !== 'es' ? prev.key : key;
    store(path, { row: keep ? prev.row : unknownRow(path, now), key: rowKey, validatedAt: now, retryAt: now + RETRY_AFTER_FAILURE_S, source: keep ? prev.source : 'tool' });
    if (e instanceof ToolError) {
      const detail = e.hint ? `${e.message}; ${e.hint}` : e.message;
      if (e.code === 'TOOL_NOT_FOUND') health.unavailable(detail);
      else if (e.code === 'TOOL_PERMISSION') health.permissionDenied(detail);
      else health.degraded(detail);
    } else {
      health.degraded(e.message);
    }
    log.warn({ err: e, path }, 'signing check failed');
  }

  async function run(tool: 'codesign' | 'spctl', args: string[], okExitCodes: number[]) {
    return tools.run(tool, args, { timeoutMs, okExitCodes, signal: abort.signal, maxBytes: 1024 * 1024 });
  }

  async function requirementCheck(path: string, requirement: string): Promise<boolean | null> {
    const r = await run('codesign', ['--verify', `-R=${requirement}`, path], [0, 1, 3]);
    return r.exitCode === 0 ? true : r.exitCode === 3 ? false : null;
  }

  async function notarization(path: string, info: CodesignInfo): Promise<{ spctl: SpctlInfo | null; check: boolean | null }> {
    const known = info.cdhash ? notarizationByCdhash.get(info.cdhash) : undefined;
    // a ticket can be revoked: a day-old answer is asked again (signing.max_age_s)
    const cached = known && !olderThan(known.at, clock.unix(), maxAgeS) ? known.notarized : undefined;
    if (cached !== undefined) return { spctl: null, check: cached === 1 ? true : cached === 0 ? false : null };
    const bundle = appBundleOf(path);
    let result: { spctl: SpctlInfo | null; check: boolean | null };
    if (bundle) {
      // spctl rejects every bare CLI binary, so it only speaks for app bundles.
      const r = await run('spctl', ['--assess', '--type', 'execute', '-vv', bundle], [0, 1, 3]);
      let spctl: SpctlInfo | null = null;
      try {
        spctl = parseSpctlAssess(`${r.stderr}\n${r.stdout}`, bundle).info;
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
      }
      result = { spctl, check: null };
    } else {
      const r = await run('codesign', ['--verify', '--strict', '--check-notarization', '-R=notarized', path], [0, 1, 3]);
      result = { spctl: null, check: r.exitCode === 0 ? true : r.exitCode === 3 ? false : null };
    }
    if (info.cdhash) {
      const n = result.check === true || result.spctl?.source === 'Notarized Developer ID' ? 1 : result.check === false || result.spctl?.source === 'Unnotarized Developer ID' ? 0 : -1;
      if (n !== -1) {
        notarizationByCdhash.delete(info.cdhash);
        notarizationByCdhash.set(info.cdhash, { notarized: n, at: clock.unix() });
        if (notarizationByCdhash.size > cacheSize) notarizationByCdhash.delete(notarizationByCdhash.keys().next().value as string);
      }
    }
    return result;
  }

  /**
   * Notarization and requirement checks only refine a class codesign already gave: when one of them fails
   * (spctl hangs offline, say) the row keeps what is known, and health says why the rest is missing.
   */
  async function optional<T>(what: string, path: string, issues: string[], fallback: T, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (stopped) throw err;
      const e = coerceError(err);
      issues.push(`${what} failed: ${e instanceof ToolError && e.hint ? `${e.message}; ${e.hint}` : e.message}`);
      log.warn({ err: e, path }, `${what} failed`);
      return fallback;
    }
  }

  /** The file's SHA-256 for an identity, '' when it cannot be read (in time). */
  const fileDigest = (path: string): Promise<string> => hashFile(path, abort.signal, timeoutMs).catch(() => '');

  async function classifyDarwin(path: string, issues: string[]): Promise<SigningFields> {
    if (!isToolSafePath(path)) {
      log.warn({ path }, 'executable path holds a control character: not handed to codesign; classified invalid');
      return uncheckable(await fileDigest(path));
    }
    const display = await run('codesign', ['-dvvv', '--verbose=4', path], [0, 1]);
    const { info } = parseCodesignDisplay(`${display.stderr}\n${display.stdout}`, path);
    if (info.notSigned) {
      const fields = classifyCodesign(info, null);
      const digest = await fileDigest(path);
      // Unsigned code has no cdhash: the file's SHA-256 stands in so the identity survives renames.
      return digest ? { ...fields, identity: identityFor('unsigned', '', '', digest) } : fields;
    }
    if (info.error && !info.identifier && !info.cdhash) return classifyCodesign(info, null);
    // Exit 1 = broken signature; any other non-zero code is inconclusive (valid -1), not a failed check.
    const verifyRun = await run('codesign', ['--verify', '--strict', path], [0, 1, 2, 3]);
    const verify = parseCodesignVerify(verifyRun.stderr, verifyRun.exitCode, path);
    let fields = classifyCodesign(info, verify);
    let spctl: SpctlInfo | null = null;
    const requirements: RequirementChecks = {};
    const check = (req: string) => optional('requirement check', path, issues, null, () => requirementCheck(path, req));
    // no chain printed, and the class rests on what the file claims: codesign's requirement check must not refute it
    if (needsClaimCheck(fields, info)) {
      if (fields.signature_class === 'apple_platform') requirements.anchorApple = await check(REQUIREMENTS.anchorApple);
      else requirements.developerId = await check(REQUIREMENTS.developerId);
      fields = classifyCodesign(info, verify, { requirements });
    }
    if (needsRequirementChecks(fields, info)) {
      const bundle = appBundleOf(path);
      if (bundle) spctl = (await optional('spctl assessment', path, issues, { spctl: null, check: null }, () => notarization(path, info))).spctl;
      fields = classifyCodesign(info, verify, { spctl, requirements });
      if (fields.signature_class === 'unknown') {
        if (requirements.developerId === undefined) requirements.developerId = await check(REQUIREMENTS.developerId);
        if (!requirements.developerId) requirements.appStore = await check(REQUIREMENTS.appStore);
        if (!requirements.developerId && !requirements.appStore && requirements.anchorApple === undefined) requirements.anchorApple = await check(REQUIREMENTS.anchorApple);
        // none of Apple's kinds: is it Apple's chain at all (a development certificate), or nobody's we trust?
        if (requirements.developerId === false && requirements.appStore === false && requirements.anchorApple === false) {
          requirements.appleIssued = await check(REQUIREMENTS.appleIssued);
        }
        fields = classifyCodesign(info, verify, { spctl, requirements });
      }
    }
    // A class read from the names of a printed chain: codesign must confirm the chain is Apple's (anyone can name a
    // root "Apple Root CA" and a leaf "Developer ID Application: <vendor> (<TEAM>)"). A failed check (the tool
    // could not run) leaves the class as read.
    if (needsAnchorCheck(fields, info)) {
      requirements.appleIssued = await check(REQUIREMENTS.appleIssued);
      if (requirements.appleIssued === false) fields = classifyCodesign(info, verify, { spctl, requirements });
    }
    if (needsNotarizationCheck(fields, info)) {
      const n = spctl ? { spctl, check: null } : await optional('notarization check', path, issues, { spctl: null, check: null }, () => notarization(path, info));
      fields = classifyCodesign(info, verify, { spctl: n.spctl, requirements, notarizationCheck: n.check });
    }
    return fields;
  }

  async function checkDarwin(path: string): Promise<void> {
    const key = await statKey(path);
    const now = clock.unix();
    const prev = cache.get(path);
    // unchanged and checked within signing.max_age_s: nothing to do; older, it is asked again (revocations)
    if (prev && prev.key === key && prev.retryAt === null && !olderThan(prev.row.checked_at, now, maxAgeS)) {
      prev.validatedAt = now;
      return;
    }
    if (prev && prev.key === 'es' && prev.row.signature_class !== 'unknown' && !(prev.row.signature_class === 'developer_id' && prev.row.notarized === -1)) {
      // ES already gave a definite answer for the running image; codesign would only repeat it. Unsigned code has no
      // cdhash (ES reports zeros): its identity is the file's SHA-256, as when codesign classifies it.
      let row = prev.row;
      if (row.signature_class === 'unsigned' && !row.identity) {
        const digest = await fileDigest(path);
        // eslogger reported an exec of this path with another verdict while the file was hashed (the same verdict
        // again leaves `prev` in place; so does touch()), or the entry was evicted: what is there now stands
        if (cache.get(path) !== prev) return;
        if (digest) row = { ...row, identity: identityFor('unsigned', '', '', digest) };
      }
      store(path, { ...prev, row, key, validatedAt: now, retryAt: null });
      return;
    }
    try {
      const issues: string[] = [];
      const fields = await classifyDarwin(path, issues);
      const checkedAt = clock.unix();
      // eslogger reported an exec of this path while codesign ran. Another image that ran is newer than this check;
      // for the same image the rule of seedFromEs holds: codesign's verdict stands unless the kernel found it broken.
      const meanwhile = cache.get(path);
      if (meanwhile && meanwhile !== prev && meanwhile.source === 'es' && meanwhile.row.signature_class !== 'unknown') {
        if (!sameImage(meanwhile.row, fields) || kernelFoundBroken(meanwhile.row.signature_class, fields.signature_class)) {
          health.event(1, checkedAt);
          return;
        }
      }
      // the same image, in the same file, that the kernel found broken (CS_VALID cleared) where codesign, reading the
      // file, does not: the kernel's verdict stands, as in seedFromEs, or a day-old re-check would flip it until the
      // next exec (a file replaced since is another image, whatever an empty cdhash says)
      if (prev?.source === 'es' && prev.key === key && sameImage(prev.row, fields) && kernelFoundBroken(prev.row.signature_class, fields.signature_class)) {
        store(path, { ...prev, row: { ...prev.row, checked_at: checkedAt }, key, validatedAt: checkedAt, retryAt: null });
        health.event(1, checkedAt);
        return;
      }
      let row: SigningRow = { path, ...fields, checked_at: checkedAt };
      if (prev?.source === 'es' && row.signature_class === 'unknown' && prev.row.signature_class !== 'unknown') row = { ...prev.row, checked_at: checkedAt };
      store(path, { row, key, validatedAt: checkedAt, retryAt: null, source: 'tool' });
      health.event(1, checkedAt);
      if (issues.length) health.degraded(issues.join('; '));
      else if (health.state !== 'running' || health.detail === 'starting') health.running();
    } catch (err) {
      if (stopped) return;
      failed(path, key, err);
    }
  }

  function resolvePackageTool(): 'dpkg-query' | 'rpm' | null {
    if (packageTool !== undefined) return packageTool;
    const why = { dpkg: tools.unavailable('dpkg-query'), rpm: tools.unavailable('rpm') };
    packageTool = !why.dpkg ? 'dpkg-query' : !why.rpm ? 'rpm' : null;
    if (!packageTool) {
      // a tool that is there but refused (tools.dir not root's alone) is permission_denied with its fix, not missing
      const refused = [why.dpkg, why.rpm].find((e) => e?.code === 'TOOL_PERMISSION');
      if (refused) reportFailure(health, refused);
      else health.unavailable('no package database tool (dpkg-query or rpm): code_signing reports unknown for every path');
    }
    return packageTool;
  }

  async function packageOwners(paths: string[]): Promise<Map<string, string[]>> {
    const tool = resolvePackageTool();
    if (!tool) return new Map();
    const queries = [...new Set(paths.flatMap(packageDbAliases))];
    if (tool === 'dpkg-query') {
      // Exit 1 only means some paths are unowned.
      const r = await tools.run('dpkg-query', ['-S', ...queries], { timeoutMs, okExitCodes: [0, 1], signal: abort.signal });
      return parseDpkgQueryS(r.stdout).owners;
    }
    const out = new Map<string, string[]>();
    const rpmQuery = async (batch: string[]) => {
      // rpm exits with the number of paths it found no owner for (unowned or missing): any of 0 … batch.length
      const r = await tools.run('rpm', ['-qf', '--queryformat', '%{NAME}\\n', ...batch], { timeoutMs, okExitCodes: Array.from({ length: batch.length + 1 }, (_, i) => i), signal: abort.signal });
      return parseRpmQf(r.stdout, batch, r.stderr);
    };
    const all = await rpmQuery(queries);
    if (all.aligned) return all.owners;
    for (const q of queries) for (const [k, v] of (await rpmQuery([q])).owners) out.set(k, v);
    return out;
  }

  async function checkLinux(paths: string[]): Promise<void> {
    const now = clock.unix();
    const keys = new Map<string, string>();
    const toCheck: string[] = [];
    for (const p of paths) {
      const key = await statKey(p);
      keys.set(p, key);
      const prev = cache.get(p);
      if (prev && prev.key === key && prev.retryAt === null) prev.validatedAt = now;
      else toCheck.push(p);
    }
    if (!toCheck.length) return;
    let owners: Map<string, string[]>;
    try {
      // A path with a newline would shift the tool's answers onto other paths (rpm -qf answers by position).
      owners = await packageOwners(toCheck.filter(isToolSafePath));
    } catch (err) {
      if (stopped) return;
      for (const p of toCheck) failed(p, keys.get(p)!, err);
      return;
    }
    const checkedAt = clock.unix();
    for (const p of toCheck) {
      const key = keys.get(p)!;
      const owner = packageDbAliases(p)
        .map((a) => owners.get(a))
        .find((o) => o && o.length)?.[0];
      // A file the package database lists but that no longer exists is not that package's code.
      const row: SigningRow =
        owner && key !== 'missing'
          ? { ...unknownRow(p, checkedAt), signature_class: 'package', signing_id: owner, identity: identityFor('package', '', owner, '') }
          : unknownRow(p, checkedAt);
      store(p, { row, key, validatedAt: checkedAt, retryAt: null, source: 'tool' });
    }
    health.event(toCheck.length, checkedAt);
    if (packageTool && (health.state !== 'running' || health.detail === 'starting')) health.running();
  }

  /** The cached entry for a path; a miss, or an entry due a check, schedules one. */
  function entry(path: string): CacheEntry | undefined {
    const e = cache.get(path);
    if (e) touch(path, e);
    // a path only ever queried by constraint (not running, so never requested) is revalidated as well
    if (path.startsWith('/') && (!e || wantsCheck(path, clock.unix()))) {
      enqueue(path);
      pump();
    }
    return e;
  }

  const service: SigningService = {
    lookup(path) {
      return entry(path)?.row;
    },
    toolVerdict(path) {
      const e = entry(path);
      return e?.source === 'tool' ? e.row : undefined;
    },
    lookupOrUnknown(path) {
      return service.lookup(path) ?? unknownRow(path);
    },
    request(paths) {
      const now = clock.unix();
      for (const p of paths) {
        // Relative paths never reach codesign: one starting with a digit would be taken as a pid.
        if (!p || !p.startsWith('/')) continue;
        if (wantsCheck(p, now)) enqueue(p);
      }
      pump();
    },
    seedFromEs(path, fields) {
      if (!path.startsWith('/')) return;
      const now = clock.unix();
      const row: SigningRow = { path, ...classifyEs(fields), checked_at: now };
      const prev = cache.get(path);
      if (prev && prev.retryAt === null && prev.row.signature_class !== 'unknown') {
        const same = sameImage(row, prev.row);
        // A shell exec'ed a hundred times a second must not rewrite (and re-stat) its entry every time. For the same
        // image, codesign's verdict stands (it also checks the bundle's sealed resources, which the kernel does not),
        // except when the kernel found the image that ran signed but not valid, or unsigned: that is kept, and
        // being definite it is not checked again while the file stays the same (no codesign run per exec, and no
        // verdict that flips between the two).
        if (same && (row.signature_class === prev.row.signature_class || row.signature_class === 'unknown')) return;
        if (same && prev.source === 'tool' && !kernelFoundBroken(row.signature_class, prev.row.signature_class)) return;
        // Another slice of the universal file codesign judged (it displays one slice's cdhash and verifies every slice,
        // formats.md §4.1): when the kernel vouches for the same class, team and signing id, codesign's verdict stands, and
        // a binary run under Rosetta does not run codesign at every exec.
        if (!same && prev.source === 'tool' && row.signature_class === prev.row.signature_class && teamVouched(row.signature_class) && row.team_id === prev.row.team_id && row.signing_id === prev.row.signing_id) return;
      }
      if (prev && prev.retryAt !== null && !retryDue(prev.retryAt, now)) {
        // codesign failed on this path lately (a timeout on a huge bundle, a stuck tool): the kernel's verdict is kept
        // when it says more, but the check waits for retryAt, or every exec would run codesign to its timeout again
        const says = row.signature_class !== 'unknown' && (prev.row.signature_class === 'unknown' || !sameImage(row, prev.row) || kernelFoundBroken(row.signature_class, prev.row.signature_class));
        if (says) store(path, { row, key: 'es', validatedAt: now, retryAt: prev.retryAt, source: 'es' });
        return;
      }
      store(path, { row, key: 'es', validatedAt: now, retryAt: null, source: 'es' });
      if (row.signature_class === 'unknown' || (row.signature_class === 'developer_id' && row.notarized === -1) || (row.signature_class === 'unsigned' && !row.identity)) {
        enqueue(path);
        pump();
      }
    },
    idle() {
      if (!active.size && !queue.length) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      stopped = true;
      queue.length = 0;
      queued.clear();
      abort.abort();
      await Promise.allSettled([...active]);
      for (const w of idleWaiters.splice(0)) w();
    },
  };
  return service;
}
