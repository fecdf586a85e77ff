import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook body signature. The header is
 *
 *     X-Outflow-Signature: sha256=<lowercase hex of HMAC-SHA256(key = secret as UTF-8, message = raw body bytes)>
 *
 * computed over the exact bytes sent (never a re-serialisation), so a receiver must verify before
 * parsing. The body carries `delivery_id` and `created_at`, which the signature therefore covers:
 * a receiver rejects replays by remembering delivery ids.
 */
export const SIGNATURE_HEADER = 'x-outflow-signature';
export const DELIVERY_HEADER = 'x-outflow-delivery';

export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of a received header against the body (what a receiver runs). */
export function verifySignature(secret: string, body: Buffer | string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header.trim());
  return expected.length === given.length && timingSafeEqual(expected, given);
}
