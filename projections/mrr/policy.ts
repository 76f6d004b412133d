/**
 * The MRR policy (ARCHITECTURE §6), pure: the subscription, discount and coupon terms MRR needs,
 * taken from Stripe payloads of every API version from 2024-06-20 on (read by lib/stripe), and a
 * subscription's monthly value in cents.
 *
 * Arithmetic is exact (rationals over BigInt) and rounds once, per subscription, to the nearest cent
 * half away from zero.
 */
import { EventlineError } from '../../lib/errors.ts';
import { readCoupon, readDiscount, readSubscription, record, text, type StripeCoupon, type StripeSubscriptionItem } from '../../lib/stripe/index.ts';

// ---------------------------------------------------------------- exact arithmetic
export interface Rational {
  readonly n: bigint;
  readonly d: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x === 0n ? 1n : x;
}

export function rat(n: bigint, d = 1n): Rational {
  if (d === 0n) throw new RangeError('zero denominator');
  const sign = d < 0n ? -1n : 1n;
  const g = gcd(n, d);
  return { n: (sign * n) / g, d: (sign * d) / g };
}

export const ZERO = rat(0n);
export const add = (a: Rational, b: Rational): Rational => rat(a.n * b.d + b.n * a.d, a.d * b.d);
export const sub = (a: Rational, b: Rational): Rational => rat(a.n * b.d - b.n * a.d, a.d * b.d);
export const mul = (a: Rational, b: Rational): Rational => rat(a.n * b.n, a.d * b.d);
export const isNegative = (a: Rational): boolean => a.n < 0n;

/** Parses a decimal number or string ("12", "12.345", 33.3) exactly. */
export function decimal(value: number | string): Rational | null {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? value.toString() : '') : value.trim();
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!m) return null;
  const [, sign, int, frac = '', exp = '0'] = m;
  let r = rat(BigInt(`${sign}${int}${frac}`), 10n ** BigInt(frac.length));
  const e = Number(exp);
  if (e > 0) r = mul(r, rat(10n ** BigInt(e)));
  if (e < 0) r = mul(r, rat(1n, 10n ** BigInt(-e)));
  return r;
}

/** Nearest integer, half away from zero. */
export function roundHalfAwayFromZero(a: Rational): number {
  const negative = a.n < 0n;
  const n = negative ? -a.n : a.n;
  const q = n / a.d;
  const r = n % a.d;
  const rounded = 2n * r >= a.d ? q + 1n : q;
  return Number(negative ? -rounded : rounded);
}

// ---------------------------------------------------------------- subscription state
export type Interval = 'day' | 'week' | 'month' | 'year';

/** A tier of a tiered price: up to `upTo` units (null: the last, unbounded), a unit and a flat amount (minor units). */
export interface PriceTier {
  readonly upTo: number | null;
  readonly unitAmount: Rational;
  readonly flatAmount: Rational;
}

export interface PriceTerms {
  /** Unit amount in minor units (exact; sub-cent prices allowed), or null when not per-unit (tiered). */
  readonly unitAmount: Rational | null;
  /** A tiered price's tiers and mode, when the payload carries them (else the item counts 0). */
  readonly tiers: { readonly mode: 'graduated' | 'volume'; readonly tiers: readonly PriceTier[] } | null;
  readonly interval: Interval;
  readonly intervalCount: number;
  readonly metered: boolean;
  readonly currency: string;
}

export interface ItemState {
  readonly price: PriceTerms;
  readonly quantity: number;
  /** The price's (or legacy plan's) id, for analytics.subscriptions; null when the payload has none. */
  readonly priceId: string | null;
}

export interface CouponTerms {
  readonly percentOff: Rational | null;
  readonly amountOff: number | null;
  readonly currency: string | null;
  /** `forever`, `once` or `repeating`; null when unknown (the policy `forever_only` then counts it as forever). */
  readonly duration?: string | null;
}

