// @ts-check
/**
 * Builders for eslogger JSON lines in the real format (formats.md §5): `\/`-escaped strings, 9-digit
 * fractional times, upper-case cdhash, null team_id for platform code, audit tokens as objects (message
 * version ≤ 9) or 8-int arrays (version 10), stat blocks with 64-bit inode numbers beyond 2^53.
 *
 * Plain JavaScript so the fake `eslogger` (test/fake-tools/bin/eslogger, run by node without tsx) can use
 * it; tests and the bench import the same builders, so there is one definition of "a realistic line".
 */

/** event_type numbers (formats.md §5.2). */
export const EVENT_TYPES = /** @type {const} */ ({ exec: 9, open: 10, fork: 11, close: 12, create: 13, exit: 15, link: 19, rename: 25, write: 33, unlink: 32, mmap: 20, clone: 61, copyfile: 110 });

/** Every event name a macOS 15 eslogger lists (subset; enough for --list-events). */
export const LISTED_EVENTS = [
  'access', 'authentication', 'chdir', 'chroot', 'clone', 'close', 'copyfile', 'create', 'cs_invalidated', 'deleteextattr',
  'dup', 'exchangedata', 'exec', 'exit', 'fcntl', 'file_provider_materialize', 'file_provider_update', 'fork', 'fsgetpath',
  'get_task', 'getattrlist', 'getextattr', 'iokit_open', 'kextload', 'kextunload', 'link', 'listextattr', 'login_login',
  'lookup', 'lw_session_lock', 'mmap', 'mount', 'mprotect', 'open', 'proc_check', 'pty_grant', 'readdir', 'readlink', 'remount',
  'rename', 'searchfs', 'setacl', 'setattrlist', 'setextattr', 'setflags', 'setmode', 'setowner', 'setuid', 'signal', 'stat',
  'truncate', 'uipc_bind', 'uipc_connect', 'unlink', 'unmount', 'utimes', 'write', 'xp_malware_detected',
];

/**
 * ISO time with 9 fractional digits, as eslogger prints `time`.
 * @param {number} ms
 * @param {number} [nanos] extra nanoseconds within the millisecond (0..999999)
 */
export function esTime(ms, nanos = 0) {
  const iso = new Date(ms).toISOString(); // 2026-03-03T09:51:40.284Z
  return `${iso.slice(0, 23)}${String(nanos).padStart(6, '0')}Z`;
}

/** ISO time with 6 fractional digits, as eslogger prints `start_time`. @param {number} ms */
export function esStartTime(ms) {
  return `${new Date(ms).toISOString().slice(0, 23)}417Z`;
}

/**
 * @typedef {object} ProcSpec
 * @property {number} pid
 * @property {number} ppid
 * @property {number} [originalPpid]
 * @property {number} [responsiblePid]
 * @property {number} [uid]
 * @property {string} path
 * @property {string|null} [signingId]
 * @property {string|null} [teamId]
 * @property {string|null} [cdhash] upper-case hex
 * @property {boolean} [platform]
 * @property {number} startMs
 * @property {string|null} [tty] tty device path
 * @property {number} [pidversion]
 */

/**
 * @param {number} pid @param {number} uid @param {number} pidversion @param {number} version
 */
export function auditToken(pid, uid, pidversion, version) {
  // order (formats.md §5.3): auid, euid, egid, ruid, rgid, pid, asid, pidversion
  if (version >= 10) return [uid, uid, 20, uid, 20, pid, 100009, pidversion];
  return { auid: uid, euid: uid, egid: 20, ruid: uid, rgid: 20, pid, asid: 100009, pidversion };
}

/** @param {string} path @param {number} [size] */
export function esFile(path, size = 4096, truncated = false) {
  return {
    path,
    path_truncated: truncated,
    stat: {
      st_dev: 16777232,
      st_ino: '__BIG_INO__',
      st_mode: 33188,
      st_nlink: 1,
      st_uid: 501,
      st_gid: 20,
      st_rdev: 0,
      st_size: size,
      st_blocks: 8,
      st_blksize: 4096,
      st_flags: 0,
      st_gen: 0,
      st_atimespec: '2026-03-03T09:40:11.000000000Z',
      st_mtimespec: '2026-03-03T09:40:11.000000000Z',
      st_ctimespec: '2026-03-03T09:40:11.000000000Z',
      st_birthtimespec: '2026-03-01T08:00:00.000000000Z',
    },
  };
}

