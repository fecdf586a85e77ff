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
import { coerceError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { FleetMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { PartialWriteError, type Sink } from './sink.js';

export interface SinkGroup {
  readonly sinks: readonly Sink[];
}

export interface DeliveryOptions {
  /** Detections per sink write (default 500). */
  batchSize?: number;
  /** Most detections one call hands each sink (default 20 000); the rest waits for the next call. */
  maxPerCall?: number;
  log?: Logger;
  metrics?: FleetMetrics;
}

export interface DeliveryReport {
  /** Detections written per sink name. */
  delivered: Record<string, number>;
  /** Sinks whose write failed; they get the same detections again next time. */
  failures: { sink: string; error: Error }[];
  /** Sinks that stopped at maxPerCall with more waiting. */
  behind: string[];
}

/** The checkpoint id of a sink's cursor. */
export function sinkCursorId(sink: Sink): string {
  return `sink:${sink.deliveryId ?? sink.name}`;
}

/** Give every sink without a cursor one at the newest change (idempotent). */
export async function prepareSinkCursors(store: Store, group: SinkGroup): Promise<void> {
  let newest: string | undefined;
  for (const sink of group.sinks) {
    const id = sinkCursorId(sink);
    if ((await store.checkpoints.get(id)) !== null) continue;
    newest ??= await store.detections.changeCursor();
    await store.checkpoints.put(id, { cursor: newest });
  }
}

/** Hand each sink the changes after its cursor, oldest first; one sink's failure does not hold up the others. */
export async function deliverDetections(store: Store, group: SinkGroup, opts: DeliveryOptions = {}): Promise<DeliveryReport> {
  const batchSize = opts.batchSize ?? 500;
  const maxPerCall = opts.maxPerCall ?? 20_000;
  const report: DeliveryReport = { delivered: {}, failures: [], behind: [] };

  const deliverTo = async (sink: Sink): Promise<void> => {
    const id = sinkCursorId(sink);
    const saved = await store.checkpoints.get(id);
    // A sink without a cursor was never prepared: start it at the newest change rather than replay everything.
    let cursor = typeof saved?.cursor === 'string' ? saved.cursor : await store.detections.changeCursor();
    let delivered = 0;
    while (delivered < maxPerCall) {
      const changes = await store.detections.changedSince(cursor, Math.min(batchSize, maxPerCall - delivered));
      if (!changes.length) break;
      let accepted = changes.length;
      let failure: Error | undefined;
      try {
        await sink.write(changes.map((c) => c.detection));
      } catch (err) {
        failure = coerceError(err);
        accepted = err instanceof PartialWriteError ? Math.min(err.accepted, changes.length) : 0;
      }
      if (accepted > 0) {
        cursor = changes[accepted - 1]!.cursor;
        await store.checkpoints.put(id, { cursor });
        delivered += accepted;
      }
      if (failure) {
        report.failures.push({ sink: sink.name, error: failure });
        opts.metrics?.sinkDeliveries.inc({ sink: sink.name, outcome: 'error' });
        opts.log?.error(
          { sink: sink.name, err: failure, accepted, refused: changes.length - accepted },
          'sink write failed; the refused detections are offered again on the next run',
        );
        break;
      }
    }
    report.delivered[sink.name] = delivered;
    if (delivered >= maxPerCall) report.behind.push(sink.name);
  };

  await Promise.all(
    group.sinks.map((s) =>
      deliverTo(s).catch((err: unknown) => {
        // the store failed (reading changes or saving the cursor): the next run starts from the saved cursor
        const error = coerceError(err);
        report.failures.push({ sink: s.name, error });
        opts.log?.error({ sink: s.name, err: error }, 'sink delivery stopped');
      }),
    ),
  );
  return report;
}