export interface SubscriptionState {
  readonly subscriptionId: string;
  readonly customerId: string;
  readonly currency: string;
  readonly status: string;
  readonly cancelAtPeriodEnd: boolean;
  /** `cancel_at` (ms): a cancellation scheduled for a date; null when none. */
  readonly cancelAt: number | null;
  /** `trial_end` and `canceled_at` (ms), for analytics.subscriptions. */
  readonly trialEnd: number | null;
  readonly canceledAt: number | null;
  readonly items: readonly ItemState[];
  /** Discounts whose coupon travels with the subscription (legacy `discount.coupon`, expanded discounts). */
  readonly embeddedCoupons: readonly CouponTerms[];
  /** Discounts referenced by id (2025-03-31.basil and later), resolved through customer.discount.* events. */
  readonly discountIds: readonly string[];
}

/** How a referenced discount applies: its coupon (embedded), or the coupon id to resolve through coupon.* events. */
export interface DiscountTerms {
  readonly discountId: string;
  readonly customerId: string | null;
  readonly subscriptionId: string | null;
  readonly coupon: CouponTerms | null;
  readonly couponId: string | null;
  readonly deleted: boolean;
}

/** Statuses whose subscriptions count towards MRR. */
export const countingStatuses: ReadonlySet<string> = new Set(['active', 'past_due']);

type Json = Record<string, unknown>;

const intervals: ReadonlySet<string> = new Set(['day', 'week', 'month', 'year']);

/** A tiered price's tiers, sorted by `up_to` (the unbounded one last); null when absent or unreadable. */
function readTiers(item: Pick<StripeSubscriptionItem, 'tiersMode' | 'tiers'>): PriceTerms['tiers'] {
  const mode = item.tiersMode === 'graduated' || item.tiersMode === 'volume' ? item.tiersMode : null;
  if (mode === null || item.tiers === null || item.tiers.length === 0) return null;
  const tiers: PriceTier[] = [];
  for (const raw of item.tiers) {
    if (typeof raw !== 'object' || raw === null) return null;
    const t = raw as Json;
    const upTo = t.up_to === 'inf' || t.up_to === null || t.up_to === undefined ? null : typeof t.up_to === 'number' && t.up_to >= 0 ? t.up_to : NaN;
    if (Number.isNaN(upTo)) return null;
    const amount = (integer: unknown, dec: unknown): Rational | null =>
      typeof integer === 'number' && Number.isFinite(integer) ? rat(BigInt(Math.trunc(integer))) : typeof dec === 'string' ? decimal(dec) : integer === null || integer === undefined ? rat(0n) : null;
    const unit = amount(t.unit_amount, t.unit_amount_decimal);
    const flat = amount(t.flat_amount, t.flat_amount_decimal);
    if (unit === null || flat === null) return null;
    tiers.push({ upTo, unitAmount: unit, flatAmount: flat });
  }
  tiers.sort((a, b) => (a.upTo ?? Infinity) - (b.upTo ?? Infinity));
  return { mode, tiers };
}

/**
 * What a tiered price charges for `quantity` units a period (minor units, exact). Graduated: each
 * tier's units at its unit amount, plus the flat amount of every tier reached; volume: every unit at
 * the unit amount of the tier the quantity falls in, plus that tier's flat amount. No units: 0.
 */
export function tieredAmount(tiered: NonNullable<PriceTerms['tiers']>, quantity: number): Rational {
  const q = Math.max(0, Math.trunc(quantity));
  if (q === 0) return ZERO;
  if (tiered.mode === 'volume') {
    const tier = tiered.tiers.find((t) => t.upTo === null || q <= t.upTo) ?? (tiered.tiers[tiered.tiers.length - 1] as PriceTier);
    return add(mul(tier.unitAmount, rat(BigInt(q))), tier.flatAmount);
  }
  let total = ZERO;
  let below = 0;
  for (const tier of tiered.tiers) {
    const top = tier.upTo === null ? q : Math.min(q, tier.upTo);
    const units = top - below;
    if (units <= 0) break;
    total = add(total, add(mul(tier.unitAmount, rat(BigInt(units))), tier.flatAmount));
    below = top;
    if (top >= q) break;
  }
  return total;
}

/**
 * The tiers of a Price object as Stripe's API returns it with `expand[]=tiers` (kept on
 * stripe.events.v1 as an eventline.price_fetched record): null when it is not a tiered price or its
 * tiers are missing or unreadable.
 */
