/**
 * Reconciliation with Stripe: lists every subscription through Stripe's API and compares its
 * status, items (price and quantity) and MRR under Eventline's policy with `analytics.subscriptions`,
 * the read model built from the events Eventline received. A drift means events were missed (a
 * webhook endpoint down longer than Stripe retries, a misconfigured endpoint); the repair is the
 * backfill from Stripe's events API, which keeps about 30 days, so each drift says whether its
 * events are still within reach.
 */
import type Stripe from 'stripe';
import type { Runtime } from '../../lib/runtime.ts';
import { monthlyCents, parseSubscription } from '../../projections/mrr/policy.ts';
import { STRIPE_EVENT_RETENTION_DAYS } from './backfill.ts';

export type DriftKind = 'missing' | 'status' | 'items' | 'mrr' | 'unknown_to_stripe';

export interface Drift {
  readonly subscriptionId: string;
  readonly customerId: string | null;
  readonly kinds: readonly DriftKind[];
  readonly stripe: { readonly status: string; readonly items: string; readonly mrrCents: number | null } | null;
  readonly eventline: { readonly status: string; readonly items: string; readonly mrrCents: number; readonly updatedAt: Date } | null;
  /** The likely cause, in words. */
  readonly cause: string;
  /** Whether the events it needs are within Stripe's event retention (a backfill can fetch them). */
  readonly backfillable: boolean;
}

export interface ReconcileReport {
  readonly stripeSubscriptions: number;
  readonly eventlineSubscriptions: number;
  readonly matching: number;
  readonly drifts: readonly Drift[];
}

interface Row {
  subscription_id: string;
  customer_id: string;
  status: string;
  items: { price_id: string | null; quantity: number }[];
  mrr_cents: string;
  updated_at: Date;
}

const DAY = 86_400_000;

/** Items as comparable text: `price × quantity`, sorted. */
const itemsText = (items: readonly { priceId: string | null; quantity: number }[]): string =>
  items
    .map((i) => `${i.priceId ?? '?'} × ${i.quantity}`)
    .sort()
    .join(', ');

/** What analytics.subscriptions says of a subscription, as a drift shows it. */
const ourSide = (row: Row) => ({ status: row.status, items: itemsText(row.items.map((i) => ({ priceId: i.price_id, quantity: i.quantity }))), mrrCents: Number(row.mrr_cents), updatedAt: row.updated_at });

/** Every subscription Stripe has (any status), through the SDK's auto-pagination. */
async function listSubscriptions(stripe: Stripe): Promise<Stripe.Subscription[]> {
  const out: Stripe.Subscription[] = [];
  for await (const s of stripe.subscriptions.list({ status: 'all', limit: 100 })) out.push(s);
  return out;
}

export async function reconcileStripe(rt: Runtime, stripe: Stripe, now = Date.now()): Promise<ReconcileReport> {
  const listed = await listSubscriptions(stripe);
  const rows = (await rt.db.query<Row>('SELECT subscription_id, customer_id, status, items, mrr_cents::text, updated_at FROM analytics.subscriptions')).rows;
  const ours = new Map(rows.map((r) => [r.subscription_id, r]));
  const withinRetention = (at: number) => now - at < STRIPE_EVENT_RETENTION_DAYS * DAY;
  const drifts: Drift[] = [];
  let matching = 0;
  for (const s of listed) {
    const state = parseSubscription(s);
    const theirs = {
      status: s.status,
      items: itemsText(state?.items.map((i) => ({ priceId: i.priceId, quantity: i.quantity })) ?? []),
      // Discounts referenced by id resolve through discount events, which the API object does not carry.
      mrrCents: state && state.discountIds.length === 0 ? monthlyCents(state, []) : null,
    };
    const mine = ours.get(s.id);
    ours.delete(s.id);
    if (!mine) {
      const backfillable = withinRetention(s.created * 1000);
      drifts.push({
        subscriptionId: s.id,
        customerId: typeof s.customer === 'string' ? s.customer : s.customer.id,
        kinds: ['missing'],
        stripe: theirs,
        eventline: null,
        cause: `no event of it reached stripe.events.v1 (created ${new Date(s.created * 1000).toISOString()})`,
        backfillable,
      });
      continue;
    }
    const eventline = ourSide(mine);
    const kinds: DriftKind[] = [];
    if (eventline.status !== theirs.status) kinds.push('status');
    if (eventline.items !== theirs.items) kinds.push('items');
    if (theirs.mrrCents !== null && theirs.mrrCents !== eventline.mrrCents) kinds.push('mrr');
    if (kinds.length === 0) {
      matching++;
      continue;
    }
    drifts.push({
      subscriptionId: s.id,
      customerId: mine.customer_id,
      kinds,
      stripe: theirs,
      eventline,
      cause: `events after its version of ${mine.updated_at.toISOString()} were missed`,
      backfillable: withinRetention(mine.updated_at.getTime()),
    });
  }
  for (const mine of ours.values()) {
    drifts.push({
      subscriptionId: mine.subscription_id,
      customerId: mine.customer_id,
      kinds: ['unknown_to_stripe'],
      stripe: null,
      eventline: ourSide(mine),
      cause: 'Stripe does not list it: events from another Stripe account or test mode, or a subscription deleted there',
      backfillable: false,
    });
  }
  drifts.sort((a, b) => (a.subscriptionId < b.subscriptionId ? -1 : 1));
  return { stripeSubscriptions: listed.length, eventlineSubscriptions: rows.length, matching, drifts };
}
