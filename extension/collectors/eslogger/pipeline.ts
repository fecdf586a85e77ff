import { startsTransfer } from '../../../src/classify/transfer-tools.js';
import { readsOrMovesData } from '../../tables/sensitive_file_events/precursor-operations.js';
import { capArgs, classifyArchiveExec, isStagingPath, toolForExecutable, writesArchive } from '../../../src/classify/archive.js';
import { canonicalPath, foldedPath, SensitivePathMatcher, type SensitiveMatch } from '../../../src/classify/sensitive-paths.js';
import { esTeamVouched, teamVouched } from '../../../src/classify/signing-class.js';
import type { ArchiveEventRow, ProcessModel, SensitiveFileEventRow, SigningService } from '../../runtime/context.js';
import type { EventRing, RingBuffer } from '../../runtime/ring-buffer.js';
import { FastPath, rawExit, rawGlobalSeq, Verdict } from './fast-path.js';
import { parseEsLine, type EsEvent, type EsFile, type EsProcess, type EsSource, type StdinKind } from './parse-eslogger.js';
import { readEsLine } from './read-eslogger.js';
import { SensitiveCopies } from './sensitive-copies.js';

export interface PipelineDeps {
  matcher: SensitivePathMatcher;
  processes: Pick<ProcessModel, 'observe' | 'exited' | 'keepUntil'>;
  /**
   * Seconds a row can still explain an upload (its ring's retention): the process that produced it is kept
   * that long, exited or not, so the row still finds its lineage group. Tier-1 reads: their own ring's.
   */
  precursorRetention: { tier1: number; other: number };
  /** seedFromEs at exec; toolVerdict for codesign's word on a team id ES cannot vouch for (macOS < 26). */
  signing: Pick<SigningService, 'seedFromEs' | 'toolVerdict'>;
  sensitiveEvents: EventRing<SensitiveFileEventRow>;
  archiveEvents: RingBuffer<ArchiveEventRow>;
  /** Unix seconds, for pruning the buffers by age. */
  now: () => number;
  /** Identical rows (same process instance, operation and file) within this many seconds are one row. */
  dedupeWindow?: number;
  /**
   * Called when a short network transfer may start: the exec of a transfer tool (classify/transfer-tools), or an
   * archive finished in a staging place. The collector asks for an early flow sample.
   */
  onTransferStart?: () => void;
  /** Skip the raw-line prefilter and parse every line (tests prove the prefilter loses nothing; bench). */
  parseEveryLine?: boolean;
  /**
   * The extension's own process. eslogger mutes only its own process group, and every tool (eslogger too) runs in a
   * group of its own (ToolRunner spawns detached, so a wrapper's children can be killed with it): the file events of
   * the extension and of the tools it starts (codesign reading an executable under ~/Downloads, the hash of an
   * unsigned file) reach the pipeline. They make no rows. Absent: nothing is taken for ours (tests of other things).
   */
  self?: OwnProcess;
}

/** This process as eslogger reports it: its pid, and when it started (unix seconds, ≤ the start of Node itself). */
export interface OwnProcess {
  pid: number;
  startedAt: number;
}

/**
 * How much earlier than Node's own time origin the kernel can date this process's start: the fork by osqueryd and the
 * exec of the launcher come first. Generous: it only keeps an unrelated process that held this pid earlier out.
 */
const OWN_START_SLACK_S = 60;

/** An open event's `fflag` is the kernel's FFLAGS (O_* + 1): these two bits say whether it reads, writes or both. */
const FREAD = 0x1;
const FWRITE = 0x2;

