import type { AnalyticsConfig } from '../config/analytics.js';
import { type Gates, checkGates, result } from './endpoint.js';
import { noReturn } from './predicates.js';
import { baselineWarming, firstUnseenApp } from './prevalence.js';
import { noFire, scoreCandidate, warmingVerdict } from './severity.js';
import type { AnalyticDefinition, EndpointFacts } from './types.js';

const GATES: Gates = { external: true, notSanctioned: true };

export const AN0032: AnalyticDefinition = {
  id: 'AN0032',
  name: 'Previously unseen application sending data with no return',
  attack: {
    technique: 'T1041',
    tactic: 'TA0010 Exfiltration',
    description:
      'Previously unseen applications generating outbound connections with atypical data flow, such as large volumes sent with almost nothing received.',
  },
  endpoint(f: EndpointFacts, cfg: AnalyticsConfig) {
    const why = checkGates(f, GATES);
    if (!noReturn(f.flow, cfg)) why.push('not_no_return');
    return result(why, f, cfg);
  },
  finalize(c, f, cfg) {
    const warming = baselineWarming(f, cfg);
    const unseen = firstUnseenApp(f, cfg);
    if (!unseen) return noFire('every_chain_identity_known', warming);
    if (warming) return warmingVerdict();
    const v = scoreCandidate(c, f, cfg, { base: cfg.severity.base.an0032 });
    return { fire: true, branch: 'unseen_app', baselineWarming: false, ...v, modifiers: [...v.modifiers, `unseen:${unseen.identity}`] };
  },
};
