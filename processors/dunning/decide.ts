/**
 * Dunning, a decider, pure: a state machine per failed invoice, and the subscription lifecycle
 * notifications. decideDunning(input, case) → the decisions to append and notification requests;
 * the case after them, and its timers, are the fold of those decisions (evolve.ts). Time is the
 * input's event time (a Stripe event's created, a timer's due time).
 */
import type { DeclineClass, DeliveryEventReceived, DunningAction, DunningReminderOutcome, DunningStep, DunningStepDecided, EntitlementChanged, EntitlementState, NotificationRequested } from '../../lib/topics.ts';
import { notificationIdFor, notificationRequest, type Priority } from '../../notify/index.ts';

const DAY = 86_400_000;

export type CaseStatus = 'open' | 'recovered' | 'lost' | 'exhausted';

export interface DunningCase {
  readonly caseId: string;
  readonly customerId: string;
  readonly userId: string;
  readonly subscriptionId: string | null;
  readonly openedAt: number;
  readonly amountDue: number;
  readonly currency: string;
  readonly hostedInvoiceUrl: string | null;
  readonly attemptCount: number;
  readonly churnRisk: number;
  readonly status: CaseStatus;
  readonly sourceEventId: string;
  /** The subscription's list MRR when the case opened (minor units), when known. */
  readonly mrrCents?: number | null;
  /** The issuer's decline code of the failure that opened the case, and its class (what the first reminder says). */
  readonly declineCode?: string | null;
  readonly declineClass?: DeclineClass;
  /** The end step's action, as decided when the case opened (mark_exhausted: record only). */
  readonly endAction?: DunningAction;
  /** What Stripe answered to the end action (an end_action decision), null while none is recorded. */
  readonly endOutcome?: string | null;
  /** Each step's due time (the earliest decided) and the steps whose timer fired. */
  readonly dues?: Readonly<Partial<Record<Step, number>>>;
  readonly fired?: readonly string[];
  /** Channels a reminder could not reach the customer on: the next reminders use them last. */
  readonly unreachable?: readonly string[];
  /** Reminder step → when the customer first opened or clicked it. */
  readonly engaged?: Readonly<Record<string, number>>;
  /** What the customer may use, as the case's latest EntitlementChanged said (absent: active). */
  readonly entitlement?: EntitlementState;
  /** When Stripe retries the payment next (its latest invoice.payment_failed's next_payment_attempt; null: no more retries). */
  readonly nextPaymentAttempt?: number | null;
}

/** EVENTLINE_DUNNING_END_ACTION: what an exhausted case does at Stripe. */
export const endActions = ['none', 'cancel', 'mark_uncollectible'] as const;
export type EndAction = (typeof endActions)[number];

/** The end step's action for a configured end action. */
export function endStepAction(a: EndAction): DunningAction {
  return a === 'cancel' ? 'cancel_subscription' : a === 'mark_uncollectible' ? 'mark_uncollectible' : 'mark_exhausted';
}

/** An end action to run at Stripe: the adapter runs it (idempotently, with this key) and records what Stripe answered. */
export interface EndActionEffect {
  readonly action: 'cancel_subscription' | 'mark_uncollectible';
  readonly caseId: string;
  readonly subscriptionId: string | null;
  /** From the case and the action only: a retry after a crash is the same request to Stripe. */
  readonly idempotencyKey: string;
  readonly at: number;
  readonly sourceEventId: string;
}

/** What Stripe answered to an end action. */
export interface EndActionResult {
  readonly outcome: 'done' | 'refused' | 'skipped';
  readonly detail: string;
}

export interface DunningOptions {
  readonly retentionTeamUser: string;
  /** Default none: record only. */
  readonly endAction?: EndAction;
  /** A reminder opened or clicked without a payment: the next one this long after (0 or absent: on its schedule). */
  readonly escalateAfterOpenMs?: number;
}

