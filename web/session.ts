/**
 * Dashboard sessions: after the analyst gives an API key once, an HttpOnly cookie carries
 * HMAC-signed claims {key id, expiry}. The key is re-checked on every request (a revoked key ends
 * its sessions within the key cache time).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE = 'eventline_session';
export const SESSION_HOURS = 12;

export class Sessions {
  private readonly secret: string;

  constructor(secret: string | null) {
    this.secret = secret ?? randomBytes(32).toString('base64url');
  }

  create(keyId: string, nowMs: number): string {
    const body = Buffer.from(JSON.stringify({ k: keyId, exp: Math.floor(nowMs / 1000) + SESSION_HOURS * 3600 })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The key id of a valid, unexpired session cookie value, else null. */
  read(value: string | undefined, nowMs: number): string | null {
    const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
    if (!m || !m[1] || !m[2]) return null;
    const expected = Buffer.from(this.mac(m[1]));
    const given = Buffer.from(m[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      const claims = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as { k?: unknown; exp?: unknown };
      if (typeof claims.k !== 'string' || typeof claims.exp !== 'number' || claims.exp * 1000 < nowMs) return null;
      return claims.k;
    } catch {
      return null;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

/** Reads one cookie from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}
