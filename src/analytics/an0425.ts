import type { AnalyticsConfig } from '../config/analytics.js';
import { finalizeRareOrAbnormal } from './an0990.js';
import { type Gates, checkGates, hasSensitivePrecursor, result } from './endpoint.js';
import { cleartext } from './predicates.js';
import type { AnalyticDefinition, EndpointFacts } from './types.js';

const GATES: Gates = { external: true, notBrowser: true, notSanctioned: true };

/** Cleartext egress of user data is scored like AN0990: the data is readable by anyone on path. */

export const AN0425: AnalyticDefinition = {
  id: 'AN0425',
  name: 'Sensitive data access followed by cleartext HTTP/FTP egress',
  attack: {
    technique: 'T1048.003',
    tactic: 'TA0010 Exfiltration',
    description:
      'Local scripts or binaries outside normal browser activity open outbound HTTP/FTP connections after accessing local documents or user data (ATT&CK DET0149, Exfiltration Over Unencrypted Non-C2 Protocol).',
  },
  endpoint(f: EndpointFacts, cfg: AnalyticsConfig) {
    const why = checkGates(f, GATES);
    if (!cleartext(f.flow)) why.push('not_cleartext');
    if (!hasSensitivePrecursor(f, cfg)) why.push('no_sensitive_precursor');
    return result(why, f, cfg);
  },
  finalize(c, f, cfg) {
    return finalizeRareOrAbnormal(c, f, cfg, cfg.severity.base.an0425);
  },
};
