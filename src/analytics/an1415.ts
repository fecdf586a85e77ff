import type { AnalyticsConfig } from '../config/analytics.js';
import { finalizeRareOrAbnormal } from './an0990.js';
import { type Gates, checkGates, hasAnyPrecursor, result } from './endpoint.js';
import { tlsOrQuic, uploadShaped } from './predicates.js';
import { baselineWarming, rareDestination } from './prevalence.js';
import { hasPrecursor, noFire, scoreCandidate, warmingVerdict } from './severity.js';
import type { AnalyticDefinition, EndpointFacts } from './types.js';

const GATES: Gates = { external: true, notBrowser: true, notSanctioned: true };

/** Upload-shaped and at least an1415_min_upload_bytes out (the no-precursor path). */
export function bigUpload(flow: { pcr: number; bytes_out: number }, cfg: AnalyticsConfig): boolean {
  return uploadShaped(flow, cfg) && flow.bytes_out >= cfg.an1415_min_upload_bytes;
}

export const AN1415: AnalyticDefinition = {
  id: 'AN1415',
  name: 'Non-browser TLS/QUIC egress after sensitive access or compression',
  attack: {
    technique: 'T1048.002',
    tactic: 'TA0010 Exfiltration',
    description:
      'Abnormal encrypted connections (TLS/HTTPS, QUIC) initiated by non-browser binaries, particularly after sensitive file access or compression events.',
  },
  endpoint(f: EndpointFacts, cfg: AnalyticsConfig) {
    const why = checkGates(f, GATES);
    if (!tlsOrQuic(f.flow)) why.push('not_tls_or_quic');
    if (!hasAnyPrecursor(f, cfg) && !bigUpload(f.flow, cfg)) why.push('no_precursor_and_not_large_upload');
    return result(why, f, cfg);
  },
  finalize(c, f, cfg) {
    if (hasPrecursor(c)) return finalizeRareOrAbnormal(c, f, cfg, cfg.severity.base.an1415_precursor);
    const warming = baselineWarming(f, cfg);
    if (!bigUpload(c, cfg)) return noFire('no_precursor_and_not_large_upload', warming);
    if (!rareDestination(f, cfg)) return noFire('not_rare', warming);
    if (warming) return warmingVerdict();
    return {
      fire: true,
      branch: 'rare_and_upload',
      baselineWarming: false,
      // without a precursor the story is weaker: SPEC §4 makes it medium, so the score is capped below high
      ...scoreCandidate(c, f, cfg, { base: cfg.severity.base.an1415, max: cfg.severity.high - 1 }),
    };
  },
};