export interface PipelineStats {
  lines: number;
  /** Rejected by the fast path before JSON.parse. */
  rejected: number;
  parsed: number;
  malformed: number;
  /** Event kinds we did not subscribe to. */
  unsupported: number;
  /** Events eslogger lost for us (gaps in global_seq_num). */
  lost: number;
  sensitiveRows: number;
  archiveRows: number;
  /** Sensitive accesses by the rule's authorized readers (suppressed at source). */
  authorized: number;
  /** Repeats folded into an earlier row. */
  deduplicated: number;
  /** Rows pushed out of a full buffer before they aged out. */
  evicted: number;
  /** Reads an allowlisted team id would authorize that waited for codesign to vouch for it (eslogger v9). */
  heldForCodesign: number;
  /** Of those, and of reads decided at once, team-id claims codesign did not vouch for: written as rows. */
  claimsNotVouched: number;
  /** File events of the extension itself and of the tools it started: no rows (see PipelineDeps.self). */
  own: number;
  /** Copies of credential stores followed to where they went (clone, copyfile, rename, hard link: SensitiveCopies). */
  copiesFollowed: number;
}

/**
 * How long a read that only an allowlisted team id authorizes waits for codesign (eslogger without
 * `cs_validation_category`, macOS < 26). The signing service runs a handful of codesign checks of
 * `signing.timeout_ms` each, after the checks queued before it.
 */
export const HOLD_FOR_CODESIGN_S = 120;
/** Held reads at most; beyond, a read is decided at once as not vouched for (a row). */
export const MAX_HELD_READS = 1024;

type Operation = SensitiveFileEventRow['operation'];

/** The rule a moved or copied source matches, and the original it holds (itself, unless it is a followed copy). */
interface SourceMatch {
  match: SensitiveMatch;
  original: string;
}

interface HeldRead {
  event: EsEvent;
  filePath: string;
  match: SensitiveMatch;
  operation: Operation;
  /** deps.now() when it was held: eslogger's lines can be read minutes after their event time (a backlog). */
  heldAt: number;
}

/** What codesign says of the team id an ES process claims: Apple's chain vouches, it does not, or no verdict yet. */
type CodesignWord = 'vouched' | 'not_vouched' | 'pending';

const DEDUPE_MAX_KEYS = 8192;

/**
 * Everything that happens to one eslogger line after it was read: seq-gap accounting, the fast-path
 * verdict, the full parse, and the effects (process model, signing seed, the two event buffers).
 * Synchronous and free of I/O, so the bench can drive it without a child process.
 */
export class EsloggerPipeline {
  readonly stats: PipelineStats = {
    lines: 0,
    rejected: 0,
    parsed: 0,
    malformed: 0,
    unsupported: 0,
    lost: 0,
    sensitiveRows: 0,
    archiveRows: 0,
    authorized: 0,
    deduplicated: 0,
    evicted: 0,
    heldForCodesign: 0,
    claimsNotVouched: 0,
    own: 0,
    copiesFollowed: 0,
  };
  private readonly fast: FastPath;
  /** Where unauthorized copies of tier-1 files went (clone, copyfile, rename, hard link). */
  private readonly copies: SensitiveCopies;
  private held: HeldRead[] = [];
  private lastSeq = -1;
  private readonly recent = new Map<string, number>();
  private readonly dedupeWindow: number;
  private readonly parseEveryLine: boolean;
  /** Called after every row pushed (health: events / last_event). */
  onRow: (time: number) => void = () => {};

  constructor(private readonly deps: PipelineDeps) {
    this.copies = new SensitiveCopies(deps.precursorRetention.tier1);
    this.fast = new FastPath(deps.matcher, this.copies);
    this.dedupeWindow = deps.dedupeWindow ?? 60;
    this.parseEveryLine = deps.parseEveryLine ?? false;
  }

  /** A new eslogger client numbers its events from scratch. */
  resetSequence(): void {
    this.lastSeq = -1;
  }

