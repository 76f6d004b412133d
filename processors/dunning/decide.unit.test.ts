import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldEntity, timersOf } from '../../lib/decider/index.ts';
import type { DeliveryEventReceived, DunningReminderOutcome, DunningStepDecided, EntitlementChanged } from '../../lib/topics.ts';
import { categoryFor, dataProblems } from '../../notify/index.ts';
import { event, invoice } from '../../cli/demo/stripe-objects.ts';
import { stripeFact } from '../../test/support/histories.ts';
import { afterEndAction, cardExpiringRequest, churnRisk, declineClassOf, decideDunning, decideReminderOutcome, endActionDecided, lifecycleRequest, listMrrCents, reminderNotificationId, type DunningDecision, type DunningInput } from './decide.ts';
import { caseKind, caseOf, emptyCase, type CaseState, type DunningFact } from './evolve.ts';

const DAY = 86_400_000;
const t0 = Date.UTC(2026, 10, 2, 8);
const options = { retentionTeamUser: 'retention-team' };
const failed = (over: Partial<Extract<DunningInput, { kind: 'payment_failed' }>> = {}): Extract<DunningInput, { kind: 'payment_failed' }> => ({
  kind: 'payment_failed',
  eventId: 'evt_fail',
  at: t0,
  invoiceId: 'in_1',
  customerId: 'cus_1',
  userId: 'user_1',
  subscriptionId: 'sub_1',
  amountDue: 4900,
  currency: 'usd',
  hostedInvoiceUrl: 'https://invoice.stripe.com/i/x',
  attemptCount: 1,
  priorFailures90d: 0,
  customerSince: t0 - 400 * DAY,
  ...over,
});

const facts = (d: DunningDecision): DunningFact[] => d.decided.map((value: DunningStepDecided) => ({ topic: 'billing.dunning-steps.v1', record: 'DunningStepDecided', value }));
/** The case state after the decisions: their fold, as the processor stores it. */
const after = (d: DunningDecision, from: CaseState = emptyCase): CaseState => foldEntity(caseKind, 'in_1', facts(d), from) as CaseState;
const timerIds = (s: CaseState) => timersOf(caseKind, s, 'in_1').map((t) => t.id);

