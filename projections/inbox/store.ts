/**
 * Applies notification records to an inbox projection version: requests (kept for rendering),
 * in_app `sent` outcomes (the items) and in_app state changes (their events), then folds the state
 * of every item the batch touched from all of its events (evolve.ts). Every write is a merge that
 * does not depend on order or repetition: a request and an item keep the record with the smaller
 * (time, event id), events are kept once per event id, and the state is a fold over all of them.
 */
import { inKeyOrder, lockKeys, recordset, recordsetParam, type DbClient } from '../../lib/db.ts';
import type { Incoming } from '../../lib/kafka/index.ts';
import { foldItem, isItemKind, type ItemEvent, type ItemKind } from './evolve.ts';

export type InboxTopic = 'notify.dispatch-requests.v1' | 'notify.dispatches.v1' | 'notify.delivery-events.v1';

interface RequestRow {
  readonly user_id: string;
  readonly template: string;
  readonly category: string;
  readonly data: string;
  readonly requested_at: number;
  readonly event_id: string;
}

interface ItemRow {
  readonly user_id: string;
  readonly template: string;
  readonly category: string;
  readonly locale: string | null;
  readonly created_at: number;
  readonly sent_event_id: string;
}

interface StoredEvent extends ItemEvent {
  readonly notificationId: string;
}

const before = (a: { at: number; id: string }, b: { at: number; id: string }): boolean => a.at < b.at || (a.at === b.at && a.id < b.id);

class Batch {
  readonly requests = new Map<string, RequestRow>();
  readonly items = new Map<string, ItemRow>();
  readonly events = new Map<string, StoredEvent>();

  request(id: string, row: RequestRow): void {
    const held = this.requests.get(id);
    if (!held || row.event_id < held.event_id) this.requests.set(id, row);
  }

  item(id: string, row: ItemRow): void {
    const held = this.items.get(id);
    if (!held || before({ at: row.created_at, id: row.sent_event_id }, { at: held.created_at, id: held.sent_event_id })) this.items.set(id, row);
  }

  event(notificationId: string, eventId: string, kind: ItemKind, at: number): void {
    this.events.set(`${notificationId}\u0000${eventId}`, { notificationId, eventId, kind, at });
  }

  /** Every notification the batch touched, sorted (the lock order). */
  touched(): string[] {
    return [...new Set([...this.requests.keys(), ...this.items.keys(), ...[...this.events.values()].map((e) => e.notificationId)])].sort();
  }
}

function collect(records: readonly Incoming<InboxTopic>[]): Batch {
  const batch = new Batch();
  for (const r of records) {
    switch (r.record) {
      case 'NotificationRequested': {
        const v = r.value;
        batch.request(v.notification_id, { user_id: v.user_id, template: v.template, category: v.category, data: v.data, requested_at: v.occurred_at, event_id: v.event_id });
        break;
      }
      case 'NotificationDispatched': {
        const v = r.value;
        if (v.status === 'sent' && v.channel === 'in_app') {
          batch.item(v.notification_id, { user_id: v.user_id, template: v.template, category: v.category, locale: v.locale, created_at: v.occurred_at, sent_event_id: v.event_id });
        }
        break;
      }
      case 'DeliveryEventReceived': {
        const v = r.value;
        // Only in-app state changes; anything else on the topic is a provider's, for other read models.
        if (v.channel === 'in_app' && v.notification_id && isItemKind(v.kind)) batch.event(v.notification_id, v.event_id, v.kind, v.occurred_at);
        break;
      }
      case 'NotificationDue':
      case 'NotificationCancelled':
        // A timer or a cancellation; what it leads to arrives as a NotificationDispatched.
        break;
      default: {
        const _exhaustive: never = r;
        void _exhaustive;
      }
    }
  }
  return batch;
}

