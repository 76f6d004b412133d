/**
 * A customer's MRR timeline, pure: from every subscription version, discount and coupon definition
 * known for the customer, compute each change of its MRR (per currency) as a movement.
 *
 * Policy (ARCHITECTURE §6): a subscription's state at time t is the object in its latest event (by
 * created, ties by event id) at or before t. A referenced discount (and a coupon referenced by id)
 * resolves to its latest definition at or before t — or, when none is known yet at t, to the
 * earliest one after (the discount existed, since the subscription referenced it). A discount
 * deleted at or before t no longer applies. The result depends only on the set of inputs, never on
 * the order they arrived in.
 */
import { countingStatuses, DEFAULT_POLICY, monthlyCents, scheduledToCancel, type CouponTerms, type DiscountTerms, type MrrPolicy, type SubscriptionState } from './policy.ts';

export interface Point {
  /** Event time (Stripe `created`) in ms. */
  readonly at: number;
  readonly eventId: string;
}

export interface SubscriptionVersion extends Point {
  readonly state: SubscriptionState;
}
export interface DiscountVersion extends Point {
  readonly terms: DiscountTerms;
}
export interface CouponVersion extends Point {
  readonly couponId: string;
  readonly terms: CouponTerms | null;
}

export type MovementType = 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation';

export interface Movement {
  readonly customerId: string;
  readonly currency: string;
  /** Position in the customer's timeline (orders movements at the same instant). */
  readonly seq: number;
  readonly occurredAt: number;
  readonly movement: MovementType;
  readonly deltaCents: number;
  readonly mrrBeforeCents: number;
  readonly mrrAfterCents: number;
  readonly stripeEventId: string;
}

/**
 * A change of how a customer's MRR in a currency splits (mrr_status_daily): the part whose
 * subscriptions are past due, and the part set to cancel (cancel_at_period_end or cancel_at) that
 * still counts — each before and after, at the Stripe event's created time.
 */
export interface StatusChange {
  readonly customerId: string;
  readonly currency: string;
  readonly seq: number;
  readonly occurredAt: number;
  readonly pastDueBeforeCents: number;
  readonly pastDueAfterCents: number;
  readonly scheduledBeforeCents: number;
  readonly scheduledAfterCents: number;
  readonly stripeEventId: string;
}

/** One subscription's part of a movement (mrr_lineage): its MRR before and after the movement's event. */
export interface LineagePart {
  readonly customerId: string;
  readonly currency: string;
  /** The movement's seq. */
  readonly seq: number;
  readonly occurredAt: number;
  readonly movement: MovementType;
  readonly subscriptionId: string;
  readonly subscriptionBeforeCents: number;
  readonly subscriptionAfterCents: number;
  readonly stripeEventId: string;
}

/** A subscription as it stands (analytics.subscriptions): its latest version and its MRR now. */
export interface SubscriptionNow {
  readonly customerId: string;
  readonly state: SubscriptionState;
  readonly mrrCents: number;
  /** The latest version's event time and id. */
  readonly updatedAt: number;
  readonly lastEventId: string;
  /** The first version trialing, and the first after it that counts (active or past_due): a trial and its conversion. */
  readonly trialStartedAt: number | null;
  readonly convertedAt: number | null;
}

export interface CustomerMrr {
  readonly customerId: string;
  readonly currency: string;
  readonly mrrCents: number;
  readonly firstPaidAt: number | null;
  readonly lastMovementAt: number;
}

export function comparePoints(a: Point, b: Point): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/** The version in force at `p`: the latest at or before it, else (when `fallForward`) the earliest after it. */
function resolve<V extends Point>(sorted: readonly V[] | undefined, p: Point, fallForward: boolean): { version: V; index: number; atOrBefore: boolean } | null {
  if (!sorted || sorted.length === 0) return null;
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (comparePoints(sorted[mid] as V, p) <= 0) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found >= 0) return { version: sorted[found] as V, index: found, atOrBefore: true };
  return fallForward ? { version: sorted[0] as V, index: 0, atOrBefore: false } : null;
}

