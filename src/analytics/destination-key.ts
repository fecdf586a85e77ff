/**
 * Fleet destination key (SPEC §4): the registrable domain of server_name, except on shared
 * cloud-storage / hosting suffixes where every tenant gets its own subdomain (there the full FQDN is
 * the destination, otherwise one attacker bucket would inherit amazonaws.com's prevalence); the IP
 * when no name is known.
 */
import { getDomain } from 'tldts';

/** Suffixes under which the subdomain identifies the tenant (matched on label boundaries). */
export const SHARED_STORAGE_SUFFIXES: readonly string[] = [
  'amazonaws.com',
  'cloudfront.net',
  'r2.cloudflarestorage.com',
  'r2.dev',
  'workers.dev',
  'pages.dev',
  'trycloudflare.com',
  'blob.core.windows.net',
  'web.core.windows.net',
  'azurewebsites.net',
  'azureedge.net',
  'storage.googleapis.com',
  'appspot.com',
  'firebaseio.com',
  'firebasestorage.app',
  'web.app',
  'run.app',
  'digitaloceanspaces.com',
  'backblazeb2.com',
  'wasabisys.com',
  'herokuapp.com',
  'netlify.app',
  'vercel.app',
  'github.io',
  'githubusercontent.com',
  'ngrok.io',
  'ngrok-free.app',
  'ngrok.app',
  'supabase.co',
  'glitch.me',
];

function normalizeHost(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

export function isSharedStorageHost(host: string): boolean {
  const h = normalizeHost(host);
  return SHARED_STORAGE_SUFFIXES.some((s) => h.endsWith(`.${s}`));
}

export function destinationKey(serverName: string | null | undefined, remoteAddress: string): string {
  const host = serverName ? normalizeHost(serverName) : '';
  if (!host) return remoteAddress.toLowerCase();
  if (isSharedStorageHost(host)) return host;
  return getDomain(host, { allowPrivateDomains: false }) ?? host;
}
