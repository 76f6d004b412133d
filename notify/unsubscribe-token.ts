/**
 * Unsubscribe tokens: base64url(JSON {u: user, c: category or null for all, exp: unix s, n: nonce})
 * "." base64url(HMAC-SHA256(UNSUBSCRIBE_SECRET, first part)). 90 days by default; single use is
 * enforced where they are redeemed (the nonce is recorded).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_DAYS = 90;

export interface UnsubscribeClaims {
  readonly userId: string;
  readonly category: string | null;
  readonly expiresAt: number;
  readonly nonce: string;
}

export type TokenCheck = { ok: true; claims: UnsubscribeClaims } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

function mac(secret: string, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

export function signUnsubscribeToken(secret: string, userId: string, category: string | null, nowMs: number, days = TOKEN_DAYS): string {
  const claims = { u: userId, c: category, exp: Math.floor(nowMs / 1000) + days * 86_400, n: randomBytes(12).toString('base64url') };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

export function verifyUnsubscribeToken(secret: string, token: string, nowMs: number): TokenCheck {
  const m = /^([A-Za-z0-9_-]{10,2000})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m || !m[1] || !m[2]) return { ok: false, reason: 'malformed' };
  const expected = mac(secret, m[1]);
  const given = Buffer.from(m[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  let raw: { u?: unknown; c?: unknown; exp?: unknown; n?: unknown };
  try {
    raw = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as typeof raw;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof raw.u !== 'string' || (raw.c !== null && typeof raw.c !== 'string') || typeof raw.exp !== 'number' || typeof raw.n !== 'string') {
    return { ok: false, reason: 'malformed' };
  }
  if (raw.exp * 1000 < nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { userId: raw.u, category: raw.c, expiresAt: raw.exp * 1000, nonce: raw.n } };
}

/** The link (and List-Unsubscribe target) for a message. */
export function unsubscribeUrl(publicUrl: string, secret: string, userId: string, category: string | null, nowMs: number): string {
  return `${publicUrl}/v1/unsubscribe/${signUnsubscribeToken(secret, userId, category, nowMs)}`;
}
