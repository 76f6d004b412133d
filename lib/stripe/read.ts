/**
 * One typed reader for Stripe payloads as stripe.events.v1 stores them (the event JSON, verbatim),
 * for every API version a Stripe account may pin from 2024-06-20 on. Pure and total: any input,
 * malformed JSON included, gives a value or null, never an exception. Readers allocate only the
 * objects they return.
 *
 * Where Stripe's shapes differ between versions, both are read:
 * - subscription items: `price` (with `recurring`), else the legacy `plan`;
 * - subscription discounts: embedded `discount` (with its `coupon`, before 2025-03-31.basil) and
 *   `discounts` (ids, or expanded Discount objects);
 * - a Discount's coupon: embedded `coupon`, or `source.coupon` (2025-09-30.clover and later);
 * - an invoice's subscription: `subscription`, or `parent.subscription_details.subscription`
 *   (basil and later); its payment intent: `payment_intent`, or `payments.data[].payment`.
 *
 * Expandable fields (`customer`, `charge`, `payment_intent`, …) are read as an id whether Stripe
 * sent the id or the expanded object. Currencies are lowercased; `*Ms` fields are Stripe's unix
 * seconds in milliseconds.
 */

// ---------------------------------------------------------------- values

type Json = Readonly<Record<string, unknown>>;

/** A plain object (a JSON object): not null, an array, or an instance of another class. */
export function record(v: unknown): Json | null {
  if (typeof v !== 'object' || v === null) return null;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null ? (v as Json) : null;
}

/** A non-empty string, else null. */
export function text(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** A finite number, else null. */
export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** An expandable field's id: `'cus_1'` or `{ id: 'cus_1', … }` → `'cus_1'`; empty ids are null. */
export function idOf(v: unknown): string | null {
  if (typeof v === 'string') return v !== '' ? v : null;
  const r = record(v);
  return r === null ? null : text(r.id);
}

const lower = (v: unknown): string | null => text(v)?.toLowerCase() ?? null;
const ms = (v: unknown): number | null => {
  const seconds = num(v);
  return seconds === null ? null : seconds * 1000;
};
/** A decimal string as Stripe sends it ("12.5"); a number is taken in its shortest decimal form. */
const decimalText = (v: unknown): string | null => text(v) ?? (num(v) === null ? null : String(v));
/** `object` is the expected one, or absent. */
const objectIs = (r: Json, object: string): boolean => r.object === undefined || r.object === object;

const noMetadata: Readonly<Record<string, string>> = Object.freeze({});

/** Stripe metadata: string values only (the object itself when it has nothing else). */
function metadataOf(v: unknown): Readonly<Record<string, string>> {
  const r = record(v);
  if (r === null) return noMetadata;
  const keys = Object.keys(r);
  if (keys.length === 0) return noMetadata;
  if (keys.every((k) => typeof r[k] === 'string')) return r as Readonly<Record<string, string>>;
  const out: Record<string, string> = {};
  for (const k of keys) {
    const value = r[k];
    if (typeof value === 'string') out[k] = value;
  }
  return out;
}

// ---------------------------------------------------------------- event

export interface StripeEventView {
  readonly id: string | null;
  readonly type: string | null;
  /** Unix seconds. */
  readonly created: number | null;
  readonly apiVersion: string | null;
  /** `data.object`. */
  readonly object: Readonly<Record<string, unknown>> | null;
  /** `data.previous_attributes` (`*.updated` events). */
  readonly previousAttributes: Readonly<Record<string, unknown>> | null;
}

const noEvent: StripeEventView = Object.freeze({ id: null, type: null, created: null, apiVersion: null, object: null, previousAttributes: null });

/** The envelope of an event already parsed from JSON; anything that is not an object gives all nulls. */
export function viewStripeEvent(json: unknown): StripeEventView {
  const event = record(json);
  if (event === null) return noEvent;
  const data = record(event.data);
  return {
    id: text(event.id),
    type: text(event.type),
    created: num(event.created),
    apiVersion: text(event.api_version),
    object: data === null ? null : record(data.object),
    previousAttributes: data === null ? null : record(data.previous_attributes),
  };
}

/** The envelope of a stored event JSON (StripeEventReceived.payload). Never throws: malformed JSON gives all nulls. */
export function readStripeEvent(payload: string): StripeEventView {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return noEvent;
  }
  return viewStripeEvent(json);
}

