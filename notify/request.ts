/**
 * Building a NotificationRequested, for every producer of requests (processors and the API): the
 * notification id and event id derive from the source (an event id, or an API idempotency key),
 * so the same cause always yields the same notification — and it is sent once.
 */
import { derivedId } from '../lib/ids.ts';
import { vocabularies, type NotificationEscalation, type NotificationRecurrence, type NotificationSequence, type NotificationPriority, type NotificationRequested } from '../lib/topics.ts';

export const priorities = vocabularies.NotificationPriority.symbols;
export type Priority = NotificationPriority;

export function notificationIdFor(source: string): string {
  return derivedId('ntf', source);
}

export function notificationRequest(r: {
  source: string;
  userId: string;
  template: string;
  category: string;
  priority: Priority;
  channel?: string | null;
  data?: Record<string, unknown>;
  /** The data as a record already carries it (sealed for the user, ADR 0018): copied as it is. */
  dataText?: string;
  requestedBy: string;
  sourceEventId?: string | null;
  idempotencyKey?: string | null;
  at: number;
  /** Not sent before this time (scheduled); null or absent: as soon as decided. */
  sendAt?: number | null;
  /** Send on another channel when the first got no engagement in time. */
  escalation?: NotificationEscalation | null;
  /** One occurrence of a recurring notification. */
  recurrence?: NotificationRecurrence | null;
  /** One step of a drip sequence. */
  sequence?: NotificationSequence | null;
  /** Channels to use last (they failed to reach the user before). */
  avoidChannels?: readonly string[];
  receivedAt?: number;
}): NotificationRequested {
  return {
    event_id: `req:${r.source}`,
    occurred_at: r.at,
    received_at: r.receivedAt ?? r.at,
    notification_id: notificationIdFor(r.source),
    user_id: r.userId,
    template: r.template,
    category: r.category,
    priority: r.priority,
    channel: r.channel ?? null,
    data: r.dataText ?? JSON.stringify(r.data ?? {}),
    idempotency_key: r.idempotencyKey ?? null,
    requested_by: r.requestedBy,
    source_event_id: r.sourceEventId ?? null,
    send_at: r.sendAt ?? null,
    escalation: r.escalation ?? null,
    recurrence: r.recurrence ?? null,
    sequence: r.sequence ?? null,
    avoid_channels: [...(r.avoidChannels ?? [])],
  };
}