  handleLine(line: string): void {
    this.stats.lines++;
    const seq = rawGlobalSeq(line);
    if (seq >= 0) {
      if (this.lastSeq >= 0 && seq > this.lastSeq + 1) this.stats.lost += seq - this.lastSeq - 1;
      this.lastSeq = seq;
    }
    const verdict = this.parseEveryLine ? Verdict.Parse : this.fast.verdict(line);
    if (verdict === Verdict.Reject) {
      this.stats.rejected++;
      return;
    }
    if (verdict === Verdict.Unsupported) {
      this.stats.unsupported++;
      return;
    }
    if (!this.parseEveryLine) {
      if (this.fast.lastEventType === 15) {
        const exit = rawExit(line);
        if (exit) {
          this.stats.parsed++;
          this.deps.processes.exited(exit.pid, exit.processStart, exit.time);
          return;
        }
      }
      // eslogger's plain shape is read by hand; anything else gets the full parse (which counts it).
      const event = readEsLine(line);
      if (event !== undefined) {
        this.stats.parsed++;
        this.handleEvent(event);
        return;
      }
    }
    const r = parseEsLine(line);
    if (!r.ok) {
      if (r.reason === 'malformed') this.stats.malformed++;
      else this.stats.unsupported++;
      return;
    }
    this.stats.parsed++;
    this.handleEvent(r.event);
  }

  /**
   * The extension itself, or a tool it started (a direct child: the tools ToolRunner starts start nothing of their
   * own that matters here). eslogger, which this process starts, reports only what happens after it subscribed: by
   * then the pid is ours, and only our children have it as their parent (`ppid`, whenever the wall clock says they
   * were forked). Not `original_ppid`: our own child keeps us as its parent while we run, so a process that has our
   * pid only as its original parent is an orphan of a process that held the pid before us (launchd adopted it). The
   * start time of the extension itself is checked anyway (it costs nothing).
   */
  private ours(p: EsProcess): boolean {
    const self = this.deps.self;
    if (self === undefined) return false;
    if (p.ppid === self.pid) return true;
    return p.pid === self.pid && p.processStart <= self.startedAt && p.processStart >= self.startedAt - OWN_START_SLACK_S;
  }

  handleEvent(e: EsEvent): void {
    // exec, fork and exit still feed the process model: lineage and pid reuse need every one
    if (e.kind !== 'exec' && e.kind !== 'fork' && e.kind !== 'exit' && this.ours(e.process)) {
      this.stats.own++;
      return;
    }
    switch (e.kind) {
      case 'exec':
        return this.exec(e);
      case 'fork':
        this.observe(e.child, e.time, undefined, undefined, e.process);
        return;
      case 'exit':
        this.deps.processes.exited(e.process.pid, e.process.processStart, e.time);
        return;
      case 'open':
        // an open for writing only (FWRITE without FREAD: curl -o, a save) reads nothing: recorded as a write, which is
        // no precursor; without flags (a format change) it counts as a read
        this.sensitive(e, e.file, (e.fflag & (FREAD | FWRITE)) === FWRITE ? 'write' : 'open');
        return;
      case 'write':
        this.sensitive(e, e.file, 'write');
        return;
      case 'create':
        this.sensitive(e, e.file, 'create');
        return this.archiveFile(e, e.file);
      case 'close':
        if (!e.modified) return;
        this.sensitive(e, e.file, 'close_modified');
        return this.archiveFile(e, e.file);
      case 'rename': {
        // Moving a secret away (or from one sensitive place to another) moves the data: a precursor. A file renamed into a
        // sensitive place from elsewhere (a safe-save's temporary file, a finished download) reads nothing there: it
        // is recorded as `create`, as a clone's sensitive target is.
        // A destination whose rule authorizes the process (Discord into discord/Cookies*) does not hide a source it is
        // not authorized for. A folder that holds a rule's files (~/.aws, a Chrome profile) moves them: its source is
        // sensitive as theirs would be.
        const source = canonicalPath(e.source.path);
        const from = this.sourceMatch(e.source, source, e.time);
        // what the destination held is replaced; the data left the source, and copies in a folder moved whole (the
        // staging folder renamed) are followed where it went
        this.relocateCopies(e, e.source, source, e.destination, 'move');
        const to = this.sensitive(e, e.destination, from ? 'rename' : 'create');
        const moved = to !== 'recorded' && from !== undefined ? this.decide(e, source, from.match, 'rename') : undefined;
        // a secret moved away, by a process it does not authorize, to where nothing judges it: follow it there
        if (from && moved === 'recorded' && to === 'none') this.followCopy(e, e.destination, from);
        return this.archiveFile(e, e.destination, source);
      }
      case 'clone':
      case 'copyfile': {
        // a clone reads its source without an open event: that read is the access (of what a cloned folder holds, too:
        // clonefile(2) copies a whole tree, and the copy is read without a trace). The copyfile system call does too
        // (since macOS 12 it fires no open for its source).
        const source = canonicalPath(e.source.path);
        const from = this.sourceMatch(e.source, source, e.time);
        // copyfile may overwrite a followed copy (`target_file`); a folder cloned whole holds copies of those in it
        this.relocateCopies(e, e.source, source, e.destination, 'copy');
        if (!from) this.sensitive(e, e.destination, 'create');
        else if (this.decide(e, source, from.match, 'open') === 'recorded') this.followCopy(e, e.destination, from);
        return this.archiveFile(e, e.destination);
      }
      case 'link': {
        // A hard link reads nothing, but gives the data a name no rule knows (`ln ~/Library/Keychains/login.keychain-db
        // /tmp/k`): reads through that name are judged as reads of the original. A link into a sensitive place is a
        // `create` there, as a clone's is.
        const source = canonicalPath(e.source.path);
        const from = this.sourceMatch(e.source, source, e.time);
        this.relocateCopies(e, e.source, source, e.destination, 'none');
        if (!from) this.sensitive(e, e.destination, 'create');
        else if (this.authorization(from.match, e.process) !== 'vouched') this.followCopy(e, e.destination, from, true);
        return;
      }
    }
  }

