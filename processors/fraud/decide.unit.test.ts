import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { charge } from '../../cli/demo/stripe-objects.ts';
import { categoryFor, dataProblems } from '../../notify/index.ts';
import { actionFor, decideFraud, defaultFraudPolicy, isDisposableEmail, paymentFacts, scorePayment, type FraudState, type PaymentFacts } from './decide.ts';
import { emptyRisk, riskKind, type CustomerRisk, type FraudFact } from './evolve.ts';
import { foldEntity } from '../../lib/decider/index.ts';
import { ListSnapshot, normalizeListValue, type ListEntry } from '../../lib/risk/lists.ts';

const t = Date.UTC(2026, 10, 1, 12);
const day = 86_400_000;

function facts(overrides: Partial<PaymentFacts> = {}): PaymentFacts {
  const f = paymentFacts('evt_1', 'charge.succeeded', t, charge({ id: 'ch_1', customer: 'cus_1', amount: 2900, created: t / 1000, fingerprint: 'fpA' }));
  assert.ok(f);
  return { ...f, ...overrides };
}
const established: FraudState = { accountCreatedAt: t - 400 * day, customerEmail: 'ana@acme.io', customerCountry: 'US', attemptsInWindow: 1, smallChargesInWindow: 0, fingerprintFlagged: false };
const names = (d: ReturnType<typeof scorePayment>) => d.factors.map((f) => f.name);

describe('payment intents', () => {
  it('scores payment_intent.created before the charge, and counts a payment intent and its charges as one attempt of the customer, at its earliest time', () => {
    const pi = paymentFacts('evt_pi', 'payment_intent.created', t, { id: 'pi_1', object: 'payment_intent', customer: 'cus_1', amount: 2900, currency: 'usd', status: 'requires_payment_method' });
    assert.deepEqual([pi?.paymentId, pi?.attemptId, pi?.amount, pi?.fingerprint], ['pi_1', 'pi_1', 2900, null]);
    const ch = facts();
    assert.equal(ch.attemptId, 'pi_1', 'the demo charge ch_1 belongs to pi_1');
    const fact = (eventId: string, type: string, at: number, object: unknown): FraudFact => ({ topic: 'stripe.events.v1', record: 'StripeEventReceived', value: { event_id: eventId, occurred_at: at, received_at: at, type, api_version: null, account: null, livemode: false, customer_id: 'cus_1', object_id: null, object_type: null, source: 'webhook', payload: JSON.stringify({ id: eventId, object: 'event', type, created: at / 1000, data: { object } }) } });
    const piFact = fact('evt_pi', 'payment_intent.created', t, { id: 'pi_1', object: 'payment_intent', customer: 'cus_1', amount: 2900, currency: 'usd' });
    const chargeFact = fact('evt_ch', 'charge.succeeded', t + 5000, charge({ id: 'ch_1', customer: 'cus_1', amount: 2900, created: (t + 5000) / 1000 }));
    for (const order of [[piFact, chargeFact], [chargeFact, piFact]]) {
      const risk = foldEntity(riskKind, 'cus_1', order) as CustomerRisk;
      assert.deepEqual(risk.attempts, [[t, 'pi_1']]);
    }
  });
});

describe('allow and block lists', () => {
  const entry = (list: 'allow' | 'block', kind: ListEntry['kind'], value: string, reason: string | null = null): ListEntry => ({ list, kind, value, reason });

  it('normalizes values: emails and domains lowercase, countries uppercase; refuses what is not one', () => {
    assert.deepEqual(normalizeListValue('email', ' Ana@Example.COM '), { ok: true, value: 'ana@example.com' });
    assert.deepEqual(normalizeListValue('country', 'fr'), { ok: true, value: 'FR' });
    assert.deepEqual(normalizeListValue('bin', '424242'), { ok: true, value: '424242' });
    assert.deepEqual(normalizeListValue('ip', '203.0.113.9'), { ok: true, value: '203.0.113.9' });
    assert.deepEqual(normalizeListValue('ip', '2001:DB8:0:0:0:0:0:1'), { ok: true, value: '2001:db8::1' }, 'IPv6 in one spelling');
    for (const [kind, bad] of [['email', 'ana'], ['country', 'FRA'], ['bin', '42'], ['ip', '300.1.1.1'], ['customer', 'alice'], ['email_domain', 'localhost']] as const) assert.equal(normalizeListValue(kind, bad).ok, false, `${kind} ${bad}`);
  });

  it('matches a payment on its customer, email, email domain, card, BIN, IP and card country', () => {
    const lists = new ListSnapshot([entry('block', 'email_domain', 'fraud.example'), entry('block', 'country', 'KP'), entry('allow', 'ip', '203.0.113.9'), entry('block', 'bin', '400000')]);
    const m = lists.match({ customerId: 'cus_1', email: 'Someone@Fraud.Example', fingerprint: 'fpA', cardCountry: 'kp', ip: '203.0.113.9', bin: '400000' });
    assert.deepEqual(m.block.map((e) => e.kind).sort(), ['bin', 'country', 'email_domain']);
    assert.deepEqual(m.allow.map((e) => e.kind), ['ip']);
    assert.deepEqual(lists.match({ customerId: 'cus_2', email: 'a@good.example', fingerprint: null, cardCountry: 'US' }), { allow: [], block: [] });
  });

  it('a block-list match is a factor of weight 1 (block); an allow-list match allows whatever the score, named too', () => {
    const blocked = scorePayment(facts(), established, defaultFraudPolicy, { allow: [], block: [entry('block', 'card_fingerprint', 'fpA', 'ring')] });
    assert.deepEqual([blocked.score, blocked.action, blocked.factors.map((f) => [f.name, f.weight, f.detail])], [1, 'block', [['block_list', 1, 'card_fingerprint fpA (ring) is on the block list']]]);
    const both = scorePayment(facts(), established, defaultFraudPolicy, { allow: [entry('allow', 'customer', 'cus_1')], block: [entry('block', 'card_fingerprint', 'fpA')] });
    assert.deepEqual([both.score, both.action, names(both)], [1, 'allow', ['block_list', 'allow_list']]);
  });
});

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
