import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HttpConfig } from '../../src/config/fleet-serve.js';
import { OutflowError } from '../../src/errors.js';

/**
 * Constant-time bearer token check. Both sides are hashed first so timingSafeEqual always compares
 * two 32-byte digests: neither the token's content nor its length leaks through timing.
 */
export function bearerMatches(expectedToken: string, authorization: string | undefined): boolean {
  if (!authorization) return false;
  const m = /^Bearer[ \t]+(.+)$/i.exec(authorization.trim());
  const given = m?.[1]?.trim() ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expectedToken).digest();
  // evaluate both parts so an empty token costs the same as a wrong one
  const same = timingSafeEqual(a, b);
  return same && given.length > 0;
}

/** Where the API token comes from: OUTFLOW_HTTP_TOKEN wins over `token_file` or `token` (the config holds at most one of them). */
export function apiTokenSource(http: HttpConfig, env: NodeJS.ProcessEnv = process.env): 'OUTFLOW_HTTP_TOKEN' | 'fleet.http.token_file' | 'fleet.http.token' | null {
  if (env.OUTFLOW_HTTP_TOKEN?.trim()) return 'OUTFLOW_HTTP_TOKEN';
  if (http.token_file) return 'fleet.http.token_file';
  return http.token ? 'fleet.http.token' : null;
}

/** The API token from apiTokenSource's source; none at all is a config error. */
export function resolveApiToken(http: HttpConfig, env: NodeJS.ProcessEnv = process.env): string {
  switch (apiTokenSource(http, env)) {
    case 'OUTFLOW_HTTP_TOKEN': {
      const fromEnv = env.OUTFLOW_HTTP_TOKEN!.trim();
      if (fromEnv.length < 16) throw new OutflowError('CONFIG_INVALID', 'OUTFLOW_HTTP_TOKEN is shorter than 16 characters', 'use a long random token (openssl rand -hex 32)');
      return fromEnv;
    }
    case 'fleet.http.token_file': {
      let text: string;
      try {
        text = readFileSync(http.token_file!, 'utf8');
      } catch (err) {
        throw new OutflowError('CONFIG_INVALID', `cannot read fleet.http.token_file ${http.token_file}`, 'check the path and that the service user can read it', { cause: err });
      }
      const token = text.split(/\r?\n/)[0]?.trim() ?? '';
      if (token.length < 16) throw new OutflowError('CONFIG_INVALID', `fleet.http.token_file ${http.token_file} holds fewer than 16 characters`, 'put a long random token on its first line (openssl rand -hex 32)');
      return token;
    }
    case 'fleet.http.token': {
      // as the other sources: a YAML block scalar or a stray space would otherwise never match a presented token
      const token = http.token!.trim();
      if (token.length < 16) throw new OutflowError('CONFIG_INVALID', 'fleet.http.token is shorter than 16 characters (surrounding spaces aside)', 'use a long random token (openssl rand -hex 32)');
      return token;
    }
    case null:
      break;
  }
  throw new OutflowError(
    'CONFIG_INVALID',
    'fleet.http is enabled but no API token is configured',
    'set fleet.http.token_file (or fleet.http.token, or OUTFLOW_HTTP_TOKEN), or fleet.http.enabled: false',
  );
}