  /**
   * Follow a copy (clone, copyfile, rename or hard link) of a tier-1 file or folder that the process was not authorized
   * for, to a place no rule names: later accesses there are judged by the original's rule (SensitiveCopies).
   */
  private followCopy(e: EsEvent, destination: EsFile, from: SourceMatch, byLink = false): void {
    if (from.match.tier !== 1 || destination.truncated) return;
    const to = canonicalPath(destination.path);
    if (this.deps.matcher.match(to)) return;
    this.copies.record(to, from.original, e.time, byLink);
    this.stats.copiesFollowed++;
  }

  /**
   * What a rename, clone, copyfile or link of `src` (its canonical path `canonical`) to `destination` does to the
   * followed copies. Those at or below the destination are forgotten: a rename or copyfile replaced them, and a clone's
   * or link's target cannot exist before it, so one followed there went unseen. With `copy` or `move`, those strictly
   * below the source (in a folder cloned or moved whole) are followed at the same place below the destination, for the
   * rest of their life, unless a rule names that place; a move also stops following the source and what lies in it
   * (followCopy follows the source to the destination when the mover is not authorized).
   */
  private relocateCopies(e: EsEvent, src: EsSource, canonical: string, destination: EsFile, carry: 'move' | 'copy' | 'none'): void {
    if (this.copies.size === 0) return;
    const to = canonicalPath(destination.path);
    // a rename to the same file in another case replaces and moves nothing
    if (foldedPath(to) === foldedPath(canonical)) return;
    if (!destination.truncated) for (const c of this.copies.atOrBelow(to, e.time)) this.copies.forget(c.key);
    if (carry === 'none' || src.truncated) return;
    for (const c of this.copies.atOrBelow(canonical, e.time)) {
      if (carry === 'move') this.copies.forget(c.key);
      if (c.rest === '' || destination.truncated) continue;
      const there = to.endsWith('/') ? to + c.rest.slice(1) : to + c.rest;
      if (!this.deps.matcher.match(there)) this.copies.record(there, c.original, c.since, c.byLink);
    }
  }

