import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backtest, policyFrom, type BacktestFact } from './backtest.ts';
import { defaultFraudPolicy, type PaymentFacts } from './score.ts';

const t0 = Date.UTC(2026, 10, 2, 8);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const pay = (id: string, customerId: string, amount: number, hours: number, over: Partial<PaymentFacts> = {}): BacktestFact => ({
  kind: 'payment',
  facts: { eventId: `evt_${id}`, eventType: 'charge.succeeded', customerId, paymentId: `ch_${id}`, amount, currency: 'usd', at: t0 + hours * HOUR, cardCountry: 'US', billingCountry: 'US', fingerprint: `fp${id}card`, email: null, ...over },
});
const label = (id: string, l: 'fraudulent' | 'legitimate', hours: number): BacktestFact => ({ kind: 'label', at: t0 + hours * HOUR, paymentId: `ch_${id}`, label: l });

/**
 * A hand-built, labelled history. Under the default policy (review 0.3, 3DS 0.5, block 0.85):
 *   p1 A (400 days old), 29.00 ............................................ 0    allow
 *   p2 B (1 day old, disposable email), 29.00: new 0.15 + disposable 0.30 . 0.45 review       fraudulent
 *   p3 B, 600.00: + high amount for a new customer 0.25 ................... 0.70 require_3ds  fraudulent
 *   p4 C (not in the directory), 600.00: high amount 0.25 ................. 0.25 allow        legitimate
 *   p5 A, card from FR, billing US: country mismatch 0.20 ................. 0.20 allow        fraudulent (missed)
 * The candidate (review 0.2, block 0.6): p1 allow, p2 review, p3 block, p4 review, p5 review.
 */
const history: BacktestFact[] = [
  { kind: 'customer', at: t0 - 400 * DAY, customerId: 'cus_A', customer: { createdAt: t0 - 400 * DAY, email: 'a@acme.io', country: 'US' } },
  { kind: 'customer', at: t0 - DAY, customerId: 'cus_B', customer: { createdAt: t0 - DAY, email: 'x@mailinator.com', country: 'US' } },
  pay('p1', 'cus_A', 2900, 0),
  pay('p2', 'cus_B', 2900, 2),
  pay('p3', 'cus_B', 60_000, 4),
  pay('p4', 'cus_C', 60_000, 6),
  pay('p5', 'cus_A', 2900, 8, { cardCountry: 'FR' }),
  label('p2', 'fraudulent', 100),
  label('p3', 'legitimate', 90),
  label('p3', 'fraudulent', 120),
  label('p4', 'legitimate', 100),
  label('p5', 'fraudulent', 100),
];

describe('fraud policy back-test', () => {
  it('given a hand-built labelled set, then each policy\'s actions, and the precision and recall of block and review, are the hand-counted figures', () => {
    const candidate = policyFrom(JSON.stringify({ thresholds: { review: 0.2, block: 0.6 } }), defaultFraudPolicy);
    assert.ok(candidate.ok);
    const report = backtest([...history].reverse(), defaultFraudPolicy, candidate.policy);
    assert.deepEqual([report.payments, report.fraudulent], [5, 3], 'p3 was relabelled fraudulent; p2, p3, p5');
    assert.deepEqual(report.current, {
      payments: 5,
      actions: { allow: 3, review: 1, require_3ds: 1, block: 0 },
      block: { precision: null, recall: 0, truePositives: 0 },
      review: { precision: 1, recall: 0.6667, truePositives: 2 },
    });
    assert.deepEqual(report.candidate, {
      payments: 5,
      actions: { allow: 1, review: 3, require_3ds: 0, block: 1 },
      block: { precision: 1, recall: 0.3333, truePositives: 1 },
      review: { precision: 0.75, recall: 1, truePositives: 3 },
    });
  });

  it('given a card blocked by a policy, then that policy sees the card as flagged later on; a fraudulent dispute flags its charge\'s card too', () => {
    const strict = policyFrom(JSON.stringify({ thresholds: { review: 0.1, require_3ds: 0.15, block: 0.2 } }), defaultFraudPolicy);
    assert.ok(strict.ok);
    const facts: BacktestFact[] = [pay('q1', 'cus_D', 2900, 0, { cardCountry: 'FR', fingerprint: 'fpShared01' }), pay('q2', 'cus_E', 2900, 1, { fingerprint: 'fpShared01' }), pay('q3', 'cus_F', 2900, 2, { fingerprint: 'fpDisputed' }), { kind: 'fraud_report', at: t0 + 3 * HOUR, chargeId: 'ch_q3' }, pay('q4', 'cus_G', 2900, 4, { fingerprint: 'fpDisputed' })];
    const report = backtest(facts, defaultFraudPolicy, strict.policy);
    // Default: q1 0.2 allow; q2 0 allow; q3 allow; q4 carries the dispute's flag: 0.35 review.
    assert.deepEqual(report.current.actions, { allow: 3, review: 1, require_3ds: 0, block: 0 });
    // Strict: q1 0.2 block (flags fpShared01), q2 0.35 block, q3 0 allow, q4 0.35 block.
    assert.deepEqual(report.candidate.actions, { allow: 1, review: 0, require_3ds: 0, block: 3 });
  });

  it('given a payment intent and its charge, then one payment, measured by the charge, fraudulent by a label on either id, the latest winning', () => {
    const pi: BacktestFact = { kind: 'payment', facts: { eventId: 'evt_pi9', eventType: 'payment_intent.created', customerId: 'cus_H', paymentId: 'pi_9', amount: 2900, currency: 'usd', at: t0, cardCountry: null, billingCountry: null, fingerprint: null, email: null, attemptId: 'pi_9' } };
    const ch = pay('r9', 'cus_H', 2900, 1, { attemptId: 'pi_9', cardCountry: 'FR' });
    const strict = policyFrom(JSON.stringify({ thresholds: { review: 0.1, require_3ds: 0.15, block: 0.2 } }), defaultFraudPolicy);
    assert.ok(strict.ok);
    const one = backtest([pi, ch, { kind: 'label', at: t0 + DAY, paymentId: 'ch_r9', label: 'fraudulent' }], defaultFraudPolicy, strict.policy);
    assert.deepEqual([one.payments, one.fraudulent, one.candidate.actions.block, one.candidate.block.precision], [1, 1, 1, 1], 'the charge (country mismatch) decides; the dispute on the charge labels the attempt');
    const relabelled = backtest([pi, ch, { kind: 'label', at: t0 + DAY, paymentId: 'ch_r9', label: 'fraudulent' }, { kind: 'label', at: t0 + 2 * DAY, paymentId: 'pi_9', label: 'legitimate' }], defaultFraudPolicy, strict.policy);
    assert.equal(relabelled.fraudulent, 0, 'a later review on the PaymentIntent wins');
  });

  it('given a bad policy file, then each problem is named', () => {
    const bad = policyFrom(JSON.stringify({ weights: { new_account: 2, typo: 1 }, thresholds: { review: 0.9, block: 0.5 } }), defaultFraudPolicy);
    assert.equal(bad.ok, false);
    assert.match(JSON.stringify(bad), /weights.new_account/);
    assert.match(JSON.stringify(bad), /typo/);
    const order = policyFrom(JSON.stringify({ thresholds: { review: 0.9 } }), defaultFraudPolicy);
    assert.deepEqual(order, { ok: false, problems: ['thresholds: expected review ≤ require_3ds ≤ block'] });
    assert.equal(policyFrom('{not json', defaultFraudPolicy).ok, false);
  });
});
