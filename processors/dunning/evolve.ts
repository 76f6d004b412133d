/**
 * The dunning processor's state, pure: a fold of its own decisions (billing.dunning-steps.v1), its
 * fired timers, and the failed-payment events it consumed. Entity kinds:
 *
 *   dunning:case:<invoice id>        the case (from its day-0 decision), its decided steps and their
 *                                    due times, the steps fired, how it closed (the earliest close wins)
 *   dunning:sub:<subscription id>    cases opened and closed for the subscription (open = opened − closed)
 *   dunning:failures:<customer id>   when each of the customer's cases opened (for the churn-risk score)
 *   dunning:reminder:<notification>  which case and step a reminder notification is (delivery events name the notification)
 *
 * plus the shared customer directory. Order-insensitive: maps, sets, the earliest close.
 */
import { entityKind, type Fact, type Timer } from '../../lib/decider/index.ts';
import { readInvoice, readStripeEvent, readSubscription } from '../../lib/stripe/index.ts';
import type { DunningAction, DunningStepDecided, EntitlementState } from '../../lib/topics.ts';
import { customerKind, userKind } from '../customers/directory.ts';
import { listMrrCents, reminderNotificationId, schedule, stepEventId, timerId, type CaseStatus, type DunningCase, type Step } from './decide.ts';

export type DunningFact = Fact<'stripe.events.v1' | 'billing.dunning-steps.v1' | 'notify.delivery-events.v1'>;

const DAY = 86_400_000;
const scheduled: readonly string[] = schedule.map((s) => s.step);
const closing: Readonly<Record<string, CaseStatus>> = { recovered: 'recovered', lost: 'lost', exhausted: 'exhausted' };

export interface CaseState {
  /** From the day-0 decision; null until it is folded. */
  readonly opened: Omit<DunningCase, 'status' | 'attemptCount'> | null;
  readonly attemptCount: number;
  /** Decided steps of the schedule → due time. */
  readonly steps: Readonly<Partial<Record<Step, number>>>;
  readonly fired: readonly string[];
  readonly closed: { readonly status: CaseStatus; readonly at: number; readonly eventId: string } | null;
  /** The end step's action (from its decision; absent in states folded before it was kept). */
  readonly endAction?: string;
  /** What Stripe answered to the end action (its end_action decision). */
  readonly endOutcome?: string | null;
  /** Channels a reminder of the case could not reach the customer on (bounced, undelivered): the next ones use others first. */
  readonly unreachable?: readonly string[];
  /** Reminder step → when the customer first opened or clicked it. */
  readonly engaged?: Readonly<Record<string, number>>;
  /** Stripe's latest failed attempt of the invoice, and when it said it retries next (Smart Retries; null: no more). */
  readonly retry?: { readonly attempt: number; readonly at: number; readonly eventId: string; readonly nextAttemptMs: number | null };
  /** The latest entitlement change (by time, then event id). */
  readonly entitlement?: { readonly state: EntitlementState; readonly at: number; readonly eventId: string };
}

export const emptyCase: CaseState = { opened: null, attemptCount: 0, steps: {}, fired: [], closed: null };

/** The case as the state machine sees it, or null when no case was opened. */
export function caseOf(s: CaseState | null): DunningCase | null {
  if (!s?.opened) return null;
  return {
    ...s.opened,
    attemptCount: Math.max(s.attemptCount, 0),
    status: s.closed?.status ?? 'open',
    endAction: (s.endAction ?? 'mark_exhausted') as DunningAction,
    endOutcome: s.endOutcome ?? null,
    dues: s.steps,
    fired: s.fired,
    unreachable: s.unreachable ?? [],
    engaged: s.engaged ?? {},
    entitlement: s.entitlement?.state ?? 'active',
    nextPaymentAttempt: s.retry?.nextAttemptMs ?? null,
  };
}

/** What a Stripe payload says, read once per record (keys() and evolve() both ask for it). */
function readOnce<T>(cache: WeakMap<object, T | null>, f: DunningFact, read: () => T | null): T | null {
  let v = cache.get(f.value);
  if (v === undefined) {
    v = read();
    cache.set(f.value, v);
  }
  return v;
}

const failedInvoices = new WeakMap<object, { id: string; attemptCount: number; nextAttemptMs: number | null } | null>();
function failedInvoiceOf(f: DunningFact): { id: string; attemptCount: number; nextAttemptMs: number | null } | null {
  if (f.topic !== 'stripe.events.v1' || f.value.type !== 'invoice.payment_failed') return null;
  const payload = f.value.payload;
  return readOnce(failedInvoices, f, () => {
    const invoice = readInvoice(readStripeEvent(payload).object);
    return invoice ? { id: invoice.id, attemptCount: invoice.attemptCount ?? 1, nextAttemptMs: invoice.nextPaymentAttemptMs } : null;
  });
}

