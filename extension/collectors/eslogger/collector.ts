import { coerceError, ToolError } from '../../../src/errors.js';
import { SensitivePathMatcher } from '../../../src/classify/sensitive-paths.js';
import type { Collector, CollectorFactory, ExtensionContext } from '../../runtime/context.js';
import type { ComponentHealth } from '../../runtime/health.js';
import { exitDetail, RestartBackoff, stderrHead } from '../../runtime/restart-backoff.js';
import { throttledRefresh } from '../../runtime/throttled-refresh.js';
import { ToolSupervisor, type SupervisedChild } from '../../runtime/tool-supervisor.js';
import { LineReader } from './line-reader.js';
import { EsloggerPipeline, type OwnProcess, type PipelineStats } from './pipeline.js';
import { precursorRetention } from '../../tables/sensitive_file_events/buffer.js';

/** Events we ask for (formats.md §5.1): process lifecycle for lineage, file events for the two tables. */
export const WANTED_EVENTS = ['exec', 'fork', 'exit', 'open', 'create', 'write', 'rename', 'close', 'clone', 'copyfile', 'link'] as const;

const FDA_DETAIL =
  'eslogger is not permitted (ES_NEW_CLIENT_RESULT_ERR_NOT_PERMITTED): grant Full Disk Access to the responsible process ' +
  '(MDM: a PPPC profile with SystemPolicyAllFiles for /usr/bin/eslogger and the process that launches osqueryd, e.g. orbit); it is retried automatically';
const ROOT_DETAIL = 'eslogger needs root (ES_NEW_CLIENT_RESULT_ERR_NOT_PRIVILEGED): run the extension as root, as osqueryd/orbit do';
const TOO_MANY_DETAIL = 'the system refused another Endpoint Security client (ES_NEW_CLIENT_RESULT_ERR_TOO_MANY_CLIENTS); retrying';
/** SIGKILL after SIGTERM at stop: inside the extension's 0.8 s collector stop budget. */
const ESLOGGER_KILL_AFTER_MS = 500;
/** How often reads held for codesign (pipeline.settleHeld) are looked at again. */
const SETTLE_HELD_EVERY_MS = 1000;
const MISSING_DETAIL = 'needs macOS 13+ (Ventura), which ships /usr/bin/eslogger; without it sensitive_file_events and archive_events stay empty';

export interface EsloggerCollectorOptions {
  /** First restart delay; doubles per consecutive failure up to config eslogger.restart_backoff_max. */
  initialBackoffMs?: number;
  /** ready() resolves once output has paused this long after the first data (the first batch). */
  readyQuietMs?: number;
  /** …or after this long without a decision (a quiet host, a slow start). */
  readyMaxMs?: number;
  /** A run that lasted this long resets the backoff. */
  stableRunMs?: number;
  /**
   * The process whose file events (and its children's) make no rows (EsloggerPipeline's `self`); default this one.
   * Tests that feed made-up events give a pid no fixture uses: a fixture pid or ppid equal to the test's own pid
   * would otherwise lose that fixture's rows.
   */
  self?: OwnProcess;
}

export interface EsloggerCollector extends Collector {
  stats(): PipelineStats & { restarts: number; oversized: number };
}

/**
 * The eslogger collector: supervises one long-running `eslogger` child, line-buffers its stdout into the
 * pipeline (fast path → parse → process model / buffers) and reports its state to health "eslogger".
 * Memory stays bounded under a flood: lines are handled synchronously as they arrive (a slow reader makes
 * the pipe, not our heap, fill up; eslogger then drops and we count the seq gaps), buffers are rings, the
 * dedupe map and stderr capture are capped.
 */
