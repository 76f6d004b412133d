import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { event, invoice } from '../../cli/demo/stripe-objects.ts';
import { createTopics, registerSchemas } from '../../lib/catalogue.ts';
import type { DunningStepDecided, DunningStepDue, NotificationRequested } from '../../lib/topics.ts';
import { collect } from '../../test/support/consume.ts';
import { createTestEnv, type TestEnv } from '../../test/support/env.ts';
import { FakeStripe } from '../../test/support/fake-providers.ts';
import { appendStripeEvents } from '../../test/support/stripe-records.ts';
import { ProcessorGroup } from '../supervisor.ts';

/**
 * Dunning's end action against the real stack: the dunning processor with its durable timers, the
 * real stripe SDK against a local server that answers like Stripe's API (idempotency keys
 * included). Failures are made 22 days old, so every step of the schedule is due at once.
 */
describe('dunning against the real stack: end actions at Stripe, decline codes', () => {
  let t: TestEnv;
  let stripe: FakeStripe;
  let stop: (() => Promise<void>) | null = null;
  const DAY_S = 86_400;

  before(async () => {
    stripe = await new FakeStripe().start();
    t = await createTestEnv('dunning-end', { STRIPE_API_KEY: stripe.apiKey, STRIPE_API_URL: stripe.url, EVENTLINE_DUNNING_END_ACTION: 'cancel' });
    await createTopics(t.rt.kafka);
    await registerSchemas(t.rt.kafka);
    const group = new ProcessorGroup(t.rt, ['dunning'], { timerIntervalMs: 50 });
    await group.start({ watchMs: 60_000 });
    stop = () => group.stop();
  });
  after(async () => {
    await stop?.();
    await t?.cleanup();
    await stripe?.close();
  });

  const v = '2025-09-30.clover';
  const failure = (invoiceId: string, subscriptionId: string, customer: string, extra: { type?: string; declineCode?: string; ageDays?: number } = {}) => {
    const created = Math.floor(Date.now() / 1000) - (extra.ageDays ?? 22) * DAY_S;
    const spec = { id: invoiceId, customer, subscription: subscriptionId, amountDue: 4900, status: 'open', attemptCount: 1, created, ...(extra.declineCode ? { declineCode: extra.declineCode } : {}) };
    return event(v, { id: `evt_${(extra.type ?? 'fail').replace(/\W/g, '_')}_${invoiceId}`, type: extra.type ?? 'invoice.payment_failed', created, object: invoice(v, spec) });
  };
  const firstRequestOf = async (invoiceId: string): Promise<NotificationRequested> => {
    const records = await collect(t.rt.kafka, ['notify.dispatch-requests.v1'], (rs) => rs.some((r) => r.record === 'NotificationRequested' && JSON.parse(r.value.data).invoice_id === invoiceId), { timeoutMs: 60_000 });
    return records.find((r) => r.record === 'NotificationRequested' && JSON.parse(r.value.data).invoice_id === invoiceId)!.value as NotificationRequested;
  };
  const endActionOf = async (caseId: string): Promise<DunningStepDecided[]> => {
    const records = await collect(t.rt.kafka, ['billing.dunning-steps.v1'], (rs) => rs.some((r) => r.record === 'DunningStepDecided' && r.value.case_id === caseId && r.value.step === 'end_action'), { timeoutMs: 60_000 });
    return records.flatMap((r) => (r.record === 'DunningStepDecided' && r.value.case_id === caseId && r.value.step === 'end_action' ? [r.value] : []));
  };

  it('given an exhausted case with cancel configured, then the subscription is canceled once — a lost response retried with the same key, the end timer delivered again after a crash — and what Stripe answered is on billing.dunning-steps.v1', async () => {
    stripe.subscriptions.push({ id: 'sub_end1', object: 'subscription', customer: 'cus_end1', status: 'past_due', created: 1 });
    // Stripe applies the first cancel, and the response never reaches Eventline: the SDK asks again.
    stripe.dropAfterApplying = 1;
    await appendStripeEvents(t.rt.kafka, [failure('in_end1', 'sub_end1', 'cus_end1')]);
    const [first, ...more] = await endActionOf('in_end1');
    assert.deepEqual(more, []);
    assert.deepEqual([first?.action, first?.outcome, first?.case_status, first?.idempotency_key], ['cancel_subscription', 'done', 'exhausted', 'eventline-dunning-in_end1-cancel_subscription']);
    assert.match(first?.detail ?? '', /^subscription sub_end1 canceled \(request req_/);
    const cancels = stripe.writes.filter((w) => w.path === '/v1/subscriptions/sub_end1');
    assert.ok(cancels.length >= 2 && cancels.every((w) => w.method === 'DELETE' && w.idempotencyKey === 'eventline-dunning-in_end1-cancel_subscription'), JSON.stringify(cancels));

    // A crash after the append, before the offset commit: the end timer's record comes again.
    const due: DunningStepDue = { event_id: 'due:dunning:in_end1:end', occurred_at: Date.now() - DAY_S * 1000, received_at: Date.now(), case_id: 'in_end1', customer_id: 'cus_end1', step: 'end', step_event_id: 'dunning:in_end1:end' };
    await (await t.rt.kafka.appender()).append('billing.dunning-steps.v1', [{ key: 'cus_end1', record: 'DunningStepDue', value: due }]);
    // A second case of the same customer (same partition, after that record): once its end is decided, the redelivery was too.
    // Its subscription is unknown to Stripe: Stripe's refusal is recorded, not retried for ever.
    await appendStripeEvents(t.rt.kafka, [failure('in_end2', 'sub_gone', 'cus_end1')]);
    const [refused] = await endActionOf('in_end2');
    assert.deepEqual([refused?.outcome, /resource_missing: No such subscription: 'sub_gone'/.test(refused?.detail ?? '')], ['refused', true], refused?.detail ?? '');
    assert.equal((await endActionOf('in_end1')).length, 1, 'one answer recorded for the first case');
    assert.deepEqual(stripe.applied.map((w) => w.path), ['/v1/subscriptions/sub_end1'], 'canceled once');
    assert.equal(stripe.subscriptions.find((s) => s.id === 'sub_end1')?.status, 'canceled');
    // The entitlement the product gates access on: grace at the failure, blocked after the final notice, cancelled with the subscription.
    const steps = await collect(t.rt.kafka, ['billing.dunning-steps.v1'], (rs) => rs.some((r) => r.record === 'EntitlementChanged' && r.value.case_id === 'in_end1' && r.value.to_state === 'cancelled'));
    const moves = steps.flatMap((r) => (r.record === 'EntitlementChanged' && r.value.case_id === 'in_end1' ? [[r.value.from_state, r.value.to_state]] : []));
    assert.deepEqual(moves, [['active', 'grace'], ['grace', 'blocked'], ['blocked', 'cancelled']]);
  });

  it('given an expired_card failure, then the first notice asks for a new payment method; given invoice.payment_action_required, then the 3D Secure notice, HIGH, with the hosted invoice page', async () => {
    await appendStripeEvents(t.rt.kafka, [failure('in_hard1', 'sub_hard1', 'cus_hard1', { declineCode: 'expired_card', ageDays: 0 }), failure('in_3ds1', 'sub_3ds1', 'cus_3ds1', { type: 'invoice.payment_action_required', ageDays: 0 })]);
    const hard = await firstRequestOf('in_hard1');
    assert.deepEqual([hard.template, hard.priority, hard.user_id], ['update_payment_method', 'HIGH', 'cus_hard1']);
    const sca = await firstRequestOf('in_3ds1');
    assert.deepEqual([sca.template, sca.priority, JSON.parse(sca.data).hosted_invoice_url], ['payment_action_required', 'HIGH', 'https://invoice.stripe.com/i/acct_1Lk/test_3ds1']);
  });
});
