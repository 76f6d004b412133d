/**
 * The rules processor (consumer group processor.rules): reads domain.events.v1 — the types
 * Eventline declares and those other services registered — and appends to
 * notify.dispatch-requests.v1 the requests the rules decide (decide.ts). Stateless: load nothing,
 * decide, append. An event no rule names is skipped; one whose recipient field is missing is
 * dead-lettered (dlq.processor.rules.v1) after the requests of its other rules are appended.
 */
import { EventlineError } from '../../lib/errors.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { recordFullName } from '../../lib/topics.ts';
import type { Rule } from '../../notify/index.ts';
import { decide, type DomainEvent } from './decide.ts';

// The rules file (parsing, validation, loading) is notify/rules.ts: the events API reads it too.
export { loadRules } from '../../notify/index.ts';

/** A consumed domain event as the rules see it. */
export function domainEventOf(record: Incoming<'domain.events.v1'>): DomainEvent {
  const type = record.record === 'external' ? record.fullName : recordFullName(record.record);
  const v = record.value;
  return { type, eventId: v.event_id, occurredAt: v.occurred_at, receivedAt: v.received_at, data: v.data as unknown as Readonly<Record<string, unknown>> };
}

export function rulesProcessor(rt: Runtime, rules: readonly Rule[]): ProcessorDefinition<'domain.events.v1'> {
  const types = new Set(rules.map((r) => r.event));
  return {
    name: 'rules',
    topics: ['domain.events.v1'],
    externalRecords: true,
    async handle(record, log) {
      // The event's personal fields are sealed (ADR 0018): opened here, sealed again in the request's data.
      const opened = record.record === 'external' ? record : ({ ...record, value: await rt.kafka.serde.opened(record.record, record.value) } as typeof record);
      const event = domainEventOf(opened);
      if (!types.has(event.type)) return;
      const { requests, failures } = decide(event, rules);
      if (requests.length > 0) {
        const appender = await rt.kafka.appender();
        await appender.append(
          'notify.dispatch-requests.v1',
          requests.map((value) => ({ key: value.user_id, record: 'NotificationRequested' as const, value })),
        );
        log.info({ type: event.type, eventId: event.eventId, notificationIds: requests.map((r) => r.notification_id) }, 'requested notifications');
      }
      if (failures.length > 0) throw new EventlineError('unprocessable', `${event.type} ${event.eventId}: ${failures.join('; ')}`, { detail: failures });
    },
  };
}
