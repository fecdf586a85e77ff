import type { AnalyticsConfig } from '../config/analytics.js';
import { finalizeRareOrAbnormal } from './an0990.js';
import { type Gates, checkGates, hasAnyPrecursor, hasSensitivePrecursor, result } from './endpoint.js';
import { cleartext, uploadShaped } from './predicates.js';
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
    // An archive step of the group also counts when the flow is upload-shaped: over TLS the archive alone is AN1415's
    // precursor, and cleartext must not be the way around it (`zip -r /tmp/q.zip ~/work && curl -T /tmp/q.zip http://…`,
    // a stealer's FileGrabber whose Finder copies of Documents are Finder's reads). An HTTP call that is no upload
    // (an update check, a download) after a `tar` in the same shell stays out.
    const archiveThenUpload = hasAnyPrecursor(f, cfg) && uploadShaped(f.flow, cfg);
    if (!hasSensitivePrecursor(f, cfg) && !archiveThenUpload) why.push('no_sensitive_precursor');
    return result(why, f, cfg);
  },
  finalize(c, f, cfg) {
    return finalizeRareOrAbnormal(c, f, cfg, cfg.severity.base.an0425);
  },
};
