import { z } from 'zod';
import { cutText } from '../strings.js';
import { MAX_KEY_TEXT, MAX_PATH_TEXT, MAX_SHORT_TEXT } from './egress-candidate.js';

/**
 * osquery result-log lines as the fleet aggregator reads them (formats.md §6): the normalized shape
 * the parser (fleet/ingest/parse-result-log.ts) produces from event, batch and snapshot lines, and
 * the row schemas of Outflow's own pack queries (SPEC §3).
 */

/** Outflow pack queries, matched by name suffix (`pack/Global/outflow_apps`, `pack_outflow_outflow_apps`). */
export const OUTFLOW_QUERIES = ['outflow_candidates', 'outflow_destinations', 'outflow_apps', 'outflow_status'] as const;
export type OutflowQuery = (typeof OUTFLOW_QUERIES)[number];

export type ResultShape = 'event' | 'batch' | 'snapshot';
export type RowAction = 'added' | 'removed' | 'snapshot';

/** Column values: strings by default, numbers/booleans with --logger_numerics. */
export type ResultColumns = Record<string, unknown>;

export interface ResultRow {
  action: RowAction;
  columns: ResultColumns;
}

/** One result line, normalized: numbers are numbers, rows are flattened whatever the shape. */
export interface ResultLogLine {
  /** Full `name` as logged (`pack/Global/outflow_candidates`). */
  name: string;
  /** Which Outflow query it is, or null for other queries (they only count as host activity). */
  query: OutflowQuery | null;
  /** decorations.host_uuid if present, else hostIdentifier. */
  hostId: string;
  /** decorations.hostname ('' when absent). */
  hostname: string;
  unixTime: number;
  epoch: number;
  counter: number;
  numerics: boolean;
  shape: ResultShape;
  /** counter 0 or a snapshot: a full dump of current rows, never new activity. */
  baseline: boolean;
  rows: ResultRow[];
}

const int = z.coerce.number().int();
const str = z.coerce.string().default('');

// outflow_destinations and outflow_status rows are checked by hand in fleet/ingest/ingest-service.ts:
// they are most of a fleet's rows, and a schema parse per row costs more than the rest of ingest.

/** `outflow_apps`: code_signing of running executables. */
const AppRowShape = z.object({
  path: str,
  identity: str,
  signature_class: str,
  team_id: str,
  signing_id: str,
  cdhash: str,
  notarized: int.default(-1),
});
export type AppRow = z.infer<typeof AppRowShape>;
export const AppRowSchema = AppRowShape.transform(cutAppRow);

/**
 * An apps row's text cut as candidate text is (egress-candidate.ts): these attributes fill every chain link of a
 * detection naming the identity, and the identity keys app prevalence alike on every path.
 */
export function cutAppRow(row: AppRow): AppRow {
  // the common case, on ingest's hot path: nothing to cut, no new object
  if (row.path.length <= MAX_PATH_TEXT && row.identity.length <= MAX_KEY_TEXT && row.signature_class.length <= MAX_SHORT_TEXT && row.team_id.length <= MAX_SHORT_TEXT && row.signing_id.length <= MAX_SHORT_TEXT && row.cdhash.length <= MAX_SHORT_TEXT) return row;
  return {
    path: cutText(row.path, MAX_PATH_TEXT),
    identity: cutText(row.identity, MAX_KEY_TEXT),
    signature_class: cutText(row.signature_class, MAX_SHORT_TEXT),
    team_id: cutText(row.team_id, MAX_SHORT_TEXT),
    signing_id: cutText(row.signing_id, MAX_SHORT_TEXT),
    cdhash: cutText(row.cdhash, MAX_SHORT_TEXT),
    notarized: row.notarized,
  };
}