describe('entitlement states', () => {
  const withEntitlements = (d: DunningDecision, from: CaseState = emptyCase): CaseState =>
    foldEntity(caseKind, 'in_1', [...facts(d), ...(d.entitlements ?? []).map((value: EntitlementChanged): DunningFact => ({ topic: 'billing.dunning-steps.v1', record: 'EntitlementChanged', value }))], from) as CaseState;
  const moves = (d: DunningDecision) => (d.entitlements ?? []).map((e) => [e.from_state, e.to_state, e.event_id]);
  const due = (step: 'day_3' | 'day_14' | 'end', days: number) => ({ kind: 'step_due', eventId: `due:dunning:in_1:${step}`, at: t0 + days * DAY, caseId: 'in_1', step }) as const;

  it('a failure puts the customer in grace, the unpaid final notice blocks them, and the payment makes them active again', () => {
    const open = decideDunning(failed({ declineCode: 'insufficient_funds' }), null, options);
    assert.deepEqual(moves(open), [['active', 'grace', 'entitlement:in_1:grace']]);
    assert.equal(open.entitlements?.[0]?.reason, 'payment failed (soft decline: insufficient_funds)');
    let state = withEntitlements(open);
    assert.deepEqual(moves(decideDunning(due('day_3', 3), caseOf(state), options)), [], 'reminders before the final notice change nothing');
    const final = decideDunning(due('day_14', 14), caseOf(state), options);
    assert.deepEqual(moves(final), [['grace', 'blocked', 'entitlement:in_1:blocked']]);
    state = withEntitlements(final, state);
    const paid = decideDunning({ kind: 'invoice_paid', eventId: 'evt_paid', at: t0 + 15 * DAY, invoiceId: 'in_1' }, caseOf(state), options);
    assert.deepEqual(moves(paid), [['blocked', 'active', 'entitlement:in_1:active']]);
  });

  it('after the schedule ran out (blocked, exhausted), a late payment gives access back and Stripe ending the subscription cancels it', () => {
    let state = withEntitlements(decideDunning(failed(), null, options));
    state = withEntitlements(decideDunning(due('day_14', 14), caseOf(state), options), state);
    state = withEntitlements(decideDunning(due('end', 21), caseOf(state), options), state);
    assert.deepEqual([caseOf(state)?.status, caseOf(state)?.entitlement], ['exhausted', 'blocked']);
    const late = decideDunning({ kind: 'invoice_paid', eventId: 'evt_late', at: t0 + 25 * DAY, invoiceId: 'in_1' }, caseOf(state), options);
    assert.deepEqual([moves(late), late.decided], [[['blocked', 'active', 'entitlement:in_1:active']], []], 'the case stays exhausted');
    const ended = decideDunning({ kind: 'subscription_ended', eventId: 'evt_end', at: t0 + 25 * DAY, subscriptionId: 'sub_1', status: 'unpaid' }, caseOf(state), options);
    assert.deepEqual(moves(ended), [['blocked', 'cancelled', 'entitlement:in_1:cancelled']]);
    const paidState = withEntitlements(late, state);
    assert.deepEqual(decideDunning({ kind: 'invoice_paid', eventId: 'evt_late2', at: t0 + 26 * DAY, invoiceId: 'in_1' }, caseOf(paidState), options), { decided: [], requests: [] }, 'once');
  });

  it('the subscription ending cancels; exhaustion with the cancel action cancels once Stripe did it, and not when Stripe refused', () => {
    const state = withEntitlements(decideDunning(failed(), null, options));
    const lost = decideDunning({ kind: 'subscription_ended', eventId: 'evt_del', at: t0 + 2 * DAY, subscriptionId: 'sub_1', status: 'canceled' }, caseOf(state), options);
    assert.deepEqual(moves(lost), [['grace', 'cancelled', 'entitlement:in_1:cancelled']]);
    const cancel = { ...options, endAction: 'cancel' as const };
    const opened = withEntitlements(decideDunning(failed(), null, cancel));
    const end = decideDunning(due('end', 21), caseOf(opened), cancel);
    assert.deepEqual(moves(afterEndAction(caseOf(opened)!, end.effect!, { outcome: 'done', detail: 'canceled' })).map(([, to]) => to), ['cancelled']);
    assert.deepEqual(moves(afterEndAction(caseOf(opened)!, end.effect!, { outcome: 'refused', detail: 'no such subscription' })), []);
  });
});

describe('what a case puts at stake', () => {
  it('list MRR: unit amount × quantity per month over the items, yearly / 12, weekly × 52 / 12, every 3 months / 3; unknown with a metered item', () => {
    const item = (unitAmount: number | null, interval: string | null, quantity = 1, intervalCount = 1) => ({ unitAmount, interval, quantity, intervalCount });
    assert.equal(listMrrCents([item(2500, 'month', 3)]), 7500);
    assert.equal(listMrrCents([item(120_000, 'year'), item(1000, 'week')]), 10_000 + 4333);
    assert.equal(listMrrCents([item(9000, 'month', 1, 3)]), 3000);
    assert.equal(listMrrCents([item(2500, 'month'), item(null, 'month')]), null);
    assert.equal(listMrrCents([]), null);
  });

  it('the case records the MRR it was given on every decision', () => {
    assert.deepEqual([...new Set(decideDunning(failed({ mrrCents: 7500 }), null, options).decided.map((d) => d.mrr_cents))], [7500]);
    assert.deepEqual([...new Set(decideDunning(failed(), null, options).decided.map((d) => d.mrr_cents))], [null]);
  });
});

