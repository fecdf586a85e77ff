import { canonicalIp } from './decode-udp.js';

/**
 * The resolvers the system sends its queries to: only their answers may name an address. An answer from any
 * other server may come from a resolver that malware chose, and could name an exfiltration address after a
 * common domain.
 */
export interface ResolverList {
  addresses: string[];
  /** Lines that looked like a nameserver entry but held no address (counted, shown in health). */
  rejected: number;
}

function collect(candidates: Iterable<string>): ResolverList {
  const seen = new Set<string>();
  let rejected = 0;
  for (const text of candidates) {
    const ip = canonicalIp(text);
    if (ip === null) rejected++;
    else seen.add(ip);
  }
  return { addresses: [...seen], rejected };
}

/** resolv.conf(5): `nameserver ADDRESS` lines; `#` and `;` start comments. */
export function parseResolvConf(text: string): ResolverList {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1]!);
  }
  return collect(out);
}

/**
 * macOS `scutil --dns`: every resolver's `nameserver[N] : ADDRESS` lines, the default and the scoped ones
 * (a VPN's split DNS lives in the scoped list). Not verified on a Mac here: only that line shape is relied on,
 * and anything else is ignored.
 */
export function parseScutilDns(text: string): ResolverList {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*nameserver\[\d+\]\s*:\s*(\S+)\s*$/.exec(raw);
    if (m) out.push(m[1]!);
  }
  return collect(out);
}
