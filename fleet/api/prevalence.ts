/**
 * The prevalence answers of `GET /v1/prevalence/…` and `outflow fleet prevalence …`: one shape for both (snake
 * case, the rare/common thresholds of the current window, and for apps SPEC §4's "previously unseen").
 */
import { domainToASCII } from 'node:url';
import { commonThreshold, prevalenceWindow, rareThreshold, unseenApp } from '../../src/analytics/prevalence.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import { destinationKey } from '../../src/classify/destination.js';
import { systemClock } from '../../src/clock.js';
import { InputError } from '../../src/errors.js';
import { emptyStats, eventPresent, type Store, type TimeWindow } from '../store/store.js';

/**
 * The prevalence window ending at the newest event time in the store, and its active hosts; null while the store
 * holds no events: a window ending at 0 (1970) would count nothing and call every key rare.
 */
async function windowNow(store: Store, analytics: AnalyticsConfig, wallNow: number): Promise<{ window: TimeWindow; activeHosts: number } | null> {
  const newest = eventPresent((await store.clock.get()).newest, wallNow);
  if (newest === null) return null;
  const window = prevalenceWindow(newest, analytics);
  return { window, activeHosts: await store.hosts.activeCount(window) };
}

function thresholds(activeHosts: number, analytics: AnalyticsConfig): { rare_threshold: number; common_threshold: number } {
  return { rare_threshold: rareThreshold(activeHosts, analytics), common_threshold: commonThreshold(activeHosts, analytics) };
}

const sampleOut = (sample: readonly { hostId: string; firstSeen: number; lastSeen: number }[]) =>
  sample.map((h) => ({ host_id: h.hostId, first_seen: h.firstSeen, last_seen: h.lastSeen }));

/**
 * The destination key a person means by what they typed: a key, a server name or IP, or a URL or `host/path` pasted
 * from a browser. The host is what is left without a scheme or a protocol-relative `//` (and the user info after
 * either), a path, query or fragment; then destinationKey, as ingest derives keys, drops a `:port` (an IP's key has
 * none either), brackets, trailing dots and case. Only for lookups: ingest keys result rows with destinationKey alone.
 */
export function destinationLookupKey(asked: string, sharedSuffixes?: readonly string[]): string {
  let host = asked.trim();
  // `//host/x` (a src or href as written in HTML) names its host as `https://host/x` does
  const scheme = /^(?:[a-z][a-z0-9+.-]*:)?\/\//i.exec(host);
  if (scheme) host = host.slice(scheme[0].length);
  const end = host.search(/[/?#]/);
  if (end >= 0) host = host.slice(0, end);
  if (scheme) host = host.slice(host.lastIndexOf('@') + 1);
  // A name typed or pasted in Unicode (bücher.de): TLS and DNS carry it as punycode, and so does the key.
  host = host.replace(/^[^:[\]]+/, (name) => (/[^\x00-\x7f]/.test(name) ? domainToASCII(name) || name : name));
  // the suffixes ingest keys tenants under (fleet.ingest.shared_suffixes): without them a tenant's stored key was
  // turned into its registrable domain, another key, and the answer was that domain's
  const key = destinationKey(host, host, sharedSuffixes);
  if (!key) throw new InputError(`${asked} names no destination`, [], 'give a registrable domain, a server name, an IP or a URL');
  return key;
}

/**
 * Prevalence of a destination. `asked` may be a key or what a key is made from (destinationLookupKey): a server
 * name (`files.example.com`, any case, a trailing dot), an IP (brackets, zone, case and an IPv4-mapped prefix
 * dropped, as ingest does) or a URL; it is turned into the key ingest would have stored (`normalized_from` then
 * names what was asked). `in_store` says whether the store holds any sighting of that key.
 */
export async function destinationPrevalence(store: Store, analytics: AnalyticsConfig, asked: string, hostSample: number, wallNow = systemClock.unix(), sharedSuffixes?: readonly string[]) {
  const key = destinationLookupKey(asked, sharedSuffixes);
  const now = await windowNow(store, analytics, wallNow);
  const stats = (now ? (await store.prevalence.destinations([key], now.window)).get(key) : undefined) ?? emptyStats();
  const sample = now && hostSample ? await store.prevalence.destinationHosts(key, now.window, hostSample) : [];
  const t = thresholds(now?.activeHosts ?? 0, analytics);
  return {
    key,
    ...(key !== asked ? { normalized_from: asked } : {}),
    window: now?.window ?? null,
    active_hosts: now?.activeHosts ?? 0,
    ...t,
    hosts: stats.hosts,
    first_seen: stats.firstSeen,
    last_seen: stats.lastSeen,
    saturated: stats.saturated,
    // false for a key no data the store keeps names (a typo, or a destination no host reported)
    in_store: stats.firstSeen !== null,
    // no verdict without a window (a store with no events yet)
    rare: now ? stats.hosts <= t.rare_threshold : null,
    common: now ? stats.hosts >= t.common_threshold : null,
    host_sample: sampleOut(sample),
  };
}

/**
 * Prevalence of an app identity, its attributes, whether the store holds any sighting of it, and whether AN0032
 * would call it previously unseen.
 */
export async function appPrevalence(store: Store, analytics: AnalyticsConfig, identity: string, hostSample: number, wallNow = systemClock.unix()) {
  const now = await windowNow(store, analytics, wallNow);
  const stats = now ? (await store.prevalence.apps([identity], now.window)).get(identity) : undefined;
  const sample = now && hostSample ? await store.prevalence.appHosts(identity, now.window, hostSample) : [];
  const activeHosts = now?.activeHosts ?? 0;
  const t = thresholds(activeHosts, analytics);
  const firstSeen = stats?.firstSeen ?? null;
  // No sighting of the identity in the data the store keeps: a fact to state, not a verdict to draw from it.
  const inStore = firstSeen !== null;
  return {
    identity,
    window: now?.window ?? null,
    active_hosts: activeHosts,
    ...t,
    hosts: stats?.hosts ?? 0,
    first_seen: firstSeen,
    last_seen: stats?.lastSeen ?? null,
    saturated: stats?.saturated ?? false,
    in_store: inStore,
    // SPEC §4 "previously unseen", decided exactly as AN0032 decides it, for an identity the store holds sightings
    // of. None for one it never saw (AN0032 would count it new when a candidate named it; asked here, the plain
    // answer is in_store: false), nor without a window (a store with no events yet).
    previously_unseen: now && inStore ? unseenApp({ identity, firstSeen, hosts: stats?.hosts ?? 0 }, { now: now.window.to, activeHosts }, analytics) : null,
    path: stats?.path ?? '',
    signature_class: stats?.signatureClass ?? '',
    team_id: stats?.teamId ?? '',
    signing_id: stats?.signingId ?? '',
    cdhash: stats?.cdhash ?? '',
    host_sample: sampleOut(sample),
  };
}
