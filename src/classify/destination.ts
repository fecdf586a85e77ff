/**
 * Destination key (SPEC §4): what the fleet counts hosts per.
 * - server_name known → its registrable domain (public-suffix list via tldts, ICANN section), except
 *   under shared cloud-storage / tenant-hosting suffixes where every tenant is a different party
 *   (`bucket-a.s3.amazonaws.com` vs `bucket-b.…`): there the full FQDN is the key.
 * - no server_name → the remote IP (normalized), so raw-IP flows are counted per address.
 */
import { detached } from '../strings.js';
import { isIP } from 'node:net';
import { parse as parseDomain } from 'tldts';

/**
 * Suffixes under which the hostname identifies a tenant (bucket, container, tunnel) rather than the
 * provider. `*` stands for exactly one DNS label. Data, not code: extend it here or via
 * `destinationKey(…, extraSharedSuffixes)`.
 */
export const SHARED_STORAGE_SUFFIXES: readonly string[] = [
  // AWS S3 (virtual-hosted buckets; legacy dash-region and dot-region, dualstack, accesspoints)
  's3.amazonaws.com',
  's3.*.amazonaws.com',
  's3-*.amazonaws.com',
  's3.dualstack.*.amazonaws.com',
  's3-accesspoint.*.amazonaws.com',
  's3-website-*.amazonaws.com',
  's3-website.*.amazonaws.com',
  // Azure storage
  'blob.core.windows.net',
  'file.core.windows.net',
  'dfs.core.windows.net',
  'queue.core.windows.net',
  'web.core.windows.net',
  // Google Cloud Storage / Firebase
  'storage.googleapis.com',
  'firebasestorage.app',
  'appspot.com',
  // Cloudflare R2 and tunnels / workers
  'r2.cloudflarestorage.com',
  '*.r2.cloudflarestorage.com',
  'r2.dev',
  'trycloudflare.com',
  'workers.dev',
  'pages.dev',
  // Other S3-compatible object stores
  'digitaloceanspaces.com',
  '*.digitaloceanspaces.com',
  'backblazeb2.com',
  '*.backblazeb2.com',
  'wasabisys.com',
  '*.wasabisys.com',
  'linodeobjects.com',
  '*.linodeobjects.com',
  'objectstorage.*.oraclecloud.com',
  'aliyuncs.com',
  // Microsoft 365: <tenant>.sharepoint.com and OneDrive for Business <tenant>-my.sharepoint.com; another
  // organisation's tenant must not inherit the fleet's own tenant's prevalence
  'sharepoint.com',
  // Tunnels and request catchers commonly used to receive uploads (ICANN's list has none of them, and the
  // public-suffix list's private section is not read: see destinationKey)
  'ngrok.io',
  'ngrok-free.app',
  'ngrok.app',
  'ngrok-free.dev',
  'ngrok.dev',
  'loca.lt',
  'serveo.net',
  'lhr.life',
  'pipedream.net',
  'requestcatcher.com',
  'interact.sh',
  'oast.fun',
  'oast.live',
  'oast.me',
  'oast.online',
  'oast.pro',
  'oast.site',
  // Telegram's Bot API, where stealers post their haul (sendDocument): Telegram's own apps and web client use other
  // names (MTProto addresses, *.web.telegram.org), so a fleet where people chat on Telegram does not make the bot
  // endpoint common
  'api.telegram.org',
  // Tenant hosting: every AWS endpoint name,
  // CDN distributions, PaaS apps and user pages are separate parties.
  'amazonaws.com',
  'cloudfront.net',
  'azurewebsites.net',
  'azureedge.net',
  'firebaseio.com',
  'web.app',
  'run.app',
  'herokuapp.com',
  'netlify.app',
  'vercel.app',
  'github.io',
  'githubusercontent.com',
  'supabase.co',
  'glitch.me',
  'on.aws',
  'cloudfunctions.net',
  'fly.dev',
  'onrender.com',
  'up.railway.app',
  'deno.dev',
];

interface SuffixPattern {
  labels: string[];
}

function compile(suffixes: readonly string[]): SuffixPattern[] {
  return suffixes.map((s) => ({ labels: s.toLowerCase().split('.').reverse() }));
}

const DEFAULT_PATTERNS = compile(SHARED_STORAGE_SUFFIXES);

/**
 * hostname under a shared suffix (a tenant name), or the suffix itself (path-style access such as
 * storage.googleapis.com/bucket: the provider endpoint, which must not merge into googleapis.com).
 */
function underSharedSuffix(reversedLabels: string[], patterns: readonly SuffixPattern[]): boolean {
  for (const p of patterns) {
    if (reversedLabels.length < p.labels.length) continue;
    let ok = true;
    for (let i = 0; i < p.labels.length; i++) {
      const want = p.labels[i]!;
      if (want !== '*' && want !== reversedLabels[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

/** Canonical IP text: lowercase, no brackets/zone, IPv4-mapped IPv6 as IPv4. */
export function normalizeIp(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
}

/** Canonical hostname: lowercase, no trailing dot, no `:port` (HTTP Host headers carry one). */
export function normalizeHostname(serverName: string): string {
  let h = serverName.trim().toLowerCase();
  if (h.startsWith('[')) return normalizeIp(h.slice(0, h.indexOf(']') + 1));
  const colon = h.lastIndexOf(':');
  if (colon > 0 && h.indexOf(':') === colon && /^\d+$/.test(h.slice(colon + 1))) h = h.slice(0, colon);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

export function destinationKey(serverName: string | null | undefined, remoteAddress: string, extraSharedSuffixes?: readonly string[]): string {
  const name = serverName ? normalizeHostname(serverName) : '';
  if (!name) return normalizeIp(remoteAddress);
  if (isIP(name)) return normalizeIp(name);
  const patterns = extraSharedSuffixes?.length ? [...DEFAULT_PATTERNS, ...compile(extraSharedSuffixes)] : DEFAULT_PATTERNS;
  if (underSharedSuffix(name.split('.').reverse(), patterns)) return name;
  const parsed = parseDomain(name, { allowPrivateDomains: false, extractHostname: false });
  return parsed.domain ?? name;
}

/**
 * destinationKey with a bounded memo: the fleet computes it for every destination row, and a fleet
 * talks to a few thousand distinct names, so a map beats re-parsing the suffix list.
 */
export function createDestinationKeyer(extraSharedSuffixes?: readonly string[], maxEntries = 100_000): (serverName: string | null | undefined, remoteAddress: string) => string {
  const memo = new Map<string, string>();
  return (serverName, remoteAddress) => {
    if (!serverName) return normalizeIp(remoteAddress);
    let key = memo.get(serverName);
    if (key === undefined) {
      // A name that normalizes to nothing ('.', ' ', '[') keys the flow by its own address: never memoized under
      // the name, or every later flow with that name would take the first one's address.
      if (!normalizeHostname(serverName)) return normalizeIp(remoteAddress);
      key = destinationKey(serverName, remoteAddress, extraSharedSuffixes);
      if (memo.size >= maxEntries) memo.clear();
      // Kept for the process's life: a slice of a result line (or a key sliced from it) would keep the
      // whole line alive.
      const own = detached(serverName);
      key = key === serverName ? own : detached(key);
      memo.set(own, key);
    }
    return key;
  };
}
