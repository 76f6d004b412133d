/**
 * Applies a batch of Stripe events to an MRR projection version (schema), inside the projection
 * runner's transaction:
 *   1. keep every subscription version, discount and coupon definition (duplicates are no-ops);
 *   2. find the customers whose inputs changed (a late coupon touches every customer whose
 *      discounts reference it);
 *   3. recompute those customers' timelines from all their inputs and replace their movements.
 * The result depends only on the set of events applied, not on their order or repetition.
 */
import type { DbClient } from '../../lib/db.ts';
import { readCoupon, readStripeEvent } from '../../lib/stripe/index.ts';
import type { StripeEventReceived } from '../../lib/topics.ts';
import { customerTimeline, type CouponVersion, type DiscountVersion, type SubscriptionVersion } from './evolve.ts';
import {
  couponTerms,
  decodeCoupon,
  decodeDiscount,
  decodeState,
  encodeCoupon,
  encodeDiscount,
  encodeState,
  parseDiscount,
  parseSubscription,
} from './policy.ts';

type Json = Record<string, unknown>;

interface Rows {
  subscriptions: Map<string, { subscription_id: string; created_at: Date; event_id: string; customer_id: string; state: Json }>;
  discounts: Map<string, { discount_id: string; created_at: Date; event_id: string; customer_id: string | null; coupon_id: string | null; terms: Json }>;
  coupons: Map<string, { coupon_id: string; created_at: Date; event_id: string; terms: Json | null }>;
}

/** Extracts what MRR needs from one Stripe event; ignores every other kind of event. */
export function collect(rows: Rows, e: StripeEventReceived): void {
  const isSubscription = e.type.startsWith('customer.subscription.');
  const isDiscount = e.type.startsWith('customer.discount.');
  const isCoupon = e.type.startsWith('coupon.');
  if (!isSubscription && !isDiscount && !isCoupon) return;
  // A payload that is not a Stripe event reads as nulls and is skipped, like any unreadable object.
  const { object } = readStripeEvent(e.payload);
  const createdAt = new Date(e.occurred_at);
  if (isSubscription) {
    const state = parseSubscription(object);
    if (!state) return;
    const key = `${state.subscriptionId}|${e.occurred_at}|${e.event_id}`;
    rows.subscriptions.set(key, { subscription_id: state.subscriptionId, created_at: createdAt, event_id: e.event_id, customer_id: state.customerId, state: encodeState(state) });
  } else if (isDiscount) {
    const terms = parseDiscount(object, e.type === 'customer.discount.deleted');
    if (!terms) return;
    const key = `${terms.discountId}|${e.occurred_at}|${e.event_id}`;
    rows.discounts.set(key, { discount_id: terms.discountId, created_at: createdAt, event_id: e.event_id, customer_id: terms.customerId ?? e.customer_id, coupon_id: terms.couponId, terms: encodeDiscount(terms) });
  } else {
    const coupon = readCoupon(object);
    if (!coupon?.id) return;
    const terms = couponTerms(coupon);
    const key = `${coupon.id}|${e.occurred_at}|${e.event_id}`;
    rows.coupons.set(key, { coupon_id: coupon.id, created_at: createdAt, event_id: e.event_id, terms: terms ? encodeCoupon(terms) : null });
  }
}

