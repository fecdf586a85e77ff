import type { Detection } from '../../src/schemas/detection.js';

export type { Detection };

/** How a sink renders a detection: Outflow's own JSON, or an OCSF 1.x Detection Finding. */
export type SinkFormat = 'json' | 'ocsf';

/**
 * Where finalized detections go. `write` resolves once the batch is durable on the sink's side
 * (written to the file, queued in the webhook spool); it rejects only when the batch could not be
 * accepted at all, so the caller can log it and count it.
 */
export interface Sink {
  readonly name: string;
  write(detections: readonly Detection[]): Promise<void>;
  /** Flush what can be flushed and release resources. Undelivered spooled batches stay on disk. */
  close(): Promise<void>;
}
