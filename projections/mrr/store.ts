/**
 * Applies a batch of Stripe events to an MRR projection version (schema), inside the projection
 * runner's transaction:
 *   1. keep every subscription version, discount and coupon definition (duplicates are no-ops);
 *   2. find the customers whose inputs changed (a late coupon touches every customer whose
 *      discounts reference it);
 *   3. recompute those customers' timelines from all their inputs and replace their movements.
 * The result depends only on the set of events applied, not on their order or repetition.
 */
import { insertOnce, lockKeys, recordset, recordsetParam, valuesInKeyOrder, type DbClient } from '../../lib/db.ts';
import type { Logger } from '../../lib/log.ts';
import { PRICE_FETCHED_TYPE, readCoupon, readStripeEvent } from '../../lib/stripe/index.ts';
import type { StripeEventReceived } from '../../lib/topics.ts';
import { collectInvoice, deriveAllInvoices, deriveInvoices, insertInvoiceLines, insertInvoiceVersions, type InvoiceLineRow, type InvoiceVersionRow } from './invoices.ts';
import { addMovements, addStatusChanges, emptyAggregates, type Aggregates, type MovementFact } from './aggregates.ts';
import { customerTimeline, type CouponVersion, type DiscountVersion, type LineagePart, type MovementType, type StatusChange, type SubscriptionNow, type SubscriptionVersion } from './evolve.ts';
import {
  couponTerms,
  decimalText,
  decodeCoupon,
  decodeDiscount,
  decodeState,
  encodeCoupon,
  encodeDiscount,
  encodeState,
  encodeTiers,
  decodeTiers,
  parsePolicy,
  readPriceTiers,
  withFetchedTiers,
  type PriceTerms,
  type MrrPolicy,
  parseDiscount,
  parseSubscription,
} from './policy.ts';

type Json = Record<string, unknown>;

interface Rows {
  subscriptions: Map<string, { subscription_id: string; created_at: Date; event_id: string; customer_id: string; state: Json; kafka_partition: number | null; kafka_offset: string | null }>;
  discounts: Map<string, { discount_id: string; created_at: Date; event_id: string; customer_id: string | null; coupon_id: string | null; terms: Json }>;
  coupons: Map<string, { coupon_id: string; created_at: Date; event_id: string; terms: Json | null }>;
  invoices: Map<string, InvoiceVersionRow>;
  priceTiers: Map<string, { customer_id: string; price_id: string; event_id: string; tiers: Json }>;
  invoiceLines: Map<string, InvoiceLineRow>;
  /** Prices a subscription of the customer bills as metered usage (usage_revenue_monthly). */
  meteredPrices: Map<string, { customer_id: string; price_id: string }>;
}

const emptyRows = (): Rows => ({ subscriptions: new Map(), discounts: new Map(), coupons: new Map(), invoices: new Map(), priceTiers: new Map(), invoiceLines: new Map(), meteredPrices: new Map() });

/** Where a record is on stripe.events.v1: kept with each subscription version, so the dashboard can show the Stripe event as received. */
export interface RecordPosition {
  readonly partition: number;
  readonly offset: string;
}