describe('dunning by decline code', () => {
  const day0 = { kind: 'step_due', eventId: 'due:dunning:in_1:day_0', at: t0, caseId: 'in_1', step: 'day_0' } as const;
  const firstNotice = (input: Extract<DunningInput, { kind: 'payment_failed' }>) => {
    const opened = after(decideDunning(input, null, options));
    const r = decideDunning(day0, caseOf(opened), options).requests[0]!;
    return { opened, r };
  };

  it('classifies decline codes: lost, stolen, expired cards and do_not_honor are hard; authentication_required asks for 3D Secure; the rest, or none, are soft', () => {
    assert.deepEqual(['stolen_card', 'lost_card', 'expired_card', 'incorrect_number', 'do_not_honor'].map(declineClassOf), ['hard', 'hard', 'hard', 'hard', 'hard']);
    assert.deepEqual(['authentication_required', 'insufficient_funds', 'generic_decline', 'try_again_later', null].map(declineClassOf), ['authentication', 'soft', 'soft', 'soft', 'soft']);
  });

  it('given a hard decline (expired_card), then the first notice asks for a new payment method at once, not "we will retry"; the decision records the code and its class', () => {
    const { opened, r } = firstNotice(failed({ declineCode: 'expired_card' }));
    assert.deepEqual([r.template, r.priority, r.category], ['update_payment_method', 'HIGH', 'payment']);
    const d = decideDunning(failed({ declineCode: 'expired_card' }), null, options).decided;
    assert.deepEqual(d.filter((x) => x.step === 'day_0').map((x) => [x.action, x.decline_code, x.decline_class]), [['send_update_payment_method', 'expired_card', 'hard']]);
    assert.equal(caseOf(opened)?.declineClass, 'hard');
  });

  it('given a soft decline, then the schedule as before: the retry notice first', () => {
    assert.equal(firstNotice(failed({ declineCode: 'insufficient_funds' })).r.template, 'payment_failed');
  });

  it('given authentication_required, or invoice.payment_action_required, then a HIGH notice with the hosted page to complete 3D Secure', () => {
    const { r } = firstNotice(failed({ declineCode: 'authentication_required' }));
    assert.deepEqual([r.template, r.priority, JSON.parse(r.data).hosted_invoice_url], ['payment_action_required', 'HIGH', 'https://invoice.stripe.com/i/x']);
    const action = firstNotice(failed({ actionRequired: true }));
    assert.deepEqual([action.r.template, caseOf(action.opened)?.declineClass], ['payment_action_required', 'authentication']);
  });

  it('given a case open for a soft decline, when Stripe then asks for authentication, then one 3D Secure notice (the same id when asked again), the case unchanged', () => {
    const open = caseOf(after(decideDunning(failed({ declineCode: 'insufficient_funds' }), null, options)));
    const asked = decideDunning(failed({ eventId: 'evt_action', actionRequired: true, at: t0 + DAY }), open, options);
    assert.deepEqual([asked.decided, asked.requests.map((x) => [x.template, x.event_id])], [[], [['payment_action_required', 'req:dunning:in_1:authentication']]]);
    const again = decideDunning(failed({ eventId: 'evt_action_2', actionRequired: true, at: t0 + 2 * DAY }), open, options);
    assert.equal(again.requests[0]?.notification_id, asked.requests[0]?.notification_id);
  });

  it('given a card about to expire, then a billing notice with its brand, last digits and expiry, once per card and expiry date', () => {
    const card = { eventId: 'evt_exp', at: t0, userId: 'user_1', cardId: 'card_1', brand: 'Visa', last4: '4242', expMonth: 12, expYear: 2026 };
    const r = cardExpiringRequest(card);
    assert.deepEqual([r.template, r.category, JSON.parse(r.data)], ['card_expiring', 'billing', { brand: 'Visa', last4: '4242', exp_month: 12, exp_year: 2026 }]);
    assert.deepEqual(dataProblems(r.template, JSON.parse(r.data)), []);
    assert.equal(cardExpiringRequest({ ...card, eventId: 'evt_exp_resent' }).notification_id, r.notification_id);
    assert.notEqual(cardExpiringRequest({ ...card, expYear: 2030 }).notification_id, r.notification_id);
  });
});

