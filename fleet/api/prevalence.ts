/**
 * The prevalence answers of `GET /v1/prevalence/…` and `outflow fleet prevalence …`: one shape for both (snake
 * case, the rare/common thresholds of the current window, and for apps SPEC §4's "previously unseen").
 */
import { commonThreshold, prevalenceWindow, rareThreshold, unseenApp } from '../../src/analytics/prevalence.js';
import type { AnalyticsConfig } from '../../src/config/analytics.js';
import { destinationKey } from '../../src/classify/destination.js';
import type { Store, TimeWindow } from '../store/store.js';

/** The prevalence window ending at the newest event time in the store, and its active hosts. */
async function windowNow(store: Store, analytics: AnalyticsConfig): Promise<{ window: TimeWindow; activeHosts: number }> {
  const { newest } = await store.clock.get();
  const window = prevalenceWindow(newest ?? 0, analytics);
  return { window, activeHosts: await store.hosts.activeCount(window) };
}

function thresholds(activeHosts: number, analytics: AnalyticsConfig): { rare_threshold: number; common_threshold: number } {
  return { rare_threshold: rareThreshold(activeHosts, analytics), common_threshold: commonThreshold(activeHosts, analytics) };
}

const sampleOut = (sample: readonly { hostId: string; firstSeen: number; lastSeen: number }[]) =>
  sample.map((h) => ({ host_id: h.hostId, first_seen: h.firstSeen, last_seen: h.lastSeen }));

/**
 * Prevalence of a destination. `asked` may be a key or what a key is made from: a server name (`files.example.com`,
 * any case, a trailing dot) or an IP (brackets, zone, case and an IPv4-mapped prefix dropped, as ingest does); it is
 * turned into the key ingest would have stored
 * (`normalized_from` then names what was asked).
 */
export async function destinationPrevalence(store: Store, analytics: AnalyticsConfig, asked: string, hostSample: number) {
  const key = destinationKey(asked, asked);
  const { window, activeHosts } = await windowNow(store, analytics);
  const stats = (await store.prevalence.destinations([key], window)).get(key) ?? { hosts: 0, firstSeen: null, lastSeen: null, saturated: false };
  const sample = hostSample ? await store.prevalence.destinationHosts(key, window, hostSample) : [];
  const t = thresholds(activeHosts, analytics);
  return {
    key,
    ...(key !== asked ? { normalized_from: asked } : {}),
    window,
    active_hosts: activeHosts,
    ...t,
    hosts: stats.hosts,
    first_seen: stats.firstSeen,
    last_seen: stats.lastSeen,
    saturated: stats.saturated,
    rare: stats.hosts <= t.rare_threshold,
    common: stats.hosts >= t.common_threshold,
    host_sample: sampleOut(sample),
  };
}

/** Prevalence of an app identity, its attributes, and whether AN0032 would call it previously unseen. */
export async function appPrevalence(store: Store, analytics: AnalyticsConfig, identity: string, hostSample: number) {
  const { window, activeHosts } = await windowNow(store, analytics);
  const stats = (await store.prevalence.apps([identity], window)).get(identity);
  const sample = hostSample ? await store.prevalence.appHosts(identity, window, hostSample) : [];
  const t = thresholds(activeHosts, analytics);
  const firstSeen = stats?.firstSeen ?? null;
  return {
    identity,
    window,
    active_hosts: activeHosts,
    ...t,
    hosts: stats?.hosts ?? 0,
    first_seen: firstSeen,
    last_seen: stats?.lastSeen ?? null,
    saturated: stats?.saturated ?? false,
    // SPEC §4 "previously unseen", decided exactly as AN0032 decides it (an identity not in the store is new)
    previously_unseen: unseenApp({ identity, firstSeen, hosts: stats?.hosts ?? 0 }, { now: window.to, activeHosts }, analytics),
    path: stats?.path ?? '',
    signature_class: stats?.signatureClass ?? '',
    team_id: stats?.teamId ?? '',
    signing_id: stats?.signingId ?? '',
    cdhash: stats?.cdhash ?? '',
    host_sample: sampleOut(sample),
  };
}
