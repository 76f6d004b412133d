/**
 * Fraud scoring, pure: the payment's facts and what is known about the customer and the card → a
 * score in 0..1 made of named factors, and an action. Shared by the fraud processor (Stripe's
 * charges, processors/fraud/) and the synchronous assessment of a payment about to be attempted
 * (POST /v1/risk/assess, producers/risk/): the same core, factors and windows.
 */
import { createRequire } from 'node:module';
import { readCharge, readPaymentIntent } from '../stripe/index.ts';
import { noMatches, type ListEntry, type ListMatches } from './lists.ts';
import type { CustomerFacts, CustomerRisk } from './state.ts';
import type { FraudScored } from '../topics.ts';

// The maintained list of disposable email domains (a JSON array shipped by the package).
const disposableDomains = createRequire(import.meta.url)('disposable-email-domains') as string[];

export interface FraudWeights {
  readonly new_account: number;
  readonly high_amount_new_customer: number;
  readonly velocity_min: number;
  readonly velocity_max: number;
  readonly card_testing: number;
  readonly country_mismatch: number;
  readonly disposable_email: number;
  readonly fingerprint_fraud_history: number;
}

export interface FraudPolicy {
  readonly weights: FraudWeights;
  /** allow < review ≤ … < require_3ds ≤ … < block ≤ … */
  readonly thresholds: { readonly review: number; readonly require_3ds: number; readonly block: number };
  readonly newAccountDays: number;
  readonly highAmountCents: number;
  readonly highAmountAccountDays: number;
  readonly smallChargeCents: number;
  readonly cardTestingCount: number;
  readonly velocityAttempts: number;
  readonly windowMs: number;
}

export const defaultFraudPolicy: FraudPolicy = {
  weights: {
    new_account: 0.15,
    high_amount_new_customer: 0.25,
    velocity_min: 0.15,
    velocity_max: 0.4,
    card_testing: 0.4,
    country_mismatch: 0.2,
    disposable_email: 0.3,
    fingerprint_fraud_history: 0.35,
  },
  thresholds: { review: 0.3, require_3ds: 0.5, block: 0.85 },
  newAccountDays: 7,
  highAmountCents: 50_000,
  highAmountAccountDays: 30,
  smallChargeCents: 200,
  cardTestingCount: 5,
  velocityAttempts: 3,
  windowMs: 3_600_000,
};

export type FraudAction = 'allow' | 'review' | 'require_3ds' | 'block';

export interface PaymentFacts {
  readonly eventId: string;
  readonly eventType: string;
  readonly customerId: string;
  readonly paymentId: string | null;
  readonly amount: number;
  readonly currency: string;
  readonly at: number;
  readonly cardCountry: string | null;
  readonly billingCountry: string | null;
  readonly fingerprint: string | null;
  readonly email: string | null;
  /**
   * The payment attempt this event is part of, as the windows count it: the PaymentIntent's id
   * (its payment_intent.created and its charges are one attempt), else the event id.
   */
  readonly attemptId?: string;
  /** Known to an assessment only (POST /v1/risk/assess): the client's IP, device, the card's first digits. */
  readonly ip?: string | null;
  readonly deviceId?: string | null;
  readonly bin?: string | null;
}

export interface FraudState {
  /** When the customer was created (customer.created), if known. */
  readonly accountCreatedAt: number | null;
  readonly customerEmail: string | null;
  readonly customerCountry: string | null;
  /** Payment attempts of this customer in the window ending at this one, this one included. */
  readonly attemptsInWindow: number;
  /** Charges under the small-charge amount in the window, this one included. */
  readonly smallChargesInWindow: number;
  /** Whether this card's fingerprint was involved in fraud before this payment. */
  readonly fingerprintFlagged: boolean;
}

export interface FraudFactor {
  readonly name: string;
  readonly weight: number;
  readonly detail: string;
}

export interface FraudDecision {
  readonly score: number;
  readonly action: FraudAction;
  readonly factors: readonly FraudFactor[];
}