describe('dunning and delivery telemetry', () => {
  const escalating = { ...options, escalateAfterOpenMs: 48 * 3_600_000 };
  const delivery = (kind: string, channel: string, at: number, step = 'day_0'): DeliveryEventReceived => ({
    event_id: `${kind}:${step}:${at}`, occurred_at: at, received_at: at, provider: 'sendgrid', channel, kind, provider_event: kind,
    notification_id: reminderNotificationId('in_1', step), provider_message_id: null, recipient: null, reason: null, error_code: null, bounce_type: null, url: null, raw: '{}',
  } as DeliveryEventReceived);
  const fold = (state: CaseState, d: { decided: readonly DunningStepDecided[]; outcomes: readonly DunningReminderOutcome[] }): CaseState =>
    foldEntity(caseKind, 'in_1', [...facts({ decided: d.decided, requests: [] }), ...d.outcomes.map((value): DunningFact => ({ topic: 'billing.dunning-steps.v1', record: 'DunningReminderOutcome', value }))], state) as CaseState;
  const dueOn = (state: CaseState, step: 'day_3' | 'day_7') => decideDunning({ kind: 'step_due', eventId: `due:${step}`, at: t0 + (step === 'day_3' ? 3 : 7) * DAY, caseId: 'in_1', step }, caseOf(state), escalating).requests[0]!;

  it('given the day-0 reminder bounced, then the next reminders use another channel first (email avoided), once recorded', () => {
    const opened = after(decideDunning(failed(), null, escalating));
    const bounced = decideReminderOutcome(delivery('bounced', 'email', t0 + 60_000), 'day_0', caseOf(opened), escalating);
    assert.deepEqual(bounced.outcomes.map((o) => [o.kind, o.channel, o.step, o.event_id]), [['unreachable', 'email', 'day_0', 'dunning:in_1:day_0:unreachable:email']]);
    const state = fold(opened, bounced);
    assert.deepEqual(dueOn(state, 'day_3').avoid_channels, ['email']);
    assert.deepEqual(decideReminderOutcome(delivery('bounced', 'email', t0 + 120_000), 'day_0', caseOf(state), escalating), { decided: [], outcomes: [] }, 'known already');
    assert.deepEqual(dueOn(opened, 'day_3').avoid_channels, [], 'without a bounce, the preferences decide');
  });

  it('given the day-3 reminder opened and no payment, then the day-7 reminder comes 48 h after the open, not on day 7; a delivered or a late open changes nothing', () => {
    const opened = after(decideDunning(failed(), null, escalating));
    const read = decideReminderOutcome(delivery('opened', 'email', t0 + 3 * DAY + 3_600_000, 'day_3'), 'day_3', caseOf(opened), escalating);
    assert.deepEqual(read.decided.map((d) => [d.step, d.due_at, d.event_id]), [['day_7', t0 + 3 * DAY + 3_600_000 + 48 * 3_600_000, 'dunning:in_1:day_7:escalated']]);
    const state = fold(opened, read);
    assert.equal(timersOf(caseKind, state, 'in_1').find((t) => t.id === 'in_1:day_7')?.dueAt, t0 + 5 * DAY + 3_600_000);
    assert.deepEqual(decideReminderOutcome(delivery('delivered', 'email', t0 + 3 * DAY, 'day_3'), 'day_3', caseOf(opened), escalating), { decided: [], outcomes: [] });
    const late = decideReminderOutcome(delivery('opened', 'email', t0 + 6 * DAY, 'day_3'), 'day_3', caseOf(opened), escalating);
    assert.deepEqual(late.decided, [], 'day 7 is due before open + 48 h');
    assert.deepEqual(decideReminderOutcome(delivery('opened', 'email', t0 + 3 * DAY, 'day_3'), 'day_3', caseOf(opened), options).decided, [], 'off without the setting');
  });

  it('given the case closed, then telemetry decides nothing', () => {
    const opened = after(decideDunning(failed(), null, escalating));
    const paid = after(decideDunning({ kind: 'invoice_paid', eventId: 'evt_paid', at: t0 + DAY, invoiceId: 'in_1' }, caseOf(opened), escalating), opened);
    assert.deepEqual(decideReminderOutcome(delivery('bounced', 'email', t0 + 2 * DAY), 'day_0', caseOf(paid), escalating), { decided: [], outcomes: [] });
  });
});

