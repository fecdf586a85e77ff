/**
 * The five Outflow analytics (SPEC §4) as code: one module per analytic with its ATT&CK description,
 * endpoint predicate (run by the extension's egress_candidates table) and fleet finalization (run by
 * the aggregator). Every number comes from AnalyticsConfig (src/config/analytics.ts).
 */
import type { AnalyticId } from '../schemas/egress-candidate.js';
import { AN0032 } from './an0032.js';
import { AN0082 } from './an0082.js';
import { AN0425 } from './an0425.js';
import { AN0990 } from './an0990.js';
import { AN1415 } from './an1415.js';
import type { AnalyticDefinition } from './types.js';

export type { AnalyticId } from '../schemas/egress-candidate.js';
export { ANALYTIC_IDS } from '../schemas/egress-candidate.js';
export type {
  AnalyticDefinition,
  AnalyticsConfig,
  ChainAppFacts,
  EndpointFacts,
  EndpointResult,
  FleetFacts,
  FleetVerdict,
  FlowFacts,
  PrecursorFacts,
  PrecursorKind,
  Severity,
} from './types.js';

export { AN0032, AN0082, AN0425, AN0990, AN1415 };

export const ANALYTICS: Record<AnalyticId, AnalyticDefinition> = { AN0990, AN0032, AN0082, AN1415, AN0425 };

export * from './predicates.js';
export {
  rareThreshold,
  commonThreshold,
  rareDestination,
  commonDestination,
  uploadNormalPair,
  baselineWarming,
  cutWindowWarming,
  windowKeptFrom,
  youngBaseline,
  unseenApp,
  firstUnseenApp,
  destinationNovelty,
  prevalenceWindow,
  candidateStart,
  candidateBaselineStart,
  baselineLookBackDays,
} from './prevalence.js';
export { severityBand, scoreCandidate, hasStagingEvidence } from './severity.js';
export { gateFailures, hasAnyPrecursor, hasSensitivePrecursor } from './endpoint.js';
/** One definition of the destination key, owned by src/classify (also used by the fleet's prevalence). */
export { destinationKey, createDestinationKeyer, SHARED_STORAGE_SUFFIXES } from '../classify/destination.js';
export { bigUpload } from './an1415.js';