/** The reminder schedule after the first failure, then the end action. */
export const schedule = [
  { step: 'day_0', days: 0, action: 'send_retry_notice', template: 'payment_failed', priority: 'HIGH' },
  { step: 'day_3', days: 3, action: 'send_update_payment_method', template: 'update_payment_method', priority: 'HIGH' },
  { step: 'day_7', days: 7, action: 'send_update_payment_method', template: 'update_payment_method', priority: 'HIGH' },
  { step: 'day_14', days: 14, action: 'send_final_notice', template: 'final_notice', priority: 'CRITICAL' },
  { step: 'end', days: 21, action: 'mark_exhausted', template: null, priority: null },
] as const satisfies readonly { step: string; days: number; action: string; template: string | null; priority: Priority | null }[];

export type Step = (typeof schedule)[number]['step'];

/**
 * Decline codes retrying cannot fix (Stripe's list of issuer decline codes: the card is lost,
 * stolen, expired, closed or refused for good): the customer needs a new payment method now.
 */
const hardDeclines: ReadonlySet<string> = new Set([
  'stolen_card', 'lost_card', 'pickup_card', 'expired_card', 'incorrect_number', 'invalid_number', 'invalid_account', 'do_not_honor', 'restricted_card',
  'card_not_supported', 'currency_not_supported', 'fraudulent', 'merchant_blacklist', 'new_account_information_available', 'no_action_taken',
  'revocation_of_all_authorizations', 'revocation_of_authorization', 'security_violation', 'stop_payment_order', 'transaction_not_allowed',
  'incorrect_cvc', 'invalid_cvc', 'incorrect_zip', 'invalid_expiry_month', 'invalid_expiry_year',
]);
/** The issuer asks the cardholder to authenticate (3D Secure): only they can, on the hosted invoice page. */
const authenticationDeclines: ReadonlySet<string> = new Set(['authentication_required', 'approve_with_id']);

/** The class of a decline code: hard, authentication, or soft (anything else, no code included: the schedule's retries may succeed). Pure. */
export function declineClassOf(code: string | null | undefined): DeclineClass {
  if (code && hardDeclines.has(code)) return 'hard';
  if (code && authenticationDeclines.has(code)) return 'authentication';
  return 'soft';
}

/**
 * The first reminder (day 0) by decline class: a soft decline says "we will retry"; a hard one asks
 * for a new payment method at once (no retry can succeed); an authentication one asks the customer
 * to complete 3D Secure on the hosted invoice page.
 */
export function firstReminder(c: Pick<DunningCase, 'declineClass'>): { readonly action: DunningAction; readonly template: string; readonly priority: Priority } {
  if (c.declineClass === 'hard') return { action: 'send_update_payment_method', template: 'update_payment_method', priority: 'HIGH' };
  if (c.declineClass === 'authentication') return { action: 'send_authentication_notice', template: 'payment_action_required', priority: 'HIGH' };
  return { action: 'send_retry_notice', template: 'payment_failed', priority: 'HIGH' };
}

export type DunningInput =
  | {
      readonly kind: 'payment_failed';
      readonly eventId: string;
      readonly at: number;
      readonly invoiceId: string;
      readonly customerId: string;
      readonly userId: string;
      readonly subscriptionId: string | null;
      readonly amountDue: number;
      readonly currency: string;
      readonly hostedInvoiceUrl: string | null;
      readonly attemptCount: number;
      /** Earlier cases of this customer opened in the 90 days before. */
      readonly priorFailures90d: number;
      /** When the customer was created, if known. */
      readonly customerSince: number | null;
      /** The issuer's decline code, when Stripe gave one. */
      readonly declineCode?: string | null;
      /** invoice.payment_action_required rather than a failure: the customer must authenticate. */
      readonly actionRequired?: boolean;
      /** The subscription's list MRR as the subscription events last said, when known. */
      readonly mrrCents?: number | null;
    }
  | { readonly kind: 'invoice_paid'; readonly eventId: string; readonly at: number; readonly invoiceId: string }
  | { readonly kind: 'subscription_ended'; readonly eventId: string; readonly at: number; readonly subscriptionId: string; readonly status: string }
  | { readonly kind: 'step_due'; readonly eventId: string; readonly at: number; readonly caseId: string; readonly step: string };