export function readPriceTiers(price: unknown): { priceId: string; tiers: NonNullable<PriceTerms['tiers']> } | null {
  const p = record(price);
  const id = p ? text(p.id) : null;
  if (!p || id === null || p.billing_scheme !== 'tiered') return null;
  const tiers = readTiers({ tiersMode: text(p.tiers_mode), tiers: Array.isArray(p.tiers) ? (p.tiers as unknown[]) : null });
  return tiers ? { priceId: id, tiers } : null;
}

/**
 * A subscription state whose tiered items arrived without their tiers (webhooks do not expand
 * them), completed with the tiers fetched for those prices; items that have theirs stay as sent.
 */
export function withFetchedTiers(state: SubscriptionState, fetched: ReadonlyMap<string, NonNullable<PriceTerms['tiers']>>): SubscriptionState {
  if (fetched.size === 0) return state;
  let changed = false;
  const items = state.items.map((item) => {
    const tiers = item.price.unitAmount === null && item.price.tiers === null && item.priceId !== null ? fetched.get(item.priceId) : undefined;
    if (!tiers) return item;
    changed = true;
    return { ...item, price: { ...item.price, tiers } };
  });
  return changed ? { ...state, items } : state;
}

/** The stored form of fetched tiers (as in a stored subscription state). */
export function encodeTiers(t: NonNullable<PriceTerms['tiers']>): Json {
  return { mode: t.mode, tiers: t.tiers.map((x) => ({ up_to: x.upTo, unit_amount: encodeRat(x.unitAmount), flat_amount: encodeRat(x.flatAmount) })) };
}

function priceTerms(item: StripeSubscriptionItem, fallbackCurrency: string): PriceTerms | null {
  // The reader takes `price` (current versions), else the legacy `plan`.
  const interval = item.interval;
  if (interval === null || !intervals.has(interval)) return null;
  const unit = item.unitAmount !== null ? rat(BigInt(Math.trunc(item.unitAmount))) : item.unitAmountDecimal !== null ? decimal(item.unitAmountDecimal) : null;
  return {
    unitAmount: item.billingScheme === 'tiered' ? null : unit,
    tiers: item.billingScheme === 'tiered' ? readTiers(item) : null,
    interval: interval as Interval,
    intervalCount: item.intervalCount,
    metered: item.usageType === 'metered',
    currency: item.currency ?? fallbackCurrency,
  };
}

/** The terms of a coupon as read from Stripe: null when it has neither percent_off nor amount_off. */
export function couponTerms(coupon: StripeCoupon | null): CouponTerms | null {
  if (coupon === null) return null;
  const percent = coupon.percentOff !== null ? decimal(coupon.percentOff) : null;
  const amount = coupon.amountOff !== null ? Math.trunc(coupon.amountOff) : null;
  if (percent === null && amount === null) return null;
  return { percentOff: percent, amountOff: amount, currency: coupon.currency, duration: coupon.duration };
}

export function parseCoupon(coupon: unknown): CouponTerms | null {
  return couponTerms(readCoupon(coupon));
}

/** A Discount object (any version): embedded `coupon`, or `source.coupon` (2025-09-30.clover+). */
export function parseDiscount(discount: unknown, deleted: boolean): DiscountTerms | null {
  const d = readDiscount(discount);
  if (!d) return null;
  return {
    discountId: d.id,
    customerId: d.customerId,
    subscriptionId: d.subscriptionId,
    coupon: couponTerms(d.coupon),
    couponId: d.couponId,
    deleted,
  };
}

/** Reads a subscription object of any API version; null when it is not one. */
export function parseSubscription(object: unknown): SubscriptionState | null {
  const s = readSubscription(object);
  if (!s || !s.customerId) return null;
  const currency = s.currency ?? '';
  const items: ItemState[] = [];
  for (const item of s.items) {
    const price = priceTerms(item, currency || 'usd');
    if (!price) continue;
    items.push({ price, quantity: item.quantity, priceId: item.priceId });
  }
  const embeddedCoupons: CouponTerms[] = [];
  const seen = new Set<string>();
  // Legacy: the subscription embeds its discount with the coupon (2024-06-20, acacia).
  if (s.discount) {
    const c = couponTerms(s.discount.coupon);
    if (c) embeddedCoupons.push(c);
    seen.add(s.discount.id);
  }
  const discountIds: string[] = [];
  for (const d of s.discounts) {
    const id = typeof d === 'string' ? d : d.id;
    if (seen.has(id)) continue;
    seen.add(id);
    // An expanded Discount carries its coupon; an id is resolved through customer.discount.* events.
    const expanded = typeof d === 'string' ? null : couponTerms(d.coupon);
    if (expanded) embeddedCoupons.push(expanded);
    else discountIds.push(id);
  }
  return {
    subscriptionId: s.id,
    customerId: s.customerId,
    currency: currency || items[0]?.price.currency || 'usd',
    status: s.status ?? 'unknown',
    cancelAtPeriodEnd: s.cancelAtPeriodEnd,
    cancelAt: s.cancelAtMs,
    trialEnd: s.trialEndMs,
    canceledAt: s.canceledAtMs,
    items,
    embeddedCoupons,
    discountIds,
  };
}

