/**
 * Risk score and severity (SPEC §4): each analytic starts from a base score for the branch that fired,
 * then the shared modifiers apply (±15 destination novelty, +15 raw IP or non-standard port, +15 staging
 * path); a precursor within precursor_high_gap lifts the score to at least the high band. Raw IP and a close
 * precursor are taken from the endpoint's reasons: it alone knows whether names were observable and every
 * precursor in the window (a candidate row carries one).
 */
import type { AnalyticsConfig } from '../config/analytics.js';
import type { EgressCandidate } from '../schemas/egress-candidate.js';
import { nonStandardPort, precursorHigh, stagingPath } from './predicates.js';
import { destinationNovelty } from './prevalence.js';
import type { FleetFacts, FleetVerdict, Severity } from './types.js';

export function severityBand(score: number, cfg: AnalyticsConfig): Severity {
  const s = cfg.severity;
  if (score >= s.critical) return 'critical';
  if (score >= s.high) return 'high';
  if (score >= s.medium) return 'medium';
  if (score >= s.low) return 'low';
  return 'info';
}

export function clampScore(score: number): number {
  return Math.max(0, Math.min(100, Math.round(score)));
}

/** Staging evidence: an archive precursor written to a staging location (reason or path). */
export function hasStagingEvidence(c: Pick<EgressCandidate, 'reasons' | 'precursor_kind' | 'precursor_path'>, reasons = c.reasons.split(',')): boolean {
  if (reasons.includes('staging_path')) return true;
  return c.precursor_kind === 'archive' && stagingPath(c.precursor_path);
}

export function hasPrecursor(c: Pick<EgressCandidate, 'precursor_kind'>): boolean {
  return c.precursor_kind !== 'none';
}

export interface ScoreInput {
  base: number;
  /** Extra analytic-specific modifiers, already signed (e.g. +15 for a background launchd job). */
  extra?: { points: number; name: string }[];
  /** Cap (e.g. AN1415 without precursor stays medium). */
  max?: number;
}

/** Base score + shared modifiers → score, severity band, modifier list. */
export function scoreCandidate(c: EgressCandidate, f: FleetFacts, cfg: AnalyticsConfig, input: ScoreInput): Pick<FleetVerdict, 'score' | 'baseScore' | 'severity' | 'modifiers'> {
  const m = cfg.severity.modifier;
  const modifiers: string[] = [];
  let score = input.base;
  const add = (points: number, name: string) => {
    score += points;
    modifiers.push(`${points >= 0 ? '+' : ''}${points}:${name}`);
  };
  const novelty = destinationNovelty(f, cfg);
  if (novelty === 1) add(m, 'rare_or_new_destination');
  else if (novelty === -1) add(-m, 'common_or_established_destination');
  // raw IP as the endpoint saw it: only a flow source that reports server names can tell (EndpointFacts.serverNameObservable)
  const reasons = c.reasons.split(',');
  if (reasons.includes('raw_ip')) add(m, 'raw_ip');
  else if (nonStandardPort(c)) add(m, 'non_standard_port');
  if (hasStagingEvidence(c, reasons)) add(m, 'staging_path');
  for (const e of input.extra ?? []) add(e.points, e.name);
  // the reported precursor's gap, or precursor_close: another precursor in the window was that close
  if (hasPrecursor(c) && (precursorHigh(c.precursor_gap, cfg) || reasons.includes('precursor_close')) && score < cfg.severity.high) {
    modifiers.push(`floor:${cfg.severity.high}:precursor_gap_le_${cfg.precursor_high_gap}s`);
    score = cfg.severity.high;
  }
  if (input.max !== undefined && score > input.max) {
    modifiers.push(`cap:${input.max}`);
    score = input.max;
  }
  const clamped = clampScore(score);
  return { score: clamped, baseScore: input.base, severity: severityBand(clamped, cfg), modifiers };
}

/** A verdict that does not fire (score 0, info). */
export function noFire(why: string, baselineWarming: boolean): FleetVerdict {
  return { fire: false, branch: `no_fire:${why}`, baselineWarming, score: 0, baseScore: 0, severity: 'info', modifiers: [] };
}

/** Rarity alone decided, but the baseline is still warming: record it, do not fire. */
export function warmingVerdict(): FleetVerdict {
  return { fire: false, branch: 'baseline_warming', baselineWarming: true, score: 0, baseScore: 0, severity: 'info', modifiers: [] };
}
