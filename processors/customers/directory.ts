/**
 * The customer directory: who a Stripe customer is (user id, email, phone, country, created), from
 * the latest customer.* event by (created, event id). Two entity kinds every processor that reads
 * stripe.events.v1 folds live (the same fold, idempotent, kept without expiry), so each has seen a
 * customer's creation before the customer's later events (same key, same partition). It is its own
 * state with its own sentinel (`state:directory:complete`): after a Redis loss it is rebuilt once,
 * from the whole of stripe.events.v1, before any processor that reads it resumes — and reads are
 * fenced on that sentinel, so nobody decides on a half-rebuilt directory.
 *
 * Recipients (ARCHITECTURE §5): a user id is customer.metadata.user_id when the customer has one,
 * else the Stripe customer id.
 */
import { entityKind, stateKeys, StateWriter, type EntityRef, type EntityStore, type Fact, type Fence, type RebuildSpec } from '../../lib/decider/index.ts';
import { readCustomer, readStripeEvent } from '../../lib/stripe/index.ts';
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

interface Versioned {
  /** Event time and event id of the customer event this came from: the latest wins. */
  readonly vt: number;
  readonly vi: string;
}
type CustomerDoc = (CustomerRecord & Versioned) | null;
type UserDoc = ({ readonly customerId: string } & Versioned) | null;

const isCustomerEvent = (type: string): boolean => type.startsWith('customer.') && type.split('.').length === 2;

/** The customer a customer.created|updated|deleted event describes (pure). */
export function customerFromEvent(e: StripeEventReceived): CustomerRecord | null {
  if (!isCustomerEvent(e.type)) return null;
  const c = readCustomer(readStripeEvent(e.payload).object);
  if (!c) return null;
  return {
    customerId: c.id,
    userId: c.userId ?? c.id,
    email: c.email,
    phone: c.phone,
    name: c.name,
    country: c.country,
    locale: c.locale,
    createdAt: c.createdMs,
    deleted: e.type === 'customer.deleted',
  };
}

const newer = (cur: Versioned | null, t: number, id: string): boolean => cur === null || t > cur.vt || (t === cur.vt && id > cur.vi);

const parsed = new WeakMap<object, CustomerRecord | null>();
function customerOf(f: Fact): CustomerRecord | null {
  if (f.topic !== 'stripe.events.v1' || !isCustomerEvent(f.value.type)) return null;
  let c = parsed.get(f.value);
  if (c === undefined) {
    c = customerFromEvent(f.value);
    parsed.set(f.value, c);
  }
  return c;
}

export const customerKind = entityKind<Fact, CustomerDoc>({
  name: 'directory:customer',
  initial: null,
  ttlSeconds: null,
  keys: (f) => {
    const c = customerOf(f);
    return c ? [c.customerId] : [];
  },
  evolve: (state, f) => {
    const c = customerOf(f);
    if (!c || !newer(state, f.value.occurred_at, f.value.event_id)) return state;
    return { ...c, vt: f.value.occurred_at, vi: f.value.event_id };
  },
});

export const userKind = entityKind<Fact, UserDoc>({
  name: 'directory:user',
  initial: null,
  ttlSeconds: null,
  keys: (f) => {
    const c = customerOf(f);
    return c ? [c.userId] : [];
  },
  evolve: (state, f) => {
    const c = customerOf(f);
    if (!c || !newer(state, f.value.occurred_at, f.value.event_id)) return state;
    return { customerId: c.customerId, vt: f.value.occurred_at, vi: f.value.event_id };
  },
});

export const directoryKinds = [customerKind, userKind];

/** A customer's directory entity (for reads through a batch's state, lib/decider/batch.ts). */
export const customerRef = (customerId: string): EntityRef => ({ kind: customerKind.name, key: customerId });

/** Reads are fenced on this: the directory is whole. */
export const directoryFence: Fence = { kind: 'live', sentinel: stateKeys('directory').sentinel };

/** The directory's own rebuild: every customer event, ever. */
export function directoryRebuild(store: EntityStore): RebuildSpec<Fact> {
  return {
    processor: 'directory',
    topics: [{ topic: 'stripe.events.v1', horizonMs: null }],
    fact: (r) => (r.topic === 'stripe.events.v1' && isCustomerEvent((r.value as StripeEventReceived).type) ? ({ topic: r.topic, record: r.record, value: r.value } as Fact) : null),
    writer: new StateWriter<Fact>(store, directoryKinds, null),
  };
}

/** Reads the directory (fenced: it fails with state_rebuilding while the directory is rebuilt). */
export class CustomerDirectory {
  private readonly store: EntityStore;
  private readonly fence: Fence | null;

  constructor(store: EntityStore, fence: Fence | null = directoryFence) {
    this.store = store;
    this.fence = fence;
  }

  async get(customerId: string): Promise<CustomerRecord | null> {
    return this.store.get<CustomerRecord>({ kind: 'directory:customer', key: customerId }, this.fence);
  }

  /** The user id for a Stripe customer (metadata.user_id, else the customer id). */
  async userOf(customerId: string): Promise<string> {
    return (await this.get(customerId))?.userId ?? customerId;
  }

  /** The Stripe customer behind a user id, if known. */
  async byUser(userId: string): Promise<CustomerRecord | null> {
    const user = await this.store.get<{ customerId: string }>({ kind: 'directory:user', key: userId }, this.fence);
    return this.get(user?.customerId ?? userId);
  }
}