// ---------------------------------------------------------------- policy settings
/**
 * The choices analysts disagree on, as data (docs/analytics.md, "MRR policy settings"). The live
 * version uses DEFAULT_POLICY; `eventline replay mrr --policy <file>` builds a side version with
 * others, and a version keeps its settings (public.projection_versions.settings) for good.
 *
 * - discounts: `all` — every discount lowers MRR while it applies (Stripe's dashboard);
 *   `forever_only` — only coupons with duration `forever` do (a `once` or `repeating` discount is
 *   a temporary price cut, not a lower recurring revenue; ChartMogul's and Baremetrics' view).
 * - cancel_at_period_end: `at_cancellation` — a subscription set to cancel counts until it ends
 *   (Stripe, ChartMogul); `when_scheduled` — it churns the moment the cancellation is scheduled.
 * - past_due: `counts` — past-due subscriptions count (Stripe, ChartMogul); `churn_after_days N` —
 *   a subscription past due for N days churns then, and comes back as a reactivation when paid.
 */
export interface MrrPolicy {
  readonly discounts: 'all' | 'forever_only';
  readonly cancelAtPeriodEnd: 'at_cancellation' | 'when_scheduled';
  /** null: past-due subscriptions count; N: they churn N days after they became past due. */
  readonly pastDueChurnAfterDays: number | null;
}

export const DEFAULT_POLICY: MrrPolicy = { discounts: 'all', cancelAtPeriodEnd: 'at_cancellation', pastDueChurnAfterDays: null };

/** The stored and file form: `{"discounts": "all", "cancel_at_period_end": "at_cancellation", "past_due": "counts"}`. */
export function policyJson(p: MrrPolicy): Json {
  return {
    discounts: p.discounts,
    cancel_at_period_end: p.cancelAtPeriodEnd,
    past_due: p.pastDueChurnAfterDays === null ? 'counts' : `churn_after_days ${p.pastDueChurnAfterDays}`,
  };
}

/**
 * Reads policy settings (the file of `--policy`, or a version's stored settings); a setting left
 * out keeps its default. Throws a bad_request naming every problem: an unknown key, a value
 * outside its choices, a day count that is not a whole number from 1 to 3650.
 */
export function parsePolicy(json: unknown): MrrPolicy {
  if (json === null || json === undefined) return DEFAULT_POLICY;
  const problems: string[] = [];
  if (typeof json !== 'object' || Array.isArray(json)) throw new EventlineError('bad_request', 'MRR policy settings must be a JSON object');
  const j = json as Json;
  for (const key of Object.keys(j)) if (!['discounts', 'cancel_at_period_end', 'past_due'].includes(key)) problems.push(`unknown setting ${key} (discounts, cancel_at_period_end, past_due)`);
  const discounts = j.discounts ?? DEFAULT_POLICY.discounts;
  if (discounts !== 'all' && discounts !== 'forever_only') problems.push(`discounts must be all or forever_only, not ${JSON.stringify(discounts)}`);
  const cancel = j.cancel_at_period_end ?? DEFAULT_POLICY.cancelAtPeriodEnd;
  if (cancel !== 'at_cancellation' && cancel !== 'when_scheduled') problems.push(`cancel_at_period_end must be at_cancellation or when_scheduled, not ${JSON.stringify(cancel)}`);
  const pastDue = j.past_due ?? 'counts';
  let days: number | null = null;
  if (pastDue !== 'counts') {
    const m = typeof pastDue === 'string' ? /^churn_after_days\s+(\d+)$/.exec(pastDue.trim()) : null;
    days = m ? Number(m[1]) : NaN;
    if (!Number.isInteger(days) || days < 1 || days > 3650) problems.push(`past_due must be counts or "churn_after_days N" with N from 1 to 3650, not ${JSON.stringify(pastDue)}`);
  }
  if (problems.length > 0) throw new EventlineError('bad_request', `invalid MRR policy: ${problems.join('; ')}`, { detail: { problems } });
  return { discounts: discounts as MrrPolicy['discounts'], cancelAtPeriodEnd: cancel as MrrPolicy['cancelAtPeriodEnd'], pastDueChurnAfterDays: days };
}

