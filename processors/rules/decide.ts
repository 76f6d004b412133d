/**
 * The rules decision: a domain event and the rules → the notification requests it causes. Pure.
 *
 * Each matching rule gives one NotificationRequested whose source is `rule:<rule name>:<event id>`,
 * so a redelivered or replayed event gives the same notification id and event id (the dispatcher
 * sends it once), and two rules on one event give two notifications. Event time is the request's
 * time: a replay of old events is suppressed as stale by the dispatcher, not sent. A rule whose
 * recipient field the event lacks is a failure (the event is dead-lettered); the other rules of the
 * same event still give their requests.
 */
import { notificationRequest } from '../../notify/index.ts';
import type { NotificationRequested } from '../../lib/topics.ts';
import type { Rule } from '../../notify/index.ts';

export const REQUESTED_BY = 'processor.rules';

/** A domain event as the rules see it, whoever declared its type. */
export interface DomainEvent {
  /** Record full name, e.g. eventline.domain.SecurityAlertRaised. */
  readonly type: string;
  readonly eventId: string;
  readonly occurredAt: number;
  readonly receivedAt: number;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface RulesDecision {
  readonly requests: readonly NotificationRequested[];
  /** One line per rule that matched but could not make a request. */
  readonly failures: readonly string[];
}

/** The value at a dotted path of the event's data; undefined when any step is missing. */
export function valueAt(data: Readonly<Record<string, unknown>>, path: string): unknown {
  let v: unknown = data;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function templateData(rule: Rule, data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (rule.data === 'all') return { ...data };
  const out: Record<string, unknown> = {};
  for (const [field, path] of Object.entries(rule.data)) {
    const v = valueAt(data, path);
    if (v !== undefined) out[field] = v;
  }
  return out;
}

export function decide(event: DomainEvent, rules: readonly Rule[]): RulesDecision {
  const requests: NotificationRequested[] = [];
  const failures: string[] = [];
  for (const rule of rules) {
    if (rule.event !== event.type) continue;
    const recipient = valueAt(event.data, rule.recipient);
    if (typeof recipient !== 'string' || recipient.trim() === '') {
      failures.push(`rule ${rule.name}: the recipient field ${rule.recipient} is ${recipient === undefined || recipient === null ? 'missing' : 'not a user id'}`);
      continue;
    }
    requests.push(
      notificationRequest({
        source: `rule:${rule.name}:${event.eventId}`,
        userId: recipient,
        template: rule.template,
        category: rule.category,
        priority: rule.priority,
        channel: rule.channel,
        data: templateData(rule, event.data),
        requestedBy: REQUESTED_BY,
        sourceEventId: event.eventId,
        // A publisher's clock ahead of ours must not move the dispatcher's event time into the future.
        at: Math.min(event.occurredAt, event.receivedAt),
        receivedAt: event.receivedAt,
      }),
    );
  }
  return { requests, failures };
}
