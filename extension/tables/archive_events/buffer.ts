import type { OutflowConfig } from '../../../src/config/index.js';
import type { ArchiveEventRow } from '../../runtime/context.js';
import { RingBuffer } from '../../runtime/ring-buffer.js';
import { precursorRetention } from '../sensitive_file_events/buffer.js';

/** The eslogger collector's buffer of archive events, kept as long as tier-2 reads (they are precursors alike). */
export function createArchiveEventRing(config: OutflowConfig): RingBuffer<ArchiveEventRow> {
  return new RingBuffer<ArchiveEventRow>(config.events.max_events, precursorRetention(config).other, (e) => e.time);
}
