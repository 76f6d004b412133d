/**
 * The fraud processor's state, pure: a fold of the charges it consumed and its own outputs
 * (risk.fraud-scores.v1). Entity kinds:
 *
 *   fraud:customer:<id>   the customer's payment attempts and small charges of the last 7 days (event
 *                         time, relative to the latest seen), and the events already scored (30 days)
 *   fraud:card:<fp>       when a card fingerprint was first involved in fraud (a block, a dispute)
 *   fraud:charge:<id>     the card fingerprint of a charge (to attribute disputes)
 *
 * plus the shared customer directory. Order-insensitive: sets pruned against the latest time, minima.
 */
import { entityKind, type Fact } from '../../lib/decider/index.ts';
import { ASSESSMENT, emptyRisk, riskKinds, type CardRisk, type CustomerRisk } from '../../lib/risk/state.ts';
import { readStripeEvent } from '../../lib/stripe/index.ts';
import { customerKind, userKind } from '../customers/directory.ts';
import { defaultFraudPolicy, paymentFacts, scoredTypes, type FraudPolicy, type Mark, type PaymentFacts } from './decide.ts';

export type FraudFact = Fact<'stripe.events.v1' | 'risk.fraud-scores.v1'>;

const DAY = 86_400_000;
const KEEP_WINDOW_MS = 7 * DAY;
const KEEP_SCORED_MS = 30 * DAY;

const facts = new WeakMap<object, PaymentFacts | null>();
/** The payment facts of a scored Stripe event (parsed once per record). */
export function paymentOf(f: FraudFact): PaymentFacts | null {
  if (f.topic !== 'stripe.events.v1' || !scoredTypes.has(f.value.type)) return null;
  let p = facts.get(f.value);
  if (p === undefined) {
    p = paymentFacts(f.value.event_id, f.value.type, f.value.occurred_at, readStripeEvent(f.value.payload).object);
    facts.set(f.value, p);
  }
  return p;
}

export { emptyRisk, type CardRisk, type CustomerRisk } from '../../lib/risk/state.ts';


/** Adds an attempt to a window: once per id, at the earliest time any of its events gave (so the order they fold in does not matter). */
function addMark(list: readonly Mark[], mark: Mark, from: number): readonly Mark[] {
  const kept = list.filter((m) => m[0] >= from);
  const same = kept.find((m) => m[1] === mark[1]);
  if (mark[0] < from || (same && same[0] <= mark[0])) return kept;
  return [...kept.filter((m) => m !== same), mark].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
}

function prune(s: CustomerRisk, latest: number): CustomerRisk {
  const scored = Object.fromEntries(Object.entries(s.scored).filter(([, at]) => at >= latest - KEEP_SCORED_MS));
  return { latest, attempts: s.attempts.filter((m) => m[0] >= latest - KEEP_WINDOW_MS), small: s.small.filter((m) => m[0] >= latest - KEEP_WINDOW_MS), scored };
}

function evolveRisk(s: CustomerRisk, f: FraudFact, smallChargeCents: number): CustomerRisk {
  if (f.topic === 'stripe.events.v1') {
    const p = paymentOf(f);
    if (!p) return s;
    const latest = Math.max(s.latest, p.at);
    const from = latest - KEEP_WINDOW_MS;
    const mark: Mark = [p.at, p.attemptId ?? p.eventId];
    const next = prune(s, latest);
    return { ...next, attempts: addMark(next.attempts, mark, from), small: p.amount < smallChargeCents ? addMark(next.small, mark, from) : next.small };
  }
  if (f.record !== 'FraudScored') return s;
  const latest = Math.max(s.latest, f.value.occurred_at);
  const next = prune(s, latest);
  if (f.value.occurred_at < latest - KEEP_SCORED_MS) return next;
  const scored = { ...next.scored, [f.value.source_event_id]: f.value.occurred_at };
  // An assessment (POST /v1/risk/assess) is a payment attempt of the customer: it counts in the windows.
  if (f.value.source_event_type !== ASSESSMENT || f.value.amount === null) return { ...next, scored };
  const from = latest - KEEP_WINDOW_MS;
  // One attempt with the payment it is for: the caller's payment id (a PaymentIntent's) is what that payment's own events count under.
  const mark: Mark = [f.value.occurred_at, f.value.payment_id ?? f.value.source_event_id];
  return { ...next, scored, attempts: addMark(next.attempts, mark, from), small: f.value.amount < smallChargeCents ? addMark(next.small, mark, from) : next.small };
}

/** The customer's risk state; small charges counted under the policy's threshold. */
export function riskKindFor(policy: FraudPolicy) {
  return entityKind<FraudFact, CustomerRisk>({
    name: riskKinds.customer,
    initial: emptyRisk,
    // Kept (pruned by event time, so small): the scored log must answer a re-read however late.
    ttlSeconds: null,
    keys: (f) => {
      if (f.topic === 'risk.fraud-scores.v1') return f.record === 'FraudScored' ? [f.value.customer_id] : [];
      const p = paymentOf(f);
      return p ? [p.customerId] : [];
    },
    evolve: (state, fact) => evolveRisk(state, fact, policy.smallChargeCents),
  });
}

export const riskKind = riskKindFor(defaultFraudPolicy);


export const cardKind = entityKind<FraudFact, CardRisk>({
  name: riskKinds.card,
  initial: { flaggedAt: null },
  ttlSeconds: null,
  keys: (f) => {
    if (f.topic !== 'risk.fraud-scores.v1') return [];
    if (f.record === 'CardFlagged') return [f.value.fingerprint];
    if (f.record !== 'FraudScored') return [];
    // A card is flagged by a block of the score: not by an assessment (what a caller says about a
    // card it has not charged yet) nor by a block-list entry (the list says it, for as long as it is there).
    const scoreBlock = f.value.action === 'block' && f.value.source_event_type !== ASSESSMENT && !f.value.factors.some((x) => x.name === 'block_list');
    return scoreBlock && f.value.card_fingerprint ? [f.value.card_fingerprint] : [];
  },
  evolve: (s, f) => (s.flaggedAt === null || f.value.occurred_at < s.flaggedAt ? { flaggedAt: f.value.occurred_at } : s),
});

export interface ChargeCard {
  readonly fingerprint: string | null;
}

export const chargeKind = entityKind<FraudFact, ChargeCard>({
  name: 'fraud:charge',
  initial: { fingerprint: null },
  ttlSeconds: 180 * 86_400,
  keys: (f) => {
    const p = paymentOf(f);
    return p?.paymentId && p.fingerprint ? [p.paymentId] : [];
  },
  evolve: (s, f) => ({ fingerprint: s.fingerprint ?? paymentOf(f)?.fingerprint ?? null }),
});

export const fraudKindsFor = (policy: FraudPolicy) => [riskKindFor(policy), cardKind, chargeKind, customerKind, userKind];
export const fraudKinds = fraudKindsFor(defaultFraudPolicy);
