/**
 * Pure mapping of notification records to timeline steps and message facts, and the status ranking
 * that keeps a notification's status at the furthest point it reached, whatever order callbacks
 * arrive in.
 */
import type { DeliveryEventReceived, DeliveryKind, NotificationDispatched, NotificationRequested } from '../../lib/topics.ts';

/** The statuses a notification can be in, by how far it got. Never regressed by a lower one. */
export const statusRank = {
  requested: 10,
  scheduled: 15,
  deferred: 20,
  batched: 25,
  suppressed: 30,
  retrying: 35,
  cancelled: 38,
  sent: 40,
  failed: 50,
  bounced: 55,
  delivered: 60,
  opened: 70,
  clicked: 80,
} as const;
export type Status = keyof typeof statusRank;

/** Provider kinds (DeliveryEventReceived.kind) → notification status; absent: timeline only. */
const kindStatus: Readonly<Partial<Record<DeliveryKind, Status>>> = {
  processed: 'sent',
  deferred: 'sent',
  accepted: 'sent',
  scheduled: 'sent',
  queued: 'sent',
  sending: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  opened: 'opened',
  read: 'opened',
  clicked: 'clicked',
  bounced: 'bounced',
  dropped: 'failed',
  failed: 'failed',
  undelivered: 'failed',
  canceled: 'failed',
};

export type MessageFact = 'sent_at' | 'delivered_at' | 'opened_at' | 'clicked_at' | 'bounced_at' | 'failed_at' | 'unsubscribed_at';

const kindFact: Readonly<Partial<Record<DeliveryKind, MessageFact>>> = {
  delivered: 'delivered_at',
  opened: 'opened_at',
  read: 'opened_at',
  clicked: 'clicked_at',
  bounced: 'bounced_at',
  dropped: 'failed_at',
  failed: 'failed_at',
  undelivered: 'failed_at',
  unsubscribed: 'unsubscribed_at',
  spam_reported: 'unsubscribed_at',
};

export interface Step {
  readonly notificationId: string;
  readonly eventId: string;
  readonly step: string;
  readonly status: Status | null;
  readonly at: number;
  readonly channel: string | null;
  readonly provider: string | null;
  readonly detail: string | null;
}

/** SendGrid's sg_message_id is the X-Message-Id returned at send time plus ".filter…". */
export function normalizeMessageId(id: string): string {
  const i = id.indexOf('.filter');
  return i > 0 ? id.slice(0, i) : id;
}

export function requestedStep(r: NotificationRequested): Step {
  return { notificationId: r.notification_id, eventId: r.event_id, step: 'requested', status: 'requested', at: r.occurred_at, channel: r.channel, provider: null, detail: r.requested_by };
}

export function dispatchStep(d: NotificationDispatched): Step {
  const status = (Object.hasOwn(statusRank, d.status) ? d.status : null) as Status | null;
  const detail = d.reason ?? (d.deferred_until ? `until ${new Date(d.deferred_until).toISOString()}` : null);
  return { notificationId: d.notification_id, eventId: d.event_id, step: d.status, status, at: d.occurred_at, channel: d.channel, provider: d.provider, detail };
}

export function deliveryStep(e: DeliveryEventReceived, notificationId: string): Step {
  return {
    notificationId,
    eventId: e.event_id,
    step: e.kind === 'unknown' ? e.provider_event : e.kind,
    status: kindStatus[e.kind] ?? null,
    at: e.occurred_at,
    channel: e.channel,
    provider: e.provider,
    detail: e.reason ?? e.error_code ?? (e.url === null ? null : withoutTokens(e.url)),
  };
}

/**
 * A clicked link as the timeline shows it: the bearer tokens of Eventline's own links (contact
 * confirmation, unsubscribe) are cut out, so a `read` key cannot use a click to act for the user.
 */
export function withoutTokens(url: string): string {
  return url.replace(/(\/v1\/(?:contacts\/confirm|unsubscribe)\/)[^/?#\s]+/g, '$1…');
}

/** The message fact a delivery event establishes (e.g. delivered_at), if any. */
export function deliveryFact(e: DeliveryEventReceived): MessageFact | null {
  return kindFact[e.kind] ?? null;
}

export function rankOf(status: Status | null): number {
  return status === null ? -1 : statusRank[status];
}
