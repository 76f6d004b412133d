/**
 * API keys: `evl_<id>_<secret>`, stored as SHA-256 of the secret with scopes. The secret has 256
 * bits of entropy, so a fast hash is enough (no password-style stretching). Keys from
 * EVENTLINE_API_KEYS are full-access and never stored.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../lib/db.ts';
import { EventlineError } from '../../lib/errors.ts';
import { scopes, type Authenticator, type Principal, type Scope } from '../../lib/http/auth.ts';

export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly createdAt: Date | null;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

const KEY_FORMAT = /^evl_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function parseScopes(text: string): Scope[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(scopes as readonly string[]).includes(s));
  if (list.length === 0 || bad.length > 0) {
    throw new EventlineError('bad_request', `scopes must be a comma-separated subset of ${scopes.join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`);
  }
  return [...new Set(list)] as Scope[];
}

interface CachedKey {
  readonly hash: Buffer;
  readonly scopes: readonly Scope[];
  readonly revoked: boolean;
  readonly fetchedAt: number;
}

export class ApiKeys implements Authenticator {
  private readonly db: Db;
  private readonly envKeys: Map<string, Principal>;
  private readonly cache = new Map<string, CachedKey | null>();
  private readonly cacheMs: number;
  private readonly touched = new Map<string, number>();

  /** `cacheMs`: how long a looked-up key is trusted before it is read again (revocation delay). */
  constructor(db: Db, envKeys: readonly string[], cacheMs = 10_000) {
    this.db = db;
    this.cacheMs = cacheMs;
    this.envKeys = new Map(
      envKeys.map((k) => [sha256(k).toString('hex'), { keyId: `env:${sha256(k).toString('hex').slice(0, 8)}`, scopes: ['admin'] as Scope[] }]),
    );
  }

  /** Creates a key; the returned secret is shown once and never stored. */
  async create(name: string, keyScopes: readonly Scope[]): Promise<{ id: string; key: string }> {
    if (!name.trim() || name.length > 100) throw new EventlineError('bad_request', 'a key needs a name of 1..100 characters');
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    await this.db.query('INSERT INTO public.api_keys (id, name, secret_hash, scopes) VALUES ($1, $2, $3, $4)', [
      id,
      name.trim(),
      sha256(secret).toString('hex'),
      [...keyScopes],
    ]);
    return { id, key: `evl_${id}_${secret}` };
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.db.query<{ id: string; name: string; scopes: Scope[]; created_at: Date; revoked_at: Date | null; last_used_at: Date | null }>(
      'SELECT id, name, scopes, created_at, revoked_at, last_used_at FROM public.api_keys ORDER BY created_at',
    );
    return rows.rows.map((r) => ({ id: r.id, name: r.name, scopes: r.scopes, createdAt: r.created_at, revokedAt: r.revoked_at, lastUsedAt: r.last_used_at }));
  }

  /** Revokes a key; true when it existed and was active. */
  async revoke(id: string): Promise<boolean> {
    const res = await this.db.query('UPDATE public.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
    this.cache.delete(id);
    return (res.rowCount ?? 0) > 0;
  }

  async count(): Promise<number> {
    const res = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM public.api_keys WHERE revoked_at IS NULL');
    return res.rows[0]?.n ?? 0;
  }

  /** The principal for a key id (a dashboard session), or null when unknown or revoked. */
  async principalById(keyId: string): Promise<Principal | null> {
    for (const p of this.envKeys.values()) if (p.keyId === keyId) return p;
    const key = await this.lookup(keyId);
    return key && !key.revoked ? { keyId, scopes: key.scopes } : null;
  }

  /** The principal a presented key stands for, or null when it is unknown, malformed or revoked. */
  async authenticate(presented: string): Promise<Principal | null> {
    const fromEnv = this.envKeys.get(sha256(presented).toString('hex'));
    if (fromEnv) return fromEnv;
    const m = KEY_FORMAT.exec(presented);
    if (!m || !m[1] || !m[2]) return null;
    const id = m[1];
    const key = await this.lookup(id);
    if (!key || key.revoked) return null;
    const hash = sha256(m[2]);
    if (!timingSafeEqual(hash, key.hash)) return null;
    this.touch(id);
    return { keyId: id, scopes: key.scopes };
  }

  private async lookup(id: string): Promise<CachedKey | null> {
    const cached = this.cache.get(id);
    if (cached && Date.now() - cached.fetchedAt < this.cacheMs) return cached;
    const res = await this.db.query<{ secret_hash: string; scopes: Scope[]; revoked_at: Date | null }>(
      'SELECT secret_hash, scopes, revoked_at FROM public.api_keys WHERE id = $1',
      [id],
    );
    const row = res.rows[0];
    const entry = row ? { hash: Buffer.from(row.secret_hash, 'hex'), scopes: row.scopes, revoked: row.revoked_at !== null, fetchedAt: Date.now() } : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(id, entry);
    return entry;
  }

  /** Records use at most once a minute per key, without making the request wait. */
  private touch(id: string): void {
    const last = this.touched.get(id) ?? 0;
    if (Date.now() - last < 60_000) return;
    this.touched.set(id, Date.now());
    this.db.query('UPDATE public.api_keys SET last_used_at = now() WHERE id = $1', [id]).catch(() => undefined);
  }
}
