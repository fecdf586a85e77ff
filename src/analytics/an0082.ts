import type { AnalyticsConfig } from '../config/analytics.js';
import { type Gates, checkGates, result } from './endpoint.js';
import { NON_APPLE_CLASSES, highThroughput, longLived, longLivedSteps } from './predicates.js';
import { baselineWarming, uploadNormalPair } from './prevalence.js';
import { noFire, scoreCandidate } from './severity.js';
import type { AnalyticDefinition, EndpointFacts } from './types.js';

// Not browsers (SPEC §4's row omits this gate: a deliberate deviation, see docs/analytics.md). ATT&CK's wording is
// "apps not commonly associated with network uploads", and the pair test cannot say so for a browser's calls: a
// video call is symmetric (never upload-shaped), so its pair never becomes upload-normal, and every hour-long
// Meet call on every host was a detection.
const GATES: Gates = { external: true, notBrowser: true, notSanctioned: true };

/** One string per signature class (the reason is built for most flows a generate sees). */
const signatureClassReasons = new Map<string, string>();
function signatureClassReason(signatureClass: string): string {
  let reason = signatureClassReasons.get(signatureClass);
  if (reason === undefined) signatureClassReasons.set(signatureClass, (reason = `signature_class_${signatureClass || 'unknown'}`));
  return reason;
}

export const AN0082: AnalyticDefinition = {
  id: 'AN0082',
  name: 'Long-lived or high-throughput egress by non-Apple code',
  attack: {
    technique: 'T1030',
    tactic: 'TA0010 Exfiltration',
    description:
      'Long-lived or high-throughput connections by non-Apple-signed apps or processes not commonly associated with uploads; background processes using open sockets for data egress.',
  },
  endpoint(f: EndpointFacts, cfg: AnalyticsConfig) {
    const why = checkGates(f, GATES);
    if (!longLived(f.flow, cfg) && !highThroughput(f.flow, f.groupBytesOut15m, cfg, f.groupTop)) why.push('not_long_lived_or_high_throughput');
    if (!NON_APPLE_CLASSES.has(f.signatureClass)) why.push(signatureClassReason(f.signatureClass));
    return result(why, f, cfg);
  },
  finalize(c, f, cfg) {
    // Not a rarity test: a pair that is not upload-normal fires even while the baseline warms.
    const warming = baselineWarming(f, cfg);
    if (uploadNormalPair(f, cfg)) return noFire('upload_normal_pair', warming);
    const extra: { points: number; name: string }[] = [];
    if (f.groupRootIsLaunchdJob) extra.push({ points: cfg.severity.modifier, name: 'background_launchd_job' });
    const steps = longLivedSteps(c, cfg);
    if (steps > 0) extra.push({ points: cfg.severity.long_lived_step * steps, name: `long_lived_steps_${steps}` });
    return { fire: true, branch: 'not_upload_normal', baselineWarming: warming, ...scoreCandidate(c, f, cfg, { base: cfg.severity.base.an0082, extra }) };
  },
};