/** The decisions to append; the case after them is their fold (evolve.ts), timers included. */
export interface DunningDecision {
  readonly decided: readonly DunningStepDecided[];
  readonly requests: readonly NotificationRequested[];
  /** An end action to run at Stripe, its answer recorded by endActionDecided. */
  readonly effect?: EndActionEffect;
  /** The customer's entitlement changing with this decision. */
  readonly entitlements?: readonly EntitlementChanged[];
}

/** The case's customer moves to `to` (Kill Bill's overdue states): what the product gates access on. */
function entitlement(c: DunningCase, to: EntitlementState, at: number, reason: string): EntitlementChanged {
  return {
    event_id: `entitlement:${c.caseId}:${to}`,
    occurred_at: at,
    received_at: at,
    customer_id: c.customerId,
    subscription_id: c.subscriptionId,
    user_id: c.userId === c.customerId ? null : c.userId,
    case_id: c.caseId,
    from_state: c.entitlement ?? 'active',
    to_state: to,
    reason,
  };
}

/** What Stripe's answer to an end action changes: the subscription canceled ends the customer's entitlement. Pure. */
export function afterEndAction(c: DunningCase, effect: EndActionEffect, result: EndActionResult): DunningDecision {
  const decided = [endActionDecided(c, effect, result)];
  const canceled = effect.action === 'cancel_subscription' && result.outcome === 'done';
  return { decided, requests: [], entitlements: canceled ? [entitlement({ ...c, entitlement: c.entitlement ?? 'blocked' }, 'cancelled', effect.at, 'the subscription was canceled by dunning (unpaid after the final notice)')] : [] };
}

const none = (): DunningDecision => ({ decided: [], requests: [] });

export function stepEventId(caseId: string, step: string): string {
  return `dunning:${caseId}:${step}`;
}

/** The notification a reminder step sends (its request's source is the step's decision id). */
export function reminderNotificationId(caseId: string, step: string): string {
  return notificationIdFor(stepEventId(caseId, step));
}

/** A delivery event about a reminder, as what became of it: unreachable on its channel, or engaged with. */
export function reminderOutcomeKind(e: Pick<DeliveryEventReceived, 'channel' | 'kind'>): 'unreachable' | 'engaged' | null {
  if ((e.channel === 'email' && (e.kind === 'bounced' || e.kind === 'dropped')) || (e.channel === 'sms' && (e.kind === 'failed' || e.kind === 'undelivered'))) return 'unreachable';
  if (e.kind === 'opened' || e.kind === 'clicked') return 'engaged';
  return null;
}

/**
 * A delivery event about reminder `step` of a case: the outcome to record (the next reminders use
 * another channel first, or the case knows the customer read it) and, for a reminder opened or
 * clicked while the case is still open, the next reminder brought forward to `escalateAfterOpenMs`
 * after the open (a decision of that step with the earlier due time: the earliest wins). Pure.
 */
