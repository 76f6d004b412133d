/**
 * A deterministic, realistic Stripe event history for a subscription business: the demo dataset,
 * the projection benchmark and the crash test all use it. For each customer: customer.created,
 * subscription created (often with a trial), monthly or annual invoices with their charges, failed
 * payments (most recovered, some ending in past_due → unpaid/canceled), upgrades and downgrades of
 * plan or seats, coupons, and cancellations at period end or immediately. The account's pinned API
 * version moves forward over time (2024-06-20 → acacia → basil → clover), like a real account.
 */
import { createHash } from 'node:crypto';
import { charge, coupon, customer, discount, event, invoice, subscription, type ApiVersion, type CouponSpec, type ItemSpec } from './stripe-objects.ts';

const DAY = 86_400;

/** A small seeded PRNG (mulberry32): the same seed gives the same history. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Plan {
  readonly name: string;
  readonly item: ItemSpec;
  readonly seats?: boolean;
}

const plans: readonly Plan[] = [
  { name: 'starter', item: { unitAmount: 1900, priceId: 'price_starter_m' } },
  { name: 'pro', item: { unitAmount: 4900, priceId: 'price_pro_m' } },
  { name: 'team', item: { unitAmount: 1500, priceId: 'price_team_seat_m' }, seats: true },
  { name: 'pro-annual', item: { unitAmount: 49000, interval: 'year', priceId: 'price_pro_y' } },
  { name: 'business-quarterly', item: { unitAmount: 36000, interval: 'month', intervalCount: 3, priceId: 'price_biz_q' } },
];

const coupons: readonly CouponSpec[] = [
  { id: 'LAUNCH20', percentOff: 20 },
  { id: 'FRIENDS50', percentOff: 50, duration: 'repeating' },
  { id: 'SAVE10USD', amountOff: 1000, currency: 'usd' },
];

const domains = ['gmail.com', 'outlook.com', 'acme.io', 'example.com', 'fastmail.com', 'proton.me', 'mailinator.com'];
const firstNames = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Emeka', 'Fatima', 'Goran', 'Hana', 'Ines', 'Jonas', 'Keiko', 'Liam', 'Maya', 'Noor', 'Olu', 'Priya'];

export function apiVersionAt(seconds: number): ApiVersion {
  if (seconds < Date.UTC(2024, 9, 28) / 1000) return '2024-06-20';
  if (seconds < Date.UTC(2025, 2, 31) / 1000) return '2024-10-28.acacia';
  if (seconds < Date.UTC(2025, 8, 30) / 1000) return '2025-03-31.basil';
  return '2025-09-30.clover';
}

export interface HistoryOptions {
  readonly customers: number;
  readonly seed?: number;
  /** First signup (unix seconds). */
  readonly from: number;
  /** Nothing happens after this (unix seconds). */
  readonly to: number;
  /** Customer id prefix, so several histories can share a topic. */
  readonly prefix?: string;
}