/** A folder (st_mode S_IFDIR | 0755), as a rename's or clone's source that moves or copies a whole tree. @param {string} path */
export function esDir(path) {
  const f = esFile(path, 96);
  f.stat.st_mode = 16877;
  return f;
}

/** @param {ProcSpec} p @param {number} version */
export function esProcess(p, version) {
  const uid = p.uid ?? 501;
  const platform = p.platform ?? false;
  return {
    audit_token: auditToken(p.pid, uid, p.pidversion ?? p.pid * 3 + 1, version),
    ppid: p.ppid,
    original_ppid: p.originalPpid ?? p.ppid,
    group_id: p.pid,
    session_id: 100009,
    codesigning_flags: platform ? 570522385 : 570491649,
    is_platform_binary: platform,
    is_es_client: false,
    cdhash: p.cdhash ?? 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678',
    signing_id: p.signingId === undefined ? 'com.example.tool' : p.signingId,
    team_id: platform ? null : p.teamId === undefined ? 'Q7R2K9W4ZD' : p.teamId,
    executable: esFile(p.path, 1234567),
    tty: p.tty ? esFile(p.tty, 0) : null,
    start_time: esStartTime(p.startMs),
    responsible_audit_token: auditToken(p.responsiblePid ?? p.pid, uid, 77, version),
    parent_audit_token: auditToken(p.ppid, uid, 76, version),
    ...(version >= 10 ? { cs_validation_category: platform ? 1 : 6 } : {}),
  };
}

/**
 * One line. `/` is escaped as `\/` everywhere and 64-bit inode numbers are written beyond 2^53, as the
 * real tool does.
 * @param {{version?: number, kind: string, timeMs: number, nanos?: number, seq?: number, gseq: number, process: ProcSpec, body: object, eventType?: number}} e
 */
export function esLine(e) {
  const version = e.version ?? 10;
  const obj = {
    schema_version: 1,
    version,
    time: esTime(e.timeMs, e.nanos ?? 305),
    mach_time: '__BIG_MACH__',
    event_type: e.eventType ?? /** @type {Record<string, number>} */ (EVENT_TYPES)[e.kind],
    action_type: 1,
    action: { result: { result_type: 0, result: { auth: 0 } } },
    seq_num: e.seq ?? e.gseq,
    global_seq_num: e.gseq,
    thread: { thread_id: 8812345 },
    process: esProcess(e.process, version),
    event: { [e.kind]: e.body },
  };
  return JSON.stringify(obj)
    .replaceAll('/', '\\/')
    .replaceAll('"__BIG_INO__"', '12345678901234567891')
    .replaceAll('"__BIG_MACH__"', '9007199254740993123');
}

