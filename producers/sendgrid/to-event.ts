/**
 * Pure mapping from one SendGrid event-webhook event to a DeliveryEventReceived record. Custom args
 * arrive flattened into the event, so the notification id Eventline sets on every email comes back
 * as `notification_id`. Unknown event kinds are kept (kind "unknown", provider_event as sent).
 */
import { createHash } from 'node:crypto';
import { EventlineError } from '../../lib/errors.ts';
import type { DeliveryEventReceived, DeliveryKind } from '../../lib/topics.ts';

const kinds: Readonly<Record<string, DeliveryKind>> = {
  processed: 'processed',
  deferred: 'deferred',
  delivered: 'delivered',
  bounce: 'bounced',
  dropped: 'dropped',
  open: 'opened',
  click: 'clicked',
  spamreport: 'spam_reported',
  unsubscribe: 'unsubscribed',
  group_unsubscribe: 'unsubscribed',
  group_resubscribe: 'resubscribed',
};

function str(v: unknown): string | null {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** Parses a webhook body: a non-empty JSON array of objects, each with `event` and `timestamp`. */
export function parseSendgridBatch(json: unknown): Record<string, unknown>[] {
  if (!Array.isArray(json) || json.length === 0) throw new EventlineError('bad_request', 'a SendGrid event webhook body is a non-empty JSON array of events');
  const problems: string[] = [];
  json.forEach((e, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) problems.push(`[${i}]: not an object`);
    else {
      const ev = e as Record<string, unknown>;
      if (typeof ev.event !== 'string' || ev.event === '') problems.push(`[${i}].event: expected a string`);
      if (typeof ev.timestamp !== 'number' || !Number.isFinite(ev.timestamp)) problems.push(`[${i}].timestamp: expected unix seconds`);
    }
  });
  if (problems.length > 0) throw new EventlineError('bad_request', `invalid SendGrid events: ${problems.slice(0, 10).join('; ')}`, { detail: problems });
  return json as Record<string, unknown>[];
}

export function toDeliveryEvent(event: Readonly<Record<string, unknown>>, receivedAt: number): { key: string; value: DeliveryEventReceived } {
  const raw = JSON.stringify(event);
  const providerEvent = String(event.event);
  const notificationId = str(event.notification_id);
  const messageId = str(event.sg_message_id);
  // sg_event_id identifies an event across retries; without it, the event's own content does.
  const eventId = str(event.sg_event_id) ?? `sg_${createHash('sha256').update(raw).digest('base64url').slice(0, 32)}`;
  const kind = kinds[providerEvent] ?? 'unknown';
  return {
    key: notificationId ?? messageId ?? eventId,
    value: {
      event_id: eventId,
      occurred_at: Math.round(Number(event.timestamp) * 1000),
      received_at: receivedAt,
      provider: 'sendgrid',
      channel: 'email',
      notification_id: notificationId,
      provider_message_id: messageId,
      kind,
      provider_event: providerEvent,
      recipient: str(event.email),
      reason: str(event.reason) ?? str(event.response),
      error_code: str(event.status),
      bounce_type: kind === 'bounced' || kind === 'dropped' ? (str(event.type) ?? str(event.bounce_classification)) : null,
      url: str(event.url),
      raw,
      user_id: str(event.user_id),
    },
  };
}