async function insertNew(client: DbClient, schema: string, rows: Rows): Promise<{ customers: Set<string>; coupons: string[] }> {
  const customers = new Set<string>();
  const subs = [...rows.subscriptions.values()];
  if (subs.length > 0) {
    const res = await client.query<{ customer_id: string }>(
      `INSERT INTO ${schema}.subscription_versions (subscription_id, created_at, event_id, customer_id, state)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])
       ON CONFLICT DO NOTHING RETURNING customer_id`,
      [subs.map((r) => r.subscription_id), subs.map((r) => r.created_at), subs.map((r) => r.event_id), subs.map((r) => r.customer_id), subs.map((r) => JSON.stringify(r.state))],
    );
    for (const r of res.rows) customers.add(r.customer_id);
  }
  const discounts = [...rows.discounts.values()];
  let referencesCoupon = false;
  if (discounts.length > 0) {
    const res = await client.query<{ customer_id: string | null; coupon_id: string | null }>(
      `INSERT INTO ${schema}.discount_versions (discount_id, created_at, event_id, customer_id, coupon_id, terms)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
       ON CONFLICT DO NOTHING RETURNING customer_id, coupon_id`,
      [
        discounts.map((r) => r.discount_id),
        discounts.map((r) => r.created_at),
        discounts.map((r) => r.event_id),
        discounts.map((r) => r.customer_id),
        discounts.map((r) => r.coupon_id),
        discounts.map((r) => JSON.stringify(r.terms)),
      ],
    );
    for (const r of res.rows) if (r.customer_id) customers.add(r.customer_id);
    referencesCoupon = res.rows.some((r) => r.coupon_id !== null);
  }
  const coupons = [...rows.coupons.values()];
  let newCoupons: string[] = [];
  if (coupons.length > 0) {
    const res = await client.query<{ coupon_id: string }>(
      `INSERT INTO ${schema}.coupon_versions (coupon_id, created_at, event_id, terms)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::jsonb[])
       ON CONFLICT DO NOTHING RETURNING coupon_id`,
      [coupons.map((r) => r.coupon_id), coupons.map((r) => r.created_at), coupons.map((r) => r.event_id), coupons.map((r) => (r.terms ? JSON.stringify(r.terms) : null))],
    );
    newCoupons = [...new Set(res.rows.map((r) => r.coupon_id))];
  }
  if (newCoupons.length > 0 || referencesCoupon) {
    // A coupon (keyed by its own id) and a discount referencing it (keyed by customer) can be applied
    // concurrently from two partitions; neither would see the other's uncommitted row. Both take
    // this lock (always before customer locks) so the second one sees what the first committed.
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${schema}:coupon-references`]);
  }
  if (newCoupons.length > 0) {
    // A coupon definition that arrives late changes every customer whose discounts point at it.
    const res = await client.query<{ customer_id: string }>(
      `SELECT DISTINCT customer_id FROM ${schema}.discount_versions WHERE coupon_id = ANY($1::text[]) AND customer_id IS NOT NULL`,
      [newCoupons],
    );
    for (const r of res.rows) customers.add(r.customer_id);
  }
  return { customers, coupons: newCoupons };
}

/** Recomputes the timelines of `customers` from everything stored, and replaces their movements. */
export async function recompute(client: DbClient, schema: string, customers: readonly string[]): Promise<void> {
  if (customers.length === 0) return;
  // Serialize recomputes of a customer across concurrent batches (a late coupon reaches customers of
  // other partitions): after the lock, this transaction sees every version the other one committed.
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || c, 0)) FROM unnest($2::text[]) AS c ORDER BY c`, [`${schema}:`, [...customers].sort()]);
  const subs = await client.query<{ customer_id: string; created_at: Date; event_id: string; state: Json }>(
    `SELECT customer_id, created_at, event_id, state FROM ${schema}.subscription_versions WHERE customer_id = ANY($1::text[])`,
    [customers],
  );
  const discounts = await client.query<{ customer_id: string; created_at: Date; event_id: string; coupon_id: string | null; terms: Json }>(
    `SELECT customer_id, created_at, event_id, coupon_id, terms FROM ${schema}.discount_versions WHERE customer_id = ANY($1::text[])`,
    [customers],
  );
  const couponIds = [...new Set(discounts.rows.map((d) => d.coupon_id).filter((c): c is string => c !== null))];
  const coupons =
    couponIds.length === 0
      ? { rows: [] as { coupon_id: string; created_at: Date; event_id: string; terms: Json | null }[] }
      : await client.query<{ coupon_id: string; created_at: Date; event_id: string; terms: Json | null }>(
          `SELECT coupon_id, created_at, event_id, terms FROM ${schema}.coupon_versions WHERE coupon_id = ANY($1::text[])`,
          [couponIds],
        );
  const couponVersions: CouponVersion[] = coupons.rows.map((c) => ({ at: c.created_at.getTime(), eventId: c.event_id, couponId: c.coupon_id, terms: decodeCoupon(c.terms) }));

  const subsBy = new Map<string, SubscriptionVersion[]>();
  for (const r of subs.rows) {
    const list = subsBy.get(r.customer_id) ?? [];
    list.push({ at: r.created_at.getTime(), eventId: r.event_id, state: decodeState(r.state) });
    subsBy.set(r.customer_id, list);
  }
  const discountsBy = new Map<string, DiscountVersion[]>();
  for (const r of discounts.rows) {
    const list = discountsBy.get(r.customer_id) ?? [];
    list.push({ at: r.created_at.getTime(), eventId: r.event_id, terms: decodeDiscount(r.terms) });
    discountsBy.set(r.customer_id, list);
  }

  const movementRows: (string | number | Date)[][] = [];
  const currentRows: (string | number | Date | null)[][] = [];
  for (const customerId of customers) {
    const mine = discountsBy.get(customerId) ?? [];
    const wanted = new Set(mine.map((d) => d.terms.couponId).filter(Boolean));
    const { movements, current } = customerTimeline(customerId, subsBy.get(customerId) ?? [], mine, couponVersions.filter((c) => wanted.has(c.couponId)));
    for (const m of movements) {
      movementRows.push([m.customerId, m.seq, m.currency, new Date(m.occurredAt), m.movement, m.deltaCents, m.mrrBeforeCents, m.mrrAfterCents, m.stripeEventId]);
    }
    for (const c of current) currentRows.push([c.customerId, c.currency, c.mrrCents, c.firstPaidAt === null ? null : new Date(c.firstPaidAt), new Date(c.lastMovementAt)]);
  }
  await client.query(`DELETE FROM ${schema}.movements WHERE customer_id = ANY($1::text[])`, [customers]);
  await client.query(`DELETE FROM ${schema}.customer_mrr WHERE customer_id = ANY($1::text[])`, [customers]);
  const col = <T>(rows: T[][], i: number) => rows.map((r) => r[i]);
  if (movementRows.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.movements (customer_id, seq, currency, occurred_at, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[])`,
      Array.from({ length: 9 }, (_, i) => col(movementRows, i)),
    );
  }
  if (currentRows.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.customer_mrr (customer_id, currency, mrr_cents, first_paid_at, last_movement_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])`,
      Array.from({ length: 5 }, (_, i) => col(currentRows, i)),
    );
  }
}

/** Applies Stripe events to the MRR tables in `schema`. */
export async function applyStripeEvents(client: DbClient, schema: string, events: readonly StripeEventReceived[]): Promise<{ customers: number }> {
  const rows: Rows = { subscriptions: new Map(), discounts: new Map(), coupons: new Map() };
  for (const e of events) collect(rows, e);
  const { customers } = await insertNew(client, schema, rows);
  await recompute(client, schema, [...customers].sort());
  return { customers: customers.size };
}