export function createEsloggerCollector(ctx: ExtensionContext, opts: EsloggerCollectorOptions = {}): EsloggerCollector {
  const health = ctx.health.component('eslogger');
  const log = ctx.log.child({ component: 'collector', collector: 'eslogger' });
  const backoff = new RestartBackoff(opts.initialBackoffMs ?? 1000, ctx.config.eslogger.restart_backoff_max * 1000);
  const readyQuietMs = opts.readyQuietMs ?? 150;
  const readyMaxMs = opts.readyMaxMs ?? 3000;
  const stableRunMs = opts.stableRunMs ?? 60_000;

  let pipeline: EsloggerPipeline | undefined;
  let reader: LineReader | undefined;
  let oversized = 0;
  let restarts = 0;
  let started = false;
  let quietTimer: NodeJS.Timeout | undefined;
  let maxTimer: NodeJS.Timeout | undefined;
  let settleTimer: NodeJS.Timeout | undefined;
  const supervisor = new ToolSupervisor({
    backoff,
    stableRunMs,
    killAfterMs: ESLOGGER_KILL_AFTER_MS,
    restart: () => {
      restarts++;
      void launch();
    },
  });

  let markReady!: () => void;
  let isReady = false;
  const readyPromise = new Promise<void>((resolve) => {
    markReady = () => {
      if (isReady) return;
      isReady = true;
      if (quietTimer) clearTimeout(quietTimer);
      if (maxTimer) clearTimeout(maxTimer);
      resolve();
    };
  });

  const statsSnapshot = () => ({ ...(pipeline?.stats ?? emptyStats()), restarts, oversized: oversized + (reader?.oversized ?? 0) });

  /** dropped = every event we know we lost: eslogger's own drops, unreadable lines, buffer evictions. */
  const syncHealthCounters = () => {
    const s = statsSnapshot();
    health.dropped = s.lost + s.malformed + s.oversized + s.evicted;
  };

  const refreshDetail = (force = false) => detail.refresh(force);
  const detail = throttledRefresh(() => {
    if (!pipeline) return;
    syncHealthCounters();
    if (health.state !== 'running' && health.state !== 'degraded') return;
    const s = statsSnapshot();
    const claims = s.claimsNotVouched ? `, ${s.claimsNotVouched} reads by code claiming an authorized team id codesign did not vouch for` : '';
    const copies = s.copiesFollowed ? `, ${s.copiesFollowed} copies of credential stores followed` : '';
    const counts = `${s.lines} lines (${s.rejected} fast-rejected), ${s.sensitiveRows} sensitive and ${s.archiveRows} archive rows, ${s.authorized} authorized reads suppressed${claims}${copies}`;
    const problems = [
      s.lost ? `${s.lost} events lost by eslogger (global_seq_num gaps: the reader fell behind)` : '',
      s.malformed ? `${s.malformed} malformed lines` : '',
      s.oversized ? `${s.oversized} oversized lines` : '',
      s.evicted ? `${s.evicted} rows evicted from full buffers (raise events.max_events)` : '',
    ].filter(Boolean);
    // Malformed output beyond noise means the format changed under us (eslogger is "NOT API").
    if (s.lines >= 1000 && s.malformed * 100 > s.lines) health.degraded(`${problems.join('; ')}; ${counts}; eslogger's JSON format may have changed`);
    else health.running(problems.length ? `${problems.join('; ')}; ${counts}` : `streaming: ${counts}`);
  }, { stopped: () => supervisor.stopped });

  /** Reads held for codesign's verdict (eslogger v9) are decided within a second of it, or of their wait running out. */
  const settleSoon = () => {
    if (settleTimer || !pipeline?.heldReads || supervisor.stopped) return;
    settleTimer = setTimeout(() => {
      settleTimer = undefined;
      pipeline?.settleHeld();
      refreshDetail();
      settleSoon();
    }, SETTLE_HELD_EVERY_MS);
    settleTimer.unref?.();
  };

  const launch = async () => {
    if (supervisor.stopped) return;
    let events: string[];
    try {
      const listed = await ctx.tools.run('eslogger', ['--list-events'], { timeoutMs: 10_000, maxBytes: 1024 * 1024 });
      const available = new Set(listed.stdout.split(/\s+/).filter(Boolean));
      events = WANTED_EVENTS.filter((e) => available.has(e));
      if (!events.length) throw new ToolError('TOOL_FAILED', `eslogger --list-events names none of ${WANTED_EVENTS.join(' ')}`, 'eslogger', {}, 'unexpected eslogger version; see docs/eslogger.md');
    } catch (err) {
      const e = coerceError(err);
      if (e instanceof ToolError && e.code === 'TOOL_NOT_FOUND') health.unavailable(`${e.message}: ${MISSING_DETAIL}`);
      else if (e instanceof ToolError && e.code === 'TOOL_PERMISSION') health.permissionDenied(`${e.message}; ${e.hint ?? ''}`.trim());
      else health.degraded(`eslogger --list-events failed: ${e.message}`);
      const delay = supervisor.scheduleRestart();
      log.warn({ err: e, retry_ms: delay }, 'eslogger unavailable');
      markReady();
      return;
    }
    if (supervisor.stopped) return;
    const missing = WANTED_EVENTS.filter((e) => !events.includes(e));
    if (missing.length) log.warn({ missing }, 'eslogger does not offer every event we want');
    spawn(events);
  };

  const spawn = (events: string[]) => {
    pipeline?.resetSequence();
    const p = pipeline!;
    let sawData = false;
    let proc: SupervisedChild;
    try {
      proc = ctx.tools.spawnStream('eslogger', ['--format', 'json', ...events]);
    } catch (err) {
      const e = coerceError(err);
      if (e instanceof ToolError && e.code === 'TOOL_PERMISSION') health.permissionDenied(`${e.message}; ${e.hint ?? ''}`.trim());
      else health.degraded(`eslogger could not be started: ${e.message}`);
      supervisor.scheduleRestart();
      markReady();
      return;
    }
    if (health.state === 'running') health.running(`eslogger started (${events.join(' ')}), waiting for events`);
    if (reader) oversized += reader.oversized;
    const lineReader = new LineReader((line) => p.handleLine(line));
    reader = lineReader;
    if (!isReady) {
      maxTimer = setTimeout(markReady, readyMaxMs);
      maxTimer.unref?.();
    }

    proc.stdout.on('data', (chunk: Buffer) => {
      if (!sawData) {
        sawData = true;
        health.running('streaming');
      }
      lineReader.push(chunk);
      settleSoon();
      refreshDetail();
      if (!isReady) {
        if (quietTimer) clearTimeout(quietTimer);
        quietTimer = setTimeout(() => {
          refreshDetail(true);
          markReady();
        }, readyQuietMs);
        quietTimer.unref?.();
      }
    });
    supervisor.watch(proc, {
      // eslogger prints its ES client error and exits: report it as soon as it is known.
      onStderr: (stderr) => {
        const denial = classifyStderr(stderr);
        if (denial) applyDenial(health, denial);
      },
      onError: (err, spawnFailed) => {
        if (spawnFailed) markReady();
        if (err.code === 'ENOENT') health.unavailable(`eslogger not found at ${ctx.tools.resolve('eslogger')}: ${MISSING_DETAIL}`);
        else if (err.code === 'EACCES' || err.code === 'EPERM') health.permissionDenied(`eslogger at ${ctx.tools.resolve('eslogger')} is not executable by this user: run the extension as root`);
        else health.degraded(`eslogger failed: ${err.message}`);
      },
      onClosed: () => {
        lineReader.end();
        refreshDetail(true);
      },
      onExit: ({ code, signal, stderr, ranMs, delayMs }) => {
        const denial = classifyStderr(stderr);
        if (denial) applyDenial(health, denial);
        if (!denial && health.state !== 'unavailable' && health.state !== 'permission_denied') {
          health.degraded(exitDetail('eslogger', code, signal, stderrHead(stderr), delayMs));
        }
        log.warn({ exit_code: code, signal, ran_ms: ranMs, retry_ms: delayMs, stderr_head: stderr.slice(0, 300) }, 'eslogger exited');
        markReady();
      },
    });
  };

  return {
    name: 'eslogger',
    start() {
      if (started) return;
      started = true;
      if (!ctx.config.eslogger.enabled) {
        health.disabled('eslogger.enabled is false in the config: sensitive_file_events and archive_events stay empty');
        markReady();
        return;
      }
      let matcher: SensitivePathMatcher;
      try {
        matcher = SensitivePathMatcher.fromConfig(ctx.config.taxonomy);
      } catch (err) {
        health.degraded(`taxonomy in config is invalid: ${coerceError(err).message}`);
        markReady();
        return;
      }
      pipeline = new EsloggerPipeline({
        matcher,
        processes: ctx.processes,
        signing: ctx.signing,
        sensitiveEvents: ctx.sensitiveEvents,
        archiveEvents: ctx.archiveEvents,
        precursorRetention: precursorRetention(ctx.config),
        now: () => ctx.clock.unix(),
        self: opts.self ?? { pid: process.pid, startedAt: Math.floor(performance.timeOrigin / 1000) },
        onTransferStart: () => ctx.flowSampleRequests.request(),
      });
      pipeline.onRow = (time) => health.event(1, time);
      health.set('running', 'starting eslogger');
      void launch();
    },
    ready: () => readyPromise,
    async stop() {
      // Within the extension's stop budget (0.8 s): an eslogger deaf to SIGTERM must not outlive us holding
      // an Endpoint Security client slot (the next start would then fail with ERR_TOO_MANY_CLIENTS).
      const stopping = supervisor.stop();
      if (quietTimer) clearTimeout(quietTimer);
      if (maxTimer) clearTimeout(maxTimer);
      if (settleTimer) clearTimeout(settleTimer);
      detail.cancel();
      await stopping;
      refreshDetail(true);
      markReady();
    },
    stats: statsSnapshot,
  };
}