// ---------------------------------------------------------------- customer

export interface StripeCustomer {
  readonly id: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly name: string | null;
  /** `address.country`. */
  readonly country: string | null;
  /** `preferred_locales[0]`. */
  readonly locale: string | null;
  readonly createdMs: number | null;
  /** `metadata.user_id`. */
  readonly userId: string | null;
  /** A deleted customer (`deleted: true`; customer.deleted events carry the full object). */
  readonly deleted: boolean;
}

/** A Customer (object 'customer' with an id), else null. */
export function readCustomer(o: unknown): StripeCustomer | null {
  const c = record(o);
  if (c === null || c.object !== 'customer') return null;
  const id = text(c.id);
  if (id === null) return null;
  const locales = c.preferred_locales;
  return {
    id,
    email: text(c.email),
    phone: text(c.phone),
    name: text(c.name),
    country: text(record(c.address)?.country),
    locale: Array.isArray(locales) ? text(locales[0]) : null,
    createdMs: ms(c.created),
    userId: text(record(c.metadata)?.user_id),
    deleted: c.deleted === true,
  };
}

// ---------------------------------------------------------------- charge

export interface StripeCharge {
  readonly id: string | null;
  readonly customerId: string | null;
  readonly amount: number | null;
  /** Lowercased. */
  readonly currency: string | null;
  /** `payment_method_details.card.country`. */
  readonly cardCountry: string | null;
  /** `billing_details.address.country`. */
  readonly billingCountry: string | null;
  /** `payment_method_details.card.fingerprint`. */
  readonly fingerprint: string | null;
  /** `billing_details.email`, else `receipt_email`. */
  readonly email: string | null;
  readonly paymentIntentId: string | null;
  /** `outcome.risk_score` (Radar, 0–100). */
  readonly outcomeRiskScore: number | null;
}

/** A Charge (object 'charge'), else null. */
export function readCharge(o: unknown): StripeCharge | null {
  const c = record(o);
  if (c === null || c.object !== 'charge') return null;
  const card = record(record(c.payment_method_details)?.card);
  const billing = record(c.billing_details);
  return {
    id: text(c.id),
    customerId: idOf(c.customer),
    amount: num(c.amount),
    currency: lower(c.currency),
    cardCountry: text(card?.country),
    billingCountry: text(record(billing?.address)?.country),
    fingerprint: text(card?.fingerprint),
    email: text(billing?.email) ?? text(c.receipt_email),
    paymentIntentId: idOf(c.payment_intent),
    outcomeRiskScore: num(record(c.outcome)?.risk_score),
  };
}

// ---------------------------------------------------------------- payment intent

export interface StripePaymentIntent {
  readonly id: string;
  readonly customerId: string | null;
  readonly amount: number | null;
  /** Lowercased. */
  readonly currency: string | null;
  readonly status: string | null;
  /** `last_payment_error.code`. */
  readonly lastErrorCode: string | null;
  /** `last_payment_error.decline_code`. */
  readonly declineCode: string | null;
}

/** A PaymentIntent (object 'payment_intent' with an id), else null. */
export function readPaymentIntent(o: unknown): StripePaymentIntent | null {
  const p = record(o);
  if (p === null || p.object !== 'payment_intent') return null;
  const id = text(p.id);
  if (id === null) return null;
  const error = record(p.last_payment_error);
  return {
    id,
    customerId: idOf(p.customer),
    amount: num(p.amount),
    currency: lower(p.currency),
    status: text(p.status),
    lastErrorCode: text(error?.code),
    declineCode: text(error?.decline_code),
  };
}

