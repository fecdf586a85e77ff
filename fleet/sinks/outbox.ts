/**
 * Detections reach the sinks from the store's change feed (DetectionsRepo.changedSince), not from the
 * finalizer's memory. Each sink has a cursor, the checkpoint `sink:<deliveryId>`, moved only after the sink's
 * write resolved. So nothing committed is lost to a sink when:
 * - the process dies between the finalizer's COMMIT and the write (the next run starts at the cursor);
 * - a sink refuses a batch (webhook spool full, disk full): the same changes are offered on every run
 *   until it takes them;
 * - several instances share a PostgreSQL store: whichever runs the finalize job delivers, from the same
 *   cursors.
 * Delivery is at-least-once: a crash between a write and its cursor update offers those detections again.
 * A sink seen for the first time starts at the newest change: adding a sink does not replay history
 * (`outflow fleet detections` exports it).
 *
 *   await prepareSinkCursors(store, sinks);      // before finalizing, so this run's detections count
 *   const r = await finalizePending(store, …);
 *   const d = await deliverDetections(store, sinks);
 */
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { coerceError, OutflowError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { FleetMetrics } from '../metrics.js';
import { suppressionSpan } from '../rules/evidence.js';
import { ChangeCursorError, changeSeq, eventPresent, type DetectionChange, type LatestChange, type Store } from '../store/store.js';
import { PartialWriteError, type Detection, type Sink, type WriteContext } from './sink.js';

export interface SinkGroup {
  readonly sinks: readonly Sink[];
  /**
   * The newest change when the group was set up (`fleet serve` reads it at start): a sink with no cursor yet
   * starts there rather than at the newest change when its cursor is finally saved, so detections another
   * process finalizes in between still reach it when the first attempt failed (a busy store at start).
   */
  readonly startCursor?: string;
}

export interface DeliveryOptions {
  /** Detections per sink write (default 500). */
  batchSize?: number;
  /** Most detections one call hands each sink (default 20 000); the rest waits for the next call. */
  maxPerCall?: number;
  /**
   * The settings finalization folds detections by: with them, a sink's checkpoint forgets the detections whose
   * suppression window is over (closedUpTo); without, only those retention deleted.
   */
  analytics?: Pick<AnalyticsConfig, 'suppression_hours' | 'finalize_delay'>;
  log?: Logger;
  metrics?: FleetMetrics;
  /** The wall clock: a detection is closed by the fleet's present, which never passes it (eventPresent). */
  clock?: Clock;
  /**
   * How long one sink write may take (default SINK_WRITE_TIMEOUT_MS) before it counts as failed for this call: a
   * sink that never answers (a file sink on a named pipe whose reader is gone or stalled) must not hold up the
   * other sinks and the finalize job, whose next runs would all be skipped as overlapping.
   */
  writeTimeoutMs?: number;
}

/** Default DeliveryOptions.writeTimeoutMs: sinks write to local files and spools, which take well under this. */
export const SINK_WRITE_TIMEOUT_MS = 30_000;

/** Writes that have not settled yet, by sink: a sink is not handed another batch while its last one hangs. */
const writesInFlight = new WeakMap<Sink, Promise<void>>();

/** `sink.write`, failed after `timeoutMs` (the write itself goes on; its sink is skipped until it settles). */
async function boundedWrite(sink: Sink, detections: readonly Detection[], context: WriteContext, timeoutMs: number): Promise<void> {
  if (writesInFlight.has(sink)) {
    throw new OutflowError('SINK_FAILED', `sink ${sink.name}: its previous write has not finished`, 'check the sink target (a named pipe needs its reader)');
  }
  const write = sink.write(detections, context).finally(() => writesInFlight.delete(sink));
  writesInFlight.set(sink, write);
  // a write that fails after its timeout was already reported: nothing may stay unhandled
  write.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      write,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new OutflowError('SINK_FAILED', `sink ${sink.name} did not take the batch within ${timeoutMs} ms`, 'check the sink target (a named pipe needs its reader); the batch is offered again next run')),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface DeliveryReport {
  /** Detections written per sink name. */
  delivered: Record<string, number>;
  /** Changes still waiting per sink name after this call (the sink's backlog). */
  pending: Record<string, number>;
  /** Sinks whose write failed; they get the same detections again next time. */
  failures: { sink: string; error: Error }[];
  /** Sinks that stopped at maxPerCall with more waiting. */
  behind: string[];
}

/**
 * The job this delivery runs in lost its lock to another process (a fenced cursor write said so): the job must
 * stop, not carry on as if one sink had failed, while the new holder delivers from the saved cursors.
 */
function isJobLockLost(err: unknown): err is OutflowError {
  return err instanceof OutflowError && err.code === 'JOB_LOCK_LOST';
}

/** The checkpoint id of a sink's cursor. */
export function sinkCursorId(sink: Sink): string {
  return `sink:${sink.deliveryId ?? sink.name}`;
}

/**
 * What a sink's checkpoint holds beside its cursor, so a receiver gets a Create the first time it is offered a
 * finding (OCSF): `origin` is the cursor the sink started at (set up, or reset). A detection whose first change
 * is at or before it was created before the sink existed, so it was never offered unless it is in `offered`:
 * those the sink has been offered since. An id matters only while its detection can change again: each call
 * forgets those of detections retention deleted or whose suppression window is over (closedUpTo), so the
 * lists hold about a window or two of detections, and the checkpoint written after each page stays small; they
 * are capped anyway.
 */
interface SinkOrigin {
  origin: string | null;
  offered: string[];
  /**
   * Every detection whose first change is at or before `settled` (and after `origin`) has been offered: the
   * cursor of the last call that read the feed to its end. A call that stops mid-backlog (maxPerCall, a refused
   * page, a partial write) leaves it where it was, and `since` lists those offered after it. null: the
   * checkpoint predates it (the call's starting cursor stands in, as before).
   */
  settled: string | null;
  since: string[];
}
/** As many as one delivery call hands a sink by default (DeliveryOptions.maxPerCall): past it, a duplicate Create. */
const MAX_OFFERED_IDS = 20_000;

/**
 * Detections created at or before this event time can no longer change, in all likelihood: null without the
 * settings or before the first event. Finalization folds a candidate into the open detection of its suppression
 * key only within suppression_hours of the detection's creation, and judges a candidate once the newest event is
 * finalize_delay past it; a candidate dated before `newest − finalize_delay` is late. Another suppression window
 * is allowed for those (a laptop delivering the day's lines after a night offline, a finalize run that failed
 * for a while): a detection's id is kept until its window closed a window ago. Only a line later still can fold
 * into a detection forgotten here; its sink then gets a second Create, the failure mode the cap has already,
 * never a missing one.
 */
function closedUpTo(newest: number | null, analytics: DeliveryOptions['analytics']): number | null {
  if (newest === null || !analytics) return null;
  return newest - analytics.finalize_delay - 2 * suppressionSpan(analytics);
}

function idList(v: unknown): string[] {
  try {
    const list: unknown = typeof v === 'string' ? JSON.parse(v) : [];
    if (Array.isArray(list)) return list.filter((x): x is string => typeof x === 'string');
  } catch {
    // a damaged list: those detections may get a second Create, never a missing one
  }
  return [];
}

function originOf(saved: Readonly<Record<string, unknown>> | null): SinkOrigin {
  const settled = typeof saved?.settled === 'string' && changeSeq(saved.settled) !== null ? saved.settled : null;
  const since = settled === null ? [] : idList(saved!.since);
  if (typeof saved?.origin !== 'string' || changeSeq(saved.origin) === null) return { origin: null, offered: [], settled, since };
  return { origin: saved.origin, offered: idList(saved.offered), settled, since };
}

/** A sink starting at `cursor`: nothing before it was offered, everything after it will be. */
function freshOrigin(cursor: string): SinkOrigin {
  return { origin: cursor, offered: [], settled: cursor, since: [] };
}

/** The checkpoint row of a sink: its values are scalars, so the lists are stored as JSON text. */
function checkpointOf(cursor: string, origin: SinkOrigin): Record<string, string> {
  const value: Record<string, string> = origin.origin === null ? { cursor } : { cursor, origin: origin.origin, offered: JSON.stringify(origin.offered) };
  if (origin.settled !== null) Object.assign(value, { settled: origin.settled, since: JSON.stringify(origin.since) });
  return value;
}

/**
 * Store a sink's cursor in a transaction of its own: inside the finalize job that is what fences it (a
 * process that lost the job's lock while it stalled must not move a cursor the new holder now owns).
 */
async function putCursor(store: Store, sink: Sink, cursor: string, origin: SinkOrigin): Promise<void> {
  await store.transaction((tx) => tx.checkpoints.put(sinkCursorId(sink), checkpointOf(cursor, origin)));
}

/** Start the sink at the newest change (its cursor was missing, or not one this store handed out). */
async function resetCursor(store: Store, sink: Sink): Promise<{ cursor: string; origin: SinkOrigin }> {
  const newest = await store.detections.changeCursor();
  const origin = freshOrigin(newest);
  await putCursor(store, sink, newest, origin);
  return { cursor: newest, origin };
}

/**
 * Which changes a sink is offered for the first time, and what the sink's checkpoint must remember of those it
 * takes (SinkOrigin). `callFrom` is the cursor the delivery call starts at; it stands in for `settled` in a
 * checkpoint of an older release.
 */
class OfferLedger {
  private readonly originSeq: bigint | null;
  private readonly settledSeq: bigint;
  private readonly offeredBefore: Set<string>;
  private readonly offeredSince: Set<string>;
  /** The state differs from the checkpoint saved (written by the next putCursor, or at the end of the call). */
  dirty = false;

  constructor(
    readonly state: SinkOrigin,
    callFrom: string,
    /** closedUpTo for this call: a detection created at or before it is offered without being listed. */
    private readonly closed: number | null,
  ) {
    if (state.settled === null) state.settled = callFrom;
    this.settledSeq = changeSeq(state.settled) ?? 0n;
    this.originSeq = state.origin === null ? null : changeSeq(state.origin)!;
    this.offeredBefore = new Set(state.offered);
    this.offeredSince = new Set(state.since);
  }

  /** The ids list a change of this first change belongs to: before the sink's origin, or after `settled`; null for neither. */
  private listOf(c: DetectionChange): { ids: Set<string>; list: string[] } | null {
    const firstSeq = changeSeq(c.firstCursor) ?? 0n;
    if (this.originSeq !== null && firstSeq <= this.originSeq) return { ids: this.offeredBefore, list: this.state.offered };
    return firstSeq > this.settledSeq ? { ids: this.offeredSince, list: this.state.since } : null;
  }

  isFirstOffer(c: DetectionChange): boolean {
    const at = this.listOf(c);
    return at !== null && !at.ids.has(c.detection.id);
  }

  /** The sink took this change. */
  offered(c: DetectionChange): void {
    const at = this.listOf(c);
    if (at === null || at.ids.has(c.detection.id)) return;
    // A change is read at the detection's latest version: one that can no longer change is offered for the last
    // time. A sink far behind reads whole days of those; listing them would only grow the checkpoint.
    if (this.closed !== null && c.detection.created_at <= this.closed) return;
    at.ids.add(c.detection.id);
    at.list.push(c.detection.id);
    if (at.list.length > MAX_OFFERED_IDS) at.list.splice(0, at.list.length - MAX_OFFERED_IDS);
    this.dirty = true;
  }

  /**
   * Forget the listed detections the sink will not be offered again: those the store no longer holds (retention;
   * one created again under the same id before this call still reads as listed, so a sink behind gets an Update
   * for it, after the Create of the first one: never a missing Create) and, with
   * `closed`, those created at or before it that the sink has read at their latest change (at or before
   * `callFrom`, the call's starting cursor): one changed while still open but not read yet, its sink behind or
   * down meanwhile, is offered once more. `latest`: DetectionsRepo.latestChanges of the listed ids.
   */
  prune(latest: ReadonlyMap<string, LatestChange>, callFrom: string): void {
    const readTo = changeSeq(callFrom) ?? 0n;
    const gone = (id: string) => {
      const at = latest.get(id);
      if (at === undefined) return true;
      return this.closed !== null && at.createdAt <= this.closed && (changeSeq(at.cursor) ?? 0n) <= readTo;
    };
    const pruned = (list: string[], ids: Set<string>): string[] => {
      const kept = list.filter((id) => {
        if (!gone(id)) return true;
        ids.delete(id);
        return false;
      });
      if (kept.length === list.length) return list;
      this.dirty = true;
      return kept;
    };
    this.state.offered = pruned(this.state.offered, this.offeredBefore);
    this.state.since = pruned(this.state.since, this.offeredSince);
  }

  /** Every listed id, for DetectionsRepo.latestChanges. */
  listed(): string[] {
    return [...this.state.offered, ...this.state.since];
  }

  /** The sink read the feed to its end at `cursor`. */
  settle(cursor: string): void {
    if (this.state.settled === cursor && this.state.since.length === 0) return;
    this.state.settled = cursor;
    this.state.since = [];
    this.offeredSince.clear();
    this.dirty = true;
  }
}

/**
 * The first page of changes after the sink's cursor, and that cursor: the saved one when this store handed it
 * out; none yet (a new sink), the group's start cursor, or the newest change without one — saved, or if another
 * process saved one meanwhile (instances starting together), the older of the two; else (a row we did not write,
 * a cursor of another store) the newest change, saved. The page read is what checks a cursor.
 */
async function firstPage(store: Store, group: SinkGroup, sink: Sink, limit: number, log?: Logger): Promise<{ cursor: string; changes: DetectionChange[]; origin: SinkOrigin }> {
  const saved = await store.checkpoints.get(sinkCursorId(sink));
  if (typeof saved?.cursor === 'string') {
    try {
      return { cursor: saved.cursor, changes: await store.detections.changedSince(saved.cursor, limit), origin: originOf(saved) };
    } catch (err) {
      if (!(err instanceof ChangeCursorError)) throw err;
      log?.warn({ sink: sink.name, err }, 'sink cursor is not one this store handed out; the sink starts at the newest change');
    }
  } else if (saved !== null) {
    log?.warn({ sink: sink.name, checkpoint: sinkCursorId(sink) }, 'sink cursor row is not a cursor; the sink starts at the newest change');
  } else {
    try {
      const start = group.startCursor ?? (await store.detections.changeCursor());
      // checks the start cursor before it is saved
      let changes = await store.detections.changedSince(start, limit);
      const keptRow = await store.transaction((tx) => tx.checkpoints.putIfAbsent(sinkCursorId(sink), checkpointOf(start, freshOrigin(start))));
      const kept = keptRow.cursor;
      if (kept === start) return { cursor: start, changes, origin: originOf(keptRow) };
      // Another process set this new sink up at the same moment (instances starting together). The older cursor
      // wins: the newer one would skip what was finalized between the two starts; the older can only hand a sink
      // some detections twice, which at-least-once delivery allows.
      const keptSeq = typeof kept === 'string' ? changeSeq(kept) : null;
      if (typeof kept === 'string' && keptSeq !== null && keptSeq <= changeSeq(start)!) {
        return { cursor: kept, changes: await store.detections.changedSince(kept, limit), origin: originOf(keptRow) };
      }
      const origin = freshOrigin(start);
      await putCursor(store, sink, start, origin);
      return { cursor: start, changes, origin };
    } catch (err) {
      if (!(err instanceof ChangeCursorError)) throw err;
      log?.warn({ sink: sink.name, err }, 'start cursor is not one this store handed out; the sink starts at the newest change');
    }
  }
  // nothing comes after the newest change yet
  return { ...(await resetCursor(store, sink)), changes: [] };
}

/**
 * Give every sink a usable cursor (idempotent). Run before finalizing, so a sink set up now, or one whose
 * cursor had to be reset, still receives what that run finalizes. A store error is logged; deliverDetections
 * tries again for that sink.
 */
export async function prepareSinkCursors(store: Store, group: SinkGroup, log?: Logger): Promise<void> {
  for (const sink of group.sinks) {
    try {
      await firstPage(store, group, sink, 1, log);
    } catch (err) {
      if (isJobLockLost(err)) throw err;
      log?.error({ sink: sink.name, err: coerceError(err) }, 'sink cursor could not be set up');
    }
  }
}

/** Hand each sink the changes after its cursor, oldest first; one sink's failure does not hold up the others. */
export async function deliverDetections(store: Store, group: SinkGroup, opts: DeliveryOptions = {}): Promise<DeliveryReport> {
  const batchSize = opts.batchSize ?? 500;
  const maxPerCall = opts.maxPerCall ?? 20_000;
  const report: DeliveryReport = { delivered: {}, pending: {}, failures: [], behind: [] };
  const fail = (sink: Sink, error: Error, fields: Record<string, unknown>, msg: string) => {
    report.failures.push({ sink: sink.name, error });
    opts.metrics?.sinkDeliveries.inc({ sink: sink.name, outcome: 'error' });
    opts.log?.error({ sink: sink.name, err: error, ...fields }, msg);
  };

  // read once per call: how far the event clock is decides which listed detections can no longer change
  let closed: number | null = null;
  if (opts.analytics) {
    try {
      closed = closedUpTo(eventPresent((await store.clock.get()).newest, (opts.clock ?? systemClock).unix()), opts.analytics);
    } catch (err) {
      opts.log?.warn({ err: coerceError(err) }, 'event clock could not be read; sink checkpoints keep the detections they list this time');
    }
  }
  /** Forget what the ledger lists that the sink will not be offered again; a store error leaves the lists as they are. */
  const pruneLedger = async (ledger: OfferLedger, sink: Sink, callFrom: string): Promise<void> => {
    const listed = ledger.listed();
    if (listed.length === 0) return;
    try {
      ledger.prune(await store.detections.latestChanges(listed), callFrom);
    } catch (err) {
      opts.log?.warn({ sink: sink.name, err: coerceError(err) }, 'listed detections could not be looked up; the sink checkpoint keeps them this time');
    }
  };

  const deliverTo = async (sink: Sink): Promise<void> => {
    const first = await firstPage(store, group, sink, Math.min(batchSize, maxPerCall), opts.log);
    let { cursor } = first;
    let changes = first.changes;
    // first offers are judged from the call's starting cursor, not each page's: a detection updated past a page
    // boundary before it was read was not offered by that page
    const ledger = new OfferLedger(first.origin, cursor, closed);
    await pruneLedger(ledger, sink, cursor);
    report.delivered[sink.name] = 0;
    while (changes.length) {
      let accepted = changes.length;
      let failure: Error | undefined;
      try {
        const firstOffered = new Set(changes.filter((c) => ledger.isFirstOffer(c)).map((c) => c.detection.id));
        await boundedWrite(sink, changes.map((c) => c.detection), { firstOffered }, opts.writeTimeoutMs ?? SINK_WRITE_TIMEOUT_MS);
      } catch (err) {
        failure = coerceError(err);
        accepted = err instanceof PartialWriteError ? Math.min(err.accepted, changes.length) : 0;
      }
      if (accepted > 0) {
        report.delivered[sink.name]! += accepted;
        cursor = changes[accepted - 1]!.cursor;
        for (const c of changes.slice(0, accepted)) ledger.offered(c);
        await putCursor(store, sink, cursor, ledger.state);
        ledger.dirty = false;
      }
      if (failure) {
        fail(sink, failure, { accepted, refused: changes.length - accepted }, 'sink write failed; the refused detections are offered again on the next run');
        break;
      }
      if (report.delivered[sink.name]! >= maxPerCall) break;
      changes = await store.detections.changedSince(cursor, Math.min(batchSize, maxPerCall - report.delivered[sink.name]!));
    }
    // read to the end (no break above): every detection first changed up to here has been offered
    if (changes.length === 0) ledger.settle(cursor);
    // also when only pruning changed the lists (nothing to deliver): a saved checkpoint stays as small as the lists
    if (ledger.dirty) await putCursor(store, sink, cursor, ledger.state);
    let pending: number;
    try {
      pending = await store.detections.countChangedSince(cursor);
    } catch (err) {
      // what was delivered stays delivered; only the backlog is unknown this time
      opts.log?.warn({ sink: sink.name, err: coerceError(err) }, 'sink backlog could not be counted');
      return;
    }
    report.pending[sink.name] = pending;
    opts.metrics?.sinkPending.set({ sink: sink.name }, pending);
    if (pending > 0 && report.delivered[sink.name]! >= maxPerCall) report.behind.push(sink.name);
  };

  let lockLost: OutflowError | undefined;
  await Promise.all(
    group.sinks.map((s) =>
      deliverTo(s).catch((err: unknown) => {
        if (isJobLockLost(err)) {
          lockLost = err;
          return;
        }
        // the store failed (reading changes, or saving the cursor after a write): the next run starts from the saved cursor
        fail(s, coerceError(err), {}, 'sink delivery stopped by a store error; it resumes from the saved cursor next run');
      }),
    ),
  );
  // Every sink has stopped by now (each one's next cursor write fails the same way).
  if (lockLost) throw lockLost;
  return report;
}
