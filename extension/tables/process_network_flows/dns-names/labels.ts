import type { DnsNameLabel } from '../../../runtime/context.js';
import type { DnsMessage } from './parse-dns.js';

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const OPCODE_QUERY = 0;
const RCODE_NOERROR = 0;
/** A CNAME chain longer than this is not followed (resolvers stop near here too). */
const MAX_CHAIN = 16;

/** A host name as a flow's server_name may carry it: LDH labels (and `_`), nothing escaped. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Why a response names nothing (counted by the collector). */
export type UnlabeledReason = 'not_answer' | 'error_rcode' | 'no_address' | 'odd_name';

/**
 * The addresses a DNS response gives for the name that was asked, each labelled with that name.
 *
 * The label is the question's name, never a CNAME target: it is what the app asked for, as the TLS SNI would
 * say (`www.apple.com`, not `e6858.dsce9.akamaiedge.net`). Only address records reached from the question
 * through the answer's own CNAME chain count: a record about some other name in the same answer is not what
 * this query resolved, so it names nothing (a forwarder passing on out-of-bailiwick data cannot relabel an
 * address that way).
 */
export function labelsOf(msg: DnsMessage): { labels: DnsNameLabel[] } | { labels: []; reason: UnlabeledReason } {
  if (!msg.response || msg.opcode !== OPCODE_QUERY || msg.questions.length !== 1) return { labels: [], reason: 'not_answer' };
  if (msg.rcode !== RCODE_NOERROR) return { labels: [], reason: 'error_rcode' };
  const q = msg.questions[0]!;
  if (q.class !== CLASS_IN || (q.type !== TYPE_A && q.type !== TYPE_AAAA)) return { labels: [], reason: 'not_answer' };
  if (!HOST_NAME.test(q.name)) return { labels: [], reason: 'odd_name' };

  const chain = new Set([q.name]);
  // answers may list the chain in any order: follow it until it stops growing
  for (let grew = true, rounds = 0; grew && rounds < MAX_CHAIN; rounds++) {
    grew = false;
    for (const a of msg.answers) {
      if (a.type === TYPE_CNAME && chain.has(a.name) && a.data && !chain.has(a.data)) {
        chain.add(a.data);
        grew = true;
      }
    }
  }
  const labels: DnsNameLabel[] = [];
  for (const a of msg.answers) {
    // data is empty for an address record of another class (CHAOS, HESIOD): not an address
    if ((a.type !== TYPE_A && a.type !== TYPE_AAAA) || !a.data || !chain.has(a.name)) continue;
    // a blocklisting resolver answers 0.0.0.0 / :: for every name it refuses: no flow goes there
    if (a.data === '0.0.0.0' || a.data === '::') continue;
    labels.push({ address: a.data, name: q.name, ttl: a.ttl });
  }
  return labels.length ? { labels } : { labels: [], reason: 'no_address' };
}
