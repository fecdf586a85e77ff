import type { AnalyticsConfig } from '../config/analytics.js';
import type { EgressCandidate } from '../schemas/egress-candidate.js';
import { type Gates, checkGates, hasSensitivePrecursor, result } from './endpoint.js';
import { encrypted, unidentifiedUpload, uploadShaped } from './predicates.js';
import { baselineWarming, rareDestination, uploadNormalPair } from './prevalence.js';
import { noFire, scoreCandidate, warmingVerdict } from './severity.js';
import type { AnalyticDefinition, EndpointFacts, FleetFacts, FleetVerdict } from './types.js';

const GATES: Gates = { external: true, notBrowser: true, notSanctioned: true };

/**
 * Shared by AN0990, AN0425 and AN1415-with-precursor: a precursor-backed candidate fires on a rare
 * destination or an abnormal ratio (upload-shaped to a destination this app does not normally upload to).
 */
export function finalizeRareOrAbnormal(c: EgressCandidate, f: FleetFacts, cfg: AnalyticsConfig, base: number): FleetVerdict {
  const warming = baselineWarming(f, cfg);
  const rare = rareDestination(f, cfg);
  const abnormal = uploadShaped(c, cfg) && !uploadNormalPair(f, cfg);
  let branch: string;
  if (rare && !warming) branch = 'rare_destination';
  else if (abnormal) branch = 'abnormal_ratio';
  else if (rare) return warmingVerdict();
  else return noFire(uploadShaped(c, cfg) ? 'upload_normal_pair' : 'not_rare_not_upload_shaped', warming);
  return { fire: true, branch, baselineWarming: warming, ...scoreCandidate(c, f, cfg, { base }) };
}

export const AN0990: AnalyticDefinition = {
  id: 'AN0990',
  name: 'Sensitive data access followed by encrypted egress',
  attack: {
    technique: 'T1041',
    tactic: 'TA0010 Exfiltration',
    description:
      'Unauthorized applications or scripts access sensitive data and then open encrypted outbound communication to rare external destinations or with abnormal byte ratios (ATT&CK DET0348, Exfiltration Over C2 Channel).',
  },
  endpoint(f: EndpointFacts, cfg: AnalyticsConfig) {
    const why = checkGates(f, GATES);
    // A port of no known service (`other`, or `dns` over TCP) may carry either: after a credential-store read (tier 1),
    // an upload-shaped flow there is the C2 channel whatever it speaks (BeaverTail's POST to :1224/uploads). Tier 2
    // alone is not enough: a torrent client or a peer-to-peer sync tool sends user data on odd ports by design.
    if (!encrypted(f.flow) && !(unidentifiedUpload(f.flow, cfg) && f.precursor.tier === 1)) why.push('not_encrypted');
    if (!hasSensitivePrecursor(f, cfg)) why.push('no_sensitive_precursor');
    return result(why, f, cfg);
  },
  finalize(c, f, cfg) {
    return finalizeRareOrAbnormal(c, f, cfg, cfg.severity.base.an0990);
  },
};
