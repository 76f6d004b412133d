/**
 * The rules processor (consumer group processor.rules): reads domain.events.v1 — the types
 * Eventline declares and those other services registered — and appends to
 * notify.dispatch-requests.v1 the requests the rules decide (decide.ts). Stateless: load nothing,
 * decide, append. An event no rule names is skipped; one whose recipient field is missing is
 * dead-lettered (dlq.processor.rules.v1) after the requests of its other rules are appended.
 */
import { readFileSync } from 'node:fs';
import { EventlineError } from '../../lib/errors.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import type { ProcessorDefinition } from '../../lib/processor.ts';
import type { Runtime } from '../../lib/runtime.ts';
import { recordFullName, recordSchemas, topicSpecs, type RecordName } from '../../lib/topics.ts';
import { categoryFor, Templates } from '../../notify/index.ts';
import { decide, type DomainEvent } from './decide.ts';
import { parseRulesText, validateRules, type Rule, type RulesCatalogue } from './rules.ts';

/** The event types of schemas/domain.events.v1 with the fields of their data, the shipped templates and their categories. */
export function shippedCatalogue(templates: Templates = new Templates()): RulesCatalogue {
  const eventTypes = new Map<string, readonly string[]>();
  for (const record of topicSpecs['domain.events.v1'].records as readonly RecordName[]) {
    const schema = recordSchemas[record].schema as { fields: readonly { name: string; type: unknown }[] };
    const data = schema.fields.find((f) => f.name === 'data')?.type as { fields?: readonly { name: string }[] } | undefined;
    eventTypes.set(recordFullName(record), (data?.fields ?? []).map((f) => f.name));
  }
  return { eventTypes, hasTemplate: (t) => templates.has(t), categoryFor: (t, c) => categoryFor(t, c, 'api') };
}

/** Reads and validates a rules file; refuses (config_invalid, every problem listed) a file that is missing, malformed or wrong. */
export function loadRules(path: string, catalogue: RulesCatalogue = shippedCatalogue()): readonly Rule[] {
  const refuse = (problems: readonly string[]) =>
    new EventlineError('config_invalid', `invalid rules file ${path} (EVENTLINE_RULES): ${problems.join('; ')}`, { detail: problems });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw refuse([`cannot read it: ${(err as Error).message}`]);
  }
  const parsed = parseRulesText(text, path);
  if (!parsed.ok) throw refuse([parsed.problem]);
  const validated = validateRules(parsed.doc, catalogue);
  if (!validated.ok) throw refuse(validated.problems);
  return validated.rules;
}

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
      const event = domainEventOf(record);
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