// ---------------------------------------------------------------- monthly value
/** The subscription is set to end: at its period's end, or at a date (its MRR still counts until it does). */
export function scheduledToCancel(s: SubscriptionState): boolean {
  return s.cancelAtPeriodEnd || s.cancelAt !== null;
}

/** month ÷ interval_count; year ÷ (12 × interval_count); week × 52/12 ÷ interval_count; day × 365/12 ÷ interval_count. */
export function monthlyFactor(interval: Interval, intervalCount: number): Rational {
  const count = BigInt(Math.max(1, Math.trunc(intervalCount)));
  switch (interval) {
    case 'month':
      return rat(1n, count);
    case 'year':
      return rat(1n, 12n * count);
    case 'week':
      return rat(52n, 12n * count);
    case 'day':
      return rat(365n, 12n * count);
  }
}

/**
 * A subscription's monthly value in cents: 0 unless active or past_due; items × quantity normalized
 * to a month and summed; then each discount in order (percent_off, or amount_off normalized by the
 * subscription's interval), never below 0; rounded once, half away from zero. Tax excluded.
 * `policy` may leave out finite discounts and churn a subscription once it is set to cancel; its
 * past-due rule needs time, so customerTimeline applies it.
 */
export function monthlyCents(state: SubscriptionState, referenced: readonly CouponTerms[], policy: MrrPolicy = DEFAULT_POLICY): number {
  if (!countingStatuses.has(state.status)) return 0;
  if (policy.cancelAtPeriodEnd === 'when_scheduled' && scheduledToCancel(state)) return 0;
  let total = ZERO;
  for (const item of state.items) {
    if (item.price.metered) continue;
    const perPeriod = item.price.unitAmount !== null ? mul(item.price.unitAmount, rat(BigInt(Math.trunc(item.quantity)))) : item.price.tiers !== null ? tieredAmount(item.price.tiers, item.quantity) : null;
    if (perPeriod === null) continue;
    total = add(total, mul(perPeriod, monthlyFactor(item.price.interval, item.price.intervalCount)));
  }
  const first = state.items[0]?.price;
  const billingFactor = first ? monthlyFactor(first.interval, first.intervalCount) : rat(1n);
  for (const coupon of [...state.embeddedCoupons, ...referenced]) {
    if (policy.discounts === 'forever_only' && coupon.duration && coupon.duration !== 'forever') continue;
    if (coupon.percentOff !== null) {
      total = mul(total, sub(rat(1n), mul(coupon.percentOff, rat(1n, 100n))));
    } else if (coupon.amountOff !== null && (coupon.currency === null || coupon.currency === state.currency)) {
      total = sub(total, mul(rat(BigInt(coupon.amountOff)), billingFactor));
    }
  }
  if (isNegative(total)) total = ZERO;
  return roundHalfAwayFromZero(total);
}

// ---------------------------------------------------------------- storage form
/** JSON form of rationals: "n/d". */
const encodeRat = (r: Rational | null): string | null => (r === null ? null : `${r.n}/${r.d}`);
function decodeRat(text: unknown): Rational | null {
  if (typeof text !== 'string') return null;
  const [n, d] = text.split('/');
  return n !== undefined && d !== undefined ? rat(BigInt(n), BigInt(d)) : null;
}

/** A rational with a finite decimal expansion (every Stripe amount) as decimal text, else `n/d`. */
export function decimalText(r: Rational): string {
  const negative = r.n < 0n;
  const n = negative ? -r.n : r.n;
  for (let k = 0; k <= 24; k++) {
    const scale = 10n ** BigInt(k);
    if ((scale % r.d) !== 0n) continue;
    const digits = ((n * scale) / r.d).toString().padStart(k + 1, '0');
    const text = k === 0 ? digits : `${digits.slice(0, -k)}.${digits.slice(-k)}`;
    return `${negative ? '-' : ''}${text}`;
  }
  return `${r.n}/${r.d}`;
}

