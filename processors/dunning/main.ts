/**
 * The dunning processor's adapter: stripe.events.v1 and its own timers (billing.dunning-steps.v1) →
 * dunning decisions on billing.dunning-steps.v1 and notification requests on
 * notify.dispatch-requests.v1. Consumer group processor.dunning; timers follow from the cases' state.
 *
 * For each batch of inputs: load the cases they concern, decide each input in order (decide.ts),
 * append every decision, fold inputs and decisions into the state (evolve.ts) with one
 * compare-and-set (lib/decider/batch.ts). No other effects.
 */
import { decideBatch, factsOf, EntityStore, StateWriter, stateKeys, type BatchDecider, type BatchState, type EntityRef, type Fence, type FoldedTopic, type Output, type RebuildSpec } from '../../lib/decider/index.ts';
import { EventClock } from '../../lib/event-clock.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { Scheduler } from '../../lib/scheduler.ts';
import { idOf, num, readInvoice, readStripeEvent, readSubscription, record, text, type StripeInvoice } from '../../lib/stripe/index.ts';
import type { DeliveryEventReceived, DunningReminderOutcome, NotificationRequested, StripeEventReceived, TopicName } from '../../lib/topics.ts';
import { customerRef, directoryFence, type CustomerRecord } from '../customers/directory.ts';
import { afterEndAction, cardExpiringRequest, decideDunning, decideReminderOutcome, reminderOutcomeKind, lifecycleRequest, type DunningDecision, type DunningInput, type DunningOptions } from './decide.ts';
import { stripeEndActions, type EndActionRunner } from './end-actions.ts';
import { stripeClient } from '../../lib/stripe/client.ts';
import { caseKind, caseOf, dunningKinds, failuresKind, priorFailures, reminderKind, subscriptionKind, type ReminderRef, type CaseState, type CustomerFailures, type DunningFact, type SubscriptionCases } from './evolve.ts';

export interface DunningParts {
  readonly processor: ProcessorDefinition<'stripe.events.v1' | 'billing.dunning-steps.v1' | 'notify.delivery-events.v1'>;
  readonly scheduler: Scheduler;
  readonly clock: EventClock;
  readonly rebuild: RebuildSpec<DunningFact>;
}

/** As far back as a case is kept (400 days); the customer directory is rebuilt on its own. */
export const dunningFolds: readonly FoldedTopic[] = [
  { topic: 'billing.dunning-steps.v1', horizonMs: (caseKind.ttlSeconds ?? 0) * 1000 },
  { topic: 'stripe.events.v1', horizonMs: (caseKind.ttlSeconds ?? 0) * 1000 },
];

/**
 * The records the processor decides on: Stripe events, its own steps and timers, and the delivery
 * events of notifications (a reminder bounced or opened; folded into nothing themselves: what they
 * mean for a case is the DunningReminderOutcome decided from them).
 */
export function dunningFact(record: { topic: TopicName; record: string; value: unknown }): DunningFact | null {
  if (record.topic === 'notify.delivery-events.v1') {
    const e = record.value as DeliveryEventReceived;
    return record.record === 'DeliveryEventReceived' && e.notification_id && reminderOutcomeKind(e) ? { topic: record.topic, record: 'DeliveryEventReceived', value: e } : null;
  }
  return record.topic === 'stripe.events.v1' || record.topic === 'billing.dunning-steps.v1' ? ({ topic: record.topic, record: record.record, value: record.value } as DunningFact) : null;
}

const toOutputs = (d: Partial<DunningDecision> & { readonly outcomes?: readonly DunningReminderOutcome[] }): Output[] => [
  ...(d.entitlements ?? []).map((v): Output => ({ topic: 'billing.dunning-steps.v1', key: v.customer_id, record: 'EntitlementChanged', value: v })),
  ...(d.decided ?? []).map((v): Output => ({ topic: 'billing.dunning-steps.v1', key: v.customer_id, record: 'DunningStepDecided', value: v })),
  ...(d.outcomes ?? []).map((v): Output => ({ topic: 'billing.dunning-steps.v1', key: v.customer_id, record: 'DunningReminderOutcome', value: v })),
  ...(d.requests ?? []).map((v): Output => ({ topic: 'notify.dispatch-requests.v1', key: v.user_id, record: 'NotificationRequested', value: v })),
];

