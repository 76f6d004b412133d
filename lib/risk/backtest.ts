/**
 * The back-test of a fraud policy (eventline risk backtest): the stored payments replayed in event
 * time through the scoring core (lib/risk/score.ts) under the current policy and a candidate, each
 * with the windows, account ages and card flags it would itself have built (a policy's blocks flag
 * cards for its later payments, as the processor's do), against the labels. Pure; appends nothing.
 *
 * A payment is one attempt (a PaymentIntent and its charges; measured by the decision of its
 * latest event). It is fraudulent when its latest label, on any of its ids, says so (a fraudulent
 * dispute or early fraud warning, or an analyst's review); every other payment counts as legitimate. For block: precision
 * = blocked fraudulent / blocked, recall = blocked fraudulent / fraudulent; for review, the same
 * with "flagged" = review, require_3ds or block. A ratio with nothing to divide by is null.
 */
import { z } from 'zod';
import type { ListMatches, ListSnapshot } from './lists.ts';
import { scoreInView, type FraudAction, type FraudPolicy, type Mark, type PaymentFacts } from './score.ts';
import type { CustomerFacts } from './state.ts';

/** What the back-test reads, in any order: payments, customers as they were, disputes, labels. */
export type BacktestFact =
  | { readonly kind: 'payment'; readonly facts: PaymentFacts }
  | { readonly kind: 'customer'; readonly at: number; readonly customerId: string; readonly customer: CustomerFacts }
  | { readonly kind: 'fraud_report'; readonly at: number; readonly chargeId: string }
  | { readonly kind: 'label'; readonly at: number; readonly paymentId: string; readonly label: 'fraudulent' | 'legitimate' };

export interface PolicyFigures {
  readonly payments: number;
  readonly actions: Readonly<Record<FraudAction, number>>;
  readonly block: { readonly precision: number | null; readonly recall: number | null; readonly truePositives: number };
  readonly review: { readonly precision: number | null; readonly recall: number | null; readonly truePositives: number };
}

export interface BacktestReport {
  readonly payments: number;
  readonly fraudulent: number;
  readonly current: PolicyFigures;
  readonly candidate: PolicyFigures;
}

const ratio = (n: number, d: number): number | null => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000);

/** Each payment's action under `policy`, in event time (ties by event id). */
function replay(facts: readonly BacktestFact[], policy: FraudPolicy, lists: ListSnapshot | null): Map<string, FraudAction> {
  const ordered = [...facts].sort((a, b) => at(a) - at(b) || rank(a) - rank(b) || key(a).localeCompare(key(b)));
  const attempts = new Map<string, Mark[]>();
  const small = new Map<string, Mark[]>();
  const customers = new Map<string, CustomerFacts>();
  const cardOfCharge = new Map<string, string>();
  const flagged = new Map<string, number>();
  const actions = new Map<string, FraudAction>();
  for (const f of ordered) {
    if (f.kind === 'customer') customers.set(f.customerId, f.customer);
    else if (f.kind === 'fraud_report') {
      const card = cardOfCharge.get(f.chargeId);
      if (card && !flagged.has(card)) flagged.set(card, f.at);
    } else if (f.kind === 'payment') {
      const p = f.facts;
      const add = (m: Map<string, Mark[]>) => {
        const list = m.get(p.customerId) ?? [];
        if (!list.some((x) => x[1] === (p.attemptId ?? p.eventId))) list.push([p.at, p.attemptId ?? p.eventId]);
        m.set(p.customerId, list);
      };
      const matches: ListMatches | undefined = lists?.match(p);
      const decision = scoreInView(
        p,
        { risk: { latest: p.at, attempts: attempts.get(p.customerId) ?? [], small: small.get(p.customerId) ?? [], scored: {} }, customer: customers.get(p.customerId) ?? null, cardFlaggedAt: p.fingerprint ? (flagged.get(p.fingerprint) ?? null) : null, ...(matches ? { lists: matches } : {}) },
        policy,
      );
      actions.set(p.eventId, decision.action);
      add(attempts);
      if (p.amount < policy.smallChargeCents) add(small);
      if (p.paymentId && p.fingerprint) cardOfCharge.set(p.paymentId, p.fingerprint);
      if (decision.action === 'block' && p.fingerprint && !flagged.has(p.fingerprint)) flagged.set(p.fingerprint, p.at);
    }
  }
  return actions;
}

function at(f: BacktestFact): number {
  return f.kind === 'payment' ? f.facts.at : f.at;
}
/** At one time: customers first, then reports, then payments (as they would have been read). */
function rank(f: BacktestFact): number {
  return f.kind === 'customer' ? 0 : f.kind === 'fraud_report' ? 1 : f.kind === 'payment' ? 2 : 3;
}
function key(f: BacktestFact): string {
  return f.kind === 'payment' ? f.facts.eventId : f.kind === 'customer' ? f.customerId : f.kind === 'fraud_report' ? f.chargeId : f.paymentId;
}