export function decideReminderOutcome(e: DeliveryEventReceived, step: string, current: DunningCase | null, options: DunningOptions): { readonly decided: readonly DunningStepDecided[]; readonly outcomes: readonly DunningReminderOutcome[] } {
  const kind = reminderOutcomeKind(e);
  if (!kind || !current || current.status !== 'open' || !e.notification_id) return { decided: [], outcomes: [] };
  if (kind === 'unreachable' && (current.unreachable ?? []).includes(e.channel)) return { decided: [], outcomes: [] };
  if (kind === 'engaged' && current.engaged?.[step] !== undefined) return { decided: [], outcomes: [] };
  const outcome: DunningReminderOutcome = {
    event_id: `${stepEventId(current.caseId, step)}:${kind}:${e.channel}`,
    occurred_at: e.occurred_at,
    received_at: e.received_at,
    case_id: current.caseId,
    customer_id: current.customerId,
    step,
    notification_id: e.notification_id,
    channel: e.channel,
    kind,
    provider_event: e.kind,
    source_event_id: e.event_id,
  };
  const after = options.escalateAfterOpenMs ?? 0;
  if (kind !== 'engaged' || after <= 0) return { decided: [], outcomes: [outcome] };
  // The next reminder not sent yet, if it is due later than the escalation.
  const i = schedule.findIndex((x) => x.step === step);
  // Not the final notice: it is what blocks the customer, and an open (Apple Mail opens every message) must not bring that forward.
  const nextStep = schedule.slice(i + 1).find((x) => x.template !== null && x.action !== 'send_final_notice' && !(current.fired ?? []).includes(x.step));
  const due = nextStep ? current.dues?.[nextStep.step] : undefined;
  const at = e.occurred_at + after;
  if (!nextStep || due === undefined || due <= at) return { decided: [], outcomes: [outcome] };
  const brought = { ...decided(current, nextStep.step, nextStep.action, at, e.occurred_at, e.event_id, 'open'), event_id: `${stepEventId(current.caseId, nextStep.step)}:escalated` };
  return { decided: [brought], outcomes: [outcome] };
}

export function timerId(caseId: string, step: string): string {
  return `${caseId}:${step}`;
}

/**
 * Churn risk on a payment failure, 0..1: a base of 0.2, +0.15 per retry beyond the first (up to 3),
 * +0.15 per earlier failure in the last 90 days (up to 3), +0.15 for a customer younger than 60
 * days, +0.10 for an amount of 100.00 or more.
 */
export function churnRisk(input: Extract<DunningInput, { kind: 'payment_failed' }>): number {
  let risk = 0.2;
  risk += 0.15 * Math.min(Math.max(input.attemptCount - 1, 0), 3);
  risk += 0.15 * Math.min(input.priorFailures90d, 3);
  if (input.customerSince !== null && input.at - input.customerSince < 60 * DAY) risk += 0.15;
  if (input.amountDue >= 10_000) risk += 0.1;
  return Math.round(Math.min(1, risk) * 100) / 100;
}

export const RETENTION_ALERT_ABOVE = 0.7;

function decided(c: DunningCase, step: DunningStep, action: DunningAction, dueAt: number, at: number, sourceEventId: string, status: CaseStatus): DunningStepDecided {
  return {
    event_id: stepEventId(c.caseId, step),
    occurred_at: at,
    received_at: at,
    case_id: c.caseId,
    customer_id: c.customerId,
    subscription_id: c.subscriptionId,
    step,
    action,
    due_at: dueAt,
    case_status: status,
    amount_due: c.amountDue,
    currency: c.currency,
    hosted_invoice_url: c.hostedInvoiceUrl,
    attempt_count: c.attemptCount,
    churn_risk: c.churnRisk,
    source_event_id: sourceEventId,
    user_id: c.userId,
    outcome: null,
    detail: null,
    idempotency_key: null,
    decline_code: c.declineCode ?? null,
    decline_class: c.declineClass ?? 'unknown',
    mrr_cents: c.mrrCents ?? null,
  };
}

/** The record of what Stripe answered to a case's end action. Pure. */
export function endActionDecided(c: DunningCase, effect: EndActionEffect, result: EndActionResult): DunningStepDecided {
  return { ...decided(c, 'end_action', effect.action, effect.at, effect.at, effect.sourceEventId, 'exhausted'), outcome: result.outcome, detail: result.detail, idempotency_key: effect.idempotencyKey };
}

function endEffect(c: DunningCase, at: number, sourceEventId: string): EndActionEffect | null {
  const action = c.endAction;
  if (action !== 'cancel_subscription' && action !== 'mark_uncollectible') return null;
  return { action, caseId: c.caseId, subscriptionId: c.subscriptionId, idempotencyKey: `eventline-dunning-${c.caseId}-${action}`, at, sourceEventId };
}

function close(c: DunningCase, status: CaseStatus, step: DunningStep, at: number, eventId: string): DunningDecision {
  return { decided: [decided({ ...c, status }, step, 'close', at, at, eventId, status)], requests: [] };
}