const ts = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export async function applyInboxRecords(client: DbClient, schema: string, records: readonly Incoming<InboxTopic>[]): Promise<void> {
  const batch = collect(records);
  const touched = batch.touched();
  if (touched.length === 0) return;
  // A batch of another partition touching one of these notifications (its item, or an event for
  // it) waits here, so the fold below sees what that one committed and the other way round.
  await lockKeys(client, `${schema}:item`, touched);
  const requests = inKeyOrder(batch.requests);
  if (requests.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.requests AS t (notification_id, user_id, template, category, data, requested_at, event_id)
       SELECT * FROM ${recordset({ notification_id: 'text', user_id: 'text', template: 'text', category: 'text', data: 'text', requested_at: 'timestamptz', event_id: 'text' }, 1)}
       ON CONFLICT (notification_id) DO UPDATE SET
         user_id = excluded.user_id, template = excluded.template, category = excluded.category, data = excluded.data,
         requested_at = excluded.requested_at, event_id = excluded.event_id
       WHERE excluded.event_id < t.event_id`,
      [recordsetParam(requests.map(([id, r]) => ({ notification_id: id, ...r, requested_at: ts(r.requested_at) })))],
    );
  }
  const items = inKeyOrder(batch.items);
  if (items.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.items AS t (notification_id, user_id, template, category, locale, created_at, sent_event_id)
       SELECT * FROM ${recordset({ notification_id: 'text', user_id: 'text', template: 'text', category: 'text', locale: 'text', created_at: 'timestamptz', sent_event_id: 'text' }, 1)}
       ON CONFLICT (notification_id) DO UPDATE SET
         user_id = excluded.user_id, template = excluded.template, category = excluded.category, locale = excluded.locale,
         created_at = excluded.created_at, sent_event_id = excluded.sent_event_id
       WHERE (excluded.created_at, excluded.sent_event_id) < (t.created_at, t.sent_event_id)`,
      [recordsetParam(items.map(([id, r]) => ({ notification_id: id, ...r, created_at: ts(r.created_at) })))],
    );
  }
  const events = inKeyOrder(batch.events);
  if (events.length > 0) {
    await client.query(
      `INSERT INTO ${schema}.item_events (notification_id, event_id, kind, at)
       SELECT * FROM ${recordset({ notification_id: 'text', event_id: 'text', kind: 'text', at: 'timestamptz' }, 1)}
       ON CONFLICT DO NOTHING`,
      [recordsetParam(events.map(([, e]) => ({ notification_id: e.notificationId, event_id: e.eventId, kind: e.kind, at: ts(e.at) })))],
    );
  }
  await foldStates(client, schema, [...new Set([...batch.items.keys(), ...[...batch.events.values()].map((e) => e.notificationId)])].sort());
}

/** Sets the state of these notifications' items (those that exist) from all of their events. */
async function foldStates(client: DbClient, schema: string, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const res = await client.query<{ notification_id: string; event_id: string; kind: string; at: Date }>(
    `SELECT e.notification_id, e.event_id, e.kind, e.at FROM ${schema}.item_events e
     WHERE e.notification_id = ANY($1::text[]) AND EXISTS (SELECT 1 FROM ${schema}.items i WHERE i.notification_id = e.notification_id)`,
    [ids],
  );
  const byItem = new Map<string, ItemEvent[]>(ids.map((id) => [id, []]));
  for (const row of res.rows) {
    if (isItemKind(row.kind)) byItem.get(row.notification_id)?.push({ eventId: row.event_id, kind: row.kind, at: row.at.getTime() });
  }
  const states = inKeyOrder(byItem).map(([id, list]) => {
    const s = foldItem(list);
    return { notification_id: id, seen_at: ts(s.seenAt), read_at: ts(s.readAt), archived_at: ts(s.archivedAt) };
  });
  await client.query(
    `UPDATE ${schema}.items i SET seen_at = s.seen_at, read_at = s.read_at, archived_at = s.archived_at
     FROM (SELECT * FROM ${recordset({ notification_id: 'text', seen_at: 'timestamptz', read_at: 'timestamptz', archived_at: 'timestamptz' }, 1)}) s
     WHERE i.notification_id = s.notification_id
       AND (i.seen_at, i.read_at, i.archived_at) IS DISTINCT FROM (s.seen_at, s.read_at, s.archived_at)`,
    [recordsetParam(states)],
  );
}
