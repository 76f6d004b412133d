/**
 * Dashboard sessions, kept server-side in Redis: after the analyst gives an API key once, an
 * HttpOnly cookie carries a random session id (256 bits). Redis holds only the id's SHA-256 →
 * the key id, for SESSION_HOURS, so a copy of Redis opens no session. A session ends when:
 * - the analyst signs out (its entry is deleted; the cookie is worthless from then on);
 * - its key is revoked: `eventline keys revoke` deletes every session of the key at once, and a
 *   running process that finds a session whose key no longer authenticates deletes it too;
 * - SESSION_HOURS pass.
 * The key's scopes are re-read on every request, so a session never outlives what its key may do.
 * While Redis cannot answer, the dashboard answers 503 redis_unavailable (retryable), not 500.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fromDriverError } from '../lib/errors.ts';
import type { Redis } from '../lib/redis.ts';

export const COOKIE = 'eventline_session';
export const SESSION_HOURS = 12;
const TTL_SECONDS = SESSION_HOURS * 3600;
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

function digest(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

const sessionKey = (hash: string) => `dashboard:session:${hash}`;
const keySessions = (keyId: string) => `dashboard:key-sessions:${keyId}`;

export class Sessions {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** Opens a session for a key; the returned id goes into the cookie and is not stored. */
  create(keyId: string): Promise<string> {
    return mapped(async () => {
      const id = randomBytes(32).toString('base64url');
      const hash = digest(id);
      await this.redis
        .multi()
        .set(sessionKey(hash), keyId, 'EX', TTL_SECONDS)
        .sadd(keySessions(keyId), hash)
        .expire(keySessions(keyId), TTL_SECONDS)
        .exec();
      return id;
    });
  }

  /** The key id of a live session, else null (unknown, ended, expired, or not a session id at all). */
  read(id: string | undefined): Promise<string | null> {
    if (!id || !SESSION_ID.test(id)) return Promise.resolve(null);
    return mapped(() => this.redis.get(sessionKey(digest(id))));
  }

  /** Ends one session (sign-out); true when it was live. */
  end(id: string | undefined): Promise<boolean> {
    if (!id || !SESSION_ID.test(id)) return Promise.resolve(false);
    return mapped(async () => {
      const hash = digest(id);
      const keyId = await this.redis.get(sessionKey(hash));
      if (keyId === null) return false;
      const results = await this.redis.multi().del(sessionKey(hash)).srem(keySessions(keyId), hash).exec();
      return results?.[0]?.[1] === 1;
    });
  }

  /** Ends every session of a key (its revocation); returns how many were live. */
  endAllOf(keyId: string): Promise<number> {
    return mapped(async () => {
      const hashes = await this.redis.smembers(keySessions(keyId));
      if (hashes.length === 0) return 0;
      const ended = await this.redis.del(...hashes.map(sessionKey));
      await this.redis.del(keySessions(keyId));
      return ended;
    });
  }
}

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw fromDriverError(err);
  }
}

/** Reads one cookie from a Cookie header; a value that is not validly percent-encoded reads as absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