function openedFrom(d: DunningStepDecided): CaseState['opened'] {
  return {
    caseId: d.case_id,
    customerId: d.customer_id,
    userId: d.user_id ?? d.customer_id,
    subscriptionId: d.subscription_id,
    openedAt: d.occurred_at,
    amountDue: d.amount_due,
    currency: d.currency,
    hostedInvoiceUrl: d.hosted_invoice_url,
    churnRisk: d.churn_risk ?? 0,
    sourceEventId: d.source_event_id,
    declineCode: d.decline_code,
    declineClass: d.decline_class,
    mrrCents: d.mrr_cents,
  };
}

function evolveCase(s: CaseState, f: DunningFact): CaseState {
  if (f.topic === 'notify.delivery-events.v1') return s;
  if (f.topic === 'stripe.events.v1') {
    const failed = failedInvoiceOf(f);
    if (!failed) return s;
    // Stripe's latest failed attempt (highest attempt count, then time, then event id) says when it retries next.
    const r = s.retry;
    const latest = !r || failed.attemptCount > r.attempt || (failed.attemptCount === r.attempt && (f.value.occurred_at > r.at || (f.value.occurred_at === r.at && f.value.event_id > r.eventId)));
    return { ...s, attemptCount: Math.max(s.attemptCount, failed.attemptCount), ...(latest ? { retry: { attempt: failed.attemptCount, at: f.value.occurred_at, eventId: f.value.event_id, nextAttemptMs: failed.nextAttemptMs } } : {}) };
  }
  switch (f.record) {
    case 'DunningStepDue':
      return s.fired.includes(f.value.step) ? s : { ...s, fired: [...s.fired, f.value.step].sort() };
    case 'DunningStepDecided': {
      const d = f.value;
      let next = s;
      if (scheduled.includes(d.step)) {
        // The earliest due time decided for the step: a reminder opened without a payment brings the next one forward.
        const due = next.steps[d.step as Step];
        if (due === undefined || d.due_at < due) next = { ...next, steps: { ...next.steps, [d.step]: d.due_at } };
        if (d.step === 'day_0' && !next.opened) next = { ...next, opened: openedFrom(d), attemptCount: Math.max(next.attemptCount, d.attempt_count) };
        if (d.step === 'end') next = { ...next, endAction: d.action };
      }
      if (d.step === 'end_action' && d.outcome !== null && (next.endOutcome ?? null) === null) next = { ...next, endOutcome: d.outcome };
      const status = closing[d.step];
      if (status) {
        const c = next.closed;
        if (!c || d.occurred_at < c.at || (d.occurred_at === c.at && d.event_id < c.eventId)) next = { ...next, closed: { status, at: d.occurred_at, eventId: d.event_id } };
      }
      return next;
    }
    case 'EntitlementChanged': {
      const e = s.entitlement;
      const later = !e || f.value.occurred_at > e.at || (f.value.occurred_at === e.at && f.value.event_id > e.eventId);
      return later ? { ...s, entitlement: { state: f.value.to_state, at: f.value.occurred_at, eventId: f.value.event_id } } : s;
    }
    case 'DunningReminderOutcome': {
      const o = f.value;
      if (o.kind === 'unreachable') {
        const unreachable = s.unreachable ?? [];
        return unreachable.includes(o.channel) ? s : { ...s, unreachable: [...unreachable, o.channel].sort() };
      }
      if (o.kind === 'engaged') {
        const first = s.engaged?.[o.step];
        return first !== undefined && first <= o.occurred_at ? s : { ...s, engaged: { ...(s.engaged ?? {}), [o.step]: o.occurred_at } };
      }
      return s;
    }
    default: {
      const _exhaustive: never = f;
      return _exhaustive;
    }
  }
}

function caseTimers(s: CaseState, caseId: string): Timer[] {
  if (!s.opened || s.closed) return [];
  const customerId = s.opened.customerId;
  const out: Timer[] = [];
  for (const step of schedule.map((x) => x.step)) {
    const dueAt = s.steps[step];
    if (dueAt === undefined || s.fired.includes(step)) continue;
    const stepId = stepEventId(caseId, step);
    out.push({
      id: timerId(caseId, step),
      dueAt,
      output: { topic: 'billing.dunning-steps.v1', key: customerId, record: 'DunningStepDue', value: { event_id: `due:${stepId}`, occurred_at: dueAt, received_at: dueAt, case_id: caseId, customer_id: customerId, step, step_event_id: stepId } },
    });
  }
  return out;
}