export interface DunningAdapterOptions extends DunningOptions {
  /** Runs an end action at Stripe (absent: none can run, and an end action is recorded refused). */
  readonly runEndAction?: EndActionRunner;
}

/** What a dunning decision reads: the state (the fold) and the customer directory. */
export interface DunningReader {
  caseState(caseId: string): Promise<CaseState | null>;
  failures(customerId: string): Promise<CustomerFailures | null>;
  subscriptionCases(subscriptionId: string): Promise<SubscriptionCases | null>;
  customer(customerId: string): Promise<CustomerRecord | null>;
  /** Which case and step a reminder notification is. */
  reminder(notificationId: string): Promise<ReminderRef | null>;
}

/** The decisions a record leads to (the adapter's "load and decide" step; the state is read, never written). */
export async function decideRecord(fact: DunningFact, read: DunningReader, options: DunningAdapterOptions): Promise<Output[]> {
  const decideCase = async (input: DunningInput, caseId: string): Promise<Output[]> => {
    const current = caseOf(await read.caseState(caseId));
    const d = decideDunning(input, current, options);
    if (!d.effect || !current) return toOutputs(d);
    // The end action runs before its decision is appended: a crash in between decides it again, and
    // the same idempotency key makes Stripe do it once; what Stripe answered is appended with the close.
    const result = options.runEndAction ? await options.runEndAction(d.effect) : { outcome: 'refused' as const, detail: 'STRIPE_API_KEY is not set: no end action can run' };
    const answered = afterEndAction(current, d.effect, result);
    return toOutputs({ ...d, decided: [...d.decided, ...answered.decided], entitlements: [...(d.entitlements ?? []), ...(answered.entitlements ?? [])] });
  };
  if (fact.topic === 'billing.dunning-steps.v1') {
    if (fact.record !== 'DunningStepDue') return [];
    const v = fact.value;
    return decideCase({ kind: 'step_due', eventId: v.event_id, at: v.occurred_at, caseId: v.case_id, step: v.step }, v.case_id);
  }
  if (fact.topic === 'notify.delivery-events.v1') {
    // Only a reminder's: the index of the case's reminder notifications says which case and step.
    const ref = fact.value.notification_id ? await read.reminder(fact.value.notification_id) : null;
    if (!ref?.caseId || !ref.step) return [];
    return toOutputs(decideReminderOutcome(fact.value, ref.step, caseOf(await read.caseState(ref.caseId)), options));
  }
  const e = fact.value;
  if (e.type === 'customer.source.expiring') {
    const request = await cardExpiringNotice(e, read);
    return request ? [{ topic: 'notify.dispatch-requests.v1', key: request.user_id, record: 'NotificationRequested', value: request }] : [];
  }
  if (!e.type.startsWith('invoice.') && !e.type.startsWith('customer.subscription.')) return [];
  if (e.type === 'invoice.payment_failed' || e.type === 'invoice.payment_action_required') {
    const invoice = invoiceOf(e);
    if (!invoice?.customerId) return [];
    const customer = await read.customer(invoice.customerId);
    return decideCase(
      {
        kind: 'payment_failed',
        eventId: e.event_id,
        at: e.occurred_at,
        invoiceId: invoice.id,
        customerId: invoice.customerId,
        userId: customer?.userId ?? invoice.customerId,
        subscriptionId: invoice.subscriptionId,
        amountDue: invoice.amountDue ?? 0,
        currency: invoice.currency ?? 'usd',
        hostedInvoiceUrl: invoice.hostedInvoiceUrl,
        attemptCount: invoice.attemptCount ?? 1,
        priorFailures90d: priorFailures(await read.failures(invoice.customerId), e.occurred_at, invoice.id),
        customerSince: customer?.createdAt ?? null,
        declineCode: invoice.declineCode,
        actionRequired: e.type === 'invoice.payment_action_required',
        mrrCents: invoice.subscriptionId ? ((await read.subscriptionCases(invoice.subscriptionId))?.mrr?.cents ?? null) : null,
      },
      invoice.id,
    );
  }
  if (e.type === 'invoice.paid' || e.type === 'invoice.payment_succeeded') {
    const invoice = invoiceOf(e);
    return invoice ? decideCase({ kind: 'invoice_paid', eventId: e.event_id, at: e.occurred_at, invoiceId: invoice.id }, invoice.id) : [];
  }
  // Only a subscription's events go on (an invoice's other events decide nothing here).
  const event = e.type.startsWith('customer.subscription.') ? readStripeEvent(e.payload) : null;
  const sub = event ? readSubscription(event.object) : null;
  if (!event || !sub) return [];
  const outputs: Output[] = [];
  const status = sub.status ?? '';
  if (e.type === 'customer.subscription.deleted' || status === 'unpaid' || status === 'canceled') {
    // Open cases close as lost; an exhausted one's customer loses access (the decider tells them apart).
    for (const caseId of (await read.subscriptionCases(sub.id))?.opened ?? []) outputs.push(...(await decideCase({ kind: 'subscription_ended', eventId: e.event_id, at: e.occurred_at, subscriptionId: sub.id, status }, caseId)));
  }
  if (sub.customerId && event.object) {
    const userId = (await read.customer(sub.customerId))?.userId ?? sub.customerId;
    const request = lifecycleRequest({ eventId: e.event_id, type: e.type, at: e.occurred_at, userId, subscription: event.object, previous: event.previousAttributes });
    if (request) outputs.push({ topic: 'notify.dispatch-requests.v1', key: request.user_id, record: 'NotificationRequested', value: request });
  }
  return outputs;
}