  private observe(p: EsProcess, at: number, args?: string[], stdin?: StdinKind, forkedFrom?: EsProcess): void {
    this.deps.processes.observe({
      pid: p.pid,
      processStart: p.processStart,
      ppid: p.ppid,
      originalPpid: p.originalPpid ?? undefined,
      responsiblePid: p.responsiblePid ?? undefined,
      uid: p.uid,
      path: p.executable.path,
      name: basename(p.executable.path),
      args,
      signingId: p.signingId,
      // lineage matches terminal apps by team id: only one the kernel vouches for (not an ad-hoc claim)
      teamId: esTeamVouched(p) ? p.teamId : null,
      cdhash: p.cdhash,
      platformBinary: p.platformBinary,
      tty: p.tty,
      ...(stdin ? { stdin } : {}),
      ...(forkedFrom ? { forkedFrom: { pid: forkedFrom.pid, processStart: forkedFrom.processStart } } : {}),
      ...(args !== undefined && !forkedFrom ? { exec: true } : {}),
      source: 'eslogger',
      seenAt: at,
    });
  }

  private exec(e: Extract<EsEvent, { kind: 'exec' }>): void {
    const t = e.target;
    this.observe(
      t,
      e.time,
      // bounded by the model (boundedArgs): at most 64 arguments of 256 characters, copied
      e.args,
      e.stdin,
    );
    if (!t.executable.truncated) {
      this.deps.signing.seedFromEs(t.executable.path, {
        signingId: t.signingId,
        teamId: t.teamId,
        cdhash: t.cdhash,
        platformBinary: t.platformBinary,
        codesigningFlags: t.codesigningFlags,
        csValidationCategory: t.csValidationCategory,
      });
    }
    if (this.deps.onTransferStart && startsTransfer(t.executable.path, e.args)) this.deps.onTransferStart();
    const archive = classifyArchiveExec(t.executable.path, e.args, e.cwd);
    if (!archive) return;
    const archivePath = archive.archivePath ? canonicalPath(archive.archivePath) : '';
    this.pushArchive(e.time, t, archive.tool, 'exec', archivePath, capArgs(e.args));
  }

  /** `none`: no rule matches; `authorized`: the process is an authorized reader; `recorded`: row written, deduplicated or held for codesign. */
  private sensitive(e: EsEvent, f: EsFile, operation: Operation): 'none' | 'authorized' | 'recorded' {
    const filePath = canonicalPath(f.path);
    let m = this.deps.matcher.match(filePath);
    if (!m && !f.truncated) {
      // a copy of a credential store (SensitiveCopies): the original's rule judges it, the row names the copy
      const original = this.copies.originalOf(filePath, e.time);
      if (original !== undefined) m = this.deps.matcher.match(original);
    }
    if (!m) return 'none';
    return this.decide(e, filePath, m, operation);
  }

  /**
   * The rule a renamed, cloned or linked source (its canonical path) matches, else the one whose files lie in it when it
   * is a folder (stat says so, or the line has no stat): ~/Library/Keychains, ~/.ssh, a Chrome profile moved or copied
   * whole. A source that is itself a followed copy is judged as its original, which a copy of it then follows too.
   */
  private sourceMatch(f: EsSource, canonical: string, time: number): SourceMatch | undefined {
    const direct = this.ruleOfSource(f, canonical);
    if (direct) return { match: direct, original: canonical };
    const original = f.truncated ? undefined : this.copies.originalOf(canonical, time);
    if (original === undefined) return undefined;
    const m = this.ruleOfSource(f, original);
    return m && { match: m, original };
  }

  private ruleOfSource(f: EsSource, path: string): SensitiveMatch | undefined {
    const m = this.deps.matcher.match(path);
    // a truncated path is a prefix of the real one: a folder above it proves nothing
    if (m || f.directory === false || f.truncated) return m;
    return this.deps.matcher.matchBelow(path);
  }

