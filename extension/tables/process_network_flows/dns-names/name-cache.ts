import { detached } from '../../../../src/strings.js';
import type { DnsNameCache, DnsNameLabel } from '../../../runtime/context.js';
import { canonicalIp } from './decode-udp.js';

export interface DnsNameCacheOptions {
  /** Addresses remembered at most; past it, the tenth answered longest ago goes. */
  maxNames: number;
  /** TTLs above this count as this (s). */
  maxTtl: number;
  /** Seconds an answer still names its address after its TTL. */
  grace: number;
  /**
   * How much later than a flow's first sample its answer may have been processed (s). The answer comes before
   * the connection, but the flows and DNS collectors run independently: a sample can be applied a moment
   * before the capture that preceded it is read.
   */
  lateSlack: number;
}

interface Entry {
  name: string;
  at: number;
  expires: number;
}

/**
 * Remote address → the name the system's resolver last answered it for. One entry per address: the latest
 * answer wins, which for an address shared by many names (a CDN) is the one the host most likely connected for.
 *
 * An answer from mDNSResponder's or the app's cache never crosses the wire again, so an entry lives for the
 * record's whole TTL (plus a grace for apps that keep an address a little longer), not for minutes.
 */
export function createDnsNameCache(opts: DnsNameCacheOptions): DnsNameCache {
  const byAddress = new Map<string, Entry>();
  let learned = 0;

  const sweepExpired = (now: number) => {
    for (const [address, e] of byAddress) if (e.expires < now) byAddress.delete(address);
  };

  return {
    learn(labels: readonly DnsNameLabel[], at: number): void {
      for (const l of labels) {
        const address = canonicalIp(l.address);
        if (address === null || !l.name) continue;
        const ttl = Math.min(Math.max(0, Math.floor(l.ttl)), opts.maxTtl);
        // delete first: Map order is insertion order, and the eviction below takes the least recently answered
        byAddress.delete(address);
        byAddress.set(address, { name: detached(l.name), at, expires: at + ttl + opts.grace });
        learned++;
      }
      // an occasional full sweep keeps expired entries from holding the space of live ones
      if (learned >= opts.maxNames) {
        learned = 0;
        sweepExpired(at);
      }
      if (byAddress.size > opts.maxNames) {
        // A tenth at a time, in one walk: V8 leaves deleted Map entries as holes until it rehashes, and a fresh
        // iterator skips them all, so taking the oldest one per answer made a full cache cost O(holes) an answer.
        let excess = byAddress.size - Math.floor(opts.maxNames * 0.9);
        for (const address of byAddress.keys()) {
          if (excess-- <= 0) break;
          byAddress.delete(address);
        }
      }
    },
    forget(labels: readonly DnsNameLabel[], at: number): void {
      for (const l of labels) {
        const address = canonicalIp(l.address);
        if (address === null) continue;
        const e = byAddress.get(address);
        if (e !== undefined && e.at === at && e.name === l.name) byAddress.delete(address);
      }
    },
    nameFor(address: string, firstSeen: number): string {
      const key = canonicalIp(address);
      if (key === null) return '';
      const e = byAddress.get(key);
      if (e === undefined || e.at > firstSeen + opts.lateSlack || firstSeen > e.expires) return '';
      return e.name;
    },
    lateSlack: opts.lateSlack,
    get size() {
      return byAddress.size;
    },
  };
}