type Denial = 'not_permitted' | 'not_privileged' | 'too_many_clients';

export function classifyStderr(stderr: string): Denial | undefined {
  if (stderr.includes('ERR_NOT_PERMITTED')) return 'not_permitted';
  if (stderr.includes('ERR_NOT_PRIVILEGED')) return 'not_privileged';
  if (stderr.includes('ERR_TOO_MANY_CLIENTS')) return 'too_many_clients';
  return undefined;
}

function applyDenial(health: ComponentHealth, denial: Denial): void {
  if (denial === 'not_permitted') health.permissionDenied(FDA_DETAIL);
  else if (denial === 'not_privileged') health.permissionDenied(ROOT_DETAIL);
  else health.degraded(TOO_MANY_DETAIL);
}

function emptyStats(): PipelineStats {
  return { lines: 0, rejected: 0, parsed: 0, malformed: 0, unsupported: 0, lost: 0, sensitiveRows: 0, archiveRows: 0, authorized: 0, deduplicated: 0, evicted: 0, heldForCodesign: 0, claimsNotVouched: 0, own: 0, copiesFollowed: 0 };
}

export const esloggerCollector: CollectorFactory = {
  name: 'eslogger',
  platforms: ['darwin'],
  create: (ctx) => createEsloggerCollector(ctx),
};
