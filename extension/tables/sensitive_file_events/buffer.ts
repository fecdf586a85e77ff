import type { OutflowConfig } from '../../../src/config/index.js';
import { ReservedRing, type EventRing } from '../../runtime/ring-buffer.js';
import type { SensitiveFileEventRow } from '../../runtime/context.js';
import { readsOrMovesData } from './precursor-operations.js';

/**
 * The eslogger collector's buffer of sensitive reads: tier-2 reads in a ring of `events.max_events` kept for
 * `events.retention`, tier-1 reads in a ring of their own (`events.tier1_max_events`, `events.tier1_retention`),
 * so a flood of document reads cannot push a keychain read out before the upload it explains, nor can a long
 * flow outlast it. Rows of tier-1 files that are no precursor (writes, creates: thousands of files made under a
 * tier-1 path) go to the shared ring: in the tier-1 ring they would push its reads out.
 */
export function createSensitiveEventRing(config: OutflowConfig): EventRing<SensitiveFileEventRow> {
  const { max_events, tier1_max_events } = config.events;
  return new ReservedRing<SensitiveFileEventRow>(
    { capacity: max_events, maxAgeSeconds: precursorRetention(config).other },
    { capacity: tier1_max_events, maxAgeSeconds: precursorRetention(config).tier1 },
    (e) => e.time,
    (e) => e.tier === 1 && readsOrMovesData(e.operation),
  );
}

/**
 * How long a row of each ring can still explain an upload: its producer's process record is kept as long. Never
 * less than `analytics.precursor_window` + `flows.retention`: the window runs back from the flow's start, so a flow
 * that started up to `flows.retention` ago finds every read of its window (with the defaults, 900 + 900 = the
 * 1 800 of `events.retention`), and a window configured longer than `events.retention` is not cut to it. An older
 * flow start (a long upload, or one closed a while ago and still in the table) reaches tier-2 reads and archive
 * steps only this far back; the candidates query, every 60 s, has reported it with them while it was young.
 * Tier-1 reads have their own, longer retention.
 */
export function precursorRetention(config: OutflowConfig): { tier1: number; other: number } {
  const { retention, tier1_retention } = config.events;
  const reach = config.analytics.precursor_window + config.flows.retention;
  return { tier1: Math.max(retention, tier1_retention, reach), other: Math.max(retention, reach) };
}