const disposable: ReadonlySet<string> = new Set(disposableDomains);

export function isDisposableEmail(email: string | null): boolean {
  const domain = email?.split('@')[1]?.toLowerCase();
  return domain !== undefined && disposable.has(domain);
}

/** Payment events that are scored. */
export const scoredTypes: ReadonlySet<string> = new Set(['charge.succeeded', 'charge.failed', 'charge.pending', 'payment_intent.created']);

/** The facts of a charge event (any API version); null for other events. */
export function paymentFacts(eventId: string, eventType: string, at: number, object: unknown): PaymentFacts | null {
  if (!scoredTypes.has(eventType)) return null;
  if (eventType.startsWith('payment_intent.')) {
    // Before the charge: what the PaymentIntent says (no card yet); its charges are the same attempt.
    const intent = readPaymentIntent(object);
    if (!intent?.customerId || intent.amount === null) return null;
    return { eventId, eventType, customerId: intent.customerId, paymentId: intent.id, amount: intent.amount, currency: intent.currency ?? 'usd', at, cardCountry: null, billingCountry: null, fingerprint: null, email: null, attemptId: intent.id };
  }
  const charge = readCharge(object);
  if (!charge?.customerId || charge.amount === null) return null;
  return {
    eventId,
    eventType,
    customerId: charge.customerId,
    paymentId: charge.id,
    amount: charge.amount,
    currency: charge.currency ?? 'usd',
    at,
    cardCountry: charge.cardCountry,
    billingCountry: charge.billingCountry,
    fingerprint: charge.fingerprint,
    email: charge.email,
    attemptId: charge.paymentIntentId ?? eventId,
  };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

export function actionFor(score: number, policy: FraudPolicy): FraudAction {
  if (score >= policy.thresholds.block) return 'block';
  if (score >= policy.thresholds.require_3ds) return 'require_3ds';
  if (score >= policy.thresholds.review) return 'review';
  return 'allow';
}

/**
 * The score of a payment: the sum of its factors' weights (at most 1), and the action for it. A
 * block-list entry it matches is a factor of weight 1 (so: block); an allow-list entry, a factor of
 * weight 0 that makes the action allow whatever the score (allow wins over block).
 */
export function scorePayment(facts: PaymentFacts, state: FraudState, policy: FraudPolicy = defaultFraudPolicy, lists: ListMatches = noMatches): FraudDecision {
  const w = policy.weights;
  const factors: FraudFactor[] = [];
  const ageMs = state.accountCreatedAt === null ? null : facts.at - state.accountCreatedAt;
  const days = (ms: number) => ms / 86_400_000;
  if (ageMs !== null && days(ageMs) < policy.newAccountDays) {
    factors.push({ name: 'new_account', weight: w.new_account, detail: `account created ${days(Math.max(0, ageMs)).toFixed(1)} days before the payment` });
  }
  if (facts.amount >= policy.highAmountCents && (ageMs === null || days(ageMs) < policy.highAmountAccountDays)) {
    factors.push({ name: 'high_amount_new_customer', weight: w.high_amount_new_customer, detail: `${facts.amount} ${facts.currency} from an account younger than ${policy.highAmountAccountDays} days` });
  }
  if (state.attemptsInWindow > policy.velocityAttempts) {
    const extra = state.attemptsInWindow - policy.velocityAttempts - 1;
    const weight = Math.min(w.velocity_max, w.velocity_min + extra * ((w.velocity_max - w.velocity_min) / 4));
    factors.push({ name: 'payment_velocity', weight: round(weight), detail: `${state.attemptsInWindow} payment attempts within ${policy.windowMs / 60_000} minutes` });
  }
  if (state.smallChargesInWindow >= policy.cardTestingCount) {
    factors.push({ name: 'card_testing', weight: w.card_testing, detail: `${state.smallChargesInWindow} charges under ${policy.smallChargeCents} ${facts.currency} within ${policy.windowMs / 60_000} minutes` });
  }
  const billingCountry = facts.billingCountry ?? state.customerCountry;
  if (facts.cardCountry && billingCountry && facts.cardCountry.toUpperCase() !== billingCountry.toUpperCase()) {
    factors.push({ name: 'country_mismatch', weight: w.country_mismatch, detail: `card issued in ${facts.cardCountry}, billing address in ${billingCountry}` });
  }
  const email = facts.email ?? state.customerEmail;
  if (isDisposableEmail(email)) {
    factors.push({ name: 'disposable_email', weight: w.disposable_email, detail: email?.split('@')[1] ?? '' });
  }
  if (state.fingerprintFlagged) {
    factors.push({ name: 'fingerprint_fraud_history', weight: w.fingerprint_fraud_history, detail: `card ${facts.fingerprint} was involved in fraud before` });
  }
  const entry = (e: ListEntry) => `${e.kind} ${e.value}${e.reason ? ` (${e.reason})` : ''}`;
  for (const e of lists.block) factors.push({ name: 'block_list', weight: 1, detail: `${entry(e)} is on the block list` });
  for (const e of lists.allow) factors.push({ name: 'allow_list', weight: 0, detail: `${entry(e)} is on the allow list` });
  const score = round(Math.min(1, factors.reduce((s, f) => s + f.weight, 0)));
  return { score, action: lists.allow.length > 0 ? 'allow' : actionFor(score, policy), factors };
}

/** [event time, event id] */
export type Mark = readonly [number, string];

/** Marks in [at - windowMs, at], counting `self` once whether or not it is folded already. */
export function countInWindow(marks: readonly Mark[], self: Mark | null, at: number, windowMs: number): number {
  const inWindow = (m: Mark) => m[0] >= at - windowMs && m[0] <= at;
  const n = marks.filter((m) => inWindow(m) && m[1] !== self?.[1]).length;
  return n + (self && inWindow(self) ? 1 : 0);
}


/** What a payment is scored against: the customer's windows and directory entry, the card's flag, the list entries it matches. */
export interface ScoringView {
  readonly risk: CustomerRisk;
  readonly customer: CustomerFacts | null;
  /** When the payment's card was first involved in fraud (null: never, or no card). */
  readonly cardFlaggedAt: number | null;
  readonly lists?: ListMatches;
}

/**
 * Scores a payment in its view: the windows counted in event time up to the payment, the payment
 * itself counted once whether or not it is folded already. The fraud processor (a Stripe charge)
 * and POST /v1/risk/assess (a payment about to be attempted) both score through this. Pure.
 */
export function scoreInView(f: PaymentFacts, view: ScoringView, policy: FraudPolicy): FraudDecision {
  const self: Mark = [f.at, f.attemptId ?? f.eventId];
  const small = f.amount < policy.smallChargeCents ? self : null;
  return scorePayment(
    f,
    {
      accountCreatedAt: view.customer?.createdAt ?? null,
      customerEmail: view.customer?.email ?? null,
      customerCountry: view.customer?.country ?? null,
      attemptsInWindow: countInWindow(view.risk.attempts, self, f.at, policy.windowMs),
      smallChargesInWindow: countInWindow(view.risk.small, small, f.at, policy.windowMs),
      fingerprintFlagged: view.cardFlaggedAt !== null && view.cardFlaggedAt < f.at,
    },
    policy,
    view.lists ?? noMatches,
  );
}

/** The FraudScored of a payment's score (fraud:<source event id>). Pure. */
export function scoredRecord(f: PaymentFacts, decision: FraudDecision, now: number): FraudScored {
  return {
    event_id: `fraud:${f.eventId}`,
    occurred_at: now,
    received_at: now,
    customer_id: f.customerId,
    source_event_id: f.eventId,
    source_event_type: f.eventType,
    payment_id: f.paymentId,
    amount: f.amount,
    currency: f.currency,
    score: decision.score,
    action: decision.action,
    factors: [...decision.factors],
    model_version: 'rules-1',
    card_fingerprint: f.fingerprint,
  };
}