/** Event bodies (formats.md §5.4). */
export const body = {
  /** @param {string} path @param {number} [fflag] */
  open: (path, fflag = 1) => ({ fflag, file: esFile(path) }),
  /** @param {string} path */
  write: (path) => ({ target: esFile(path) }),
  /** @param {string} path @param {boolean} modified */
  close: (path, modified) => ({ modified, target: esFile(path), was_mapped_writable: false }),
  /** @param {string} path */
  createExisting: (path) => ({ destination_type: 0, destination: { existing_file: esFile(path, 0) } }),
  /** @param {string} dir @param {string} filename */
  createNew: (dir, filename) => ({ destination_type: 1, destination: { new_path: { dir: esFile(dir), filename, mode: 420 } } }),
  /** @param {string} source @param {string} dir @param {string} filename @param {boolean} [sourceIsDir] */
  renameNew: (source, dir, filename, sourceIsDir = false) => ({ source: sourceIsDir ? esDir(source) : esFile(source), destination_type: 1, destination: { new_path: { dir: esFile(dir), filename } } }),
  /** @param {string} source @param {string} target @param {boolean} [sourceIsDir] (onto an existing empty folder) */
  renameExisting: (source, target, sourceIsDir = false) => ({ source: sourceIsDir ? esDir(source) : esFile(source), destination_type: 0, destination: { existing_file: sourceIsDir ? esDir(target) : esFile(target) } }),
  /**
   * es_event_clone_t (event_type 61): clonefile(2) of `source` to target_dir/target_name.
   * @param {string} source @param {string} targetDir @param {string} targetName @param {boolean} [sourceIsDir]
   */
  clone: (source, targetDir, targetName, sourceIsDir = false) => ({ source: sourceIsDir ? esDir(source) : esFile(source), target_dir: esDir(targetDir), target_name: targetName }),
  /**
   * es_event_copyfile_t (event_type 110, macOS 12+): the copyfile system call, of `source` to target_dir/target_name, or
   * onto `targetFile` when it overwrites one (formats.md §5.4 [?]).
   * @param {string} source @param {string} targetDir @param {string} targetName @param {string | null} [targetFile]
   */
  copyfile: (source, targetDir, targetName, targetFile = null) => ({ source: esFile(source), target_file: targetFile === null ? null : esFile(targetFile), target_dir: esDir(targetDir), target_name: targetName, mode: 420, flags: 0 }),
  /**
   * es_event_link_t (event_type 19): link(2) of `source` as target_dir/target_filename. Apple's header field names; no
   * eslogger sample of a link event was seen [?].
   * @param {string} source @param {string} targetDir @param {string} targetFilename
   */
  link: (source, targetDir, targetFilename) => ({ source: esFile(source), target_dir: esDir(targetDir), target_filename: targetFilename }),
  /** @param {ProcSpec} target @param {string[]} args @param {string} cwd @param {number} version */
  exec: (target, args, cwd, version) => ({
    target: esProcess(target, version),
    args,
    env: ['PATH=/usr/bin:/bin:/usr/sbin:/sbin', 'HOME=/Users/dana', 'SHELL=/bin/zsh', 'LANG=en_US.UTF-8', 'TERM=xterm-256color', 'SECRET_TOKEN=do-not-store'],
    cwd: esFile(cwd),
    script: null,
    fds: [{ fd: 0, fdtype: 1 }, { fd: 1, fdtype: 1 }, { fd: 2, fdtype: 1 }],
    image_cputype: 16777228,
    image_cpusubtype: 2,
    dyld_exec_path: target.path,
    last_fd: 2,
  }),
  /** @param {ProcSpec} child @param {number} version */
  fork: (child, version) => ({ child: esProcess(child, version) }),
  /** @param {number} stat */
  exit: (stat = 0) => ({ stat }),
};

/**
 * The e2e scenario: in a Terminal zsh, a script reads the login keychain, zips ~/Documents with ditto
 * into /tmp, and exits. Authorized readers (securityd on the keychain, mdworker on Documents) appear too
 * and must be suppressed. Times run from `baseMs`; mixes v9 and v10 lines.
 *
 * `outflow query` e2e tests play it to a real extension process, which takes the file events of its own pid and of
 * its children for its own (EsloggerPipeline `self`): every process here that does a file event, and its parent,
 * has a pid beyond any real one (≥ 2^22, Linux's PID_MAX_LIMIT; launchd's 1 aside), so no pid the OS gives that
 * process can match one (test/e2e/fixture-pids.test.ts).
 * @param {number} baseMs
 * @returns {string[]}
 */
