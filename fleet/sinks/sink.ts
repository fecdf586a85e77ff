import { OutflowError, coerceError } from '../../src/errors.js';
import type { Detection } from '../../src/schemas/detection.js';

export type { Detection };

/** How a sink renders a detection: Outflow's own JSON, or an OCSF 1.x Detection Finding. */
export type SinkFormat = 'json' | 'ocsf';

/**
 * Renders one detection. `firstOffered`: true when this sink has never been offered any version of it (OCSF
 * renders a Create), false when it has (an Update); undefined when unknown (an export), and then the detection's
 * own count and times decide.
 */
export type Render = (detection: Detection, firstOffered?: boolean) => unknown;

/** What the outbox knows about a batch beyond the detections themselves. */
export interface WriteContext {
  /** The ids of the batch's detections this sink is offered for the first time (DetectionChange.firstCursor). */
  readonly firstOffered?: ReadonlySet<string>;
}

/** Render a batch with what the outbox knows. */
export function renderAll(detections: readonly Detection[], render: Render, context?: WriteContext): unknown[] {
  const first = context?.firstOffered;
  return detections.map((d) => render(d, first === undefined ? undefined : first.has(d.id)));
}

/**
 * Where finalized detections go. `write` resolves once the batch is durable on the sink's side
 * (written to the file, queued in the webhook spool); it rejects only when the batch could not be
 * accepted at all, so the caller can log it and count it (and, through outbox.ts, offer it again).
 */
export interface Sink {
  readonly name: string;
  /**
   * What the sink delivers to, stable across restarts and config reordering (type, format and target; a
   * webhook URL only as a hash): names the sink's cursor in the store's change feed (outbox.ts). Default:
   * `name`.
   */
  readonly deliveryId?: string;
  write(detections: readonly Detection[], context?: WriteContext): Promise<void>;
  /** Flush what can be flushed and release resources. Undelivered spooled batches stay on disk. */
  close(): Promise<void>;
}

/**
 * A write that took only the first `accepted` detections of its batch before failing (a webhook whose spool
 * filled up part-way): the outbox moves the sink's cursor past those, so they are not offered again.
 */
export class PartialWriteError extends OutflowError {
  constructor(
    readonly accepted: number,
    cause: unknown,
  ) {
    const e = coerceError(cause);
    super(e instanceof OutflowError ? e.code : 'SINK_FAILED', e.message, e instanceof OutflowError ? e.hint : undefined, { cause: e });
  }
}
