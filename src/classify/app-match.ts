import type { AppMatcher } from '../config/classify.js';

/**
 * Match code identity against an allowlist: team id + signing-id prefix, never name, path or
 * destination (SPEC §4). Apple platform code has no team id; it is written "APPLE" in lists.
 */
export function teamKey(teamId: string | null | undefined, platformBinary?: boolean | number | null): string {
  if (teamId) return teamId;
  return platformBinary === true || platformBinary === 1 ? 'APPLE' : '';
}

export function matchesApp(matchers: readonly AppMatcher[], team: string, signingId: string | null | undefined): AppMatcher | undefined {
  if (!team || !signingId) return undefined;
  for (const m of matchers) {
    if (m.team_id !== team) continue;
    // "com.google.Chrome" matches itself and "com.google.Chrome.helper", never "com.google.ChromeX".
    const prefix = m.signing_id_prefix.endsWith('.') ? m.signing_id_prefix : `${m.signing_id_prefix}.`;
    if (signingId === m.signing_id_prefix || signingId.startsWith(prefix)) return m;
  }
  return undefined;
}