// ---------------------------------------------------------------- invoice

export interface StripeInvoice {
  readonly id: string;
  readonly customerId: string | null;
  /** `subscription` (before basil), else `parent.subscription_details.subscription`. */
  readonly subscriptionId: string | null;
  readonly status: string | null;
  readonly amountDue: number | null;
  readonly amountPaid: number | null;
  /** Lowercased. */
  readonly currency: string | null;
  readonly hostedInvoiceUrl: string | null;
  readonly attemptCount: number | null;
  readonly nextPaymentAttemptMs: number | null;
  /** `last_finalization_error.decline_code`, else the expanded payment intent's `last_payment_error.decline_code`. */
  readonly declineCode: string | null;
  /** `payment_intent` (before basil), else the default (or first) entry of `payments.data` when included. */
  readonly paymentIntentId: string | null;
  /** `lines.data` as sent (a webhook carries the first page: up to 10 lines). */
  readonly lines: readonly StripeInvoiceLine[];
  /** False when `lines.has_more`: the lines beyond the first page are not in the payload. */
  readonly linesComplete: boolean;
}

export interface StripeInvoiceLine {
  readonly id: string | null;
  /** Minor units, before tax. */
  readonly amount: number | null;
  readonly currency: string | null;
  /** `price` (before basil), else `pricing.price_details.price`, else the legacy `plan`: an id or expanded. */
  readonly priceId: string | null;
  /** `price.recurring.usage_type` (or `plan.usage_type`) when the line carries its price: basil lines name it only. */
  readonly usageType: string | null;
  /** `period.start` (ms): the start of the period the line charges for. */
  readonly periodStartMs: number | null;
}

function readInvoiceLines(lines: unknown): { lines: StripeInvoiceLine[]; complete: boolean } {
  const list = record(lines);
  const data = Array.isArray(list?.data) ? (list.data as readonly unknown[]) : [];
  const out: StripeInvoiceLine[] = [];
  for (const entry of data) {
    const l = record(entry);
    if (l === null) continue;
    const price = record(l.price);
    const plan = record(l.plan);
    out.push({
      id: text(l.id),
      amount: num(l.amount),
      currency: lower(l.currency),
      priceId: idOf(l.price) ?? idOf(record(record(l.pricing)?.price_details)?.price) ?? idOf(l.plan),
      usageType: text(record(price?.recurring)?.usage_type) ?? text(plan?.usage_type),
      periodStartMs: ms(record(l.period)?.start),
    });
  }
  return { lines: out, complete: list?.has_more !== true };
}

/** The `payment.payment_intent` of an invoice's payments list (basil+; included only on request). */
function invoicePayment(payments: unknown): unknown {
  const list = record(payments)?.data;
  if (!Array.isArray(list)) return null;
  let first: unknown = null;
  for (const entry of list as readonly unknown[]) {
    const p = record(entry);
    const intent = record(p?.payment)?.payment_intent;
    if (idOf(intent) === null) continue;
    if (p?.is_default === true) return intent;
    first ??= intent;
  }
  return first;
}

/** An Invoice with an id (object 'invoice' when present), else null. */
export function readInvoice(o: unknown): StripeInvoice | null {
  const i = record(o);
  if (i === null || !objectIs(i, 'invoice')) return null;
  const id = text(i.id);
  if (id === null) return null;
  const intent = idOf(i.payment_intent) !== null ? i.payment_intent : invoicePayment(i.payments);
  const lines = readInvoiceLines(i.lines);
  return {
    id,
    customerId: idOf(i.customer),
    subscriptionId: idOf(i.subscription) ?? idOf(record(record(i.parent)?.subscription_details)?.subscription),
    status: text(i.status),
    amountDue: num(i.amount_due),
    amountPaid: num(i.amount_paid),
    currency: lower(i.currency),
    hostedInvoiceUrl: text(i.hosted_invoice_url),
    attemptCount: num(i.attempt_count),
    nextPaymentAttemptMs: ms(i.next_payment_attempt),
    declineCode: text(record(i.last_finalization_error)?.decline_code) ?? readPaymentIntent(intent)?.declineCode ?? null,
    paymentIntentId: idOf(intent),
    lines: lines.lines,
    linesComplete: lines.complete,
  };
}