export function keychainDittoScenario(baseMs) {
  /** @type {ProcSpec} */
  const zsh = { pid: 4_200_601, ppid: 598, path: '/bin/zsh', platform: true, signingId: 'com.apple.zsh', startMs: baseMs - 3600_000, tty: '/dev/ttys003', cdhash: '0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C' };
  /** @type {ProcSpec} */
  const script = { pid: 4_207_001, ppid: 4_200_601, path: '/bin/sh', platform: true, signingId: 'com.apple.sh', startMs: baseMs + 1_250, tty: '/dev/ttys003', responsiblePid: 512, cdhash: '9A8B7C6D5E4F30211203F4E5D6C7B8A99A8B7C6D' };
  /** @type {ProcSpec} */
  const scriptPreExec = { ...script, path: '/bin/zsh', signingId: 'com.apple.zsh', cdhash: zsh.cdhash };
  /** @type {ProcSpec} */
  const ditto = { pid: 4_207_003, ppid: 4_207_001, path: '/usr/bin/ditto', platform: true, signingId: 'com.apple.ditto', startMs: baseMs + 3_600, tty: '/dev/ttys003', responsiblePid: 512, cdhash: 'DEADBEEF00112233445566778899AABBCCDDEEFF' };
  /** @type {ProcSpec} */
  const dittoPreExec = { ...ditto, path: '/bin/sh', signingId: 'com.apple.sh', cdhash: script.cdhash };
  /** @type {ProcSpec} */
  const securityd = { pid: 4_200_310, ppid: 1, uid: 0, path: '/usr/sbin/securityd', platform: true, signingId: 'com.apple.securityd', startMs: baseMs - 86_400_000 };
  /** @type {ProcSpec} */
  const mdworker = { pid: 4_200_944, ppid: 1, path: '/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared', platform: true, signingId: 'com.apple.mdworker_shared', startMs: baseMs - 600_000 };
  /** @type {ProcSpec} */
  const builder = { pid: 4_204_419, ppid: 1, path: '/Applications/Xcode.app/Contents/Developer/usr/bin/make', platform: false, signingId: 'com.apple.dt.make', teamId: 'APPLECOMPUTER', startMs: baseMs - 60_000 };
  let g = 90_000;
  /** @type {(kind: string, ms: number, process: ProcSpec, b: object, version?: number) => string} */
  const line = (kind, ms, process, b, version = 10) => esLine({ kind, timeMs: baseMs + ms, gseq: g++, process, body: b, version });
  return [
    line('open', 100, builder, body.open('/Users/dana/src/widget/main.c'), 10),
    line('fork', 1_250, zsh, body.fork(scriptPreExec, 9), 9),
    line('exec', 1_300, scriptPreExec, body.exec(script, ['/bin/sh', '/Users/dana/.local/bin/collect.sh'], '/Users/dana', 10), 10),
    line('open', 1_400, securityd, body.open('/Users/dana/Library/Keychains/login.keychain-db'), 10),
    line('open', 2_000, script, body.open('/private/var/db/timezone/zoneinfo/UTC'), 9),
    line('open', 2_500, script, body.open('/Users/dana/Library/Keychains/login.keychain-db'), 9),
    line('open', 2_600, script, body.open('/Users/dana/Library/Keychains/login.keychain-db'), 10),
    line('fork', 3_600, script, body.fork(dittoPreExec, 10), 10),
    line('exec', 3_650, dittoPreExec, body.exec(ditto, ['ditto', '-c', '-k', '--sequesterRsrc', '--keepParent', '/Users/dana/Documents', '/tmp/docs.zip'], '/Users/dana', 10), 10),
    line('open', 3_700, ditto, body.open('/Users/dana/Documents/Q3 report.pdf'), 10),
    line('open', 3_710, mdworker, body.open('/Users/dana/Documents/Q3 report.pdf'), 10),
    line('open', 3_720, ditto, body.open('/Users/dana/Documents/résumé 2026.pages'), 10),
    line('create', 3_800, ditto, body.createExisting('/private/tmp/docs.zip'), 10),
    line('write', 3_810, ditto, body.write('/private/tmp/docs.zip'), 10),
    line('write', 3_820, ditto, body.write('/private/tmp/docs.zip'), 10),
    line('open', 3_830, builder, body.open('/Users/dana/src/widget/build/main.o', 0x602), 10),
    line('close', 3_900, ditto, body.close('/private/tmp/docs.zip', true), 10),
    line('close', 3_905, ditto, body.close('/Users/dana/Documents/Q3 report.pdf', false), 10),
    line('exit', 4_000, ditto, body.exit(0), 10),
    line('exit', 4_100, script, body.exit(0), 9),
  ];
}

/**
 * The macOS < 26 team-claim case (codesign-vouches-team.e2e.test.ts): two processes with Chrome's team and signing
 * id read Chrome's cookies, message v9 (no cs_validation_category): Chrome itself, and a copy under ~/Library/Caches
 * whose chain codesign will not find Apple's. Played to a real extension process: pids beyond any real one, as in
 * keychainDittoScenario.
 * @param {number} baseMs
 */
export function chromeTeamClaimScenario(baseMs) {
  const cookies = '/Users/dana/Library/Application Support/Google/Chrome/Default/Cookies';
  /** @type {ProcSpec} */
  const chrome = { pid: 4_200_067, ppid: 1, path: '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', signingId: 'com.google.Chrome', teamId: 'EQHXZ8M8AV', startMs: baseMs - 5000, cdhash: '3F9A0C17D2E44B6A91C058E7B2D1F0A6C4E8B953' };
  /** @type {ProcSpec} */
  const fake = { ...chrome, pid: 4_200_080, path: '/Users/dana/Library/Caches/.x/Google Chrome' };
  const lines = [chrome, fake].map((p, i) => esLine({ version: 9, kind: 'open', timeMs: baseMs, gseq: i + 1, process: p, body: body.open(cookies) }));
  return { cookies, chrome, fake, lines };
}

