/**
 * In-app inbox changes as delivery events (notify.delivery-events.v1, provider `eventline`,
 * channel `in_app`), keyed by notification id like every other delivery event. Pure.
 *
 * Event id: `inapp:<notification id>:<kind>:<ms>` (the request's time). The same change of the
 * same item within one millisecond is one event (a double click, a retry racing the original);
 * otherwise a retry is a second event, which changes nothing: the item state is a fold in which
 * seen and archived keep their first time and a repeated read keeps the time of the first read
 * since the latest unread (projections/inbox/evolve.ts). A retried `read` that lands after a later
 * `unread` reads the item again — the client's last word wins, as it would for any "set" request.
 */
import type { DeliveryEventReceived } from '../../lib/topics.ts';
import type { ItemKind } from '../../projections/inbox/evolve.ts';

/** The actions of POST /v1/users/:userId/inbox/:notificationId/<action>, and the kind each records. */
export const itemActions = { seen: 'seen', read: 'read', unread: 'unread', archive: 'archived' } as const satisfies Record<string, ItemKind>;
export type ItemAction = keyof typeof itemActions;
/** read_all: POST /v1/users/:userId/inbox/read-all, one `read` per unread item. */
export type InboxAction = ItemAction | 'read_all';

const kindOf: Readonly<Record<InboxAction, ItemKind>> = { ...itemActions, read_all: 'read' };

export interface InboxChange {
  readonly notificationId: string;
  readonly userId: string;
  readonly action: InboxAction;
  /** Who: the API key id, or `user:<id>` for a user token. */
  readonly actor: string;
  /** Now, in ms: the event's occurred_at and received_at. */
  readonly at: number;
}

export function inboxEventId(notificationId: string, kind: ItemKind, at: number): string {
  return `inapp:${notificationId}:${kind}:${at}`;
}

export function toEvent(c: InboxChange): DeliveryEventReceived {
  const kind = kindOf[c.action];
  return {
    event_id: inboxEventId(c.notificationId, kind, c.at),
    occurred_at: c.at,
    received_at: c.at,
    provider: 'eventline',
    channel: 'in_app',
    notification_id: c.notificationId,
    provider_message_id: null,
    kind,
    provider_event: c.action,
    recipient: null,
    reason: null,
    error_code: null,
    bounce_type: null,
    url: null,
    raw: JSON.stringify({ action: c.action, user_id: c.userId, actor: c.actor }),
    user_id: c.userId,
  };
}
