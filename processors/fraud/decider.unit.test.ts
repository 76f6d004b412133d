/**
 * Properties of the fraud decider over random Stripe histories (customers, bursts of small and
 * large charges on shared cards, fraudulent and other disputes, early fraud warnings), through the
 * real record → decision path: the state rebuilt from the topics in any order equals the live one,
 * a replay of the same records (a re-read after the windows moved on) decides nothing new, and
 * a fresh replay decides the same.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { charge, customer, event } from '../../cli/demo/stripe-objects.ts';
import { MemoryState, rebuildEqualsLive, replayIsIdentical } from '../../test/support/decider-harness.ts';
import { stripeRecords } from '../../test/support/stripe-records.ts';
import { defaultFraudPolicy } from './decide.ts';
import { cardKind, chargeKind, fraudKinds, riskKind, type FraudFact } from './evolve.ts';
import { decideRecord, type FraudReader } from './main.ts';

const v = '2025-09-30.clover';
const T0 = Math.floor(Date.UTC(2026, 9, 1) / 1000);
const options = { policy: defaultFraudPolicy, riskTeamUser: 'risk-team' };

type Command =
  | { readonly kind: 'charge'; readonly customer: number; readonly card: number; readonly small: boolean; readonly failed: boolean; readonly gap: number }
  | { readonly kind: 'dispute'; readonly pick: number; readonly fraudulent: boolean; readonly gap: number }
  | { readonly kind: 'warning'; readonly pick: number; readonly gap: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('charge' as const), customer: fc.nat(2), card: fc.nat(2), small: fc.boolean(), failed: fc.boolean(), gap: fc.integer({ min: 0, max: 1800 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('dispute' as const), pick: fc.nat(30), fraudulent: fc.boolean(), gap: fc.integer({ min: 0, max: 3600 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('warning' as const), pick: fc.nat(30), gap: fc.integer({ min: 0, max: 3600 }) }) },
);

const factOf = (e: Record<string, unknown>): FraudFact => {
  const [r] = stripeRecords([e], 0);
  return { topic: 'stripe.events.v1', record: 'StripeEventReceived', value: r!.value };
};

function inputsOf(commands: readonly Command[]): FraudFact[] {
  let t = T0;
  const out: FraudFact[] = [];
  const charges: { id: string; customer: string }[] = [];
  for (let c = 0; c < 3; c++) out.push(factOf(event(v, { id: `evt_cus_${c}`, type: 'customer.created', created: t - 86_400 * 10 * c, object: customer({ id: `cus_${c}`, email: c === 2 ? 'x@mailinator.com' : `c${c}@example.com`, created: t - 86_400 * 10 * c }) })));
  commands.forEach((cmd, i) => {
    t += cmd.gap;
    if (cmd.kind === 'charge') {
      const id = `ch_${i}`;
      charges.push({ id, customer: `cus_${cmd.customer}` });
      out.push(factOf(event(v, { id: `evt_${i}`, type: cmd.failed ? 'charge.failed' : 'charge.succeeded', created: t, object: charge({ id, customer: `cus_${cmd.customer}`, amount: cmd.small ? 100 : 60_000, created: t, status: cmd.failed ? 'failed' : 'succeeded', fingerprint: `fp_${cmd.card}`, cardCountry: cmd.card === 2 ? 'BR' : 'US' }) })));
      return;
    }
    const target = charges[cmd.pick % Math.max(1, charges.length)];
    if (!target) return;
    if (cmd.kind === 'dispute') {
      out.push(factOf(event(v, { id: `evt_${i}`, type: 'charge.dispute.created', created: t, object: { id: `dp_${i}`, object: 'dispute', charge: target.id, reason: cmd.fraudulent ? 'fraudulent' : 'product_not_received', amount: 100, currency: 'usd', status: 'needs_response' } })));
    } else {
      out.push(factOf(event(v, { id: `evt_${i}`, type: 'radar.early_fraud_warning.created', created: t, object: { id: `issfr_${i}`, object: 'radar.early_fraud_warning', charge: target.id, fraud_type: 'made_with_stolen_card', actionable: true } })));
    }
  });
  return out;
}

async function play(inputs: readonly FraudFact[]): Promise<MemoryState<FraudFact>> {
  const m = new MemoryState<FraudFact>(fraudKinds);
  const read: FraudReader = {
    risk: (id) => m.get(riskKind.name, id),
    card: (fp) => m.get(cardKind.name, fp),
    charge: (id) => m.get(chargeKind.name, id),
    customer: (id) => m.get('directory:customer', id),
  };
  for (const fact of inputs) m.commit(fact, await decideRecord(fact, read, options));
  return m;
}

const historyArb = fc.array(commandArb, { minLength: 1, maxLength: 40 });

describe('fraud decider properties', () => {
  it('given any history, when its topics are folded in any order, then the rebuilt state equals the live state', async () => {
    await fc.assert(rebuildEqualsLive(historyArb, fraudKinds, (commands) => play(inputsOf(commands))), { numRuns: 150 });
  });

  it('given the same records, when replayed on a fresh state the decisions are identical, and re-read on the live state nothing new is decided', async () => {
    await fc.assert(
      replayIsIdentical(historyArb, inputsOf, play, async (first, inputs) => {
        const scored = first.events.filter((e) => e.record === 'FraudScored').length;
        assert.equal(scored, inputs.filter((f) => f.topic === 'stripe.events.v1' && f.value.type.startsWith('charge.') && !f.value.type.includes('dispute')).length, 'every charge scored once');
        const read: FraudReader = { risk: (id) => first.get(riskKind.name, id), card: (fp) => first.get(cardKind.name, fp), charge: (id) => first.get(chargeKind.name, id), customer: (id) => first.get('directory:customer', id) };
        for (const f of inputs) {
          const events = await decideRecord(f, read, options);
          assert.deepEqual(events.filter((e) => e.record === 'FraudScored'), [], 're-read after the windows moved on');
        }
      }),
      { numRuns: 100 },
    );
  });

  it('given a fraudulent dispute on a card, then a later payment with that card carries the fingerprint factor, an earlier one does not', async () => {
    const live = await play(
      inputsOf([
        { kind: 'charge', customer: 0, card: 1, small: false, failed: false, gap: 60 },
        { kind: 'dispute', pick: 0, fraudulent: true, gap: 60 },
        { kind: 'charge', customer: 1, card: 1, small: false, failed: false, gap: 60 },
      ]),
    );
    const factors = live.events.filter((e) => e.record === 'FraudScored').map((e) => (e.value as unknown as { factors: readonly { name: string }[] }).factors.map((f) => f.name));
    assert.equal(factors.length, 2);
    assert.ok(!factors[0]!.includes('fingerprint_fraud_history'));
    assert.ok(factors[1]!.includes('fingerprint_fraud_history'));
    assert.equal(live.events.filter((e) => e.record === 'CardFlagged').length, 1);
  });
});