/**
 * Copies of credential stores (copies-followed.e2e.test.ts): Finder duplicates Safari's cookies into a staging folder,
 * a stealer hard-links the login keychain into /tmp, then the stealer's ditto and curl read the copies, 10 to 3 seconds
 * before the unix second `seconds`. Pids are beyond any real one (test/e2e/fixture-pids.test.ts).
 * @param {number} seconds
 */
export function finderCopiesScenario(seconds) {
  const home = '/Users/alice';
  const P = 2 ** 22;
  /** @type {ProcSpec} */
  const finder = { pid: P + 400, ppid: 1, path: '/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder', platform: true, signingId: 'com.apple.finder', startMs: (seconds - 80_000) * 1000 };
  /** @type {ProcSpec} */
  const helper = { pid: P + 700, ppid: 1, path: `${home}/.local/bin/helper`, signingId: null, teamId: null, startMs: (seconds - 300) * 1000 };
  /** @type {ProcSpec} */
  const ditto = { pid: P + 731, ppid: P + 700, path: '/usr/bin/ditto', platform: true, signingId: 'com.apple.ditto', startMs: (seconds - 5) * 1000 };
  /** @type {ProcSpec} */
  const curl = { pid: P + 741, ppid: P + 700, path: '/usr/bin/curl', platform: true, signingId: 'com.apple.curl', startMs: (seconds - 3) * 1000 };
  const cookies = `${home}/Library/Cookies/Cookies.binarycookies`;
  const keychain = `${home}/Library/Keychains/login.keychain-db`;
  let gseq = 0;
  /** @param {string} kind @param {ProcSpec} p @param {number} secondsAgo @param {object} b */
  const line = (kind, p, secondsAgo, b) => esLine({ kind, timeMs: (seconds - secondsAgo) * 1000, gseq: ++gseq, process: p, body: b });
  const lines = [
    line('clone', finder, 10, body.clone(cookies, '/private/tmp/stage', 'Cookies.binarycookies')),
    line('link', helper, 8, body.link(keychain, '/private/tmp', 'k')),
    line('open', ditto, 5, body.open('/private/tmp/stage/Cookies.binarycookies')),
    line('open', curl, 3, body.open('/private/tmp/k')),
  ];
  return { cookies, keychain, finder, helper, ditto, curl, lines };
}

/**
 * A realistic flood: mostly open/write/close of files no rule cares about (builds, caches, system
 * libraries), `relevantPct` percent of lines that pass the fast path (exec/fork/exit, sensitive opens
 * with distinct files so rows do not fold together, archive creates). Deterministic for a given seed.
 * @param {number} count
 * @param {{ startMs?: number, relevantPct?: number, seed?: number, version?: number }} [opts]
 * @returns {Generator<string>}
 */