/** The expiring card of a customer.source.expiring (a card, or a card source), with its customer's user. */
async function cardExpiringNotice(e: StripeEventReceived, read: DunningReader): Promise<NotificationRequested | null> {
  const o = record(readStripeEvent(e.payload).object);
  const card = o?.object === 'source' ? record(o.card) : o;
  const cardId = text(o?.id);
  const expMonth = num(card?.exp_month);
  const expYear = num(card?.exp_year);
  const customerId = idOf(o?.customer) ?? e.customer_id;
  if (!card || !cardId || expMonth === null || expYear === null || !customerId) return null;
  const userId = (await read.customer(customerId))?.userId ?? customerId;
  return cardExpiringRequest({ eventId: e.event_id, at: e.occurred_at, userId, cardId, brand: text(card.brand), last4: text(card.last4), expMonth, expYear });
}

/** What a batch's decisions read: the batch's state, the customer directory included (its kinds fold it too). */
export function dunningReaderOf(state: BatchState<DunningFact>): DunningReader {
  return {
    caseState: (caseId) => state.get<CaseState>({ kind: caseKind.name, key: caseId }),
    failures: (customerId) => state.get<CustomerFailures>({ kind: failuresKind.name, key: customerId }),
    subscriptionCases: (subscriptionId) => state.get<SubscriptionCases>({ kind: subscriptionKind.name, key: subscriptionId }),
    customer: (customerId) => state.get<CustomerRecord>(customerRef(customerId)),
    reminder: (notificationId) => state.get<ReminderRef>({ kind: reminderKind.name, key: notificationId }),
  };
}

