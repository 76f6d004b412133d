/**
 * Web Push subscriptions per user, in Postgres (dispatch.push_subscriptions, migrated by
 * processors/dispatch): written by the push-subscription routes (producers/push), read and pruned
 * by the push sender (processors/dispatch/push.ts).
 *
 * A subscription's id is derived from its endpoint, so one browser registered twice is one row:
 * the same user again gets the same subscription back (its keys refreshed), another user takes it
 * over (the browser is now theirs). A user keeps at most `maxPerUser` subscriptions: a new one
 * beyond that replaces the one least recently used, so stale browsers never lock a new one out.
 *
 * An endpoint identifies a browser: it never reaches a log line or an error message, only the push
 * service's host does (`pushServiceOf`).
 */
import { createHash } from 'node:crypto';
import type { Db, DbClient } from '../lib/db.ts';

export interface PushSubscriptionKeys {
  /** The browser's P-256 public key, uncompressed point, base64url. */
  readonly p256dh: string;
  /** The browser's 16-byte auth secret, base64url. */
  readonly auth: string;
}

export interface PushSubscriptionInput {
  readonly endpoint: string;
  readonly keys: PushSubscriptionKeys;
}

export interface StoredPushSubscription extends PushSubscriptionInput {
  readonly id: string;
  readonly userId: string;
  readonly createdAt: Date;
  readonly lastSuccessAt: Date | null;
}

/** created: new for this user; existing: the user had it already; moved: another user had it. */
export type RegistrationOutcome = 'created' | 'existing' | 'moved';

export interface Registration {
  readonly outcome: RegistrationOutcome;
  readonly subscription: StoredPushSubscription;
  /** The subscriptions removed to keep the user within `maxPerUser`. */
  readonly evicted: readonly string[];
}

export const PUSH_SUBSCRIPTION_ID = /^psub_[0-9a-f]{32}$/;
export const DEFAULT_MAX_PUSH_SUBSCRIPTIONS_PER_USER = 20;

export function pushSubscriptionId(endpoint: string): string {
  return `psub_${createHash('sha256').update(endpoint, 'utf8').digest('hex').slice(0, 32)}`;
}

/** The push service an endpoint belongs to (its host), safe to log; never the path, which names the browser. */
export function pushServiceOf(endpoint: string): string {
  try {
    return new URL(endpoint).host || 'unknown';
  } catch {
    return 'unknown';
  }
}

interface Row {
  id: string;
  user_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  created_at: Date;
  last_success_at: Date | null;
}

const COLUMNS = 'id, user_id, endpoint, p256dh, auth, created_at, last_success_at';

function fromRow(r: Row): StoredPushSubscription {
  return { id: r.id, userId: r.user_id, endpoint: r.endpoint, keys: { p256dh: r.p256dh, auth: r.auth }, createdAt: r.created_at, lastSuccessAt: r.last_success_at };
}

export class PushSubscriptions {
  private readonly db: Db;
  private readonly maxPerUser: number;

  constructor(db: Db, options: { maxPerUser?: number } = {}) {
    const max = options.maxPerUser ?? DEFAULT_MAX_PUSH_SUBSCRIPTIONS_PER_USER;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxPerUser must be a positive integer');
    this.db = db;
    this.maxPerUser = max;
  }

  /** Registers a (validated) subscription for a user; idempotent per endpoint. */
  async register(userId: string, input: PushSubscriptionInput): Promise<Registration> {
    const id = pushSubscriptionId(input.endpoint);
    return this.db.transaction(async (c) => {
      // One registration per user at a time (the cap), then one per subscription (a takeover):
      // always in this order, so two registrations never wait on each other in a cycle.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`push_subscriptions:user:${userId}`]);
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`push_subscriptions:id:${id}`]);
      const previous = (await c.query<Row>(`SELECT ${COLUMNS} FROM dispatch.push_subscriptions WHERE id = $1`, [id])).rows[0];
      if (previous && previous.user_id === userId) {
        if (previous.p256dh === input.keys.p256dh && previous.auth === input.keys.auth) return { outcome: 'existing', subscription: fromRow(previous), evicted: [] };
        const updated = await c.query<Row>(`UPDATE dispatch.push_subscriptions SET p256dh = $2, auth = $3 WHERE id = $1 RETURNING ${COLUMNS}`, [id, input.keys.p256dh, input.keys.auth]);
        return { outcome: 'existing', subscription: fromRow(updated.rows[0] ?? previous), evicted: [] };
      }
      const evicted = await this.makeRoom(c, userId);
      const saved = await c.query<Row>(
        `INSERT INTO dispatch.push_subscriptions (id, user_id, endpoint, p256dh, auth)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth, created_at = now(), last_success_at = NULL
         RETURNING ${COLUMNS}`,
        [id, userId, input.endpoint, input.keys.p256dh, input.keys.auth],
      );
      const row = saved.rows[0];
      if (!row) throw new Error('push subscription upsert returned no row');
      return { outcome: previous ? 'moved' : 'created', subscription: fromRow(row), evicted };
    });
  }

  /** Deletes the user's least recently used subscriptions until one more fits. */
  private async makeRoom(c: DbClient, userId: string): Promise<string[]> {
    const res = await c.query<{ id: string }>(
      `DELETE FROM dispatch.push_subscriptions WHERE id IN (
         SELECT id FROM dispatch.push_subscriptions WHERE user_id = $1
         ORDER BY coalesce(last_success_at, created_at) DESC, id
         OFFSET $2)
       RETURNING id`,
      [userId, this.maxPerUser - 1],
    );
    return res.rows.map((r) => r.id).sort();
  }

  /** Deletes one of the user's subscriptions; false when there is none with that id for this user. */
  async remove(userId: string, id: string): Promise<boolean> {
    const res = await this.db.query('DELETE FROM dispatch.push_subscriptions WHERE id = $1 AND user_id = $2', [id, userId]);
    return (res.rowCount ?? 0) > 0;
  }

  /** Every subscription of a user, oldest first. */
  async forUser(userId: string): Promise<StoredPushSubscription[]> {
    const res = await this.db.query<Row>(`SELECT ${COLUMNS} FROM dispatch.push_subscriptions WHERE user_id = $1 ORDER BY created_at, id`, [userId]);
    return res.rows.map(fromRow);
  }

  /**
   * Deletes a subscription its push service no longer knows (404/410). Only that registration:
   * matched on its keys too, so one the browser registered anew meanwhile (same endpoint, new
   * keys) stays.
   */
  async expire(subscription: StoredPushSubscription): Promise<boolean> {
    const res = await this.db.query('DELETE FROM dispatch.push_subscriptions WHERE id = $1 AND user_id = $2 AND p256dh = $3 AND auth = $4', [
      subscription.id,
      subscription.userId,
      subscription.keys.p256dh,
      subscription.keys.auth,
    ]);
    return (res.rowCount ?? 0) > 0;
  }

  async markSucceeded(ids: readonly string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.db.query('UPDATE dispatch.push_subscriptions SET last_success_at = greatest(last_success_at, $2) WHERE id = ANY($1::text[])', [ids, at]);
  }

  /** Deletes every subscription of a user (erasure); how many there were. */
  async removeAllFor(userId: string): Promise<number> {
    const res = await this.db.query('DELETE FROM dispatch.push_subscriptions WHERE user_id = $1', [userId]);
    return res.rowCount ?? 0;
  }
}