  /** `sensitive` for a canonical path its rule `m` matches (`match`, or `matchBelow` for a folder). */
  private decide(e: EsEvent, filePath: string, m: SensitiveMatch, operation: Operation): 'authorized' | 'recorded' {
    const p = e.process;
    const authorization = this.authorization(m, p);
    // a read by code whose team-id claim codesign refused: written as a row
    if (authorization === 'not_vouched') this.stats.claimsNotVouched++;
    if (authorization === 'vouched') {
      this.stats.authorized++;
      return 'authorized';
    }
    // one file on APFS (case-insensitive by default) however it is spelled, as the matcher takes it
    if (this.isRepeat(`s|${p.pid}|${p.processStart}|${operation}|${foldedPath(filePath)}`, e.time)) return 'recorded';
    this.observe(p, e.time);
    if (authorization === 'pending') {
      if (this.held.length < MAX_HELD_READS) {
        this.stats.heldForCodesign++;
        this.held.push({ event: e, filePath, match: m, operation, heldAt: this.deps.now() });
        return 'recorded';
      }
      // a flood of claims must not make room for one more unverified: decided now, as not vouched for
      this.stats.claimsNotVouched++;
    }
    this.pushSensitive(e, filePath, m, operation);
    return 'recorded';
  }

  /**
   * Whether the reader is one of the rule's authorized readers. A team id counts only where the kernel vouches for it
   * (esTeamVouched: never for ad-hoc code, which can write any). Before macOS 26 ES cannot tell a Developer ID from a
   * self-signed certificate that names the same team: a read authorized by the team id alone waits for codesign,
   * which checks the chain (`pending`), unless the signing service already has its verdict; `not_vouched` when codesign
   * refused the claim (no reader, as `no`).
   */
  private authorization(m: SensitiveMatch, p: EsProcess): CodesignWord | 'no' {
    const claimed = esTeamVouched(p) ? p.teamId : null;
    if (!SensitivePathMatcher.isAuthorized(m, claimed, p.signingId, p.platformBinary)) return 'no';
    if (claimed === null || p.csValidationCategory !== undefined || SensitivePathMatcher.isAuthorized(m, null, p.signingId, p.platformBinary)) return 'vouched';
    return this.codesignWord(p, claimed);
  }

  /** codesign's word on the team id a process claims, from the signing service's cache (its verdict on the file). */
  private codesignWord(p: EsProcess, claimed: string): CodesignWord {
    // a truncated path names another file, whose verdict says nothing of this one
    if (p.executable.truncated) return 'not_vouched';
    const verdict = this.deps.signing.toolVerdict(p.executable.path);
    // codesign's `unknown` is its last word too: a chain it could not confirm as Apple's (self-signed) vouches for nothing
    if (!verdict) return 'pending';
    // Another image than the one that runs (an update installed under a running app; the host's slice of a universal
    // binary the kernel runs under Rosetta; a file swapped after exec): the claim stands only when Apple's chain vouches
    // for the same team in the file (the vendor's update). A file that vouches for nobody's team vouches for no image.
    return teamVouched(verdict.signature_class) && verdict.team_id === claimed ? 'vouched' : 'not_vouched';
  }

  /** Reads waiting for codesign (settleHeld decides them). */
  get heldReads(): number {
    return this.held.length;
  }

  /**
   * Decide the reads held for codesign: those it vouched for are authorized, the rest are written (their own event
   * time) once codesign refused the claim or `HOLD_FOR_CODESIGN_S` passed since they were held without a verdict. The
   * collector calls this on a timer while reads are held.
   */
  settleHeld(): void {
    if (!this.held.length) return;
    const now = this.deps.now();
    const waiting: HeldRead[] = [];
    for (const h of this.held) {
      const p = h.event.process;
      const word = this.codesignWord(p, p.teamId ?? '');
      if (word === 'vouched') {
        this.stats.authorized++;
        continue;
      }
      // a wall clock stepped back counts as the wait being over, as a time ahead of now does for the signing service
      const waited = now - h.heldAt;
      if (word === 'pending' && waited >= 0 && waited < HOLD_FOR_CODESIGN_S) {
        waiting.push(h);
        continue;
      }
      this.stats.claimsNotVouched++;
      this.pushSensitive(h.event, h.filePath, h.match, h.operation);
    }
    this.held = waiting;
  }