/** Stripe events (as webhooks deliver them) sorted by created. */
export function stripeHistory(options: HistoryOptions): Record<string, unknown>[] {
  const rand = prng(options.seed ?? 42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  const out: Record<string, unknown>[] = [];
  let counter = 0;
  const id = (prefix: string) => `${prefix}_${createHash('sha256').update(`${options.seed ?? 42}:${options.prefix ?? ''}:${counter++}`).digest('base64url').replace(/[-_]/g, 'x').slice(0, 24)}`;
  const push = (type: string, at: number, object: Record<string, unknown>, previousAttributes?: Record<string, unknown>) => {
    if (at > options.to) return;
    out.push(event(apiVersionAt(at), { id: id('evt'), type, created: Math.floor(at), object, ...(previousAttributes ? { previousAttributes } : {}) }));
  };
  const announced = new Set<string>();

  for (let c = 0; c < options.customers; c++) {
    const cus = `cus_${options.prefix ?? ''}${String(c).padStart(6, '0')}`;
    const signup = options.from + Math.floor(rand() * Math.max(1, options.to - options.from - 7 * DAY));
    const currency = rand() < 0.8 ? 'usd' : rand() < 0.6 ? 'eur' : 'gbp';
    const name = pick(firstNames);
    const email = `${name.toLowerCase().replace(/[^a-z]/g, '')}.${c}@${pick(domains)}`;
    const userId = rand() < 0.7 ? `user_${options.prefix ?? ''}${c}` : undefined;
    push('customer.created', signup, customer({ id: cus, email, name, phone: rand() < 0.5 ? `+1415555${String(c % 10000).padStart(4, '0')}` : null, created: signup, ...(userId ? { userId } : {}), country: currency === 'usd' ? 'US' : currency === 'eur' ? 'DE' : 'GB' }));

    let plan = pick(plans);
    let seats = plan.seats ? 2 + Math.floor(rand() * 18) : 1;
    const subId = `sub_${options.prefix ?? ''}${String(c).padStart(6, '0')}`;
    const trial = rand() < 0.4;
    const withCoupon = rand() < 0.12 ? pick(coupons) : null;
    const usableCoupon = withCoupon && (withCoupon.amountOff === undefined || currency === 'usd') ? withCoupon : null;
    let discountId: string | null = null;
    const items = (): ItemSpec[] => [{ ...plan.item, currency, quantity: seats }];
    const sub = (at: number, status: string, extra: { cancelAtPeriodEnd?: boolean; canceledAt?: number | null } = {}) => {
      const v = apiVersionAt(at);
      const basil = v >= '2025-03-31';
      return subscription(v, {
        id: subId,
        customer: cus,
        status,
        items: items(),
        created: Math.floor(signup),
        currency,
        ...extra,
        ...(trial ? { trialEnd: Math.floor(signup + 14 * DAY) } : {}),
        coupon: !basil && usableCoupon && discountId ? usableCoupon : null,
        discountIds: basil && discountId ? [discountId] : [],
        ...(userId ? { metadata: { user_id: userId } } : {}),
      });
    };

    let t = signup + 60;
    if (usableCoupon) {
      const v = apiVersionAt(t);
      if (!announced.has(usableCoupon.id) && v >= '2025-09-30') {
        announced.add(usableCoupon.id);
        push('coupon.created', options.from - DAY, coupon(usableCoupon));
      }
      discountId = id('di');
      push('customer.discount.created', t, discount(v, { id: discountId, customer: cus, subscription: subId, coupon: usableCoupon, start: Math.floor(t) }));
    }
    push('customer.subscription.created', t, sub(t, trial ? 'trialing' : 'active'));
    if (trial) {
      push('customer.subscription.trial_will_end', signup + 11 * DAY, sub(signup + 11 * DAY, 'trialing'));
      t = signup + 14 * DAY;
      if (rand() < 0.3) {
        push('customer.subscription.deleted', t, sub(t, 'canceled', { canceledAt: Math.floor(t) }), { status: 'trialing' });
        continue;
      }
      push('customer.subscription.updated', t, sub(t, 'active'), { status: 'trialing' });
    }

    // Billing periods until churn or the end of the window.
    const periodDays = plan.item.interval === 'year' ? 365 : plan.item.intervalCount === 3 ? 91 : 30;
    let status = 'active';
    for (let period = 0; t <= options.to; period++) {
      const amount = Math.round((plan.item.unitAmount * seats * (usableCoupon?.percentOff ? 100 - usableCoupon.percentOff : 100)) / 100);
      const inv = id('in');
      push('invoice.created', t, invoice(apiVersionAt(t), { id: inv, customer: cus, subscription: subId, amountDue: amount, currency, status: 'draft', created: Math.floor(t) }));
      push('invoice.finalized', t + 3600, invoice(apiVersionAt(t), { id: inv, customer: cus, subscription: subId, amountDue: amount, currency, status: 'open', created: Math.floor(t) }));
      if (rand() < 0.06) {
        // Payment fails; Stripe retries on day 3, 5, 7.
        push('charge.failed', t + 3700, charge({ id: id('ch'), customer: cus, amount, currency, created: Math.floor(t + 3700), status: 'failed', email }));
        push('invoice.payment_failed', t + 3700, invoice(apiVersionAt(t), { id: inv, customer: cus, subscription: subId, amountDue: amount, currency, status: 'open', attemptCount: 1, created: Math.floor(t), nextPaymentAttempt: Math.floor(t + 3 * DAY) }));
        push('customer.subscription.updated', t + 3800, sub(t + 3800, 'past_due'), { status: 'active' });
        status = 'past_due';
        if (rand() < 0.65) {
          const paidAt = t + (1 + Math.floor(rand() * 6)) * DAY;
          push('charge.succeeded', paidAt, charge({ id: id('ch'), customer: cus, amount, currency, created: Math.floor(paidAt), email }));
          push('invoice.paid', paidAt, invoice(apiVersionAt(paidAt), { id: inv, customer: cus, subscription: subId, amountDue: amount, currency, status: 'paid', attemptCount: 2, created: Math.floor(t) }));
          push('customer.subscription.updated', paidAt + 60, sub(paidAt + 60, 'active'), { status: 'past_due' });
          status = 'active';
        } else {
          const endAt = t + 15 * DAY;
          const final = rand() < 0.5 ? 'unpaid' : 'canceled';
          push(final === 'canceled' ? 'customer.subscription.deleted' : 'customer.subscription.updated', endAt, sub(endAt, final, final === 'canceled' ? { canceledAt: Math.floor(endAt) } : {}), { status: 'past_due' });
          status = final;
          break;
        }
      } else {
        push('charge.succeeded', t + 3700, charge({ id: id('ch'), customer: cus, amount, currency, created: Math.floor(t + 3700), email }));
        push('invoice.paid', t + 3700, invoice(apiVersionAt(t), { id: inv, customer: cus, subscription: subId, amountDue: amount, currency, status: 'paid', created: Math.floor(t) }));
      }
      const next = t + periodDays * DAY;
      const r = rand();
      if (r < 0.03 * (periodDays / 30)) {
        // Churn: mostly at period end, sometimes right away.
        const at = t + Math.floor(rand() * (periodDays - 2)) * DAY + DAY;
        if (rand() < 0.7) {
          push('customer.subscription.updated', at, sub(at, status, { cancelAtPeriodEnd: true }), { cancel_at_period_end: false });
          push('customer.subscription.deleted', next, sub(next, 'canceled', { cancelAtPeriodEnd: true, canceledAt: Math.floor(at) }), { status });
        } else {
          push('customer.subscription.deleted', at, sub(at, 'canceled', { canceledAt: Math.floor(at) }), { status });
        }
        break;
      } else if (r < 0.1) {
        // Upgrade, downgrade or seat change mid-period.
        const at = t + Math.floor(rand() * (periodDays - 2)) * DAY + DAY;
        const previous = { items: { data: [{ price: { id: plan.item.priceId } }] }, quantity: seats };
        if (plan.seats && rand() < 0.7) seats = Math.max(1, seats + (rand() < 0.7 ? 1 + Math.floor(rand() * 5) : -1));
        else plan = pick(plans.filter((p) => p.item.interval === plan.item.interval && p.item.intervalCount === plan.item.intervalCount)) ?? plan;
        if (!plan.seats) seats = 1;
        push('customer.subscription.updated', at, sub(at, status), previous);
      }
      t = next;
    }
  }
  return out.sort((a, b) => (a.created as number) - (b.created as number) || String(a.id).localeCompare(String(b.id)));
}