export function decideDunning(input: DunningInput, current: DunningCase | null, options: DunningOptions): DunningDecision {
  switch (input.kind) {
    case 'payment_failed': {
      // Stripe asks the customer to authenticate while the case is open for another reason: the 3D Secure notice, once per case.
      if (current && input.actionRequired && current.status === 'open' && current.declineClass !== 'authentication') {
        return { decided: [], requests: [reminderRequest(current, { template: 'payment_action_required', priority: 'HIGH' }, `dunning:${current.caseId}:authentication`, input.eventId, input.at, 0)] };
      }
      // A retry of a case already open: nothing new to decide (the fold keeps the attempt count).
      if (current) return none();
      const c: DunningCase = {
        caseId: input.invoiceId,
        customerId: input.customerId,
        userId: input.userId,
        subscriptionId: input.subscriptionId,
        openedAt: input.at,
        amountDue: input.amountDue,
        currency: input.currency,
        hostedInvoiceUrl: input.hostedInvoiceUrl,
        attemptCount: input.attemptCount,
        churnRisk: churnRisk(input),
        status: 'open',
        sourceEventId: input.eventId,
        declineCode: input.declineCode ?? null,
        declineClass: input.actionRequired ? 'authentication' : declineClassOf(input.declineCode),
        mrrCents: input.mrrCents ?? null,
      };
      const requests: NotificationRequested[] = [];
      if (c.churnRisk > RETENTION_ALERT_ABOVE) {
        requests.push(
          notificationRequest({
            source: `retention:${c.caseId}`,
            userId: options.retentionTeamUser,
            template: 'retention_alert',
            category: 'account',
            priority: 'HIGH',
            data: { customer_id: c.customerId, invoice_id: c.caseId, amount_due: c.amountDue, currency: c.currency, churn_risk: c.churnRisk },
            requestedBy: 'processor.dunning',
            sourceEventId: input.eventId,
            at: input.at,
          }),
        );
      }
      const endAction = endStepAction(options.endAction ?? 'none');
      const actionOf = (step: Step, action: DunningAction): DunningAction => (step === 'end' ? endAction : step === 'day_0' ? firstReminder(c).action : action);
      return {
        decided: schedule.map((s) => decided(c, s.step, actionOf(s.step, s.action), c.openedAt + s.days * DAY, input.at, input.eventId, 'open')),
        requests,
        entitlements: [entitlement(c, 'grace', input.at, input.actionRequired ? 'payment needs authentication (3D Secure)' : `payment failed (${c.declineClass} decline${c.declineCode ? `: ${c.declineCode}` : ''})`)],
      };
    }
    case 'invoice_paid': {
      // Paid after the schedule ran out (Stripe's own retry, the customer at last): the case stays
      // exhausted, but the customer's access comes back.
      if (current?.status === 'exhausted' && (current.entitlement === 'grace' || current.entitlement === 'blocked')) return { decided: [], requests: [], entitlements: [entitlement(current, 'active', input.at, 'the invoice was paid after dunning ended')] };
      if (!current || current.status !== 'open') return none();
      const result = close(current, 'recovered', 'recovered', input.at, input.eventId);
      return {
        ...result,
        entitlements: [entitlement(current, 'active', input.at, 'the invoice was paid')],
        requests: [
          notificationRequest({
            source: `dunning:${current.caseId}:recovered`,
            userId: current.userId,
            template: 'receipt',
            category: 'payment',
            priority: 'NORMAL',
            data: { amount_due: current.amountDue, currency: current.currency, invoice_id: current.caseId, hosted_invoice_url: current.hostedInvoiceUrl, recovered: true },
            requestedBy: 'processor.dunning',
            sourceEventId: input.eventId,
            at: input.at,
          }),
        ],
      };
    }
    case 'subscription_ended': {
      // Stripe ended the subscription after the schedule ran out (its own setting after the last retry).
      if (current?.status === 'exhausted' && current.entitlement !== 'cancelled' && current.entitlement !== 'active') return { decided: [], requests: [], entitlements: [entitlement(current, 'cancelled', input.at, `the subscription ended (${input.status || 'deleted'})`)] };
      if (!current || current.status !== 'open') return none();
      return { ...close(current, 'lost', 'lost', input.at, input.eventId), entitlements: [entitlement(current, 'cancelled', input.at, `the subscription ended (${input.status || 'deleted'})`)] };
    }
    case 'step_due': {
      if (!current) return none();
      const s = schedule.find((x) => x.step === input.step);
      if (!s) return none();
      if (s.step === 'end') {
        // Exhausted: closed, and the end action run at Stripe. Again only when a crash lost its answer
        // (the same idempotency key: Stripe does it once).
        const effect = endEffect(current, input.at, input.eventId);
        // Stripe still retries the payment (Smart Retries): its own retries are not cut short; what
        // Stripe does after its last one (its subscription settings) applies.
        const retrying = current.nextPaymentAttempt != null && current.nextPaymentAttempt > input.at;
        if (current.status === 'open' && effect && retrying) {
          const closed = close(current, 'exhausted', 'exhausted', input.at, input.eventId);
          const skipped = endActionDecided(current, effect, { outcome: 'skipped', detail: `Stripe retries the payment until ${new Date(current.nextPaymentAttempt as number).toISOString()} (Smart Retries): its own setting for a failed last retry applies` });
          return { ...closed, decided: [...closed.decided, skipped] };
        }
        if (current.status === 'open') return { ...close(current, 'exhausted', 'exhausted', input.at, input.eventId), ...(effect ? { effect } : {}) };
        if (current.status === 'exhausted' && effect && (current.endOutcome ?? null) === null) return { decided: [], requests: [], effect };
        return none();
      }
      if (current.status !== 'open') return none();
      const reminder = s.step === 'day_0' ? firstReminder(current) : s;
      const request = reminderRequest(current, reminder, stepEventId(current.caseId, s.step), input.eventId, input.at, s.days);
      // The final notice went out unpaid: the customer is blocked until the invoice is paid.
      const blocked = s.step === 'day_14' && current.entitlement !== 'blocked' ? [entitlement(current, 'blocked', input.at, 'the final notice went out and the invoice is unpaid')] : [];
      return { decided: [], requests: [request], entitlements: blocked };
    }
    default: {
      const _exhaustive: never = input;
      return _exhaustive;
    }
  }
}

