import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { charge } from '../../cli/demo/stripe-objects.ts';
import { categoryFor, dataProblems } from '../../notify/index.ts';
import { actionFor, decideFraud, defaultFraudPolicy, isDisposableEmail, paymentFacts, scorePayment, type FraudState, type PaymentFacts } from './decide.ts';
import { emptyRisk } from './evolve.ts';

const t = Date.UTC(2026, 10, 1, 12);
const day = 86_400_000;

function facts(overrides: Partial<PaymentFacts> = {}): PaymentFacts {
  const f = paymentFacts('evt_1', 'charge.succeeded', t, charge({ id: 'ch_1', customer: 'cus_1', amount: 2900, created: t / 1000, fingerprint: 'fpA' }));
  assert.ok(f);
  return { ...f, ...overrides };
}
const established: FraudState = { accountCreatedAt: t - 400 * day, customerEmail: 'ana@acme.io', customerCountry: 'US', attemptsInWindow: 1, smallChargesInWindow: 0, fingerprintFlagged: false };
const names = (d: ReturnType<typeof scorePayment>) => d.factors.map((f) => f.name);

describe('fraud scoring', () => {
  it('reads card, billing and customer from a charge payload', () => {
    const f = facts();
    assert.deepEqual([f.customerId, f.paymentId, f.amount, f.currency, f.cardCountry, f.billingCountry, f.fingerprint], ['cus_1', 'ch_1', 2900, 'usd', 'US', 'US', 'fpA']);
    assert.equal(paymentFacts('evt_2', 'invoice.paid', t, {}), null);
  });

  it('allows a normal payment from an established customer (score 0)', () => {
    assert.deepEqual(scorePayment(facts(), established), { score: 0, action: 'allow', factors: [] });
  });

  it('new account (+0.15) with a disposable email (+0.30) = 0.45: review', () => {
    const d = scorePayment(facts({ email: 'x@mailinator.com' }), { ...established, accountCreatedAt: t - 2 * day });
    assert.deepEqual(names(d), ['new_account', 'disposable_email']);
    assert.equal(d.score, 0.45);
    assert.equal(d.action, 'review');
  });

  it('high amount for a new customer (+0.25), card country ≠ billing (+0.20), new account (+0.15) = 0.60: require_3ds', () => {
    const d = scorePayment(facts({ amount: 80_000, cardCountry: 'NG', billingCountry: 'US' }), { ...established, accountCreatedAt: t - 3 * day });
    assert.deepEqual(names(d), ['new_account', 'high_amount_new_customer', 'country_mismatch']);
    assert.equal(d.score, 0.6);
    assert.equal(d.action, 'require_3ds');
  });

  it('velocity scales from +0.15 at 4 attempts to +0.40 at 8 or more', () => {
    const weight = (attempts: number) => scorePayment(facts(), { ...established, attemptsInWindow: attempts }).factors.find((f) => f.name === 'payment_velocity')?.weight ?? 0;
    assert.deepEqual([3, 4, 5, 6, 7, 8, 20].map(weight), [0, 0.15, 0.2125, 0.275, 0.3375, 0.4, 0.4]);
  });

  it('card testing: the 5th small charge adds +0.40; with velocity and a new account the burst ends up blocked', () => {
    const burst = (n: number) => scorePayment(facts({ amount: 100 }), { ...established, accountCreatedAt: t - day, attemptsInWindow: n, smallChargesInWindow: n });
    assert.equal(burst(4).score, 0.3); // new_account 0.15 + velocity 0.15: review
    assert.equal(burst(4).action, 'review');
    assert.equal(burst(5).score, 0.7625); // 0.15 + 0.2125 + 0.40: require_3ds
    assert.equal(burst(5).action, 'require_3ds');
    assert.equal(burst(7).score, 0.8875); // 0.15 + 0.3375 + 0.40: block
    assert.equal(burst(7).action, 'block');
  });

  it('a card fingerprint involved in fraud before adds +0.35', () => {
    const d = scorePayment(facts(), { ...established, fingerprintFlagged: true });
    assert.deepEqual(d.factors.map((f) => [f.name, f.weight]), [['fingerprint_fraud_history', 0.35]]);
    assert.equal(d.action, 'review');
  });

  it('maps scores to actions at the configured thresholds, and the score never exceeds 1', () => {
    assert.deepEqual([0, 0.2999, 0.3, 0.4999, 0.5, 0.8499, 0.85, 1].map((s) => actionFor(s, defaultFraudPolicy)), ['allow', 'allow', 'review', 'review', 'require_3ds', 'require_3ds', 'block', 'block']);
    const strict = { ...defaultFraudPolicy, thresholds: { review: 0.1, require_3ds: 0.2, block: 0.3 } };
    assert.equal(actionFor(0.35, strict), 'block');
    const worst = scorePayment(facts({ amount: 100_000, email: 'x@mailinator.com', cardCountry: 'RU', billingCountry: 'US' }), { ...established, accountCreatedAt: t, attemptsInWindow: 9, smallChargesInWindow: 9, fingerprintFlagged: true });
    assert.equal(worst.score, 1);
  });

  it('knows disposable email domains from the maintained list', () => {
    assert.equal(isDisposableEmail('a@mailinator.com'), true);
    assert.equal(isDisposableEmail('a@gmail.com'), false);
    assert.equal(isDisposableEmail(null), false);
  });

  it('given a payment to block, then the risk team\'s request names a category its template is sent in (notify/template-categories.ts) and its data passes the template\'s schema (notify/template-data.ts)', () => {
    const view = { risk: emptyRisk, customer: { createdAt: t - day, email: 'x@mailinator.com', country: 'US' }, cardFlaggedAt: t - day, chargeFingerprint: null };
    const d = decideFraud(view, { kind: 'payment', facts: facts({ amount: 90_000 }) }, t, { policy: defaultFraudPolicy, riskTeamUser: 'risk-team' });
    const requests = d.events.flatMap((e) => (e.record === 'NotificationRequested' ? [e.value] : []));
    assert.equal(requests.length, 1);
    for (const r of requests) assert.ok(categoryFor(r.template, r.category).ok, `${r.template} as ${r.category}`);
    for (const r of requests) assert.deepEqual(dataProblems(r.template, JSON.parse(r.data) as Record<string, unknown>), [], r.template);
  });
});
