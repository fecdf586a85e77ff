import { canonicalIp } from './decode-udp.js';
import { isInterfaceName } from './parse-capture.js';

/**
 * The resolvers the system sends its queries to: only their answers may name an address. An answer from any
 * other server may come from a resolver that malware chose, and could name an exfiltration address after a
 * common domain.
 */
export interface TrustedResolver {
  /** canonicalIp form */
  address: string;
  /**
   * The interfaces the resolver is reached through (scutil's `if_index : N (en0)`, a link-local address's zone).
   * Its answers count only when captured there: a VM guest or container on a bridge can write the resolver's
   * address as its source, and a Mac owns fe80::1 on lo0. Empty: any interface (nothing says which).
   */
  interfaces: string[];
}

export interface ResolverList {
  resolvers: TrustedResolver[];
  /** Lines that looked like a nameserver entry but held no address (counted, shown in health). */
  rejected: number;
}

/** One nameserver entry as read: the text, and the interface its block or its zone names. */
interface Entry {
  text: string;
  interface?: string;
}

function collect(entries: Iterable<Entry>): ResolverList {
  const byAddress = new Map<string, { interfaces: Set<string>; anywhere: boolean }>();
  let rejected = 0;
  for (const e of entries) {
    const ip = canonicalIp(e.text);
    if (ip === null) {
      rejected++;
      continue;
    }
    const zone = e.text.includes('%') ? e.text.slice(e.text.indexOf('%') + 1) : undefined;
    const iface = zone && isInterfaceName(zone) ? zone : e.interface;
    const known = byAddress.get(ip) ?? { interfaces: new Set<string>(), anywhere: false };
    // an address listed once without an interface is reached through whichever the routing table picks
    if (iface === undefined) known.anywhere = true;
    else known.interfaces.add(iface);
    byAddress.set(ip, known);
  }
  const resolvers = [...byAddress].map(([address, k]) => ({ address, interfaces: k.anywhere ? [] : [...k.interfaces] }));
  return { resolvers, rejected };
}

/** resolv.conf(5): `nameserver ADDRESS` lines; `#` and `;` start comments. A `%zone` names the interface. */
export function parseResolvConf(text: string): ResolverList {
  const out: Entry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (m) out.push({ text: m[1]! });
  }
  return collect(out);
}

/**
 * macOS `scutil --dns`: every resolver block's `nameserver[N] : ADDRESS` lines, the default and the scoped
 * ones (a VPN's split DNS lives in the scoped list), with the block's `if_index : N (en0)` interface. Not
 * verified on a Mac here: only those two line shapes and `resolver #N` block starts are relied on.
 */
export function parseScutilDns(text: string): ResolverList {
  const out: Entry[] = [];
  let block: { texts: string[]; interface?: string } = { texts: [] };
  const flush = () => {
    for (const t of block.texts) out.push(block.interface === undefined ? { text: t } : { text: t, interface: block.interface });
    block = { texts: [] };
  };
  for (const raw of text.split('\n')) {
    if (/^\s*resolver #\d+\s*$/.test(raw) || /^DNS configuration/.test(raw)) {
      flush();
      continue;
    }
    const ns = /^\s*nameserver\[\d+\]\s*:\s*(\S+)\s*$/.exec(raw);
    if (ns) {
      block.texts.push(ns[1]!);
      continue;
    }
    const ifIndex = /^\s*if_index\s*:\s*\d+\s*\(([^()\s]+)\)\s*$/.exec(raw);
    if (ifIndex && isInterfaceName(ifIndex[1]!)) block.interface = ifIndex[1]!;
  }
  flush();
  return collect(out);
}