function reminderRequest(c: DunningCase, reminder: { readonly template: string; readonly priority: Priority }, source: string, sourceEventId: string, at: number, days: number): NotificationRequested {
  return notificationRequest({
    source,
    userId: c.userId,
    template: reminder.template,
    category: 'payment',
    priority: reminder.priority,
    data: { amount_due: c.amountDue, currency: c.currency, invoice_id: c.caseId, hosted_invoice_url: c.hostedInvoiceUrl, days_since_failure: days, days_left: 21 - days },
    avoidChannels: c.unreachable ?? [],
    requestedBy: 'processor.dunning',
    sourceEventId,
    at,
  });
}

// ---------------------------------------------------------------- lifecycle notifications
export interface LifecycleFacts {
  readonly eventId: string;
  readonly type: string;
  readonly at: number;
  readonly userId: string;
  readonly subscription: Readonly<Record<string, unknown>>;
  readonly previous: Readonly<Record<string, unknown>> | null;
}

function planOf(sub: Readonly<Record<string, unknown>>): { plan: string | null; amount: number | null; interval: string | null; quantity: number } {
  const items = (sub.items as { data?: Record<string, unknown>[] } | undefined)?.data ?? [];
  const first = items[0] ?? {};
  const price = (first.price ?? first.plan ?? {}) as Record<string, unknown>;
  const recurring = (price.recurring ?? {}) as Record<string, unknown>;
  return {
    plan: typeof price.nickname === 'string' ? price.nickname : typeof price.id === 'string' ? price.id : null,
    amount: typeof price.unit_amount === 'number' ? price.unit_amount : typeof price.amount === 'number' ? price.amount : null,
    interval: typeof recurring.interval === 'string' ? recurring.interval : typeof price.interval === 'string' ? price.interval : null,
    quantity: typeof first.quantity === 'number' ? first.quantity : 1,
  };
}