export const caseKind = entityKind<DunningFact, CaseState>({
  name: 'dunning:case',
  initial: emptyCase,
  ttlSeconds: 400 * 86_400,
  keys: (f) => {
    if (f.topic === 'billing.dunning-steps.v1') return [f.value.case_id];
    if (f.topic === 'notify.delivery-events.v1') return [];
    const failed = failedInvoiceOf(f);
    return failed ? [failed.id] : [];
  },
  evolve: evolveCase,
  timers: caseTimers,
});

export interface SubscriptionCases {
  readonly opened: readonly string[];
  readonly closed: readonly string[];
  /** The list MRR the latest subscription event gave (by event time, then event id), when it had one. */
  readonly mrr?: { readonly cents: number | null; readonly at: number; readonly eventId: string };
}

/** A customer.subscription.* event's subscription: its id and list MRR. */
const subscriptions = new WeakMap<object, { id: string; mrrCents: number | null } | null>();
function subscriptionOf(f: DunningFact): { id: string; mrrCents: number | null } | null {
  if (f.topic !== 'stripe.events.v1' || !f.value.type.startsWith('customer.subscription.')) return null;
  const payload = f.value.payload;
  return readOnce(subscriptions, f, () => {
    const sub = readSubscription(readStripeEvent(payload).object);
    return sub ? { id: sub.id, mrrCents: listMrrCents(sub.items) } : null;
  });
}


const add = (list: readonly string[], item: string): readonly string[] => (list.includes(item) ? list : [...list, item].sort());

export const subscriptionKind = entityKind<DunningFact, SubscriptionCases>({
  name: 'dunning:sub',
  initial: { opened: [], closed: [] },
  ttlSeconds: 400 * 86_400,
  keys: (f) => {
    if (f.record === 'DunningStepDecided') return f.value.subscription_id && (f.value.step === 'day_0' || closing[f.value.step]) ? [f.value.subscription_id] : [];
    const sub = subscriptionOf(f);
    return sub ? [sub.id] : [];
  },
  evolve: (s, f) => {
    if (f.record === 'StripeEventReceived') {
      const sub = subscriptionOf(f);
      const m = s.mrr;
      const later = !m || f.value.occurred_at > m.at || (f.value.occurred_at === m.at && f.value.event_id > m.eventId);
      return sub && later ? { ...s, mrr: { cents: sub.mrrCents, at: f.value.occurred_at, eventId: f.value.event_id } } : s;
    }
    if (f.record !== 'DunningStepDecided') return s;
    return f.value.step === 'day_0' ? { ...s, opened: add(s.opened, f.value.case_id) } : { ...s, closed: add(s.closed, f.value.case_id) };
  },
});

export interface CustomerFailures {
  /** Case id → when it opened. */
  readonly opened: Readonly<Record<string, number>>;
}

export const failuresKind = entityKind<DunningFact, CustomerFailures>({
  name: 'dunning:failures',
  initial: { opened: {} },
  ttlSeconds: 400 * 86_400,
  keys: (f) => (f.record === 'DunningStepDecided' && f.value.step === 'day_0' ? [f.value.customer_id] : []),
  evolve: (s, f) => (f.record === 'DunningStepDecided' && !(f.value.case_id in s.opened) ? { opened: { ...s.opened, [f.value.case_id]: f.value.occurred_at } } : s),
});

/** Earlier cases of the customer opened in the 90 days before `at` (this one excluded). */
export function priorFailures(s: CustomerFailures | null, at: number, caseId: string): number {
  return Object.entries(s?.opened ?? {}).filter(([id, openedAt]) => id !== caseId && openedAt >= at - 90 * DAY && openedAt <= at).length;
}

/** A reminder notification of a case: which case and step (from the step's decision; its notification id is derived from it). */
export interface ReminderRef {
  readonly caseId: string | null;
  readonly step: string | null;
}

/** The reminder steps (not the end action): each sends one notification, `dunning:<invoice id>:<step>`. */
export const reminderSteps: readonly string[] = schedule.filter((x) => x.template !== null).map((x) => x.step);

export const reminderKind = entityKind<DunningFact, ReminderRef>({
  name: 'dunning:reminder',
  initial: { caseId: null, step: null },
  ttlSeconds: 400 * 86_400,
  keys: (f) => (f.record === 'DunningStepDecided' && f.value.step === 'day_0' ? reminderSteps.map((step) => reminderNotificationId(f.value.case_id, step)) : []),
  evolve: (s, f, key) => {
    if (s.caseId !== null || f.record !== 'DunningStepDecided') return s;
    const step = reminderSteps.find((x) => reminderNotificationId(f.value.case_id, x) === key) ?? null;
    return step === null ? s : { caseId: f.value.case_id, step };
  },
});

export const dunningKinds = [caseKind, subscriptionKind, failuresKind, reminderKind, customerKind, userKind];