describe('dunning end actions', () => {
  const endDue = { kind: 'step_due', eventId: 'due:dunning:in_1:end', at: t0 + 21 * DAY, caseId: 'in_1', step: 'end' } as const;

  it('given end action cancel, then the end step decides cancel_subscription when the case opens, and exhaustion closes the case with one Stripe effect keyed by the case', () => {
    const cancel = { ...options, endAction: 'cancel' as const };
    const opened = after(decideDunning(failed(), null, cancel));
    assert.equal(opened.endAction, 'cancel_subscription');
    const end = decideDunning(endDue, caseOf(opened), cancel);
    assert.deepEqual(end.decided.map((d) => [d.step, d.case_status]), [['exhausted', 'exhausted']]);
    assert.deepEqual(end.effect, { action: 'cancel_subscription', caseId: 'in_1', subscriptionId: 'sub_1', idempotencyKey: 'eventline-dunning-in_1-cancel_subscription', at: t0 + 21 * DAY, sourceEventId: 'due:dunning:in_1:end' });
  });

  it('given a crash after the close was appended but before Stripe answered was recorded, then the end due again asks for the same effect; once the answer is folded, nothing', () => {
    const cancel = { ...options, endAction: 'cancel' as const };
    const opened = after(decideDunning(failed(), null, cancel));
    const end = decideDunning(endDue, caseOf(opened), cancel);
    const closed = after({ decided: end.decided, requests: [] }, opened);
    const again = decideDunning(endDue, caseOf(closed), cancel);
    assert.deepEqual([again.decided, again.effect?.idempotencyKey], [[], 'eventline-dunning-in_1-cancel_subscription']);
    const answered = after({ decided: [endActionDecided(caseOf(closed)!, end.effect!, { outcome: 'done', detail: 'subscription sub_1 canceled' })], requests: [] }, closed);
    assert.equal(caseOf(answered)?.endOutcome, 'done');
    assert.deepEqual(decideDunning(endDue, caseOf(answered), cancel), { decided: [], requests: [] });
  });

  it('given Stripe still retrying the payment when the end comes (Smart Retries), then the case closes and the end action is skipped, saying until when Stripe retries', () => {
    const cancel = { ...options, endAction: 'cancel' as const };
    const opened = caseOf(after(decideDunning(failed(), null, cancel)))!;
    const end = decideDunning(endDue, { ...opened, nextPaymentAttempt: t0 + 23 * DAY }, cancel);
    assert.equal(end.effect, undefined, 'nothing run at Stripe');
    assert.deepEqual(end.decided.map((d) => [d.step, d.outcome]), [['exhausted', null], ['end_action', 'skipped']]);
    assert.match(end.decided[1]?.detail ?? '', /^Stripe retries the payment until 2026-11-25T08:00:00.000Z \(Smart Retries\)/);
    assert.ok(decideDunning(endDue, { ...opened, nextPaymentAttempt: t0 + 20 * DAY }, cancel).effect, 'a retry already past: the action runs');
    // The case learns it from Stripe's failures: the latest attempt's next_payment_attempt, in any order.
    const v = '2025-09-30.clover';
    const failure = (attempt: number, next: number | null) =>
      stripeFact(event(v, { id: `evt_fail_${attempt}`, type: 'invoice.payment_failed', created: t0 / 1000 + attempt, object: invoice(v, { id: 'in_1', customer: 'cus_1', subscription: 'sub_1', amountDue: 4900, status: 'open', attemptCount: attempt, created: t0 / 1000, nextPaymentAttempt: next }) }));
    const facts2 = [failure(2, (t0 + 10 * DAY) / 1000), failure(3, (t0 + 23 * DAY) / 1000)];
    for (const order of [facts2, [...facts2].reverse()]) assert.equal(caseOf(foldEntity(caseKind, 'in_1', order, after(decideDunning(failed(), null, cancel))) as CaseState)?.nextPaymentAttempt, t0 + 23 * DAY);
  });

  it('given end action none (the default), or a case opened before the action was configured, then exhaustion only records; the action is the one decided when the case opened', () => {
    const opened = after(decideDunning(failed(), null, options));
    assert.equal(decideDunning(endDue, caseOf(opened), { ...options, endAction: 'cancel' }).effect, undefined, 'configured after the case opened: its end step said mark_exhausted');
    const uncollectible = after(decideDunning(failed(), null, { ...options, endAction: 'mark_uncollectible' }));
    assert.equal(decideDunning(endDue, caseOf(uncollectible), options).effect?.action, 'mark_uncollectible');
  });

  it('given the case recovered before its end, then no end action', () => {
    const cancel = { ...options, endAction: 'cancel' as const };
    const opened = after(decideDunning(failed(), null, cancel));
    const paid = after(decideDunning({ kind: 'invoice_paid', eventId: 'evt_paid', at: t0 + 5 * DAY, invoiceId: 'in_1' }, caseOf(opened), cancel), opened);
    assert.deepEqual(decideDunning(endDue, caseOf(paid), cancel), { decided: [], requests: [] });
  });
});

