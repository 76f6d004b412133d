/**
 * The dunning processor: stripe.events.v1 and its own timers (billing.dunning-steps.v1) →
 * dunning decisions on billing.dunning-steps.v1 and notification requests on
 * notify.dispatch-requests.v1. Consumer group processor.dunning; timers in a Redis sorted set.
 */
import { EventClock } from '../../lib/event-clock.ts';
import type { OutgoingGroup } from '../../lib/kafka.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { Scheduler } from '../../lib/scheduler.ts';
import type { StripeEventReceived } from '../../lib/topics.ts';
import { CustomerDirectory } from '../customers/directory.ts';
import { decideDunning, lifecycleRequest, stepEventId, type DunningCase, type DunningDecision, type DunningInput } from './decide.ts';
import { DunningStore } from './effects.ts';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : isObject(v) && typeof v.id === 'string' ? v.id : null);

export interface DunningParts {
  readonly processor: ProcessorDefinition<'stripe.events.v1' | 'billing.dunning-steps.v1'>;
  readonly scheduler: Scheduler;
  readonly clock: EventClock;
}

export function dunningProcessor(rt: Runtime): DunningParts {
  const log = rt.log.child({ processor: 'dunning' });
  const directory = new CustomerDirectory(rt.redis);
  const store = new DunningStore(rt.redis);
  const scheduler = new Scheduler(rt.redis, 'dunning', log);
  const clock = new EventClock(rt.redis, 'dunning', ['stripe.events.v1']);
  const options = { retentionTeamUser: rt.config.retentionTeamUser };

  async function apply(decision: DunningDecision, previous: DunningCase | null): Promise<void> {
    const outputs: OutgoingGroup[] = [];
    if (decision.decided.length > 0) {
      outputs.push({ topic: 'billing.dunning-steps.v1', records: decision.decided.map((d) => ({ key: d.customer_id, record: 'DunningStepDecided' as const, value: d })) });
    }
    if (decision.requests.length > 0) {
      outputs.push({ topic: 'notify.dispatch-requests.v1', records: decision.requests.map((r) => ({ key: r.user_id, record: 'NotificationRequested' as const, value: r })) });
    }
    // Outputs first (acknowledged), then state: a crash in between re-decides the same outputs.
    if (outputs.length > 0) await (await rt.kafka.appender()).appendMany(outputs);
    if (decision.case && JSON.stringify(decision.case) !== JSON.stringify(previous)) await store.put(decision.case);
    const c = decision.case;
    for (const timer of decision.timers) {
      if (!c) continue;
      await scheduler.schedule(timer.id, timer.dueAt, {
        topic: 'billing.dunning-steps.v1',
        record: {
          key: c.customerId,
          record: 'DunningStepDue',
          value: { event_id: `due:${stepEventId(c.caseId, timer.step)}`, occurred_at: timer.dueAt, received_at: timer.dueAt, case_id: c.caseId, customer_id: c.customerId, step: timer.step, step_event_id: stepEventId(c.caseId, timer.step) },
        },
      });
    }
    await scheduler.cancel(decision.cancelTimers);
  }

  async function decide(input: DunningInput, caseId: string): Promise<void> {
    const current = await store.get(caseId);
    await apply(decideDunning(input, current, options), current);
  }

  async function onStripe(e: StripeEventReceived): Promise<void> {
    await directory.apply(e);
    const relevant = e.type.startsWith('invoice.') || e.type.startsWith('customer.subscription.');
    if (!relevant) return;
    const event = JSON.parse(e.payload) as { data?: { object?: unknown; previous_attributes?: unknown } };
    const o = isObject(event.data?.object) ? event.data.object : {};
    if (e.type === 'invoice.payment_failed') {
      const invoiceId = str(o.id);
      const customerId = str(o.customer);
      if (!invoiceId || !customerId) return;
      const parent = isObject(o.parent) && isObject(o.parent.subscription_details) ? o.parent.subscription_details : {};
      const customer = await directory.get(customerId);
      await decide(
        {
          kind: 'payment_failed',
          eventId: e.event_id,
          at: e.occurred_at,
          invoiceId,
          customerId,
          userId: customer?.userId ?? customerId,
          subscriptionId: str(o.subscription) ?? str(parent.subscription),
          amountDue: typeof o.amount_due === 'number' ? o.amount_due : 0,
          currency: str(o.currency) ?? 'usd',
          hostedInvoiceUrl: str(o.hosted_invoice_url),
          attemptCount: typeof o.attempt_count === 'number' ? o.attempt_count : 1,
          priorFailures90d: await store.priorFailures(customerId, e.occurred_at, invoiceId),
          customerSince: customer?.createdAt ?? null,
        },
        invoiceId,
      );
      return;
    }
    if (e.type === 'invoice.paid' || e.type === 'invoice.payment_succeeded') {
      const invoiceId = str(o.id);
      if (invoiceId) await decide({ kind: 'invoice_paid', eventId: e.event_id, at: e.occurred_at, invoiceId }, invoiceId);
      return;
    }
    if (e.type.startsWith('customer.subscription.')) {
      const subscriptionId = str(o.id);
      const status = str(o.status) ?? '';
      const ended = e.type === 'customer.subscription.deleted' || status === 'unpaid' || status === 'canceled';
      if (subscriptionId && ended) {
        for (const caseId of await store.openCasesOf(subscriptionId)) {
          await decide({ kind: 'subscription_ended', eventId: e.event_id, at: e.occurred_at, subscriptionId, status }, caseId);
        }
      }
      const customerId = str(o.customer);
      const request = customerId
        ? lifecycleRequest({ eventId: e.event_id, type: e.type, at: e.occurred_at, userId: await directory.userOf(customerId), subscription: o, previous: isObject(event.data?.previous_attributes) ? event.data.previous_attributes : null })
        : null;
      if (request) await (await rt.kafka.appender()).append('notify.dispatch-requests.v1', [{ key: request.user_id, record: 'NotificationRequested', value: request }]);
    }
  }

  return {
    scheduler,
    clock,
    processor: {
      name: 'dunning',
      topics: ['stripe.events.v1', 'billing.dunning-steps.v1'],
      clock,
      async handle(record) {
        if (record.topic === 'stripe.events.v1') return onStripe(record.value);
        if (record.record === 'DunningStepDue') {
          const v = record.value;
          await decide({ kind: 'step_due', eventId: v.event_id, at: v.occurred_at, caseId: v.case_id, step: v.step }, v.case_id);
        }
      },
    },
  };
}