/** The invoice of an invoice.* event, read once per record (the batch's reads and the decision both ask). */
const invoices = new WeakMap<StripeEventReceived, StripeInvoice | null>();
function invoiceOf(e: StripeEventReceived): StripeInvoice | null {
  let invoice = invoices.get(e);
  if (invoice === undefined) {
    invoice = readInvoice(readStripeEvent(e.payload).object);
    invoices.set(e, invoice);
  }
  return invoice;
}

/**
 * What a decision reads beyond what it folds into, read with the batch's first round trip: a failed
 * payment's (or one requiring action's) customer failures, directory entry, case and subscription
 * (its MRR), a paid invoice's case,
 * the directory entry of a subscription change or an expiring card (their notices name the
 * customer's user), a delivery event's reminder.
 */
export function dunningReads(fact: DunningFact): EntityRef[] {
  if (fact.topic === 'notify.delivery-events.v1') return fact.value.notification_id ? [{ kind: reminderKind.name, key: fact.value.notification_id }] : [];
  if (fact.topic !== 'stripe.events.v1') return [];
  const type = fact.value.type;
  if (type === 'invoice.paid' || type === 'invoice.payment_succeeded') {
    const invoice = invoiceOf(fact.value);
    return invoice ? [{ kind: caseKind.name, key: invoice.id }] : [];
  }
  if (!fact.value.customer_id) return [];
  const customerId = fact.value.customer_id;
  if (type === 'invoice.payment_failed' || type === 'invoice.payment_action_required') {
    // Its case (a failed payment also folds into it; one that requires action only reads it).
    const invoice = invoiceOf(fact.value);
    return [
      { kind: failuresKind.name, key: customerId },
      customerRef(customerId),
      ...(invoice ? [{ kind: caseKind.name, key: invoice.id }] : []),
      ...(invoice?.subscriptionId ? [{ kind: subscriptionKind.name, key: invoice.subscriptionId }] : []),
    ];
  }
  return type.startsWith('customer.subscription.') || type === 'customer.source.expiring' ? [customerRef(customerId)] : [];
}

/** How the adapter decides a batch (lib/decider/batch.ts): its reader, what it reads, the fences its reads check. */
export const dunningBatch = { readerOf: dunningReaderOf, reads: dunningReads, readFences: [directoryFence], asFact: dunningFact } as const;

export function dunningProcessor(rt: Runtime): DunningParts {
  const log = rt.log.child({ processor: 'dunning' });
  const store = new EntityStore(rt.redis);
  const scheduler = new Scheduler(rt.redis, 'dunning', log);
  const writer = new StateWriter<DunningFact>(store, dunningKinds, scheduler);
  const fence: Fence = { kind: 'live', sentinel: stateKeys('dunning').sentinel };
  const clock = new EventClock(rt.redis, 'dunning', ['stripe.events.v1']);
  const { apiKey, apiUrl } = rt.config.stripe;
  const options: DunningAdapterOptions = {
    retentionTeamUser: rt.config.retentionTeamUser,
    endAction: rt.config.dunning.endAction,
    escalateAfterOpenMs: rt.config.dunning.escalateAfterOpenHours * 3_600_000,
    ...(apiKey ? { runEndAction: stripeEndActions(stripeClient(apiKey, apiUrl)) } : {}),
  };
  const decider: BatchDecider<DunningFact> = { kafka: rt.kafka, store, writer, kinds: dunningKinds, fence, ...dunningBatch };

  return {
    scheduler,
    clock,
    rebuild: { processor: 'dunning', topics: dunningFolds, fact: dunningFact, writer },
    processor: {
      name: 'dunning',
      topics: ['stripe.events.v1', 'billing.dunning-steps.v1', 'notify.delivery-events.v1'],
      clock,
      async handleBatch(records) {
        const { facts, origins } = factsOf(records, dunningFact);
        const events = await decideBatch(decider, facts, dunningBatch.readerOf, (fact, read) => decideRecord(fact, read, options), { processor: 'dunning', origins });
        if (events.length > 0) log.debug({ events: events.length }, 'dunning decided');
      },
    },
  };
}