/** Extracts what MRR needs from one Stripe event; ignores every other kind of event. */
export function collect(rows: Rows, e: StripeEventReceived, at?: RecordPosition): void {
  collectInvoice(rows.invoices, e, rows.invoiceLines);
  if (e.type === PRICE_FETCHED_TYPE) {
    const fetched = readPriceTiers(readStripeEvent(e.payload).object);
    if (fetched && e.customer_id) rows.priceTiers.set(`${e.customer_id}|${fetched.priceId}`, { customer_id: e.customer_id, price_id: fetched.priceId, event_id: e.event_id, tiers: encodeTiers(fetched.tiers) });
    return;
  }
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
    for (const item of state.items) if (item.price.metered && item.priceId) rows.meteredPrices.set(`${state.customerId}|${item.priceId}`, { customer_id: state.customerId, price_id: item.priceId });
    const key = `${state.subscriptionId}|${e.occurred_at}|${e.event_id}`;
    rows.subscriptions.set(key, { subscription_id: state.subscriptionId, created_at: createdAt, event_id: e.event_id, customer_id: state.customerId, state: encodeState(state), kafka_partition: at?.partition ?? null, kafka_offset: at?.offset ?? null });
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

interface Inserted {
  readonly subscriptions: { customer_id: string }[];
  readonly priceTiers: { customer_id: string }[];
  readonly discounts: { customer_id: string | null; coupon_id: string | null }[];
  readonly coupons: { coupon_id: string }[];
  readonly invoices: string[];
}

/** Inserts the versions (duplicates are no-ops); with `returning`, says which rows were new. */
async function insertFacts(client: DbClient, schema: string, rows: Rows, returning: boolean): Promise<Inserted> {
  const back = (columns: string) => (returning ? columns : undefined);
  const invoices = await insertInvoiceVersions(client, schema, rows.invoices, returning);
  await insertInvoiceLines(client, schema, rows.invoiceLines);
  await insertOnce(client, `${schema}.metered_prices`, { customer_id: 'text', price_id: 'text' }, rows.meteredPrices);
  // A price's tiers never change (Stripe prices are immutable): the first copy is every copy.
  const priceTiers = await insertOnce<{ customer_id: string }>(client, `${schema}.price_tiers`, { customer_id: 'text', price_id: 'text', event_id: 'text', tiers: 'jsonb' }, rows.priceTiers, back('customer_id'));
  const subscriptions = await insertOnce<{ customer_id: string }>(
    client,
    `${schema}.subscription_versions`,
    { subscription_id: 'text', created_at: 'timestamptz', event_id: 'text', customer_id: 'text', state: 'jsonb', kafka_partition: 'int', kafka_offset: 'bigint' },
    rows.subscriptions,
    back('customer_id'),
  );
  const discounts = await insertOnce<{ customer_id: string | null; coupon_id: string | null }>(
    client,
    `${schema}.discount_versions`,
    { discount_id: 'text', created_at: 'timestamptz', event_id: 'text', customer_id: 'text', coupon_id: 'text', terms: 'jsonb' },
    rows.discounts,
    back('customer_id, coupon_id'),
  );
  const coupons = await insertOnce<{ coupon_id: string }>(client, `${schema}.coupon_versions`, { coupon_id: 'text', created_at: 'timestamptz', event_id: 'text', terms: 'jsonb' }, rows.coupons, back('coupon_id'));
  return { subscriptions, priceTiers, discounts, coupons, invoices };
}

async function insertNew(client: DbClient, schema: string, rows: Rows): Promise<{ customers: Set<string>; coupons: string[]; invoices: string[] }> {
  const inserted = await insertFacts(client, schema, rows, true);
  const customers = new Set<string>([...inserted.subscriptions, ...inserted.priceTiers].map((r) => r.customer_id));
  for (const r of inserted.discounts) if (r.customer_id) customers.add(r.customer_id);
  const referencesCoupon = inserted.discounts.some((r) => r.coupon_id !== null);
  const newCoupons = [...new Set(inserted.coupons.map((r) => r.coupon_id))];
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
  return { customers, coupons: newCoupons, invoices: inserted.invoices };
}

type SubscriptionRow = { customer_id: string; created_at: Date; event_id: string; state: Json };
type DiscountRow = { customer_id: string; created_at: Date; event_id: string; coupon_id: string | null; terms: Json };
type CouponRow = { coupon_id: string; created_at: Date; event_id: string; terms: Json | null };
type PriceTiersRow = { customer_id: string; price_id: string; tiers: Json };
type Inputs = { subs: SubscriptionRow[]; discounts: DiscountRow[]; tiers: PriceTiersRow[] };
type Derived = { movements: (string | number | Date)[][]; current: (string | number | Date | null)[][]; facts: MovementFact[]; statuses: StatusChange[]; lineage: LineagePart[]; subscriptions: SubscriptionNow[] };

/** Which customers to read: a list (a batch's), or a contiguous range of ids (a bulk rebuild's chunk). */
type CustomerFilter = { readonly ids: readonly string[] } | { readonly from: string; readonly to: string };

function where(filter: CustomerFilter): { sql: string; params: unknown[] } {
  return 'ids' in filter ? { sql: 'customer_id = ANY($1::text[])', params: [filter.ids] } : { sql: 'customer_id BETWEEN $1 AND $2', params: [filter.from, filter.to] };
}

async function readInputs(client: DbClient, schema: string, filter: CustomerFilter): Promise<Inputs> {
  const w = where(filter);
  const subs = await client.query<SubscriptionRow>(`SELECT customer_id, created_at, event_id, state FROM ${schema}.subscription_versions WHERE ${w.sql}`, w.params);
  const discounts = await client.query<DiscountRow>(`SELECT customer_id, created_at, event_id, coupon_id, terms FROM ${schema}.discount_versions WHERE ${w.sql}`, w.params);
  const tiers = await client.query<PriceTiersRow>(`SELECT customer_id, price_id, tiers FROM ${schema}.price_tiers WHERE ${w.sql}`, w.params);
  return { subs: subs.rows, discounts: discounts.rows, tiers: tiers.rows };
}

async function readCoupons(client: DbClient, schema: string, ids: readonly string[] | null): Promise<CouponVersion[]> {
  if (ids !== null && ids.length === 0) return [];
  const res = await client.query<CouponRow>(
    `SELECT coupon_id, created_at, event_id, terms FROM ${schema}.coupon_versions ${ids === null ? '' : 'WHERE coupon_id = ANY($1::text[])'}`,
    ids === null ? [] : [ids],
  );
  return res.rows.map((c) => ({ at: c.created_at.getTime(), eventId: c.event_id, couponId: c.coupon_id, terms: decodeCoupon(c.terms) }));
}

function group<R extends { customer_id: string }, V>(rows: readonly R[], toVersion: (r: R) => V): Map<string, V[]> {
  const out = new Map<string, V[]>();
  for (const r of rows) {
    const list = out.get(r.customer_id);
    if (list) list.push(toVersion(r));
    else out.set(r.customer_id, [toVersion(r)]);
  }
  return out;
}

/** Every customer's timeline (pure): its movements and current MRR as table rows. */
function derive(customers: readonly string[], { subs, discounts, tiers }: Inputs, coupons: readonly CouponVersion[], policy: MrrPolicy): Derived {
  const fetchedBy = new Map<string, Map<string, NonNullable<PriceTerms['tiers']>>>();
  for (const t of tiers) {
    const decoded = decodeTiers(t.tiers);
    if (!decoded) continue;
    const mine = fetchedBy.get(t.customer_id) ?? new Map<string, NonNullable<PriceTerms['tiers']>>();
    fetchedBy.set(t.customer_id, mine.set(t.price_id, decoded));
  }
  const subsBy = group(subs, (r): SubscriptionVersion => ({ at: r.created_at.getTime(), eventId: r.event_id, state: withFetchedTiers(decodeState(r.state), fetchedBy.get(r.customer_id) ?? new Map()) }));
  const discountsBy = group(discounts, (r): DiscountVersion => ({ at: r.created_at.getTime(), eventId: r.event_id, terms: decodeDiscount(r.terms) }));
  const out: Derived = { movements: [], current: [], facts: [], statuses: [], lineage: [], subscriptions: [] };
  for (const customerId of customers) {
    const mine = discountsBy.get(customerId) ?? [];
    const wanted = new Set(mine.map((d) => d.terms.couponId).filter(Boolean));
    const { movements, current, statuses, lineage, subscriptions } = customerTimeline(customerId, subsBy.get(customerId) ?? [], mine, wanted.size === 0 ? [] : coupons.filter((c) => wanted.has(c.couponId)), policy);
    for (const m of movements) {
      out.movements.push([m.customerId, m.seq, m.currency, new Date(m.occurredAt), m.movement, m.deltaCents, m.mrrBeforeCents, m.mrrAfterCents, m.stripeEventId]);
      out.facts.push(m);
    }
    out.statuses.push(...statuses);
    out.lineage.push(...lineage);
    out.subscriptions.push(...subscriptions);
    for (const c of current) out.current.push([c.customerId, c.currency, c.mrrCents, c.firstPaidAt === null ? null : new Date(c.firstPaidAt), new Date(c.lastMovementAt)]);
  }
  return out;
}

const STATUS_COLUMNS = {
  customer_id: 'text',
  seq: 'int',
  currency: 'text',
  occurred_at: 'timestamptz',
  past_due_before_cents: 'bigint',
  past_due_after_cents: 'bigint',
  scheduled_before_cents: 'bigint',
  scheduled_after_cents: 'bigint',
  stripe_event_id: 'text',
} as const;

const statusRow = (c: StatusChange) => ({
  customer_id: c.customerId,
  seq: c.seq,
  currency: c.currency,
  occurred_at: new Date(c.occurredAt).toISOString(),
  past_due_before_cents: c.pastDueBeforeCents,
  past_due_after_cents: c.pastDueAfterCents,
  scheduled_before_cents: c.scheduledBeforeCents,
  scheduled_after_cents: c.scheduledAfterCents,
  stripe_event_id: c.stripeEventId,
});

const LINEAGE_COLUMNS = {
  customer_id: 'text',
  seq: 'int',
  currency: 'text',
  occurred_at: 'timestamptz',
  movement: 'text',
  subscription_id: 'text',
  subscription_before_cents: 'bigint',
  subscription_after_cents: 'bigint',
  stripe_event_id: 'text',
} as const;

const lineageRow = (l: LineagePart) => ({
  customer_id: l.customerId,
  seq: l.seq,
  currency: l.currency,
  occurred_at: new Date(l.occurredAt).toISOString(),
  movement: l.movement,
  subscription_id: l.subscriptionId,
  subscription_before_cents: l.subscriptionBeforeCents,
  subscription_after_cents: l.subscriptionAfterCents,
  stripe_event_id: l.stripeEventId,
});

const SUBSCRIPTION_COLUMNS = {
  subscription_id: 'text',
  customer_id: 'text',
  status: 'text',
  currency: 'text',
  items: 'jsonb',
  mrr_cents: 'bigint',
  trial_end: 'timestamptz',
  cancel_at_period_end: 'boolean',
  cancel_at: 'timestamptz',
  canceled_at: 'timestamptz',
  updated_at: 'timestamptz',
  last_event_id: 'text',
  trial_started_at: 'timestamptz',
  converted_at: 'timestamptz',
} as const;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const subscriptionRow = (x: SubscriptionNow) => ({
  subscription_id: x.state.subscriptionId,
  customer_id: x.customerId,
  status: x.state.status,
  currency: x.state.currency,
  items: x.state.items.map((i) => ({
    price_id: i.priceId,
    unit_amount: i.price.unitAmount === null ? null : decimalText(i.price.unitAmount),
    currency: i.price.currency,
    interval: i.price.interval,
    interval_count: i.price.intervalCount,
    quantity: i.quantity,
    metered: i.price.metered,
  })),
  mrr_cents: x.mrrCents,
  trial_end: iso(x.state.trialEnd),
  cancel_at_period_end: x.state.cancelAtPeriodEnd,
  cancel_at: iso(x.state.cancelAt),
  canceled_at: iso(x.state.canceledAt),
  updated_at: iso(x.updatedAt),
  last_event_id: x.lastEventId,
  trial_started_at: iso(x.trialStartedAt),
  converted_at: iso(x.convertedAt),
});

async function insertDerived(client: DbClient, schema: string, rows: Derived): Promise<void> {
  const col = <T>(table: T[][], i: number) => table.map((r) => r[i]);
  if (rows.movements.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.movements (customer_id, seq, currency, occurred_at, movement, delta_cents, mrr_before_cents, mrr_after_cents, stripe_event_id)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[])`,
      Array.from({ length: 9 }, (_, i) => col(rows.movements, i)),
    );
  }
  if (rows.statuses.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.status_changes (customer_id, seq, currency, occurred_at, past_due_before_cents, past_due_after_cents, scheduled_before_cents, scheduled_after_cents, stripe_event_id)
       SELECT * FROM ${recordset(STATUS_COLUMNS, 1)}`,
      [recordsetParam(rows.statuses.map(statusRow))],
    );
  }
  if (rows.lineage.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.lineage (customer_id, seq, currency, occurred_at, movement, subscription_id, subscription_before_cents, subscription_after_cents, stripe_event_id)
       SELECT * FROM ${recordset(LINEAGE_COLUMNS, 1)}`,
      [recordsetParam(rows.lineage.map(lineageRow))],
    );
  }
  if (rows.subscriptions.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.subscriptions (${Object.keys(SUBSCRIPTION_COLUMNS).join(', ')})
       SELECT * FROM ${recordset(SUBSCRIPTION_COLUMNS, 1)}`,
      [recordsetParam(valuesInKeyOrder(new Map(rows.subscriptions.map((x) => [x.state.subscriptionId, x]))).map(subscriptionRow))],
    );
  }
  if (rows.current.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.customer_mrr (customer_id, currency, mrr_cents, first_paid_at, last_movement_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])`,
      Array.from({ length: 5 }, (_, i) => col(rows.current, i)),
    );
  }
}

/** The MRR policy a version was created with (public.projection_versions.settings; none: the default). */
async function policyOf(client: DbClient, schema: string): Promise<MrrPolicy> {
  const res = await client.query<{ settings: unknown }>('SELECT settings FROM public.projection_versions WHERE schema_name = $1', [schema]);
  return parsePolicy(res.rows[0]?.settings ?? null);
}

/** Recomputes the timelines of `customers` from everything stored, and replaces their movements. */
export async function recompute(client: DbClient, schema: string, customers: readonly string[]): Promise<void> {
  if (customers.length === 0) return;
  // Serialize recomputes of a customer across concurrent batches (a late coupon reaches customers of
  // other partitions): after the lock, this transaction sees every version the other one committed.
  await lockKeys(client, `${schema}:customer`, customers);
  const inputs = await readInputs(client, schema, { ids: customers });
  const coupons = await readCoupons(client, schema, [...new Set(inputs.discounts.map((d) => d.coupon_id).filter((c): c is string => c !== null))]);
  const rows = derive(customers, inputs, coupons, await policyOf(client, schema));
  const gone = await client.query<{ customer_id: string; seq: number; currency: string; occurred_at: Date; movement: MovementType; delta_cents: string; mrr_before_cents: string; mrr_after_cents: string }>(
    `DELETE FROM ${schema}.movements WHERE customer_id = ANY($1::text[])
     RETURNING customer_id, seq, currency, occurred_at, movement, delta_cents, mrr_before_cents, mrr_after_cents`,
    [customers],
  );
  const goneStatuses = await client.query<{ customer_id: string; seq: number; currency: string; occurred_at: Date; past_due_before_cents: string; past_due_after_cents: string; scheduled_before_cents: string; scheduled_after_cents: string; stripe_event_id: string }>(
    `DELETE FROM ${schema}.status_changes WHERE customer_id = ANY($1::text[]) RETURNING *`,
    [customers],
  );
  await client.query(`DELETE FROM ${schema}.lineage WHERE customer_id = ANY($1::text[])`, [customers]);
  await client.query(`DELETE FROM ${schema}.subscriptions WHERE customer_id = ANY($1::text[])`, [customers]);
  await client.query(`DELETE FROM ${schema}.customer_mrr WHERE customer_id = ANY($1::text[])`, [customers]);
  await insertDerived(client, schema, rows);
  const sums = emptyAggregates();
  addMovements(sums, rows.facts, 1);
  addStatusChanges(sums, rows.statuses, 1);
  addStatusChanges(
    sums,
    goneStatuses.rows.map((r) => ({
      customerId: r.customer_id,
      currency: r.currency,
      seq: r.seq,
      occurredAt: r.occurred_at.getTime(),
      pastDueBeforeCents: Number(r.past_due_before_cents),
      pastDueAfterCents: Number(r.past_due_after_cents),
      scheduledBeforeCents: Number(r.scheduled_before_cents),
      scheduledAfterCents: Number(r.scheduled_after_cents),
      stripeEventId: r.stripe_event_id,
    })),
    -1,
  );
  addMovements(
    sums,
    gone.rows.map((r) => ({
      customerId: r.customer_id,
      currency: r.currency,
      seq: r.seq,
      occurredAt: r.occurred_at.getTime(),
      movement: r.movement,
      deltaCents: Number(r.delta_cents),
      mrrBeforeCents: Number(r.mrr_before_cents),
      mrrAfterCents: Number(r.mrr_after_cents),
    })),
    -1,
  );
  await addSums(client, schema, sums);
}

/**
 * Adds net contributions to the running sums, each table's rows in key order: concurrent batches
 * (two partitions) then wait for each other's rows instead of deadlocking.
 */
async function addSums(client: DbClient, schema: string, sums: Aggregates): Promise<void> {
  const daily = valuesInKeyOrder(sums.daily).filter((d) => d.movements !== 0 || d.deltaCents !== 0 || d.deltaCustomers !== 0 || d.deltaPastDueCents !== 0 || d.deltaScheduledChurnCents !== 0);
  if (daily.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.daily_sums AS t (currency, day, movements, delta_cents, delta_customers, delta_past_due_cents, delta_scheduled_churn_cents)
       SELECT * FROM ${recordset({ currency: 'text', day: 'date', movements: 'int', delta_cents: 'bigint', delta_customers: 'int', delta_past_due_cents: 'bigint', delta_scheduled_churn_cents: 'bigint' }, 1)}
       ON CONFLICT (currency, day) DO UPDATE SET movements = t.movements + excluded.movements, delta_cents = t.delta_cents + excluded.delta_cents,
         delta_customers = t.delta_customers + excluded.delta_customers, delta_past_due_cents = t.delta_past_due_cents + excluded.delta_past_due_cents,
         delta_scheduled_churn_cents = t.delta_scheduled_churn_cents + excluded.delta_scheduled_churn_cents`,
      [
        recordsetParam(
          daily.map((d) => ({
            currency: d.currency,
            day: d.day,
            movements: d.movements,
            delta_cents: d.deltaCents,
            delta_customers: d.deltaCustomers,
            delta_past_due_cents: d.deltaPastDueCents,
            delta_scheduled_churn_cents: d.deltaScheduledChurnCents,
          })),
        ),
      ],
    );
  }
  const monthly = valuesInKeyOrder(sums.monthly).filter((m) => m.movements !== 0 || m.deltaCustomers !== 0 || Object.values(m.sums).some((v) => v !== 0) || Object.values(m.counts).some((v) => v !== 0));
  if (monthly.length > 0) {
    const kinds = ['new', 'expansion', 'contraction', 'churn', 'reactivation'] as const satisfies readonly MovementType[];
    await client.query(
      `INSERT INTO ${schema}.monthly_sums AS t (currency, month, movements, ${kinds.map((k) => `${k}_cents`).join(', ')}, ${kinds.map((k) => `${k}_count`).join(', ')}, delta_customers)
       SELECT * FROM ${recordset(
         {
           currency: 'text',
           month: 'date',
           movements: 'int',
           ...Object.fromEntries(kinds.map((k) => [`${k}_cents`, 'bigint'])),
           ...Object.fromEntries(kinds.map((k) => [`${k}_count`, 'int'])),
           delta_customers: 'int',
         },
         1,
       )}
       ON CONFLICT (currency, month) DO UPDATE SET movements = t.movements + excluded.movements,
         ${[...kinds.map((k) => `${k}_cents`), ...kinds.map((k) => `${k}_count`), 'delta_customers'].map((c) => `${c} = t.${c} + excluded.${c}`).join(', ')}`,
      [
        recordsetParam(
          monthly.map((m) => ({
            currency: m.currency,
            month: m.month,
            movements: m.movements,
            ...Object.fromEntries(kinds.map((k) => [`${k}_cents`, m.sums[k]])),
            ...Object.fromEntries(kinds.map((k) => [`${k}_count`, m.counts[k]])),
            delta_customers: m.deltaCustomers,
          })),
        ),
      ],
    );
  }
  const cohorts = valuesInKeyOrder(sums.cohorts).filter((c) => c.members !== 0 || c.newCents !== 0 || c.retained !== 0 || c.retainedMrrCents !== 0);
  if (cohorts.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.cohort_changes AS t (cohort_month, currency, month, members, new_cents, retained, retained_mrr_cents)
       SELECT * FROM unnest($1::date[], $2::text[], $3::date[], $4::int[], $5::bigint[], $6::int[], $7::bigint[])
       ON CONFLICT (cohort_month, currency, month) DO UPDATE SET members = t.members + excluded.members, new_cents = t.new_cents + excluded.new_cents,
         retained = t.retained + excluded.retained, retained_mrr_cents = t.retained_mrr_cents + excluded.retained_mrr_cents`,
      [
        cohorts.map((c) => c.cohortMonth),
        cohorts.map((c) => c.currency),
        cohorts.map((c) => c.month),
        cohorts.map((c) => c.members),
        cohorts.map((c) => c.newCents),
        cohorts.map((c) => c.retained),
        cohorts.map((c) => c.retainedMrrCents),
      ],
    );
  }
}

/** Stores what MRR needs from a batch of Stripe events (a bulk rebuild's load: no recompute). */
export async function loadStripeEvents(client: DbClient, schema: string, events: readonly StripeEventReceived[], positions?: readonly RecordPosition[]): Promise<void> {
  const rows = emptyRows();
  events.forEach((e, i) => collect(rows, e, positions?.[i]));
  await insertFacts(client, schema, rows, false);
}

/**
 * A bulk rebuild's finish: every customer's timeline computed once, from everything loaded, in
 * chunks of contiguous customer ids read through the customer indexes (created here first).
 */
export async function deriveAll(client: DbClient, schema: string, log: Logger, chunk = 2000): Promise<{ customers: number; movements: number }> {
  // A finish that was killed left nothing (it is one transaction); these make it safe regardless.
  await client.query(`TRUNCATE ${schema}.movements, ${schema}.status_changes, ${schema}.lineage, ${schema}.subscriptions, ${schema}.customer_mrr, ${schema}.daily_sums, ${schema}.monthly_sums, ${schema}.cohort_changes`);
  await client.query(`CREATE INDEX IF NOT EXISTS subscription_versions_customer ON ${schema}.subscription_versions (customer_id)`);
  await client.query(`CREATE INDEX IF NOT EXISTS discount_versions_customer ON ${schema}.discount_versions (customer_id)`);
  await client.query(`ANALYZE ${schema}.subscription_versions, ${schema}.discount_versions, ${schema}.coupon_versions`);
  const ids = (
    await client.query<{ customer_id: string }>(
      `SELECT customer_id FROM ${schema}.subscription_versions UNION SELECT customer_id FROM ${schema}.discount_versions WHERE customer_id IS NOT NULL ORDER BY 1`,
    )
  ).rows.map((r) => r.customer_id);
  const coupons = await readCoupons(client, schema, null);
  const policy = await policyOf(client, schema);
  const sums = emptyAggregates();
  let movements = 0;
  for (let i = 0; i < ids.length; i += chunk) {
    const customers = ids.slice(i, i + chunk);
    const inputs = await readInputs(client, schema, { from: customers[0] as string, to: customers[customers.length - 1] as string });
    const rows = derive(customers, inputs, coupons, policy);
    movements += rows.movements.length;
    addMovements(sums, rows.facts, 1);
    addStatusChanges(sums, rows.statuses, 1);
    await insertDerived(client, schema, rows);
  }
  await addSums(client, schema, sums);
  await deriveAllInvoices(client, schema);
  await client.query(`ANALYZE ${schema}.invoices, ${schema}.movements, ${schema}.status_changes, ${schema}.lineage, ${schema}.subscriptions, ${schema}.customer_mrr, ${schema}.daily_sums, ${schema}.monthly_sums, ${schema}.cohort_changes`);
  log.info({ customers: ids.length, movements }, 'derived every customer timeline');
  return { customers: ids.length, movements };
}

/** Applies Stripe events to the MRR tables in `schema`. */
export async function applyStripeEvents(client: DbClient, schema: string, events: readonly StripeEventReceived[], positions?: readonly RecordPosition[]): Promise<{ customers: number }> {
  const rows = emptyRows();
  events.forEach((e, i) => collect(rows, e, positions?.[i]));
  const { customers, invoices } = await insertNew(client, schema, rows);
  await recompute(client, schema, [...customers].sort());
  await deriveInvoices(client, schema, invoices);
  return { customers: customers.size };
}