// ---------------------------------------------------------------- coupon and discount

export interface StripeCoupon {
  readonly id: string | null;
  readonly percentOff: number | null;
  /** Minor units of `currency`. */
  readonly amountOff: number | null;
  /** Lowercased; set with `amountOff`. */
  readonly currency: string | null;
  /** `forever`, `once` or `repeating` (null when the payload has none). */
  readonly duration: string | null;
}

/** A Coupon (object 'coupon' when present), else null. */
export function readCoupon(o: unknown): StripeCoupon | null {
  const c = record(o);
  if (c === null || !objectIs(c, 'coupon')) return null;
  return { id: text(c.id), percentOff: num(c.percent_off), amountOff: num(c.amount_off), currency: lower(c.currency), duration: text(c.duration) };
}

export interface StripeDiscount {
  readonly id: string;
  readonly customerId: string | null;
  readonly subscriptionId: string | null;
  /** The coupon's id: `coupon` (before clover), else `source.coupon`; an id or expanded. */
  readonly couponId: string | null;
  /** The coupon when it travels with the discount (embedded `coupon`, or `source.coupon` expanded). */
  readonly coupon: StripeCoupon | null;
}

/** A Discount with an id (object 'discount' when present), else null. */
export function readDiscount(o: unknown): StripeDiscount | null {
  const d = record(o);
  if (d === null || !objectIs(d, 'discount')) return null;
  const id = text(d.id);
  if (id === null) return null;
  const source = record(d.source);
  return {
    id,
    customerId: idOf(d.customer),
    subscriptionId: idOf(d.subscription),
    couponId: idOf(d.coupon) ?? idOf(source?.coupon),
    coupon: readCoupon(d.coupon) ?? readCoupon(source?.coupon),
  };
}

// ---------------------------------------------------------------- subscription

export interface StripeSubscriptionItem {
  /** `price` (an id or expanded), else the legacy `plan`. */
  readonly priceId: string | null;
  readonly nickname: string | null;
  /** `price.unit_amount`, else `plan.amount` (minor units). */
  readonly unitAmount: number | null;
  /** `price.unit_amount_decimal`, else `plan.amount_decimal` (sub-cent prices). */
  readonly unitAmountDecimal: string | null;
  /** Lowercased. */
  readonly currency: string | null;
  /** `price.recurring.interval`, else `plan.interval`. */
  readonly interval: string | null;
  /** `interval_count` when a positive number, else 1. */
  readonly intervalCount: number;
  /** `quantity` when a number ≥ 0, else 1 (metered items have none). */
  readonly quantity: number;
  /** `per_unit` or `tiered`. */
  readonly billingScheme: string | null;
  /** `tiers` as sent (present only when the price was expanded with them). */
  readonly tiers: readonly unknown[] | null;
  /** `graduated` or `volume` (tiered prices). */
  readonly tiersMode: string | null;
  /** `price.recurring.usage_type`, else `plan.usage_type`: `licensed` or `metered`. */
  readonly usageType: string | null;
}