function groupSorted<V extends Point>(items: readonly V[], keyOf: (v: V) => string): Map<string, V[]> {
  const out = new Map<string, V[]>();
  for (const v of items) {
    const list = out.get(keyOf(v)) ?? [];
    list.push(v);
    out.set(keyOf(v), list);
  }
  for (const list of out.values()) list.sort(comparePoints);
  return out;
}

export function customerTimeline(
  customerId: string,
  subscriptions: readonly SubscriptionVersion[],
  discounts: readonly DiscountVersion[],
  coupons: readonly CouponVersion[],
  policy: MrrPolicy = DEFAULT_POLICY,
): { movements: Movement[]; current: CustomerMrr[]; statuses: StatusChange[]; lineage: LineagePart[]; subscriptions: SubscriptionNow[] } {
  const subsById = groupSorted(subscriptions, (v) => v.state.subscriptionId);
  const discountsById = groupSorted(discounts, (v) => v.terms.discountId);
  const couponsById = groupSorted(coupons, (v) => v.couponId);

  // past_due: churn_after_days N. Each run of past-due versions is an episode from the first one's
  // time; N days later the subscription stops counting, a point of the timeline of its own (dated
  // then, attributed to the event that made it past due; ahead of now until the days have passed).
  const days = policy.pastDueChurnAfterDays;
  const pastDueSince = new Map<string, (Point | null)[]>();
  const churnPoints: Point[] = [];
  if (days !== null) {
    for (const [id, versions] of subsById) {
      let since: Point | null = null;
      const starts = versions.map((v) => {
        since = v.state.status === 'past_due' ? (since ?? v) : null;
        return since;
      });
      pastDueSince.set(id, starts);
      starts.forEach((start, i) => {
        if (start === versions[i]) churnPoints.push({ at: start.at + days * 86_400_000, eventId: start.eventId });
      });
    }
  }
  const churnedPastDue = (subscriptionId: string, index: number, p: Point): boolean => {
    if (days === null) return false;
    const start = pastDueSince.get(subscriptionId)?.[index];
    return start !== null && start !== undefined && p.at >= start.at + days * 86_400_000;
  };

  const points = [...subscriptions, ...discounts, ...coupons, ...churnPoints].map((v) => ({ at: v.at, eventId: v.eventId })).sort(comparePoints);
  const unique = points.filter((p, i) => i === 0 || comparePoints(p, points[i - 1] as Point) !== 0);

  const couponAt = (couponId: string, p: Point): CouponTerms | null => resolve(couponsById.get(couponId), p, true)?.version.terms ?? null;
  const discountAt = (discountId: string, p: Point): CouponTerms | null => {
    const r = resolve(discountsById.get(discountId), p, true);
    if (!r) return null;
    if (r.version.terms.deleted && r.atOrBefore) return null;
    return r.version.terms.coupon ?? (r.version.terms.couponId ? couponAt(r.version.terms.couponId, p) : null);
  };

  const movements: Movement[] = [];
  const statuses: StatusChange[] = [];
  const lineage: LineagePart[] = [];
  /** Each subscription's MRR at the previous point, by `currency|subscription id`. */
  let bySubscription = new Map<string, number>();
  const mrr = new Map<string, number>();
  const split = new Map<string, { pastDue: number; scheduled: number }>();
  const hadNew = new Set<string>();
  for (const p of unique) {
    const totals = new Map<string, number>();
    const subsNow = new Map<string, number>();
    const parts = new Map<string, { pastDue: number; scheduled: number }>();
    for (const versions of subsById.values()) {
      const r = resolve(versions, p, false);
      if (!r) continue;
      const state = r.version.state;
      const referenced = state.discountIds.map((id) => discountAt(id, p)).filter((c): c is CouponTerms => c !== null);
      const cents = churnedPastDue(state.subscriptionId, r.index, p) ? 0 : monthlyCents(state, referenced, policy);
      totals.set(state.currency, (totals.get(state.currency) ?? 0) + cents);
      if (cents !== 0) subsNow.set(`${state.currency}|${state.subscriptionId}`, cents);
      const part = parts.get(state.currency) ?? { pastDue: 0, scheduled: 0 };
      parts.set(state.currency, {
        pastDue: part.pastDue + (state.status === 'past_due' ? cents : 0),
        scheduled: part.scheduled + (scheduledToCancel(state) ? cents : 0),
      });
    }
    for (const currency of [...new Set([...split.keys(), ...parts.keys()])].sort()) {
      const before = split.get(currency) ?? { pastDue: 0, scheduled: 0 };
      const after = parts.get(currency) ?? { pastDue: 0, scheduled: 0 };
      if (before.pastDue === after.pastDue && before.scheduled === after.scheduled) continue;
      statuses.push({
        customerId,
        currency,
        seq: statuses.length,
        occurredAt: p.at,
        pastDueBeforeCents: before.pastDue,
        pastDueAfterCents: after.pastDue,
        scheduledBeforeCents: before.scheduled,
        scheduledAfterCents: after.scheduled,
        stripeEventId: p.eventId,
      });
      split.set(currency, after);
    }
    const currencies = new Set([...mrr.keys(), ...totals.keys()]);
    for (const currency of [...currencies].sort()) {
      const before = mrr.get(currency) ?? 0;
      const after = totals.get(currency) ?? 0;
      if (before === after) continue;
      let movement: MovementType;
      if (before === 0) movement = hadNew.has(currency) ? 'reactivation' : 'new';
      else if (after === 0) movement = 'churn';
      else movement = after > before ? 'expansion' : 'contraction';
      if (movement === 'new') hadNew.add(currency);
      for (const key of [...new Set([...bySubscription.keys(), ...subsNow.keys()])].filter((k) => k.startsWith(`${currency}|`)).sort()) {
        const was = bySubscription.get(key) ?? 0;
        const is = subsNow.get(key) ?? 0;
        if (was === is) continue;
        lineage.push({
          customerId,
          currency,
          seq: movements.length,
          occurredAt: p.at,
          movement,
          subscriptionId: key.slice(currency.length + 1),
          subscriptionBeforeCents: was,
          subscriptionAfterCents: is,
          stripeEventId: p.eventId,
        });
      }
      movements.push({
        customerId,
        currency,
        seq: movements.length,
        occurredAt: p.at,
        movement,
        deltaCents: after - before,
        mrrBeforeCents: before,
        mrrAfterCents: after,
        stripeEventId: p.eventId,
      });
      mrr.set(currency, after);
    }
    bySubscription = subsNow;
  }

  const current: CustomerMrr[] = [...mrr.keys()].sort().map((currency) => {
    const mine = movements.filter((m) => m.currency === currency);
    const first = mine.find((m) => m.movement === 'new');
    return {
      customerId,
      currency,
      mrrCents: mrr.get(currency) ?? 0,
      firstPaidAt: first ? first.occurredAt : null,
      lastMovementAt: (mine[mine.length - 1] as Movement).occurredAt,
    };
  });
  const subscriptionsNow: SubscriptionNow[] = [...subsById.values()].map((versions) => {
    const latest = versions[versions.length - 1] as SubscriptionVersion;
    const trial = versions.find((v) => v.state.status === 'trialing');
    const paid = trial ? versions.find((v) => comparePoints(v, trial) > 0 && countingStatuses.has(v.state.status)) : undefined;
    return {
      customerId,
      state: latest.state,
      mrrCents: bySubscription.get(`${latest.state.currency}|${latest.state.subscriptionId}`) ?? 0,
      updatedAt: latest.at,
      lastEventId: latest.eventId,
      trialStartedAt: trial?.at ?? null,
      convertedAt: paid?.at ?? null,
    };
  });
  return { movements, current, statuses, lineage, subscriptions: subscriptionsNow };
}
