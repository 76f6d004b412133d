/**
 * Contact confirmation tokens: proof that whoever follows the link received a message at an
 * address. base64url(JSON {u: user, c: channel (email | sms), h: keyed hash of the address,
 * exp: unix s}) "." base64url(HMAC-SHA256). The address itself is not in the link, only a hash
 * keyed with the secret; redeeming checks that it is still the user's address, so a token for an
 * address the user has replaced since confirms nothing. Signed with UNSUBSCRIBE_SECRET under its
 * own label, so an unsubscribe token never verifies as a confirmation token or the other way round.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const CONTACT_TOKEN_DAYS = 3;
const LABEL = 'eventline contact confirmation v1';

export type ContactChannel = 'email' | 'sms';

export interface ContactClaims {
  readonly userId: string;
  readonly channel: ContactChannel;
  readonly addressHash: string;
  readonly expiresAt: number;
}

export type ContactTokenCheck = { ok: true; claims: ContactClaims } | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

function key(secret: string): Buffer {
  return createHmac('sha256', secret).update(LABEL).digest();
}

function mac(secret: string, data: string): Buffer {
  return createHmac('sha256', key(secret)).update(data).digest();
}

/** The keyed hash of an address that a token carries (22 characters). */
export function contactHash(secret: string, address: string): string {
  return createHmac('sha256', key(secret)).update(`address:${address}`).digest().subarray(0, 16).toString('base64url');
}

export function signContactToken(secret: string, userId: string, channel: ContactChannel, address: string, nowMs: number, days = CONTACT_TOKEN_DAYS): string {
  const claims = { u: userId, c: channel, h: contactHash(secret, address), exp: Math.floor(nowMs / 1000) + days * 86_400 };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

export function verifyContactToken(secret: string, token: string, nowMs: number): ContactTokenCheck {
  const m = /^([A-Za-z0-9_-]{10,2000})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m || !m[1] || !m[2]) return { ok: false, reason: 'malformed' };
  const expected = mac(secret, m[1]);
  const given = Buffer.from(m[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  let raw: { u?: unknown; c?: unknown; h?: unknown; exp?: unknown };
  try {
    raw = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as typeof raw;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof raw.u !== 'string' || (raw.c !== 'email' && raw.c !== 'sms') || typeof raw.h !== 'string' || typeof raw.exp !== 'number') return { ok: false, reason: 'malformed' };
  if (raw.exp * 1000 < nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { userId: raw.u, channel: raw.c, addressHash: raw.h, expiresAt: raw.exp * 1000 } };
}

/** Whether `address` is the one a token was made for. */
export function isTokenAddress(secret: string, claims: ContactClaims, address: string | null): boolean {
  if (address === null) return false;
  const a = Buffer.from(contactHash(secret, address));
  const b = Buffer.from(claims.addressHash);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The confirmation link for a message to `address`. */
export function contactConfirmationUrl(publicUrl: string, secret: string, userId: string, channel: ContactChannel, address: string, nowMs: number): string {
  return `${publicUrl}/v1/contacts/confirm/${signContactToken(secret, userId, channel, address, nowMs)}`;
}