describe('dunning state machine', () => {
  it('a first failure opens a case and decides reminders on day 0, 3, 7, 14 and the end action on day 21', () => {
    const d = decideDunning(failed(), null, options);
    assert.equal(caseOf(after(d))?.status, 'open');
    assert.deepEqual(
      d.decided.map((s) => [s.step, s.action, (s.due_at - t0) / DAY, s.event_id]),
      [
        ['day_0', 'send_retry_notice', 0, 'dunning:in_1:day_0'],
        ['day_3', 'send_update_payment_method', 3, 'dunning:in_1:day_3'],
        ['day_7', 'send_update_payment_method', 7, 'dunning:in_1:day_7'],
        ['day_14', 'send_final_notice', 14, 'dunning:in_1:day_14'],
        ['end', 'mark_exhausted', 21, 'dunning:in_1:end'],
      ],
    );
    assert.deepEqual(timerIds(after(d)), ['in_1:day_0', 'in_1:day_3', 'in_1:day_7', 'in_1:day_14', 'in_1:end']);
    assert.deepEqual(d.requests, [], 'risk 0.2: no retention alert');
  });

  it('sends the step notification when a step comes due, with the hosted invoice URL; the final notice is CRITICAL', () => {
    const opened = after(decideDunning(failed(), null, options));
    const open = caseOf(opened);
    const day3 = decideDunning({ kind: 'step_due', eventId: 'due:dunning:in_1:day_3', at: t0 + 3 * DAY, caseId: 'in_1', step: 'day_3' }, open, options);
    assert.equal(day3.requests.length, 1);
    const r = day3.requests[0]!;
    assert.deepEqual([r.template, r.category, r.priority, r.user_id], ['update_payment_method', 'payment', 'HIGH', 'user_1']);
    assert.equal(JSON.parse(r.data).hosted_invoice_url, 'https://invoice.stripe.com/i/x');
    assert.equal(r.event_id, 'req:dunning:in_1:day_3');
    const day14 = decideDunning({ kind: 'step_due', eventId: 'x', at: t0 + 14 * DAY, caseId: 'in_1', step: 'day_14' }, open, options);
    assert.deepEqual([day14.requests[0]?.template, day14.requests[0]?.priority], ['final_notice', 'CRITICAL']);
    const end = decideDunning({ kind: 'step_due', eventId: 'x', at: t0 + 21 * DAY, caseId: 'in_1', step: 'end' }, open, options);
    assert.equal(caseOf(after(end, opened))?.status, 'exhausted');
    assert.deepEqual(timerIds(after(end, opened)), [], 'a closed case wants no timers');
    assert.deepEqual(end.decided.map((s) => [s.step, s.case_status]), [['exhausted', 'exhausted']]);
  });

  it('invoice.paid recovers the case, cancels the remaining timers and sends a receipt; later steps then do nothing', () => {
    const opened = after(decideDunning(failed(), null, options));
    const open = caseOf(opened);
    const paid = decideDunning({ kind: 'invoice_paid', eventId: 'evt_paid', at: t0 + 2 * DAY, invoiceId: 'in_1' }, open, options);
    const recovered = after(paid, opened);
    assert.equal(caseOf(recovered)?.status, 'recovered');
    assert.deepEqual(paid.decided.map((s) => [s.step, s.case_status]), [['recovered', 'recovered']]);
    assert.deepEqual(timerIds(recovered), [], 'the remaining timers are cancelled');
    assert.equal(paid.requests[0]?.template, 'receipt');
    const late = decideDunning({ kind: 'step_due', eventId: 'x', at: t0 + 3 * DAY, caseId: 'in_1', step: 'day_3' }, caseOf(recovered), options);
    assert.deepEqual([late.requests.length, late.decided.length], [0, 0]);
  });

  it('cancellation or unpaid loses the case', () => {
    const opened = after(decideDunning(failed(), null, options));
    const open = caseOf(opened);
    const lost = decideDunning({ kind: 'subscription_ended', eventId: 'evt_del', at: t0 + 9 * DAY, subscriptionId: 'sub_1', status: 'canceled' }, open, options);
    assert.deepEqual([caseOf(after(lost, opened))?.status, lost.decided[0]?.step, timerIds(after(lost, opened)).length], ['lost', 'lost', 0]);
  });

  it('a retry failure of an open case decides nothing new; processing a failure twice is harmless', () => {
    const first = after(decideDunning(failed(), null, options));
    const again = decideDunning(failed({ attemptCount: 2, eventId: 'evt_fail2' }), caseOf(first), options);
    assert.deepEqual([again.decided.length, again.requests.length], [0, 0]);
  });

  it('scores churn risk by retries, earlier failures, tenure and amount; above 0.7 alerts the retention team', () => {
    assert.equal(churnRisk(failed()), 0.2);
    assert.equal(churnRisk(failed({ attemptCount: 3, priorFailures90d: 1 })), 0.65); // 0.2 + 0.30 + 0.15
    assert.equal(churnRisk(failed({ attemptCount: 2, priorFailures90d: 2, customerSince: t0 - 10 * DAY, amountDue: 20_000 })), 0.9); // 0.2 + 0.15 + 0.30 + 0.15 + 0.10
    const risky = decideDunning(failed({ attemptCount: 2, priorFailures90d: 2, customerSince: t0 - 10 * DAY, amountDue: 20_000 }), null, options);
    assert.deepEqual(risky.requests.map((r) => [r.user_id, r.template, r.priority]), [['retention-team', 'retention_alert', 'HIGH']]);
  });

  it('asks for welcome, plan change, trial ending and cancellation notices', () => {
    const sub = { id: 'sub_1', status: 'active', currency: 'usd', items: { data: [{ price: { id: 'price_pro', unit_amount: 4900, recurring: { interval: 'month' } }, quantity: 1 }] } };
    const at = (type: string, previous: Record<string, unknown> | null = null) => lifecycleRequest({ eventId: `evt_${type}`, type, at: t0, userId: 'user_1', subscription: sub, previous });
    assert.equal(at('customer.subscription.created')?.template, 'welcome_subscription');
    assert.equal(at('customer.subscription.trial_will_end')?.template, 'trial_ending');
    assert.equal(at('customer.subscription.deleted')?.template, 'subscription_canceled');
    assert.equal(at('customer.subscription.updated', { items: {} })?.template, 'plan_changed');
    assert.equal(at('customer.subscription.updated', { status: 'past_due' }), null, 'a status change is not a plan change');
    assert.equal(at('customer.subscription.created')?.notification_id, at('customer.subscription.created')?.notification_id, 'deterministic');
  });

  it('given every request dunning makes, then each names a category its template is sent in (notify/template-categories.ts) and its data passes the template\'s schema (notify/template-data.ts)', () => {
    const opened = after(decideDunning(failed(), null, options));
    const open = caseOf(opened);
    // As Stripe sends it: a subscription whose trial ends (trial_will_end comes 3 days before).
    const sub = { id: 'sub_1', status: 'trialing', currency: 'usd', trial_end: t0 / 1000 + 3 * 86_400, items: { data: [{ price: { id: 'price_pro', unit_amount: 4900, recurring: { interval: 'month' } }, quantity: 1 }] } };
    const requests = [
      ...(['day_0', 'day_3', 'day_7', 'day_14'] as const).flatMap((step) => decideDunning({ kind: 'step_due', eventId: `due:${step}`, at: t0, caseId: 'in_1', step }, open, options).requests),
      ...decideDunning({ kind: 'invoice_paid', eventId: 'evt_paid', at: t0 + DAY, invoiceId: 'in_1' }, open, options).requests,
      ...decideDunning(failed({ attemptCount: 2, priorFailures90d: 2, customerSince: t0 - 10 * DAY, amountDue: 20_000, invoiceId: 'in_2', eventId: 'evt_fail_2' }), null, options).requests,
      ...(['customer.subscription.created', 'customer.subscription.trial_will_end', 'customer.subscription.deleted'] as const).map((type) => lifecycleRequest({ eventId: `evt_${type}`, type, at: t0, userId: 'user_1', subscription: sub, previous: null })),
      lifecycleRequest({ eventId: 'evt_upd', type: 'customer.subscription.updated', at: t0, userId: 'user_1', subscription: sub, previous: { items: {} } }),
    ].filter((r) => r !== null);
    assert.deepEqual([...new Set(requests.map((r) => r.template))].sort(), ['final_notice', 'payment_failed', 'plan_changed', 'receipt', 'retention_alert', 'subscription_canceled', 'trial_ending', 'update_payment_method', 'welcome_subscription']);
    for (const r of requests) assert.ok(categoryFor(r.template, r.category).ok, `${r.template} as ${r.category}`);
    for (const r of requests) assert.deepEqual(dataProblems(r.template, JSON.parse(r.data) as Record<string, unknown>), [], r.template);
  });
});
