/**
 * Random Stripe histories for the fraud and dunning deciders' properties (fast-check): the unit
 * properties on a Map (the decider.unit.test.ts of each) and the batch decisions against the real
 * Redis and Kafka (processors/batch-decisions.int.test.ts) play the same histories.
 */
import fc from 'fast-check';
import { charge, customer, event, invoice, subscription } from '../../cli/demo/stripe-objects.ts';
import type { DunningFact } from '../../processors/dunning/evolve.ts';
import type { FraudFact } from '../../processors/fraud/evolve.ts';
import { stripeRecords } from './stripe-records.ts';

const v = '2025-09-30.clover';
const T0 = Math.floor(Date.UTC(2026, 9, 1) / 1000);

/** A Stripe event as the webhook appends it, as a fact of stripe.events.v1. */
export function stripeFact(e: Record<string, unknown>): FraudFact & DunningFact {
  const [r] = stripeRecords([e], 0);
  return { topic: 'stripe.events.v1', record: 'StripeEventReceived', value: r!.value } as FraudFact & DunningFact;
}

export type FraudCommand =
  | { readonly kind: 'charge'; readonly customer: number; readonly card: number; readonly small: boolean; readonly failed: boolean; readonly gap: number }
  | { readonly kind: 'dispute'; readonly pick: number; readonly fraudulent: boolean; readonly gap: number }
  | { readonly kind: 'warning'; readonly pick: number; readonly gap: number };

export const fraudCommandArb: fc.Arbitrary<FraudCommand> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('charge' as const), customer: fc.nat(2), card: fc.nat(2), small: fc.boolean(), failed: fc.boolean(), gap: fc.integer({ min: 0, max: 1800 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dispute' as const), pick: fc.nat(30), fraudulent: fc.boolean(), gap: fc.integer({ min: 0, max: 3600 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('warning' as const), pick: fc.nat(30), gap: fc.integer({ min: 0, max: 3600 }) }) },
);

/** The Stripe records of a fraud history: three customers (one with a disposable address), charges on shared cards, disputes and early fraud warnings. */
export function fraudInputsOf(commands: readonly FraudCommand[]): FraudFact[] {
  let t = T0;
  const out: FraudFact[] = [];
  const charges: { id: string; customer: string }[] = [];
  for (let c = 0; c < 3; c++) out.push(stripeFact(event(v, { id: `evt_cus_${c}`, type: 'customer.created', created: t - 86_400 * 10 * c, object: customer({ id: `cus_${c}`, email: c === 2 ? 'x@mailinator.com' : `c${c}@example.com`, created: t - 86_400 * 10 * c }) })));
  commands.forEach((cmd, i) => {
    t += cmd.gap;
    if (cmd.kind === 'charge') {
      const id = `ch_${i}`;
      charges.push({ id, customer: `cus_${cmd.customer}` });
      out.push(stripeFact(event(v, { id: `evt_${i}`, type: cmd.failed ? 'charge.failed' : 'charge.succeeded', created: t, object: charge({ id, customer: `cus_${cmd.customer}`, amount: cmd.small ? 100 : 60_000, created: t, status: cmd.failed ? 'failed' : 'succeeded', fingerprint: `fp_${cmd.card}`, cardCountry: cmd.card === 2 ? 'BR' : 'US' }) })));
      return;
    }
    const target = charges[cmd.pick % Math.max(1, charges.length)];
    if (!target) return;
    if (cmd.kind === 'dispute') {
      out.push(stripeFact(event(v, { id: `evt_${i}`, type: 'charge.dispute.created', created: t, object: { id: `dp_${i}`, object: 'dispute', charge: target.id, reason: cmd.fraudulent ? 'fraudulent' : 'product_not_received', amount: 100, currency: 'usd', status: 'needs_response' } })));
    } else {
      out.push(stripeFact(event(v, { id: `evt_${i}`, type: 'radar.early_fraud_warning.created', created: t, object: { id: `issfr_${i}`, object: 'radar.early_fraud_warning', charge: target.id, fraud_type: 'made_with_stolen_card', actionable: true } })));
    }
  });
  return out;
}

export const fraudHistoryArb = fc.array(fraudCommandArb, { minLength: 1, maxLength: 40 });

export type DunningCommand =
  | { readonly kind: 'fail'; readonly invoice: number; readonly attempt: number; readonly gap: number }
  | { readonly kind: 'pay'; readonly invoice: number; readonly gap: number }
  | { readonly kind: 'cancel'; readonly sub: number; readonly gap: number }
  | { readonly kind: 'fire' };

export const dunningCommandArb: fc.Arbitrary<DunningCommand> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('fail' as const), invoice: fc.nat(3), attempt: fc.integer({ min: 1, max: 4 }), gap: fc.integer({ min: 0, max: 86_400 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pay' as const), invoice: fc.nat(3), gap: fc.integer({ min: 0, max: 86_400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), sub: fc.nat(1), gap: fc.integer({ min: 0, max: 86_400 }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'fire' as const }) },
);

/** The Stripe records of a dunning history (built once: replays use the same records); 'fire': the earliest timer the state wants fires. */
export function dunningInputsOf(commands: readonly DunningCommand[]): (DunningFact | 'fire')[] {
  let t = T0;
  const out: (DunningFact | 'fire')[] = [];
  for (let c = 0; c < 2; c++) out.push(stripeFact(event(v, { id: `evt_cus_${c}`, type: 'customer.created', created: t, object: customer({ id: `cus_${c}`, email: `c${c}@example.com`, created: t - 86_400 * 30 * c, userId: `user_${c}` }) })));
  commands.forEach((cmd, i) => {
    if (cmd.kind === 'fire') return void out.push('fire');
    t += cmd.gap;
    if (cmd.kind === 'cancel') {
      out.push(stripeFact(event(v, { id: `evt_${i}`, type: 'customer.subscription.deleted', created: t, object: subscription(v, { id: `sub_${cmd.sub}`, customer: `cus_${cmd.sub}`, status: 'canceled', items: [{ unitAmount: 2500 }], created: T0 }) })));
      return;
    }
    const n = cmd.invoice;
    const spec = { id: `in_${n}`, customer: `cus_${n % 2}`, subscription: `sub_${n % 2}`, amountDue: n === 3 ? 20_000 : 2500, created: T0 };
    if (cmd.kind === 'fail') out.push(stripeFact(event(v, { id: `evt_${i}`, type: 'invoice.payment_failed', created: t, object: invoice(v, { ...spec, status: 'open', attemptCount: cmd.attempt }) })));
    else out.push(stripeFact(event(v, { id: `evt_${i}`, type: 'invoice.paid', created: t, object: invoice(v, { ...spec, status: 'paid' }) })));
  });
  return out;
}

export const dunningHistoryArb = fc.array(dunningCommandArb, { minLength: 1, maxLength: 40 });
