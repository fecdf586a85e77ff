import type { OutflowConfig } from '../../../src/config/index.js';
import { ReservedRing, type EventRing } from '../../runtime/ring-buffer.js';
import type { SensitiveFileEventRow } from '../../runtime/context.js';

/**
 * The eslogger collector's buffer of sensitive reads: tier-2 reads in a ring of `events.max_events` kept for
 * `events.retention`, tier-1 reads in a ring of their own (`events.tier1_max_events`, `events.tier1_retention`),
 * so a flood of document reads cannot push a keychain read out before the upload it explains, nor can a long
 * flow outlast it.
 */
export function createSensitiveEventRing(config: OutflowConfig): EventRing<SensitiveFileEventRow> {
  const { max_events, tier1_max_events } = config.events;
  return new ReservedRing<SensitiveFileEventRow>(
    { capacity: max_events, maxAgeSeconds: precursorRetention(config).other },
    { capacity: tier1_max_events, maxAgeSeconds: precursorRetention(config).tier1 },
    (e) => e.time,
    (e) => e.tier === 1,
  );
}

/**
 * How long a row of each ring can still explain an upload: its producer's process record is kept as long. Never
 * less than `analytics.precursor_window`, so a read or an archive step the window names is still there for a flow
 * that starts now (a longer window than `events.retention` would otherwise be cut to it).
 */
export function precursorRetention(config: OutflowConfig): { tier1: number; other: number } {
  const { retention, tier1_retention } = config.events;
  const window = config.analytics.precursor_window;
  return { tier1: Math.max(retention, tier1_retention, window), other: Math.max(retention, window) };
}