export function encodeCoupon(c: CouponTerms): Json {
  return { percent_off: encodeRat(c.percentOff), amount_off: c.amountOff, currency: c.currency, ...(c.duration ? { duration: c.duration } : {}) };
}

export function decodeCoupon(json: unknown): CouponTerms | null {
  const j = record(json);
  if (!j) return null;
  return { percentOff: decodeRat(j.percent_off), amountOff: typeof j.amount_off === 'number' ? j.amount_off : null, currency: text(j.currency), duration: text(j.duration) };
}

export function encodeState(s: SubscriptionState): Json {
  return {
    subscription_id: s.subscriptionId,
    customer_id: s.customerId,
    currency: s.currency,
    status: s.status,
    cancel_at_period_end: s.cancelAtPeriodEnd,
    cancel_at: s.cancelAt,
    trial_end: s.trialEnd,
    canceled_at: s.canceledAt,
    items: s.items.map((i) => ({
      price_id: i.priceId,
      unit_amount: encodeRat(i.price.unitAmount),
      tiers: i.price.tiers === null ? null : encodeTiers(i.price.tiers),
      interval: i.price.interval,
      interval_count: i.price.intervalCount,
      metered: i.price.metered,
      currency: i.price.currency,
      quantity: i.quantity,
    })),
    embedded_coupons: s.embeddedCoupons.map(encodeCoupon),
    discount_ids: [...s.discountIds],
  };
}

export function decodeTiers(json: unknown): PriceTerms['tiers'] {
  if (typeof json !== 'object' || json === null) return null;
  const j = json as Json;
  if ((j.mode !== 'graduated' && j.mode !== 'volume') || !Array.isArray(j.tiers)) return null;
  const tiers = (j.tiers as Json[]).map((t) => ({ upTo: typeof t.up_to === 'number' ? t.up_to : null, unitAmount: decodeRat(t.unit_amount) ?? ZERO, flatAmount: decodeRat(t.flat_amount) ?? ZERO }));
  return { mode: j.mode, tiers };
}

export function decodeState(j: Json): SubscriptionState {
  const items = (Array.isArray(j.items) ? (j.items as Json[]) : []).map((i) => ({
    price: {
      unitAmount: decodeRat(i.unit_amount),
      tiers: decodeTiers(i.tiers),
      interval: i.interval as Interval,
      intervalCount: Number(i.interval_count),
      metered: i.metered === true,
      currency: String(i.currency),
    },
    quantity: Number(i.quantity),
    priceId: typeof i.price_id === 'string' ? i.price_id : null,
  }));
  return {
    subscriptionId: String(j.subscription_id),
    customerId: String(j.customer_id),
    currency: String(j.currency),
    status: String(j.status),
    cancelAtPeriodEnd: j.cancel_at_period_end === true,
    cancelAt: typeof j.cancel_at === 'number' ? j.cancel_at : null,
    trialEnd: typeof j.trial_end === 'number' ? j.trial_end : null,
    canceledAt: typeof j.canceled_at === 'number' ? j.canceled_at : null,
    items,
    embeddedCoupons: (Array.isArray(j.embedded_coupons) ? (j.embedded_coupons as unknown[]) : []).map(decodeCoupon).filter((c): c is CouponTerms => c !== null),
    discountIds: Array.isArray(j.discount_ids) ? (j.discount_ids as unknown[]).map(String) : [],
  };
}

export function encodeDiscount(d: DiscountTerms): Json {
  return {
    discount_id: d.discountId,
    customer_id: d.customerId,
    subscription_id: d.subscriptionId,
    coupon: d.coupon ? encodeCoupon(d.coupon) : null,
    coupon_id: d.couponId,
    deleted: d.deleted,
  };
}

export function decodeDiscount(j: Json): DiscountTerms {
  return {
    discountId: String(j.discount_id),
    customerId: text(j.customer_id),
    subscriptionId: text(j.subscription_id),
    coupon: decodeCoupon(j.coupon),
    couponId: text(j.coupon_id),
    deleted: j.deleted === true,
  };
}