/** Months per interval: a price per `interval_count` intervals, as a monthly amount. */
const perMonth: Readonly<Record<string, number>> = { day: 365 / 12, week: 52 / 12, month: 1, year: 1 / 12 };

/**
 * A subscription's list MRR in minor units: Σ unit amount × quantity per month over its items
 * (a yearly price / 12, weekly × 52 / 12); null when an item has no unit amount (metered, tiered)
 * or no known interval. Not the MRR projection's figure (no discounts, no tiers): what the case
 * puts at stake, for recovery analytics. Pure.
 */
export function listMrrCents(items: readonly { readonly unitAmount: number | null; readonly quantity: number; readonly interval: string | null; readonly intervalCount: number }[]): number | null {
  if (items.length === 0) return null;
  let total = 0;
  for (const item of items) {
    const factor = item.interval ? perMonth[item.interval] : undefined;
    if (item.unitAmount === null || factor === undefined) return null;
    total += (item.unitAmount * item.quantity * factor) / Math.max(1, item.intervalCount);
  }
  return Math.round(total);
}

/** A card about to expire (Stripe's customer.source.expiring, sent in the month before). */
export interface ExpiringCard {
  readonly eventId: string;
  readonly at: number;
  readonly userId: string;
  readonly cardId: string;
  readonly brand: string | null;
  readonly last4: string | null;
  readonly expMonth: number;
  readonly expYear: number;
}

/**
 * Pre-dunning: ask for a new card before the renewal fails. One notice per card and expiry date
 * (Stripe resending the event, or a replay, asks for the same notification). Pure.
 */
export function cardExpiringRequest(c: ExpiringCard): NotificationRequested {
  return notificationRequest({
    source: `card-expiring:${c.cardId}:${c.expYear}-${String(c.expMonth).padStart(2, '0')}`,
    userId: c.userId,
    template: 'card_expiring',
    category: 'billing',
    priority: 'NORMAL',
    data: { brand: c.brand, last4: c.last4, exp_month: c.expMonth, exp_year: c.expYear },
    requestedBy: 'processor.dunning',
    sourceEventId: c.eventId,
    at: c.at,
  });
}

/** Welcome, plan change, trial ending and cancellation notices for subscription events. */
export function lifecycleRequest(f: LifecycleFacts): NotificationRequested | null {
  const sub = f.subscription;
  const plan = planOf(sub);
  const base = { source: `lifecycle:${f.eventId}`, userId: f.userId, requestedBy: 'processor.dunning', sourceEventId: f.eventId, at: f.at };
  const currency = typeof sub.currency === 'string' ? sub.currency : 'usd';
  switch (f.type) {
    case 'customer.subscription.created':
      return notificationRequest({ ...base, template: 'welcome_subscription', category: 'account', priority: 'NORMAL', data: { ...plan, currency, status: sub.status, trial_end: sub.trial_end ?? null } });
    case 'customer.subscription.trial_will_end':
      return notificationRequest({ ...base, template: 'trial_ending', category: 'billing', priority: 'NORMAL', data: { ...plan, currency, trial_end: sub.trial_end ?? null } });
    case 'customer.subscription.deleted':
      return notificationRequest({ ...base, template: 'subscription_canceled', category: 'billing', priority: 'NORMAL', data: { ...plan, currency, canceled_at: sub.canceled_at ?? null } });
    case 'customer.subscription.updated': {
      const prev = f.previous ?? {};
      const planChanged = 'items' in prev || 'plan' in prev || 'quantity' in prev;
      if (!planChanged || (sub.status !== 'active' && sub.status !== 'trialing')) return null;
      return notificationRequest({ ...base, template: 'plan_changed', category: 'billing', priority: 'NORMAL', data: { ...plan, currency } });
    }
    default:
      return null;
  }
}