function figures(actions: ReadonlyMap<string, FraudAction>, payments: readonly PaymentFacts[], fraudulent: (p: PaymentFacts) => boolean): PolicyFigures {
  const counts: Record<FraudAction, number> = { allow: 0, review: 0, require_3ds: 0, block: 0 };
  let blocked = 0;
  let blockedFraud = 0;
  let flagged = 0;
  let flaggedFraud = 0;
  let fraud = 0;
  for (const p of payments) {
    const a = actions.get(p.eventId) ?? 'allow';
    counts[a]++;
    const isFraud = fraudulent(p);
    if (isFraud) fraud++;
    if (a === 'block') {
      blocked++;
      if (isFraud) blockedFraud++;
    }
    if (a !== 'allow') {
      flagged++;
      if (isFraud) flaggedFraud++;
    }
  }
  return {
    payments: payments.length,
    actions: counts,
    block: { precision: ratio(blockedFraud, blocked), recall: ratio(blockedFraud, fraud), truePositives: blockedFraud },
    review: { precision: ratio(flaggedFraud, flagged), recall: ratio(flaggedFraud, fraud), truePositives: flaggedFraud },
  };
}

/** Replays `facts` under both policies and measures each against the labels. */
export function backtest(facts: readonly BacktestFact[], current: FraudPolicy, candidate: FraudPolicy, lists: ListSnapshot | null = null): BacktestReport {
  // One payment per attempt (a PaymentIntent and its charges are one): its latest scored event, the one that decided last.
  const latest = new Map<string, PaymentFacts>();
  for (const f of facts) {
    if (f.kind !== 'payment') continue;
    const id = f.facts.attemptId ?? f.facts.eventId;
    const seen = latest.get(id);
    if (!seen || f.facts.at > seen.at || (f.facts.at === seen.at && f.facts.eventId > seen.eventId)) latest.set(id, f.facts);
  }
  const payments = [...latest.values()].sort((a, b) => a.at - b.at || (a.eventId < b.eventId ? -1 : 1));
  // The latest label of any id of the payment (its charge, its PaymentIntent) is its truth.
  const labels = new Map<string, { at: number; label: string }>();
  for (const f of facts) if (f.kind === 'label' && (!labels.has(f.paymentId) || f.at >= (labels.get(f.paymentId) as { at: number }).at)) labels.set(f.paymentId, { at: f.at, label: f.label });
  const paymentIdsOf = new Map<string, Set<string>>();
  for (const f of facts) {
    if (f.kind !== 'payment') continue;
    const ids = paymentIdsOf.get(f.facts.attemptId ?? f.facts.eventId) ?? new Set<string>();
    if (f.facts.paymentId) ids.add(f.facts.paymentId);
    if (f.facts.attemptId) ids.add(f.facts.attemptId);
    paymentIdsOf.set(f.facts.attemptId ?? f.facts.eventId, ids);
  }
  const fraudulent = (p: PaymentFacts) => {
    const found = [...(paymentIdsOf.get(p.attemptId ?? p.eventId) ?? [])].flatMap((id) => (labels.has(id) ? [labels.get(id) as { at: number; label: string }] : []));
    return found.sort((a, b) => b.at - a.at)[0]?.label === 'fraudulent';
  };
  return {
    payments: payments.length,
    fraudulent: payments.filter(fraudulent).length,
    current: figures(replay(facts, current, lists), payments, fraudulent),
    candidate: figures(replay(facts, candidate, lists), payments, fraudulent),
  };
}

const weight = z.number().min(0).max(1);
/** A candidate policy file: any of the policy's settings, the rest as the current policy has them. */
const policyFile = z
  .object({
    weights: z.object({ new_account: weight, high_amount_new_customer: weight, velocity_min: weight, velocity_max: weight, card_testing: weight, country_mismatch: weight, disposable_email: weight, fingerprint_fraud_history: weight }).partial().strict().optional(),
    thresholds: z.object({ review: weight, require_3ds: weight, block: weight }).partial().strict().optional(),
    newAccountDays: z.number().min(0).optional(),
    highAmountCents: z.number().int().min(0).optional(),
    highAmountAccountDays: z.number().min(0).optional(),
    smallChargeCents: z.number().int().min(0).optional(),
    cardTestingCount: z.number().int().min(1).optional(),
    velocityAttempts: z.number().int().min(1).optional(),
    windowMs: z.number().int().min(1000).optional(),
  })
  .strict();

/** The candidate policy a file describes, over `base`, or each problem with it. */
export function policyFrom(text: string, base: FraudPolicy): { ok: true; policy: FraudPolicy } | { ok: false; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`not JSON: ${(err as Error).message}`] };
  }
  const parsed = policyFile.safeParse(json);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`) };
  const p = parsed.data;
  const thresholds = { ...base.thresholds, ...p.thresholds };
  if (!(thresholds.review <= thresholds.require_3ds && thresholds.require_3ds <= thresholds.block)) return { ok: false, problems: ['thresholds: expected review ≤ require_3ds ≤ block'] };
  return { ok: true, policy: { ...base, ...p, weights: { ...base.weights, ...p.weights }, thresholds } };
}