  private pushSensitive(e: EsEvent, filePath: string, m: SensitiveMatch, operation: Operation): void {
    const p = e.process;
    const buf = this.deps.sensitiveEvents;
    buf.prune(this.deps.now());
    const before = buf.dropped;
    buf.push({
      time: e.time,
      pid: p.pid,
      ppid: p.ppid,
      uid: p.uid,
      process_start: p.processStart,
      path: p.executable.path,
      signing_id: p.signingId ?? '',
      team_id: p.teamId ?? '',
      platform_binary: p.platformBinary ? 1 : 0,
      operation,
      file_path: filePath,
      category: m.category,
      tier: m.tier,
    });
    this.stats.evicted += buf.dropped - before;
    // as long as the row's ring keeps it (buffer.ts: only tier-1 reads and moves are in the tier-1 ring)
    const tier1Ring = m.tier === 1 && readsOrMovesData(operation);
    this.deps.processes.keepUntil(p.pid, p.processStart, e.time + (tier1Ring ? this.deps.precursorRetention.tier1 : this.deps.precursorRetention.other));
    this.stats.sensitiveRows++;
    this.onRow(e.time);
  }

  /** An archive `create` row when writing `f` (renamed from `renamedFrom`, canonical) makes an archive (writesArchive). */
  private archiveFile(e: EsEvent, f: EsFile, renamedFrom?: string): void {
    const filePath = canonicalPath(f.path);
    if (!writesArchive(filePath, renamedFrom)) return;
    const p = e.process;
    const tool = toolForExecutable(p.executable.path) ?? 'other';
    // An archive finished (closed after writing, or moved into place) in a staging place is what a stealer uploads
    // next, often from its own process with no transfer tool to exec: sample the flows soon.
    if ((e.kind === 'close' || e.kind === 'rename') && isStagingPath(filePath)) this.deps.onTransferStart?.();
    this.pushArchive(e.time, p, tool, 'create', filePath, '');
  }

  private pushArchive(time: number, p: EsProcess, tool: ArchiveEventRow['tool'], operation: ArchiveEventRow['operation'], archivePath: string, args: string): void {
    // create + writes + close of one archive by one process is one archive event.
    if (this.isRepeat(`a|${p.pid}|${p.processStart}|${operation}|${foldedPath(archivePath)}|${args}`, time)) return;
    this.observe(p, time);
    const buf = this.deps.archiveEvents;
    buf.prune(this.deps.now());
    const before = buf.dropped;
    buf.push({
      time,
      pid: p.pid,
      ppid: p.ppid,
      uid: p.uid,
      process_start: p.processStart,
      path: p.executable.path,
      tool,
      operation,
      archive_path: archivePath,
      args,
      staging: archivePath ? (isStagingPath(archivePath) ? 1 : 0) : 0,
    });
    this.stats.evicted += buf.dropped - before;
    this.deps.processes.keepUntil(p.pid, p.processStart, time + this.deps.precursorRetention.other);
    this.stats.archiveRows++;
    this.onRow(time);
  }

  /** Bounded memory of recent rows: a repeat within the window is folded into the first. */
  private isRepeat(key: string, time: number): boolean {
    const seen = this.recent.get(key);
    if (seen !== undefined && time - seen < this.dedupeWindow && time >= seen) {
      this.stats.deduplicated++;
      return true;
    }
    this.recent.delete(key);
    this.recent.set(key, time);
    if (this.recent.size > DEDUPE_MAX_KEYS) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
    return false;
  }
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i === -1 ? p : p.slice(i + 1);
}