export interface StripeSubscription {
  readonly id: string;
  readonly customerId: string | null;
  readonly status: string | null;
  /** Lowercased. */
  readonly currency: string | null;
  /** `items.data`, in order. */
  readonly items: readonly StripeSubscriptionItem[];
  readonly trialEndMs: number | null;
  readonly cancelAtPeriodEnd: boolean;
  readonly cancelAtMs: number | null;
  readonly canceledAtMs: number | null;
  /** Unix seconds. */
  readonly created: number | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** The embedded discount with its coupon (before basil; null since). */
  readonly discount: StripeDiscount | null;
  /** `discounts`: each a Discount id, or the expanded Discount. */
  readonly discounts: readonly (string | StripeDiscount)[];
}

function readItem(item: Json): StripeSubscriptionItem {
  const price = record(item.price);
  const plan = price === null ? record(item.plan) : null;
  const recurring = price === null ? null : record(price.recurring);
  const terms = price ?? plan;
  const count = num(price === null ? plan?.interval_count : recurring?.interval_count);
  const quantity = num(item.quantity);
  return {
    priceId: idOf(item.price) ?? idOf(item.plan),
    nickname: text(terms?.nickname),
    unitAmount: num(price === null ? plan?.amount : price.unit_amount),
    unitAmountDecimal: decimalText(price === null ? plan?.amount_decimal : price.unit_amount_decimal),
    currency: lower(terms?.currency),
    interval: text(price === null ? plan?.interval : recurring?.interval),
    intervalCount: count !== null && count > 0 ? count : 1,
    quantity: quantity !== null && quantity >= 0 ? quantity : 1,
    billingScheme: text(terms?.billing_scheme),
    tiers: Array.isArray(terms?.tiers) ? (terms.tiers as readonly unknown[]) : null,
    tiersMode: text(terms?.tiers_mode),
    usageType: text(price === null ? plan?.usage_type : recurring?.usage_type),
  };
}

/** A Subscription (object 'subscription' with an id), else null. */
export function readSubscription(o: unknown): StripeSubscription | null {
  const s = record(o);
  if (s === null || s.object !== 'subscription') return null;
  const id = text(s.id);
  if (id === null) return null;
  const list = record(s.items)?.data;
  const items: StripeSubscriptionItem[] = [];
  if (Array.isArray(list)) {
    for (const entry of list as readonly unknown[]) {
      const item = record(entry);
      if (item !== null) items.push(readItem(item));
    }
  }
  const discounts: (string | StripeDiscount)[] = [];
  if (Array.isArray(s.discounts)) {
    for (const entry of s.discounts as readonly unknown[]) {
      const d = text(entry) ?? readDiscount(entry);
      if (d !== null) discounts.push(d);
    }
  }
  return {
    id,
    customerId: idOf(s.customer),
    status: text(s.status),
    currency: lower(s.currency),
    items,
    trialEndMs: ms(s.trial_end),
    cancelAtPeriodEnd: s.cancel_at_period_end === true,
    cancelAtMs: ms(s.cancel_at),
    canceledAtMs: ms(s.canceled_at),
    created: num(s.created),
    metadata: metadataOf(s.metadata),
    discount: readDiscount(s.discount),
    discounts,
  };
}

// ---------------------------------------------------------------- dispute and early fraud warning

export interface StripeDispute {
  readonly id: string | null;
  readonly chargeId: string | null;
  /** A dispute's `reason` (`fraudulent`, …), an early fraud warning's `fraud_type`. */
  readonly reason: string | null;
  /** Which of the two it is. */
  readonly object: 'dispute' | 'radar.early_fraud_warning';
  readonly paymentIntentId: string | null;
}

/** A Dispute (charge.dispute.*) or an EarlyFraudWarning (radar.early_fraud_warning.*), else null. */
export function readDispute(o: unknown): StripeDispute | null {
  const d = record(o);
  if (d === null || (d.object !== 'dispute' && d.object !== 'radar.early_fraud_warning')) return null;
  return {
    id: text(d.id),
    chargeId: idOf(d.charge),
    reason: text(d.object === 'dispute' ? d.reason : d.fraud_type),
    object: d.object,
    paymentIntentId: idOf(d.payment_intent),
  };
}