export function* floodLines(count, opts = {}) {
  const startMs = opts.startMs ?? Date.now();
  const relevant = (opts.relevantPct ?? 5) / 100;
  let seed = opts.seed ?? 1;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  /** @type {ProcSpec[]} */
  const procs = [];
  for (let i = 0; i < 64; i++) {
    procs.push({
      pid: 20_000 + i,
      ppid: i % 4 === 0 ? 1 : 20_000 + Math.floor(i / 2),
      path: i % 3 === 0 ? '/usr/bin/clang' : i % 3 === 1 ? '/Applications/Visual Studio Code.app/Contents/Frameworks/Code Helper.app/Contents/MacOS/Code Helper' : '/usr/local/bin/node',
      platform: i % 3 === 0,
      signingId: i % 3 === 0 ? 'com.apple.clang' : 'com.microsoft.VSCode.helper',
      teamId: 'UBJ3U2N9M3',
      startMs: startMs - 1000 * (i + 1),
    });
  }
  const noisePaths = [
    '/usr/lib/libSystem.B.dylib',
    '/System/Library/Frameworks/Foundation.framework/Versions/C/Foundation',
    '/Users/dev/src/project/node_modules/typescript/lib/typescript.js',
    '/Users/dev/src/project/src/components/Button.tsx',
    '/Users/dev/Library/Caches/com.microsoft.VSCode/Cache_Data/f_00a1b2',
    '/Users/dev/Library/Application Support/Code/User/workspaceStorage/ab12/state.vscdb',
    '/private/var/folders/x8/k3j2_hq95t7g/T/tsc-out-12.json',
    '/private/var/db/timezone/zoneinfo/UTC',
    '/Users/dev/src/project/build/obj/Button.o',
    '/opt/homebrew/Cellar/python@3.12/3.12.4/lib/python3.12/os.py',
  ];
  const version = opts.version ?? 10;
  // Noise lines are rendered once per (kind, process, path) and stamped with time and sequence numbers
  // by string replacement: a flood of a million lines must not cost a million JSON.stringify calls.
  const SEQ_MARK = '987654321987';
  const TIME_MARK_MS = Date.UTC(2001, 0, 1);
  const timeMark = esTime(TIME_MARK_MS, 305);
  /** @type {Map<string, string[]>} pieces around the time and the two sequence numbers */
  const templates = new Map();
  let lastTimeMs = -1;
  let lastTime = '';
  /** @param {string} key @param {() => string} render @param {number} gseq @param {number} timeMs */
  const stamp = (key, render, gseq, timeMs) => {
    let t = templates.get(key);
    if (t === undefined) {
      const whole = render();
      const [head = '', ...rest] = whole.split(SEQ_MARK);
      templates.set(key, (t = [...head.split(timeMark), ...rest]));
    }
    if (timeMs !== lastTimeMs) {
      lastTimeMs = timeMs;
      lastTime = esTime(timeMs, 305);
    }
    const seq = String(gseq);
    let out = `${t[0]}${lastTime}${t[1]}`;
    for (let i = 2; i < t.length; i++) out += seq + t[i];
    return out;
  };
  for (let n = 0; n < count; n++) {
    const pi = n % procs.length;
    const p = /** @type {ProcSpec} */ (procs[pi]);
    const timeMs = startMs + Math.floor(n / 50);
    const gseq = 1_000_000 + n;
    const r = rand();
    if (r < relevant) {
      const k = Math.floor((r / relevant) * 5);
      if (k === 0) {
        yield esLine({ version, kind: 'exec', timeMs, gseq, process: p, body: body.exec({ ...p, startMs: p.startMs }, [p.path, '-c', `build-step-${n % 97}`], '/Users/dev/src/project', version) });
      } else if (k === 1) {
        yield esLine({ version, kind: 'fork', timeMs, gseq, process: p, body: body.fork({ ...p, pid: 30_000 + (n % 5000), ppid: p.pid, startMs: timeMs }, version) });
      } else if (k === 2) {
        yield esLine({ version, kind: 'exit', timeMs, gseq, process: { ...p, pid: 30_000 + (n % 5000), ppid: p.pid, startMs: timeMs - 50 }, body: body.exit(0) });
      } else if (k === 3) {
        yield esLine({ version, kind: 'open', timeMs, gseq, process: p, body: body.open(`/Users/dev/Documents/reports/report-${n}.pdf`) });
      } else {
        yield esLine({ version, kind: 'create', timeMs, gseq, process: p, body: body.createExisting(`/private/tmp/out-${n}.zip`) });
      }
      continue;
    }
    const fi = Math.floor(rand() * noisePaths.length);
    const path = /** @type {string} */ (noisePaths[fi]);
    const k = rand();
    const kind = k < 0.6 ? 'open' : k < 0.82 ? 'write' : k < 0.95 ? 'close' : k < 0.98 ? 'create' : 'rename';
    const modified = kind === 'close' && k > 0.93;
    const b =
      kind === 'open' ? () => body.open(path)
      : kind === 'write' ? () => body.write(path)
      : kind === 'close' ? () => body.close(path, modified)
      : kind === 'create' ? () => body.createExisting(`${path}.tmp`)
      : () => body.renameExisting(`${path}.tmp`, path);
    yield stamp(`${kind}|${pi}|${fi}|${modified}`, () => esLine({ version, kind, timeMs: TIME_MARK_MS, gseq: Number(SEQ_MARK), process: p, body: b() }), gseq, timeMs);
  }
}
