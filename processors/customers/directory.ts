/**
 * The customer directory: who a Stripe customer is (user id, email, phone, country, created), from
 * the latest customer.* event by (created, event id). Kept in Redis; every processor that reads
 * stripe.events.v1 applies customer events itself, so it has seen a customer's creation before the
 * customer's later events (same key, same partition). Versioned writes make this idempotent.
 *
 * Recipients (ARCHITECTURE §5): a user id is customer.metadata.user_id when the customer has one,
 * else the Stripe customer id.
 */
import type { Redis } from '../../lib/redis.ts';
import type { StripeEventReceived } from '../../lib/topics.ts';

export interface CustomerRecord {
  readonly customerId: string;
  readonly userId: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly name: string | null;
  readonly country: string | null;
  readonly locale: string | null;
  readonly createdAt: number | null;
  readonly deleted: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The customer a customer.created|updated|deleted event describes (pure). */
export function customerFromEvent(e: StripeEventReceived): CustomerRecord | null {
  if (!e.type.startsWith('customer.') || e.type.split('.').length !== 2) return null;
  const event = JSON.parse(e.payload) as Json;
  const c = isObject(event.data) && isObject(event.data.object) ? event.data.object : null;
  if (!c || c.object !== 'customer' || !str(c.id)) return null;
  const metadata = isObject(c.metadata) ? c.metadata : {};
  const address = isObject(c.address) ? c.address : {};
  const locales = Array.isArray(c.preferred_locales) ? c.preferred_locales : [];
  return {
    customerId: c.id as string,
    userId: str(metadata.user_id) ?? (c.id as string),
    email: str(c.email),
    phone: str(c.phone),
    name: str(c.name),
    country: str(address.country),
    locale: str(locales[0]),
    createdAt: typeof c.created === 'number' ? c.created * 1000 : null,
    deleted: e.type === 'customer.deleted',
  };
}

const UPSERT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  local t = tonumber(ARGV[2])
  if c.vt > t or (c.vt == t and c.vi >= ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[4])
return 1`;

export class CustomerDirectory {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** Applies a customer.* event if it is newer than what is known (others are ignored). */
  async apply(e: StripeEventReceived): Promise<void> {
    const c = customerFromEvent(e);
    if (!c) return;
    const doc = JSON.stringify({ ...c, vt: e.occurred_at, vi: e.event_id });
    await this.redis.eval(UPSERT, 2, `customer:${c.customerId}`, `user:${c.userId}`, doc, String(e.occurred_at), e.event_id, c.customerId);
  }

  async get(customerId: string): Promise<CustomerRecord | null> {
    const raw = await this.redis.get(`customer:${customerId}`);
    return raw === null ? null : (JSON.parse(raw) as CustomerRecord);
  }

  /** The user id for a Stripe customer (metadata.user_id, else the customer id). */
  async userOf(customerId: string): Promise<string> {
    return (await this.get(customerId))?.userId ?? customerId;
  }

  /** The Stripe customer behind a user id, if known. */
  async byUser(userId: string): Promise<CustomerRecord | null> {
    const customerId = (await this.redis.get(`user:${userId}`)) ?? userId;
    return this.get(customerId);
  }
}
