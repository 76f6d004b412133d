/**
 * User tokens: short-lived bearer tokens bound to one user, so that user's browser can read and
 * change its own in-app inbox and preferences without an API key. A backend holding an API key
 * with the `admin` scope asks for one (POST /v1/users/:userId/token) and hands it to the page.
 *
 *   evu_ base64url(JSON {u: user id, iat: unix s, exp: unix s}) "." base64url(HMAC-SHA256(K, first part))
 *   K = HMAC-SHA256(UNSUBSCRIBE_SECRET, "eventline user token v1")
 *
 * The style of the unsubscribe and contact-confirmation tokens (notify/), signed with the same
 * secret under its own label: no unsubscribe or confirmation token verifies as a user token, nor the
 * other way round. The `evu_` prefix and the "." tell one apart from an API key (`evl_<id>_<secret>`,
 * or base64/hex without dots) before any lookup. Stateless, so not revocable: hence short-lived
 * (an hour by default, a day at most); rotating the secret revokes every one of them (and every
 * unsubscribe link). Pure apart from the crypto.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const USER_TOKEN_PREFIX = 'evu_';
/**
 * What a token is for: `user` opens the user's inbox, preferences and push subscriptions (the API
 * routes that take user tokens); `preference_centre` opens only the hosted preference centre page
 * (the one an unsubscribe link leads to), so a forwarded email cannot register a browser for the
 * user's pushes or read their inbox. Each signs under its own label and prefix: neither verifies
 * as the other.
 */
export type TokenPurpose = 'user' | 'preference_centre';
const purposes: Readonly<Record<TokenPurpose, { readonly prefix: string; readonly label: string }>> = {
  user: { prefix: USER_TOKEN_PREFIX, label: 'eventline user token v1' },
  preference_centre: { prefix: 'evp_', label: 'eventline preference centre token v1' },
};
export const USER_TOKEN_DEFAULT_TTL_SECONDS = 3600;
export const USER_TOKEN_MIN_TTL_SECONDS = 60;
export const USER_TOKEN_MAX_TTL_SECONDS = 86_400;
const FORMAT = /^ev[up]_([A-Za-z0-9_-]{10,2000})\.([A-Za-z0-9_-]{43})$/;

export interface UserTokenClaims {
  readonly userId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export type UserTokenCheck = { ok: true; claims: UserTokenClaims } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

function key(secret: string, purpose: TokenPurpose): Buffer {
  return createHmac('sha256', secret).update(purposes[purpose].label).digest();
}

function mac(secret: string, data: string, purpose: TokenPurpose): Buffer {
  return createHmac('sha256', key(secret, purpose)).update(data).digest();
}

/** The purpose a token's prefix claims (null: neither); verification still checks it is signed for it. */
export function purposeOf(token: string): TokenPurpose | null {
  return token.startsWith(purposes.user.prefix) ? 'user' : token.startsWith(purposes.preference_centre.prefix) ? 'preference_centre' : null;
}

/** Whether a presented bearer credential is shaped as a user token (not whether it is valid). */
export function isUserTokenShaped(presented: string): boolean {
  return purposeOf(presented) !== null && presented.includes('.');
}

/** A token for `userId` valid `ttlSeconds` from `nowMs` (whole seconds; the caller bounds the TTL). */
export function signUserToken(secret: string, userId: string, nowMs: number, ttlSeconds = USER_TOKEN_DEFAULT_TTL_SECONDS, purpose: TokenPurpose = 'user'): { token: string; expiresAt: number } {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + Math.floor(ttlSeconds);
  const body = Buffer.from(JSON.stringify({ u: userId, iat, exp })).toString('base64url');
  return { token: `${purposes[purpose].prefix}${body}.${mac(secret, body, purpose).toString('base64url')}`, expiresAt: exp * 1000 };
}

export function verifyUserToken(secret: string, token: string, nowMs: number, purpose: TokenPurpose = 'user'): UserTokenCheck {
  const m = FORMAT.exec(token);
  if (!m || !m[1] || !m[2] || purposeOf(token) !== purpose) return { ok: false, reason: 'malformed' };
  // Compared as text: one token has one spelling (base64url's last character carries 2 spare bits).
  const expected = Buffer.from(mac(secret, m[1], purpose).toString('base64url'));
  const given = Buffer.from(m[2]);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  let raw: { u?: unknown; iat?: unknown; exp?: unknown };
  try {
    raw = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as typeof raw;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (raw === null || typeof raw !== 'object' || typeof raw.u !== 'string' || raw.u === '' || !Number.isInteger(raw.iat) || !Number.isInteger(raw.exp)) return { ok: false, reason: 'malformed' };
  const exp = raw.exp as number;
  if (exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { userId: raw.u, issuedAt: (raw.iat as number) * 1000, expiresAt: exp * 1000 } };
}
